"""GitLab CI/CD: the ``id_tokens`` variable the job declares, and what GitLab users need told."""

from __future__ import annotations

from collections.abc import Mapping

from ecr_ci.core.identity import IdentityToken, TokenSource, checked, sanitise_session_name
from ecr_ci.errors import Diagnostics, IdentityTokenError

NAME = "gitlab"
MARKERS = ("GITLAB_CI",)
DEFAULT_VARIABLE = "AWS_ID_TOKEN"


def detected(env: Mapping[str, str]) -> bool:
    """Whether this is a GitLab CI/CD job."""
    return env.get("GITLAB_CI") == "true"


def session_name(env: Mapping[str, str]) -> str | None:
    """``gitlab-<pipeline id>-<job id>``."""
    if not env.get("CI_JOB_ID"):
        return None
    return sanitise_session_name(f"gitlab-{env.get('CI_PIPELINE_ID', 'x')}-{env['CI_JOB_ID']}")


def hint(variable: str, audience: str) -> str:
    """Why a GitLab job has no ID token variable, and the fix (with the audience this login needs)."""
    return (
        f"GitLab creates ${variable} only when the job declares it: add 'id_tokens: {variable}: aud: {audience}' "
        "to the job (id_tokens is per job; extends: merges it, but a token never carries over to another job). "
        "CI_JOB_JWT and CI_JOB_JWT_V2 were removed in GitLab 17.0."
    )


def token_source(env: Mapping[str, str], variable: str = DEFAULT_VARIABLE) -> TokenSource | None:
    """The job's token source, or ``None`` when this is not GitLab CI/CD."""
    if not detected(env):
        return None
    return TokenSource(NAME, lambda audience, seconds: fetch(env, variable, audience), None, session_name(env))


def fetch(env: Mapping[str, str], variable: str, audience: str) -> IdentityToken:
    if not env.get(variable, "").strip():
        message = (
            f"gitlab: the ID token variable {variable} is not set (declare it in the job: "
            f"id_tokens: {{{variable}: {{aud: {audience}}}}})"
        )
        code = "gitlab.no-id-token"
        raise IdentityTokenError(
            message, code=code, diagnostics=Diagnostics(summary=message, code=code, hints=[hint(variable, audience)])
        )
    return checked(env[variable], NAME, f"variable {variable}")
