"""``docker-credential-ecr-ci``: the Docker credential-helper protocol, served by the ecr-ci core and its token cache.

Docker, podman, buildah and skopeo run ``docker-credential-ecr-ci <action>`` for every registry operation on a host
that ``credHelpers`` maps to ``ecr-ci``:

==========  ==========================================  ==============================================================
action      stdin                                       stdout
==========  ==========================================  ==============================================================
``get``     the server URL (a host, maybe a scheme)     ``{"ServerURL": …, "Username": "AWS", "Secret": <password>}``
``list``    (ignored)                                   ``{"<server URL>": "AWS", …}`` from the cache, no network
``store``   ``{"ServerURL", "Username", "Secret"}``     declined: this helper gets its tokens from AWS itself
``erase``   the server URL                              nothing; the cached token for that host is dropped
``version`` (ignored)                                   ``docker-credential-ecr-ci (ecr-ci) <version>``
==========  ==========================================  ==============================================================

Failures print one line on stdout (which docker shows) and on stderr, and exit 1. A host that is not Amazon ECR
gets exactly ``credentials not found in native keychain``, which docker treats as "no credentials: go anonymous";
a real failure (no identity token, AccessDenied, throttling past the deadline) says what failed instead.

Settings come from the ``ECR_CI_*`` env twins (``ECR_CI_ROLE_ARN``, ``ECR_CI_OIDC``, …) and their standard fallbacks
(``AWS_ROLE_ARN``, …) exactly as ``ecr-ci password`` reads them; the registry and its region come from the host.
A cache hit imports neither botocore nor jsonschema: they load only when a token must be fetched.
"""

from __future__ import annotations

import json
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a cache hit
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import IO, Any

NAME = "docker-credential-ecr-ci"
NOT_FOUND = "credentials not found in native keychain"
MISSING_URL = "no credentials server URL"
MISSING_USERNAME = "no credentials username"
USAGE = f"Usage: {NAME} <store|get|erase|list|version>"
HELP = f"""{USAGE}

The Docker credential-helper protocol, answered with Amazon ECR tokens from ecr-ci. Docker, podman, buildah and
skopeo run it for each registry that "credHelpers" in the docker config maps to "ecr-ci" (set that up with
`ecr-ci configure-helper --registry HOST`); people rarely run it by hand.

  get      read a server URL on stdin; print {{"ServerURL", "Username", "Secret"}} for an ECR registry
  list     print the registries a cached token serves (no network)
  erase    read a server URL on stdin; drop the cached token for it
  store    declined: tokens come from AWS, not from `docker login`
  version  print the version

Settings come from the ECR_CI_* variables of the client's environment (ECR_CI_ROLE_ARN, ECR_CI_OIDC, ...), else
the AWS credential chain. Exit codes: 0 ok, 1 failure (the reason is on stdout, which docker shows, and stderr).
"""


class _Fail(Exception):
    """Answer with this message on stdout (and stderr) and exit 1."""


def main(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    stdin: IO[str] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    *,
    now: float | None = None,
) -> int:
    """Run one action. Only this function looks at the process (argv, environment, standard streams)."""
    import os

    argv = sys.argv[1:] if argv is None else list(argv)
    env = os.environ if env is None else env
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    if argv in (["--help"], ["-h"], ["help"]):
        stdout.write(HELP)
        stdout.flush()
        return 0
    try:
        if len(argv) != 1:
            raise _Fail(USAGE)
        action = argv[0]
        if action == "get":
            answer: str | None = get(_read(stdin), env, now=now, stderr=stderr)
        elif action == "list":
            answer = json.dumps(list_(env, now=now), separators=(",", ":"))
        elif action == "store":
            store(_read(stdin))
            answer = None
        elif action == "erase":
            erase(_read(stdin), env, stderr)
            answer = None
        elif action == "version":
            from ecr_ci import __version__

            answer = f"{NAME} (ecr-ci) {__version__}"
        else:
            raise _Fail(f"Unknown credential action `{action}`")
    except _Fail as e:
        return _fail(str(e), str(e), stdout, stderr)
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        from ecr_ci.errors import EcrCiError, scrub

        if isinstance(e, EcrCiError):
            from ecr_ci.diagnostics.render import diagnose, text

            rendered = text(diagnose(e)).replace("\n", "\n  ")
            return _fail(f"{NAME}: {e}", f"{NAME}: {rendered}", stdout, stderr)
        # A bug, not a verdict on the credentials: say so rather than pretend "not found".
        message = f"{NAME}: unexpected error ({e.__class__.__name__}: {scrub(str(e))[:300]})"
        return _fail(message, message, stdout, stderr)
    if answer is not None:
        stdout.write(answer + "\n")
        stdout.flush()
    return 0


INPUT_LIMIT = 1 << 16  # a server URL or a credentials object; docker sends well under a kilobyte


