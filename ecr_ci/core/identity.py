"""Identity token sources: one small function per CI, one contract.

Each ``from_*`` function takes the environment as a plain mapping (the caller decides what it is; the core never
reads the process environment) and returns ``None`` for "not this CI / not configured", raises
:class:`~ecr_ci.errors.IdentityTokenError` for "this CI, but misconfigured", else returns the token.
``select`` applies a fixed order for ``oidc: auto``: the first source that answers decides, and its error is
raised, never skipped in favour of the next one. :class:`IdentityToken` is a record (:mod:`ecr_ci._record`), a
dataclass that costs a credential-helper cache hit nothing to import.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping

from ecr_ci._record import field, record
from ecr_ci.errors import ConfigError, Diagnostics, IdentityTokenError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a credential-helper cache hit
if TYPE_CHECKING:
    import urllib.request

AUTO_ORDER = ("github", "gitlab", "jenkins", "file", "env")
GITHUB_PERMISSION_FIX = "add `permissions: id-token: write` to the workflow or job"


@record(frozen=True)
class IdentityToken:
    """An OIDC identity token (a JWT; secret) and where it came from."""

    source: str
    token: str = field(repr=False)
    origin: str = ""  # the variable, file or URL it was read from (never the token)


def _checked(token: str, source: str, origin: str) -> IdentityToken:
    token = token.strip()
    if not token:
        raise IdentityTokenError(f"{source}: the identity token from {origin} is empty")
    if token.count(".") != 2 or not re.fullmatch(r"[A-Za-z0-9_\-.=]+", token):
        raise IdentityTokenError(
            f"{source}: the identity token from {origin} is not a JWT (expected three base64url parts separated "
            "by dots)"
        )
    return IdentityToken(source=source, token=token, origin=origin)


def _read_file(path: str, source: str, setting: str) -> IdentityToken:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise IdentityTokenError(f"{source}: token file {path} does not exist (check {setting})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise IdentityTokenError(
            f"{source}: token file {path} cannot be read ({e.__class__.__name__}; check {setting})"
        ) from e
    return _checked(text, source, f"file {path}")


def from_github(env: Mapping[str, str], audience: str, deadline: float = 60) -> IdentityToken | None:
    """GitHub Actions: ask the runner's token endpoint for a JWT with ``audience``.

    Needs ``permissions: id-token: write``; without it the runner sets neither request variable.
    """
    if env.get("GITHUB_ACTIONS") != "true" and "ACTIONS_ID_TOKEN_REQUEST_URL" not in env:
        return None
    url, bearer = env.get("ACTIONS_ID_TOKEN_REQUEST_URL"), env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if not url or not bearer:
        missing = [
            n for n, v in (("ACTIONS_ID_TOKEN_REQUEST_URL", url), ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", bearer)) if not v
        ]
        why = GITHUB_PERMISSION_FIX
        if env.get("GITHUB_EVENT_NAME") in ("pull_request", "pull_request_target") and _is_fork_pr(env):
            why = "pull requests from forks get no identity token; run the push to ECR on push or merge_group events"
        elif env.get("GITHUB_ACTOR", "").startswith("dependabot"):
            why = "Dependabot runs get no identity token; skip the ECR login for Dependabot or use a Dependabot secret"
        from ecr_ci.diagnostics.claims import missing_github_permission_hint

        raise _hinted(
            f"github: cannot request an OIDC token ({' and '.join(missing)} not set; {why})",
            missing_github_permission_hint(),
        )
    sep = "&" if "?" in url else "?"
    import urllib.parse
    import urllib.request  # here, not at the top: a credential-helper cache hit never needs it

    full = f"{url}{sep}audience={urllib.parse.quote(audience, safe='')}"
    request = urllib.request.Request(full, headers={"Authorization": f"bearer {bearer}", "Accept": "application/json"})
    body = _fetch(request, "github", deadline)
    try:
        value = json.loads(body)["value"]
    except (ValueError, KeyError, TypeError):
        raise IdentityTokenError(
            'github: the OIDC token endpoint answered without a token (no "value" in its JSON)'
        ) from None
    return _checked(value, "github", "ACTIONS_ID_TOKEN_REQUEST_URL")


def _is_fork_pr(env: Mapping[str, str]) -> bool:
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return False
    try:
        with open(path, encoding="utf-8") as f:
            event = json.load(f)
        pr = event["pull_request"]
        return bool(pr["head"]["repo"]["full_name"] != pr["base"]["repo"]["full_name"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


class _Unanswered(Exception):
    """The token endpoint failed in a way worth another attempt (5xx, connection trouble)."""

    connection = True  # what aws.retryable looks for


def _fetch(request: urllib.request.Request, source: str, deadline: float) -> bytes:
    """GET, retried on 5xx and connection errors by the same policy as the AWS calls (aws.call)."""
    import http.client
    import urllib.error
    import urllib.request

    from ecr_ci.core.aws import call

    end = time.monotonic() + deadline

    def attempt() -> bytes:
        try:
            with urllib.request.urlopen(request, timeout=max(1.0, min(30.0, end - time.monotonic()))) as response:
                body: bytes = response.read()
                return body
        except urllib.error.HTTPError as e:
            if e.code < 500:
                raise IdentityTokenError(
                    f"{source}: the OIDC token endpoint refused the request (HTTP {e.code} {e.reason})"
                ) from None
            raise _Unanswered(f"HTTP {e.code} {e.reason}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            raise _Unanswered(f"{getattr(e, 'reason', e)}") from None

    return call(attempt, end=end, what=f"{source}: the OIDC token endpoint did not answer", give_up=IdentityTokenError)


def from_gitlab(env: Mapping[str, str], variable: str = "AWS_ID_TOKEN") -> IdentityToken | None:
    """GitLab CI/CD: the ``id_tokens`` variable declared in the job (default ``AWS_ID_TOKEN``)."""
    if env.get("GITLAB_CI") != "true":
        return None
    if not env.get(variable, "").strip():
        from ecr_ci.diagnostics.claims import undeclared_gitlab_id_token_hint

        raise _hinted(
            f"gitlab: the ID token variable {variable} is not set (declare it in the job: "
            f"id_tokens: {{{variable}: {{aud: sts.amazonaws.com}}}}, or name yours with token_variable)",
            undeclared_gitlab_id_token_hint(variable),
        )
    return _checked(env[variable], "gitlab", f"variable {variable}")


def from_jenkins(
    env: Mapping[str, str], variable: str = "AWS_ID_TOKEN", token_file: str | None = None
) -> IdentityToken | None:
    """Jenkins: a token bound from an oidc-provider credential, as a file (``token_file``) or a variable."""
    if not env.get("JENKINS_URL"):
        return None
    if token_file:
        return _read_file(token_file, "jenkins", "token_file")
    if env.get(variable, "").strip():
        return _checked(env[variable], "jenkins", f"variable {variable}")
    from ecr_ci.diagnostics.claims import jenkins_credential_hint

    raise _hinted(
        f"jenkins: no identity token is bound (neither token_file nor variable {variable} is set; bind an "
        "'OpenID Connect id token' credential with withCredentials, or pass credentialsId to ecrLogin)",
        jenkins_credential_hint(variable),
    )


def _hinted(message: str, hint: str) -> IdentityTokenError:
    """The one-line error, with the longer remedy (from :mod:`ecr_ci.diagnostics.claims`) as its diagnostics' hint."""
    return IdentityTokenError(message, diagnostics=Diagnostics(summary=message, hints=[hint]))


