"""One module per CI (:mod:`.github`, :mod:`.gitlab`, :mod:`.jenkins`): its token source, its session-name rule,
its detection markers and its remedy hints. The core knows none of them.

:func:`select` is the ``oidc`` setting for the command line and the credential helper: a source chosen by name, or
for ``auto`` the first CI that recognises its own environment (its error is reported, never skipped in favour of
the next source). Each adapter calls its own CI's ``token_source`` instead.
"""

from __future__ import annotations

from collections.abc import Mapping

from ecr_ci.ci import github, gitlab, jenkins
from ecr_ci.core.identity import TokenSource, env_source, file_source
from ecr_ci.errors import ConfigError
from ecr_ci.settings import Settings

AUTO_ORDER = ("github", "gitlab", "jenkins", "file", "env")
MARKERS = {"github": github.MARKERS, "gitlab": gitlab.MARKERS, "jenkins": jenkins.MARKERS}
_LOOKED = {
    "github": "GITHUB_ACTIONS / ACTIONS_ID_TOKEN_REQUEST_URL are not set: this is not a GitHub Actions job",
    "gitlab": "GITLAB_CI is not set: this is not a GitLab CI/CD job",
    "jenkins": "JENKINS_URL is not set: this is not a Jenkins build",
    "file": "no token_file or AWS_WEB_IDENTITY_TOKEN_FILE is set",
    "env": "variable {variable} is not set",
}


def select(settings: Settings, env: Mapping[str, str]) -> TokenSource | None:
    """The token source the ``oidc`` setting names (``None``: the standard AWS credential chain)."""
    oidc = settings.oidc
    if oidc == "none":
        return None
    for name in AUTO_ORDER if oidc == "auto" else (oidc,):
        found = _source(name, settings, env)
        if found is not None:
            return found
    if oidc == "auto":
        return None
    looked = _LOOKED[oidc].format(variable=settings.token_variable)
    raise ConfigError(
        f"oidc: {oidc!r} found no identity token ({looked}; or use oidc: auto or none)", code="input.no-identity"
    )


def _source(name: str, settings: Settings, env: Mapping[str, str]) -> TokenSource | None:
    if name == "github":
        return github.token_source(env)
    if name == "gitlab":
        return gitlab.token_source(env, settings.token_variable)
    if name == "jenkins":
        return jenkins.token_source(env, settings.token_file, settings.token_variable)
    if name == "file":
        return file_source(settings.token_file, setting=settings.where("token_file")) if settings.token_file else None
    return env_source(env, settings.token_variable) if settings.token_variable in env else None


def session_name(env: Mapping[str, str]) -> str | None:
    """The default role session name of whichever CI this is."""
    return github.session_name(env) or gitlab.session_name(env) or jenkins.session_name(env)
