"""``ecr-ci adapter gitlab``: the GitLab CI/CD component's login (``gitlab/templates/ecr-login.yml``).

The template maps every component input into the job's variables as ``ECR_CI_INPUT_<NAME>`` and runs this in its
``before_script``. It reads those, GitLab's predefined variables and the job's ``id_tokens`` variable
(``AWS_ID_TOKEN``), logs in, and writes a docker config for this job only, in a fresh 0700 directory under the
job's temporary directory (``$RUNNER_TEMP_PROJECT_DIR``, else ``$CI_PROJECT_DIR.tmp``, else the system's), carrying
over the runner's own config minus credentials for these registries. ``write: podman`` / ``helm`` files go there
too unless the job set ``REGISTRY_AUTH_FILE`` / ``HELM_REGISTRY_CONFIG`` itself; ``kaniko`` writes
``/kaniko/.docker/config.json``.

stdout carries only ``NAME=path`` lines (``DOCKER_CONFIG=…`` and the podman and helm paths), which the template
exports for the job's ``script:``: paths are not secrets, and GitLab can't mask anything made at run time, so no
secret is ever printed. The report and any error go to stderr; an error is the core's diagnostics as a plain
block (the token's claims, the condition keys they match, the likely cause) and names the component input.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ecr_ci._record import replace
from ecr_ci.adapters import base
from ecr_ci.ci import gitlab
from ecr_ci.errors import ConfigError, EcrCiError

SURFACE = "gitlab"
PREFIX = "ecr-login:"
EXPORTS = {"podman": "REGISTRY_AUTH_FILE", "helm": "HELM_REGISTRY_CONFIG"}


def _say(message: str) -> None:
    sys.stderr.write(f"{PREFIX} {message}\n")


def job_temp_dir(env: Mapping[str, str]) -> Path:
    """Where this job's files go: the runner's per-job temporary directory, else the system's."""
    if env.get("RUNNER_TEMP_PROJECT_DIR"):
        return Path(env["RUNNER_TEMP_PROJECT_DIR"])
    if env.get("CI_PROJECT_DIR"):
        return Path(env["CI_PROJECT_DIR"].rstrip("/") + ".tmp")
    return Path(tempfile.gettempdir())


def _new_dir(env: Mapping[str, str]) -> Path:
    parent = job_temp_dir(env)
    try:
        parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkdtemp: a fresh 0700 directory with an unguessable name, even in a shared /tmp.
        return Path(tempfile.mkdtemp(prefix=f"ecr-ci-{env.get('CI_JOB_ID', 'job')}-", dir=parent))
    except OSError as e:
        raise ConfigError(
            f"gitlab: cannot create the job's credential directory under {parent} ({e.strerror}); set "
            "RUNNER_TEMP_PROJECT_DIR or CI_PROJECT_DIR to a writable directory",
            code="sink.failed",
        ) from e


def login(env: Mapping[str, str]) -> list[str]:
    """Log in; return the ``NAME=path`` lines for the job to export."""
    from ecr_ci.core.flow import login as core_login
    from ecr_ci.core.flow import registries_of

    base.adapter_inputs(SURFACE, env)  # the template uses these; check them here too, naming the input
    settings = base.settings(SURFACE, env, oidc="gitlab")
    base.require(settings.registries, "registries", SURFACE)
    hosts = [r.host for r in registries_of(settings)]
    if not gitlab.detected(env):
        raise ConfigError(
            "gitlab: GITLAB_CI is not 'true', so this is not a GitLab CI/CD job (ecr-ci adapter gitlab runs in the "
            "ecr-login component's before_script; elsewhere use ecr-ci login)",
            code="input.invalid",
        )
    identity = gitlab.token_source(env, settings.token_variable)
    job_dir = _new_dir(env)
    try:
        config = base.isolated_docker_config(job_dir / "docker", _runner_docker_config(env), hosts)
        job_env = dict(env)
        exports = [f"DOCKER_CONFIG={config}"]
        for kind, variable in EXPORTS.items():
            if kind in settings.write and not env.get(variable):
                job_env[variable] = str(job_dir / kind / ("auth.json" if kind == "podman" else "config.json"))
                exports.append(f"{variable}={job_env[variable]}")
        # A job's tokens are its own: no token cache on a runner that other jobs share.
        settings = replace(settings, docker_config=str(config), cache=False)
        result = core_login(settings, job_env, identity, session_name=gitlab.session_name(env))
    except BaseException:
        shutil.rmtree(job_dir, ignore_errors=True)  # a failure leaves nothing half-written
        raise
    for line in result.describe():
        _say(line)
    for warning in result.warnings:
        _say(f"warning: {warning}")
    return exports


def _runner_docker_config(env: Mapping[str, str]) -> Path | None:
    """The runner's own docker config, carried over (minus these registries' credentials) when there is one."""
    from ecr_ci.clients import sinks

    found = sinks.docker_config_dir(env)
    return found if (found / "config.json").is_file() else None


def main(env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    try:
        exports = login(env)
    except Exception as error:  # one handler: the core's diagnostics, as a plain block in the job log
        from ecr_ci.diagnostics.render import text

        lines = text(base.failure(error)).splitlines()
        _say(f"error: {lines[0]}")
        for line in lines[1:]:
            sys.stderr.write(f"  {line}\n")
        return error.exit_code if isinstance(error, EcrCiError) else 1
    sys.stdout.write("".join(f"{line}\n" for line in exports))
    return 0
