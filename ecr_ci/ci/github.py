"""GitHub Actions: the job's OIDC token from the runner's token endpoint, and what GitHub users need told.

The runner sets ``ACTIONS_ID_TOKEN_REQUEST_URL`` (already carrying ``?api-version=2.0``) and
``ACTIONS_ID_TOKEN_REQUEST_TOKEN`` only when the job has ``permissions: id-token: write``; pull requests from forks
and Dependabot runs never get them. The token is requested with the login's audience.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping

from ecr_ci.core.identity import IdentityToken, TokenSource, checked, sanitise_session_name
from ecr_ci.errors import Diagnostics, IdentityTokenError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a credential-helper cache hit
if TYPE_CHECKING:
    import urllib.request

NAME = "github"
MARKERS = ("GITHUB_ACTIONS", "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
URL, BEARER = "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
PERMISSION_FIX = "add `permissions: id-token: write` to the workflow or job"
PERMISSION_HINT = (
    "GitHub sets ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN only when the job may mint "
    "an OIDC token: add 'permissions: id-token: write' to the job (or the workflow; a job-level 'permissions:' "
    "block replaces the workflow's). Pull requests from forks and runs started by Dependabot never get one."
)


def detected(env: Mapping[str, str]) -> bool:
    """Whether this is a GitHub Actions job."""
    return env.get("GITHUB_ACTIONS") == "true" or URL in env


def session_name(env: Mapping[str, str]) -> str | None:
    """``gha-<owner>-<repo>-<run id>-<attempt>`` (without the repository when it is unknown), sanitised: CloudTrail's
    session name leads back to the run. A long name keeps its head and the run id and attempt at its tail."""
    if not env.get("GITHUB_RUN_ID"):
        return None
    repo = env.get("GITHUB_REPOSITORY", "").strip()
    run = f"{env['GITHUB_RUN_ID']}-{env.get('GITHUB_RUN_ATTEMPT', '1')}"
    return sanitise_session_name(f"gha-{repo}-{run}" if repo else f"gha-{run}")


def token_source(env: Mapping[str, str]) -> TokenSource | None:
    """The job's token source, or ``None`` when this is not GitHub Actions. A job without the permission gets a
    source whose ``fetch`` raises, saying why (missing permission, fork pull request, Dependabot)."""
    if not detected(env):
        return None
    url, bearer = env.get(URL), env.get(BEARER)
    # The request credentials are the job's own: their digest names the presenter, so a cached registry token is
    # found without minting an ID token, and never found by another job.
    scope = "github:" + hashlib.sha256(f"{url}\n{bearer}".encode()).hexdigest() if url and bearer else None
    return TokenSource(NAME, lambda audience, seconds: fetch(env, audience, seconds), scope, session_name(env))


def fetch(env: Mapping[str, str], audience: str, deadline: float = 60) -> IdentityToken:
    """Ask the runner's token endpoint for a JWT with ``audience`` (retried on 5xx and connection errors)."""
    url, bearer = env.get(URL), env.get(BEARER)
    if not url or not bearer:
        missing = " and ".join(n for n, v in ((URL, url), (BEARER, bearer)) if not v)
        code, why = "github.no-id-token-permission", PERMISSION_FIX
        if env.get("GITHUB_EVENT_NAME") in ("pull_request", "pull_request_target") and is_fork_pr(env):
            code = "github.fork-pr"
            why = "pull requests from forks get no identity token; run the push to ECR on push or merge_group events"
        elif env.get("GITHUB_ACTOR", "").startswith("dependabot"):
            code = "github.dependabot"
            why = "Dependabot runs get no identity token; skip the ECR login for Dependabot or use a Dependabot secret"
        message = f"github: cannot request an OIDC token ({missing} not set; {why})"
        raise IdentityTokenError(
            message, code=code, diagnostics=Diagnostics(summary=message, code=code, hints=[PERMISSION_HINT])
        )
    import urllib.parse
    import urllib.request

    sep = "&" if "?" in url else "?"
    full = f"{url}{sep}audience={urllib.parse.quote(audience, safe='')}"
    request = urllib.request.Request(full, headers={"Authorization": f"bearer {bearer}", "Accept": "application/json"})
    body = _get(request, env, deadline)
    try:
        value = json.loads(body)["value"]
    except (ValueError, KeyError, TypeError):
        raise IdentityTokenError(
            'github: the OIDC token endpoint answered without a token (no "value" in its JSON)',
            code="identity.endpoint-failed",
        ) from None
    return checked(value, NAME, URL)


def is_fork_pr(env: Mapping[str, str]) -> bool:
    """Whether the event payload (``GITHUB_EVENT_PATH``) is a pull request whose head is another repository."""
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return False
    from ecr_ci import _files

    try:  # only a hint: a FIFO, a device or a file that is not plain JSON just gives no hint (and never hangs)
        event = _files.load_strict(path, limit=4 * _files.MAX_BYTES)
        pr = event["pull_request"]
        return bool(pr["head"]["repo"]["full_name"] != pr["base"]["repo"]["full_name"])
    except (ValueError, KeyError, TypeError):  # BadFile is a ValueError
        return False


class _Unanswered(Exception):
    """The token endpoint failed in a way worth another attempt (5xx, connection trouble)."""

    connection = True  # what the retry policy looks for


def _get(request: urllib.request.Request, env: Mapping[str, str], deadline: float) -> bytes:
    """GET, retried on 5xx and connection errors by the same policy as the AWS calls."""
    import http.client
    import urllib.error
    import urllib.request

    from ecr_ci.core.net import open_url
    from ecr_ci.core.retry import call

    end = time.monotonic() + deadline

    def attempt() -> bytes:
        try:
            timeout = max(1.0, min(30.0, end - time.monotonic()))
            with open_url(request, env, timeout) as response:  # type: ignore[attr-defined]
                body: bytes = response.read()
                return body
        except urllib.error.HTTPError as e:
            if e.code < 500:
                raise IdentityTokenError(
                    f"github: the OIDC token endpoint refused the request (HTTP {e.code} {e.reason})",
                    code="identity.endpoint-failed",
                ) from None
            raise _Unanswered(f"HTTP {e.code} {e.reason}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            raise _Unanswered(f"{getattr(e, 'reason', e)}") from None

    return call(attempt, end=end, what="github: the OIDC token endpoint did not answer", give_up=IdentityTokenError)
