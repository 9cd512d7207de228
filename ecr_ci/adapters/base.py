"""What the three CI adapters share: their inputs, read from one schema; a per-job docker config; one failure path.

A platform file (``action.yml``, the GitLab template, ``ecrLogin.groovy``) hands each of its inputs to the adapter
as the environment variable :func:`input_variable` of its name, and nothing else: no input is ever interpolated into
a shell command. The inputs are the settings whose schema entry names them for that adapter (``names:``) plus the
adapter's own ``adapter_inputs:``; both are typed and validated by the same rules as every other setting, and an
error names the input as the user wrote it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ecr_ci._record import replace
from ecr_ci.clients import sinks
from ecr_ci.errors import ConfigError, Diagnostics
from ecr_ci.settings import ASCII_SPACE, SURFACES, Settings, check, coerce, resolve, schema, specs

INPUT_PREFIX = "ECR_CI_INPUT_"


def input_variable(name: str) -> str:
    """The variable that carries the input ``name``: ``role-to-assume`` → ``ECR_CI_INPUT_ROLE_TO_ASSUME``."""
    return INPUT_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def setting_inputs(surface: str) -> dict[str, str]:
    """``{input name: setting name}`` for the core settings ``surface`` exposes."""
    return {spec["names"][surface]: n for n, spec in specs().items() if spec.get("names", {}).get(surface)}


def own_inputs(surface: str) -> dict[str, dict[str, Any]]:
    """The adapter-only inputs of ``surface``: ``{input name: spec}``."""
    found: dict[str, dict[str, Any]] = schema().get("adapter_inputs", {}).get(surface) or {}
    return found


def settings(surface: str, env: Mapping[str, str], *, command: str = "login", **fixed: Any) -> Settings:
    """The core settings from the adapter's inputs (then the ``ECR_CI_*`` twins and standard fallbacks, as
    everywhere). ``fixed`` are values the adapter decides itself (``cache=False``, ``docker_config=…``)."""
    given = {n: env[input_variable(i)] for i, n in setting_inputs(surface).items() if env.get(input_variable(i), "")}
    s = resolve(given, env, command=command, surface=surface)
    return replace(s, **fixed) if fixed else s


def adapter_inputs(surface: str, env: Mapping[str, str]) -> dict[str, Any]:
    """The adapter-only inputs, typed (defaults filled in) and validated; keys are the input names."""
    out: dict[str, Any] = {}
    for name, spec in own_inputs(surface).items():
        raw = env.get(input_variable(name), "")
        if raw.strip(ASCII_SPACE) == "":
            out[name] = spec["schema"].get("default")
            continue
        source = f"{SURFACES[surface]} {name}"
        value = coerce(spec, raw, source)
        check(spec, value, source, f"set the {SURFACES[surface]} {name}", name)
        out[name] = value
    return out


def isolated_docker_config(dest_dir: str | os.PathLike[str], source_dir: Path | None, hosts: Iterable[str]) -> Path:
    """A fresh docker config directory for one job or block: the user's ``config.json`` (from ``source_dir``)
    carried over minus the ``auths`` and ``credHelpers`` entries of ``hosts`` and minus ``credsStore`` (which would
    hide the per-job entries, or take the job's tokens into a shared keychain), with the user's CLI plugins
    (buildx, compose) still found through ``cliPluginsExtraDirs``. Returns the directory (0700; the file 0600)."""
    dest = Path(dest_dir)
    dest.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(dest, 0o700)
    data: dict[str, Any] = {}
    plugin_dirs: list[str] = []
    if source_dir is not None and source_dir.resolve() != dest.resolve():
        data = sinks.read_json(source_dir / "config.json", "docker config")
        if (source_dir / "cli-plugins").is_dir():
            plugin_dirs.append(str(source_dir / "cli-plugins"))
    targets = set(hosts)
    for section in ("auths", "credHelpers"):
        if isinstance(data.get(section), dict):
            data[section] = {k: v for k, v in data[section].items() if _bare(k) not in targets}
    data.pop("credsStore", None)
    extra = data.get("cliPluginsExtraDirs")
    plugin_dirs += [d for d in extra if isinstance(d, str)] if isinstance(extra, list) else []
    if plugin_dirs:
        data["cliPluginsExtraDirs"] = list(dict.fromkeys(plugin_dirs))
    sinks.write_json(dest / "config.json", data)
    return dest


def _bare(key: str) -> str:
    """A config key as a host: docker writes ``https://host/v1/`` for some logins and ``host`` for others."""
    return re.sub(r"^[a-z]+://", "", key.strip().lower()).split("/", 1)[0]


def failure(error: BaseException) -> Diagnostics:
    """The diagnostics of a failed adapter run: the core's, explained (claims, causes), for the platform to show."""
    from ecr_ci.diagnostics.render import diagnose

    return diagnose(error)


def require(value: object, name: str, surface: str) -> None:
    """A missing mandatory adapter input is one line naming it."""
    if value in (None, "", []):
        raise ConfigError(f"{SURFACES[surface]} {name}: not set (it is required)", code="input.missing", input=name)


__all__ = [
    "INPUT_PREFIX",
    "adapter_inputs",
    "failure",
    "input_variable",
    "isolated_docker_config",
    "own_inputs",
    "require",
    "setting_inputs",
    "settings",
]
