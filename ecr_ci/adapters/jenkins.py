"""``ecr-ci adapter jenkins``: what the ``ecrLogin`` pipeline step (``jenkins/vars/ecrLogin.groovy``) runs on the agent.

The step hands every argument over as ``ECR_CI_INPUT_<NAME>`` (:func:`ecr_ci.adapters.base.input_variable`), the
workspace's ``@tmp`` as ``ECR_CI_JENKINS_TMP`` and, when ``idTokenCredentialsId`` is given, the bound id token file
as ``ECR_CI_TOKEN_FILE``. This adapter makes a fresh directory for the block (``ecr-ci-block-*`` under ``@tmp``,
0700): ``docker/config.json`` (the user's config carried over minus the target hosts' entries, plugins still found),
plus ``containers/auth.json`` and ``helm/registry/config.json`` when ``write`` asks for podman or helm; logs in
into it; and writes ``env`` there, the ``NAME=path`` lines the step gives the block.

Protocol with the step: the human-readable report and any error go to stderr (the build log); the last line on
stdout is ``ok <block directory>`` or ``error <one-line message>``, nothing else is ever printed there and it never
holds a secret. The exit code is 0, 2 (bad input) or 1; on failure the block directory is removed again.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ecr_ci.adapters import base
from ecr_ci.ci import jenkins
from ecr_ci.errors import ConfigError, EcrCiError

SURFACE = "jenkins"
STEP = "ecrLogin"
# Where each client's file goes inside the block directory, and the variable that points the client at it.
LAYOUT = {
    "docker": ("DOCKER_CONFIG", "docker"),
    "podman": ("REGISTRY_AUTH_FILE", os.path.join("containers", "auth.json")),
    "helm": ("HELM_REGISTRY_CONFIG", os.path.join("helm", "registry", "config.json")),
}


def say(message: str) -> None:
    print(f"{STEP}: {message}", file=sys.stderr, flush=True)


def _terminated(signum: int, frame: object) -> None:
    # An aborted build sends SIGTERM: unwind, so the block directory is removed rather than left behind.
    raise KeyboardInterrupt


def main(env: Mapping[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    previous = signal.signal(signal.SIGTERM, _terminated) if hasattr(signal, "SIGTERM") else None
    block: Path | None = None
    try:
        block, lines = login(env)
        (block / "env").write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        print(f"ok {block}", flush=True)
        return 0
    except BaseException as e:
        if block is not None:
            shutil.rmtree(block, ignore_errors=True)
        if isinstance(e, KeyboardInterrupt):
            say("interrupted (the block's directory was removed)")
            return 130
        if not isinstance(e, Exception):
            raise
        return fail(e)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def login(env: dict[str, str]) -> tuple[Path, list[str]]:
    """Log in into a new block directory; returns it and the ``NAME=path`` lines for the block."""
    from ecr_ci.core.flow import login as core_login
    from ecr_ci.core.flow import plan

    own = base.adapter_inputs(SURFACE, env)
    settings = base.settings(SURFACE, env)  # bad input fails here, before anything is written or fetched
    base.require(settings.registries, "registries", SURFACE)
    hosts = [r.host for r in plan(settings).registries]
    identity = None
    if own["idTokenCredentialsId"]:
        identity = jenkins.token_source(env, token_file=env.get("ECR_CI_TOKEN_FILE") or None)
        if identity is None:
            raise ConfigError(
                f"{STEP}: JENKINS_URL is not set, so this does not look like a Jenkins build (set the Jenkins URL in "
                "Manage Jenkins > System: the oidc-provider plugin needs it for the token's issuer)",
                code="input.invalid",
            )
    source = Path(env["DOCKER_CONFIG"]) if env.get("DOCKER_CONFIG") else Path(env.get("HOME") or "~") / ".docker"
    source = source.expanduser()
    parent = Path(env.get("ECR_CI_JENKINS_TMP") or env.get("WORKSPACE_TMP") or tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)  # Jenkins makes @tmp only when something needs it
    block = Path(tempfile.mkdtemp(prefix="ecr-ci-block-", dir=parent))
    try:
        docker = base.isolated_docker_config(block / "docker", source if source.is_dir() else None, hosts)
        paths = {kind: block / rel for kind, (_, rel) in LAYOUT.items()}
        paths["docker"] = docker
        child = dict(env)
        child.update({LAYOUT[kind][0]: str(path) for kind, path in paths.items()})
        # No token cache: nothing of the login may outlive the block (its directory is all there is).
        settings = base.settings(SURFACE, child, docker_config=str(docker), cache=False)
        result = core_login(settings, child, identity, session_name=jenkins.session_name(env))
    except BaseException:
        shutil.rmtree(block, ignore_errors=True)
        raise
    for line in result.describe(chain="the agent's AWS credentials"):
        say(line)
    for w in result.warnings:
        say(f"warning: {w}")
    wanted = ["docker", *(k for k in ("podman", "helm") if k in settings.write)]
    return block, [f"{LAYOUT[kind][0]}={paths[kind]}" for kind in wanted]


def fail(error: Exception) -> int:
    """The one failure path: the rendered diagnostics in the log, the one-line message for the step's ``error``."""
    from ecr_ci.diagnostics.render import text

    d = base.failure(error)
    summary = d.summary if d.summary.startswith(STEP) else f"{STEP}: {d.summary}"
    say("error: " + text(d).replace("\n", "\n  "))
    print("error " + " ".join(summary.split()), flush=True)
    return error.exit_code if isinstance(error, EcrCiError) else 1
