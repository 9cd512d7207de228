"""The GitHub Action's adapter (``ecr-ci adapter github``, run by ``actions/ecr-login/action.yml``).

Inputs arrive only as ``ECR_CI_INPUT_*`` variables. Every secret is masked with ``::add-mask::`` the moment it
exists: the identity token as it arrives (inside the flow), the passwords and their ``base64("AWS:<password>")``
form before anything else is printed, exported AWS keys before they are written. Nothing reaches
``$GITHUB_OUTPUT``, ``$GITHUB_ENV`` or a credential file unless the whole login succeeded.
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ecr_ci._record import replace
from ecr_ci.adapters import base
from ecr_ci.ci import github
from ecr_ci.core import log
from ecr_ci.errors import ConfigError

SURFACE = "github"


def _escape(text: str, prop: bool = False) -> str:
    """A workflow command's data (or property) escaped as the runner unescapes it: one line, whatever it holds."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def command(name: str, data: str = "", **props: str) -> None:
    args = ",".join(f"{k}={_escape(v, True)}" for k, v in props.items())
    print(f"::{name}{' ' + args if args else ''}::{_escape(data)}", flush=True)


def say(line: str) -> None:
    """A plain log line; a line break in it (from an input) can't start a workflow command."""
    print(" ".join(line.splitlines()), flush=True)


def mask(*values: str | None) -> None:
    for v in values:
        if v and v.strip():
            command("add-mask", v)


def append(path: str, values: Mapping[str, str]) -> None:
    """Add ``name<<delimiter`` blocks to a runner file (``$GITHUB_OUTPUT``, ``$GITHUB_ENV``)."""
    with open(path, "a", encoding="utf-8") as f:
        for name, value in values.items():
            delimiter = f"ghadelimiter_{uuid.uuid4()}"  # random: no value can end the block early
            f.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def _masked(source: Any) -> Any:
    """The job's token source, masking each token (and its signature) the moment it arrives."""

    def fetch(audience: str, seconds: float) -> Any:
        token = source.fetch(audience, seconds)
        mask(token.token, token.token.rsplit(".", 1)[-1])
        return token

    return replace(source, fetch=fetch)


def _iso(t: Any) -> str:
    return str(t.isoformat()).replace("+00:00", "Z")