def from_file(token_file: str | None) -> IdentityToken | None:
    """A token file, e.g. ``AWS_WEB_IDENTITY_TOKEN_FILE`` as EKS and other platforms provide it."""
    if not token_file:
        return None
    return _read_file(token_file, "file", "token_file / AWS_WEB_IDENTITY_TOKEN_FILE")


def from_env(env: Mapping[str, str], variable: str) -> IdentityToken | None:
    """A token held in an environment variable."""
    if variable not in env:
        return None
    return _checked(env[variable], "env", f"variable {variable}")


def select(
    oidc: str,
    env: Mapping[str, str],
    *,
    audience: str,
    token_file: str | None,
    token_variable: str,
    deadline: float = 60,
) -> IdentityToken | None:
    """The identity token for ``oidc`` (``None`` means: use the standard AWS credential chain).

    A source chosen by name that finds nothing raises, saying what it looked for. ``auto`` tries
    :data:`AUTO_ORDER`; the first source that recognises its CI decides.
    """
    sources: dict[str, Callable[[], IdentityToken | None]] = {
        "github": lambda: from_github(env, audience, deadline),
        "gitlab": lambda: from_gitlab(env, token_variable),
        "jenkins": lambda: from_jenkins(env, token_variable, token_file),
        "file": lambda: from_file(token_file),
        "env": lambda: from_env(env, token_variable),
    }
    if oidc == "none":
        return None
    if oidc == "auto":
        for name in AUTO_ORDER:
            found = sources[name]()
            if found is not None:
                return found
        return None
    found = sources[oidc]()
    if found is None:
        looked = {
            "github": "GITHUB_ACTIONS / ACTIONS_ID_TOKEN_REQUEST_URL are not set: this is not a GitHub Actions job",
            "gitlab": "GITLAB_CI is not set: this is not a GitLab CI/CD job",
            "jenkins": "JENKINS_URL is not set: this is not a Jenkins build",
            "file": "no token_file or AWS_WEB_IDENTITY_TOKEN_FILE is set",
            "env": f"variable {token_variable} is not set",
        }[oidc]
        raise ConfigError(f"oidc: {oidc!r} found no identity token ({looked}; or use oidc: auto or none)")
    return found


def default_session_name(env: Mapping[str, str], now: float | None = None) -> str:
    """A role session name that traces back to the CI run, sanitised to ``[\\w+=,.@-]{2,64}``."""
    if env.get("GITHUB_RUN_ID"):
        raw = f"gha-{env['GITHUB_RUN_ID']}-{env.get('GITHUB_RUN_ATTEMPT', '1')}"
    elif env.get("CI_JOB_ID"):
        raw = f"gitlab-{env.get('CI_PIPELINE_ID', 'x')}-{env['CI_JOB_ID']}"
    elif env.get("BUILD_TAG"):
        raw = env["BUILD_TAG"]  # jenkins-<job>-<number>
    else:
        raw = f"ecr-ci-{int(now if now is not None else time.time())}"
    return sanitise_session_name(raw)


def sanitise_session_name(raw: str) -> str:
    """Replace characters AWS refuses with ``-`` and clamp to 2-64 characters (keeping the distinctive tail)."""
    name = re.sub(r"[^\w+=,.@-]", "-", raw, flags=re.ASCII)
    if len(name) > 64:
        name = name[:20] + "-" + name[-43:]
    return name.ljust(2, "-")
