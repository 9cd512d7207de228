"""Jenkins: a token bound from an oidc-provider credential (as a file, or a variable), and what Jenkins users need
told."""

from __future__ import annotations

from collections.abc import Mapping

from ecr_ci.core.identity import IdentityToken, TokenSource, checked, read_file, sanitise_session_name
from ecr_ci.errors import Diagnostics, IdentityTokenError

NAME = "jenkins"
MARKERS = ("JENKINS_URL",)
DEFAULT_VARIABLE = "AWS_ID_TOKEN"


def detected(env: Mapping[str, str]) -> bool:
    """Whether this is a Jenkins build."""
    return bool(env.get("JENKINS_URL"))


def session_name(env: Mapping[str, str]) -> str | None:
    """``jenkins-<job>-<build number>`` (folders' slashes become ``-``)."""
    if env.get("JOB_NAME") and env.get("BUILD_NUMBER"):
        return sanitise_session_name(f"jenkins-{env['JOB_NAME']}-{env['BUILD_NUMBER']}")
    return sanitise_session_name(env["BUILD_TAG"]) if env.get("BUILD_TAG") else None


def hint(audience: str) -> str:
    """How a Jenkins build gets a fresh token from the oidc-provider plugin."""
    return (
        "Create an 'OpenID Connect id token as file' credential (oidc-provider plugin) with audience "
        f"{audience}, and pass its id to the ecrLogin step (ecrLogin(idTokenCredentialsId: '…', …) {{ … }}), or "
        "bind it yourself right before ecr-ci runs: withCredentials([file(credentialsId: '…', variable: "
        "'AWS_WEB_IDENTITY_TOKEN_FILE')]) { … }. The token is minted when it is bound and expires (default 1 h)."
    )


def token_source(
    env: Mapping[str, str], token_file: str | None = None, variable: str = DEFAULT_VARIABLE
) -> TokenSource | None:
    """The build's token source, or ``None`` when this is not Jenkins."""
    if not detected(env):
        return None
    return TokenSource(
        NAME, lambda audience, seconds: fetch(env, token_file, variable, audience), None, session_name(env)
    )


def fetch(env: Mapping[str, str], token_file: str | None, variable: str, audience: str) -> IdentityToken:
    if token_file:
        return read_file(token_file, NAME, "token_file")
    if env.get(variable, "").strip():
        return checked(env[variable], NAME, f"variable {variable}")
    message = (
        f"jenkins: no identity token is bound (neither token_file nor variable {variable} is set; bind an "
        "'OpenID Connect id token' credential with withCredentials, or pass idTokenCredentialsId to ecrLogin)"
    )
    code = "jenkins.no-id-token"
    raise IdentityTokenError(
        message, code=code, diagnostics=Diagnostics(summary=message, code=code, hints=[hint(audience)])
    )