def main(env: Mapping[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    try:
        return _login(env)
    except Exception as e:  # EcrCiError, or a bug nobody foresaw: one annotation, one summary, no secret
        from ecr_ci.diagnostics.render import markdown

        d = base.failure(e)
        command("endgroup")  # harmless when no group is open; keeps the error in view when one is
        command("error", f"{d.summary} (cause: {d.code})", title=f"ecr-ci: login failed ({d.code})")
        for hint in d.hints:
            say(f"  likely cause: {hint}")
        summary = env.get("GITHUB_STEP_SUMMARY")
        if summary:
            with open(summary, "a", encoding="utf-8") as f:
                f.write(markdown(d) + "\n")
        return int(getattr(e, "exit_code", 1))


def _login(env: dict[str, str]) -> int:
    from ecr_ci.clients import sinks
    from ecr_ci.core import flow

    if env.get("RUNNER_DEBUG") == "1":
        log.enable(sys.stdout)  # one stream: the runner shows it in order with the rest
    own = base.adapter_inputs(SURFACE, env)
    run_env = dict(env)  # what the login sees: the job's environment plus this step's proxy inputs
    if own["http-proxy"]:
        run_env.update(HTTPS_PROXY=own["http-proxy"], HTTP_PROXY=own["http-proxy"])
    if own["no-proxy"]:
        run_env["NO_PROXY"] = own["no-proxy"]
    export = own["export-aws-credentials"]
    fixed: dict[str, Any] = {"cache": False} if export else {}  # a cache hit has no AWS keys to export
    settings = base.settings(SURFACE, run_env, **fixed)
    if own["registry-type"] == "public" and not settings.registries:
        settings = replace(settings, registries=["public.ecr.aws"])
    isolate, user_config = own["isolate-docker-config"], sinks.docker_config_dir(run_env, settings.docker_config)
    for name in ("GITHUB_OUTPUT", "GITHUB_ENV") + (("RUNNER_TEMP",) if isolate else ()):
        if not env.get(name):
            raise ConfigError(f"github: {name} is not set (is this a GitHub Actions job?)", code="input.missing")
    kinds = [k for k in settings.write if k != "none"]
    targets = [sinks.target(k, run_env, settings.docker_config).path for k in kinds]
    for path in [user_config / "config.json"] if isolate else targets:  # unreadable: fail before the network
        sinks.read_json(path, "credential file")
    source = github.token_source(run_env)
    if source is None:
        raise ConfigError("github: not a GitHub Actions job (GITHUB_ACTIONS is not true)", code="input.invalid")
    p = flow.plan(settings)  # bad input fails here, before any network call
    log.debug(f"plan: {', '.join(r.host for r in p.registries)}; STS in {p.sts_region}; audience {p.audience}")
    command("group", "ecr-ci: log in to Amazon ECR")
    obtained = flow.get_auths(settings, run_env, _masked(source), p)
    debug_unmasked = not own["mask-password"] and env.get("RUNNER_DEBUG") == "1"
    if own["mask-password"] or debug_unmasked:  # a debug log shows every output: docker-password too
        mask(*(v for a in obtained.auths for v in (a.password, a.auth)))
    creds = obtained.credentials if export else None
    exported: dict[str, str] = {}
    if creds is not None:
        mask(creds.access_key_id, creds.secret_access_key, creds.session_token)
        region = settings.region or p.sts_region
        exported.update(AWS_ACCESS_KEY_ID=creds.access_key_id, AWS_SECRET_ACCESS_KEY=creds.secret_access_key)
        exported.update(AWS_SESSION_TOKEN=creds.session_token or "", AWS_REGION=region, AWS_DEFAULT_REGION=region)
    if isolate:  # files of this job alone, under RUNNER_TEMP (emptied by the runner when the job ends)
        work = Path(tempfile.mkdtemp(prefix="ecr-ci-", dir=env["RUNNER_TEMP"]))
        if "docker" in settings.write:
            hosts = [a.host for a in obtained.auths]
            exported["DOCKER_CONFIG"] = str(base.isolated_docker_config(work / "docker", user_config, hosts))
            settings = replace(settings, docker_config=exported["DOCKER_CONFIG"])
        if "podman" in settings.write:
            exported["REGISTRY_AUTH_FILE"] = run_env["REGISTRY_AUTH_FILE"] = str(work / "containers-auth.json")
        if "helm" in settings.write:
            exported["HELM_REGISTRY_CONFIG"] = run_env["HELM_REGISTRY_CONFIG"] = str(work / "helm-registry.json")
    result = flow.write(obtained, settings, run_env)
    o = result.obtained
    for line in result.describe():
        say(line)
    for w in result.warnings + ["mask-password: false is ignored with debug logging on"] * debug_unmasked:
        command("warning", w, title="ecr-ci")
    command("endgroup")
    docker_dir = sinks.docker_config_dir(run_env, settings.docker_config) if "docker" in settings.write else ""
    outputs = {"registries": ",".join(a.host for a in o.auths), "expires-at": _iso(o.expires_at)}
    outputs["docker-config"] = str(docker_dir)  # amazon-ecr-login's per-host outputs can't exist in a composite
    if len(o.auths) == 1:
        one = o.auths[0]
        outputs.update({"registry": one.host, "docker-username": one.username, "docker-password": one.password})
    append(env["GITHUB_ENV"], exported)
    append(env["GITHUB_OUTPUT"], outputs)
    _summary(env, o, result)
    return 0


def _summary(env: Mapping[str, str], o: Any, result: Any) -> None:
    """Registries, expiry and the identity used; never a secret."""
    rows = "".join(f"| `{a.host}` | {_iso(a.expires_at)} |\n" for a in o.auths)
    identity = f"`{o.role_arn}` as session `{o.session_name}`" if o.role_arn else "the AWS credential chain"
    files = "".join(f"- `{f.path}`\n" for f in result.files)
    text = f"### ecr-ci: logged in to Amazon ECR\n\nIdentity: {o.identity_source} → {identity}\n\n"
    text += f"| registry | valid until (UTC) |\n| --- | --- |\n{rows}\n" + (f"Wrote:\n{files}\n" if files else "")
    if env.get("GITHUB_STEP_SUMMARY"):
        with open(env["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as f:
            f.write(text)