def _read(stdin: IO[str]) -> str:
    """The protocol's input, never more than :data:`INPUT_LIMIT` characters: an endless stdin is refused, not read."""
    text = stdin.read(INPUT_LIMIT + 1)
    if len(text) > INPUT_LIMIT:
        raise _Fail(f"{NAME}: the input is larger than {INPUT_LIMIT} characters (expected a server URL or JSON)")
    return text


def _fail(answer: str, explanation: str, stdout: IO[str], stderr: IO[str]) -> int:
    """Docker reads the answer on stdout (and shows it); a person reads the explanation on stderr. "Not found"
    is the normal answer for every registry that is not ECR, so it stays off stderr."""
    stdout.write(answer + "\n")
    stdout.flush()
    if answer != NOT_FOUND:
        stderr.write(explanation + "\n")
        stderr.flush()
    return 1


def _registry(server_url: str, stderr: IO[str] | None = None) -> Any:
    """The ECR registry a server URL names, or ``None`` for anything else (said on stderr if it looks like ECR)."""
    from ecr_ci.core.registries import parse
    from ecr_ci.errors import ConfigError

    try:
        return parse(server_url, where="server URL")
    except ConfigError as e:
        lowered = server_url.lower()
        if stderr is not None and any(s in lowered for s in (".dkr.", "dkr-ecr", "ecr.aws", "ecr-public", "amazonaws")):
            stderr.write(f"{NAME}: not an Amazon ECR registry, answering 'not found' ({e})\n")
        return None


def get(server_url: str, env: Mapping[str, str], *, now: float | None = None, stderr: IO[str] | None = None) -> str:
    """The ``get`` answer for ``server_url``: the protocol's JSON, or raise."""
    url = server_url.strip(" \t\n\r\v\f")  # ASCII only: what else surrounds a host makes it no ECR host
    if not url:
        raise _Fail(MISSING_URL)
    stderr = stderr or sys.stderr
    registry = _registry(url, stderr)
    if registry is None:
        raise _Fail(NOT_FOUND)
    auth = _auth(registry, env, now, stderr)
    return json.dumps({"ServerURL": url, "Username": auth.username, "Secret": auth.password}, separators=(",", ":"))


def _auth(registry: Any, env: Mapping[str, str], now: float | None, stderr: IO[str]) -> Any:
    from ecr_ci import ci
    from ecr_ci._record import replace
    from ecr_ci.core.flow import get_auths
    from ecr_ci.settings import resolve

    settings = replace(resolve({}, env, command="password"), registries=[registry.host])
    obtained = get_auths(settings, env, ci.select(settings, env), session_name=ci.session_name(env), now=now)
    for warning in obtained.warnings:
        stderr.write(f"{NAME}: warning: {warning}\n")
    return obtained.auths[0]


def _cache(env: Mapping[str, str], now: float | None = None) -> Any:
    from ecr_ci.core.cache import TokenCache, cache_dir_str
    from ecr_ci.settings import resolve

    return TokenCache(cache_dir_str(resolve({}, env, command="password").cache_dir, env), now=now)


def list_(env: Mapping[str, str], *, now: float | None = None) -> dict[str, str]:
    """``{server URL: username}`` for every host a still-valid cached token has served; never the network.

    Each host appears bare and with ``https://``, the two forms clients look up."""
    listed: dict[str, str] = {}
    for entry in _cache(env, now).entries():
        for host in entry.hosts:
            listed[f"https://{host}"] = entry.username
            listed[host] = entry.username
    return listed


def store(payload: str) -> None:
    """Check the input as the protocol says, then decline: there is nothing to keep, tokens come from AWS."""
    try:
        creds = json.loads(payload)
    except ValueError:
        raise _Fail(f"{NAME}: store: the input is not the protocol's JSON object") from None
    if not isinstance(creds, dict) or not str(creds.get("ServerURL") or "").strip():
        raise _Fail(MISSING_URL)
    if not str(creds.get("Username") or "").strip():
        raise _Fail(MISSING_USERNAME)
    raise _Fail(
        f"{NAME}: store is not supported for {str(creds['ServerURL']).strip()}: this helper fetches Amazon ECR "
        "tokens itself, so `docker login` is not needed (to keep credentials from `docker login` instead, remove "
        "the host from credHelpers)"
    )


def erase(server_url: str, env: Mapping[str, str], stderr: IO[str] | None = None) -> None:
    """Forget the cached tokens serving the host, so the next ``get`` fetches a new one. Other hosts: nothing."""
    url = server_url.strip(" \t\n\r\v\f")  # ASCII only: what else surrounds a host makes it no ECR host
    if not url:
        raise _Fail(MISSING_URL)
    registry = _registry(url, stderr)
    if registry is not None:
        _cache(env).erase(registry.group)


if __name__ == "__main__":
    sys.exit(main())
