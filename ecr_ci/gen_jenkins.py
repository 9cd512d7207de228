"""Generate the Jenkins shared library's files that must match the settings schema and the shared bootstrap.

* ``jenkins/vars/ecrLogin.txt``: the step's help (Jenkins shows it under "Global Variables Reference"): every
  argument, i.e. every core setting with a ``names: {jenkins: …}`` entry plus the adapter-only inputs under
  ``adapter_inputs: jenkins:``, with its type, default and description from ``ecr_ci/settings.yaml``.
* ``jenkins/vars/ecrLogin.groovy``: only the block between ``// generated:start`` and ``// generated:end``, the
  argument names the step accepts and the version of the bootstrap it carries (a digest of the copies below,
  so that a new bootstrap is written to the agent under a new name rather than over one that may be running).
* ``jenkins/resources/ecr-ci/``: real copies (Jenkins rejects symlinks in a library) of ``bootstrap/bootstrap.sh``,
  ``bootstrap/bootstrap.ps1``, the ``bootstrap/_build.py`` both run and ``bootstrap/requirements.lock``, read by the
  step with ``libraryResource`` and written side by side to the agent.
  A source that does not exist yet has no copy; :func:`stale_resources` lists copies without a source.

:func:`outputs` is what ``python -m ecr_ci.gendocs`` writes and what its ``--check`` (and a test) compares.
"""

from __future__ import annotations

import hashlib
import json
import re
import textwrap
from pathlib import Path
from typing import Any

from .settings import load_yaml_schema

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "jenkins"
STEP = LIBRARY / "vars" / "ecrLogin.groovy"
HELP = LIBRARY / "vars" / "ecrLogin.txt"
RESOURCES = LIBRARY / "resources" / "ecr-ci"
BOOTSTRAP_FILES = ("bootstrap.sh", "bootstrap.ps1", "_build.py", "requirements.lock")
START = "// generated:start (python -m ecr_ci.gendocs writes this from ecr_ci/settings.yaml and bootstrap/)"
END = "// generated:end"


def arguments(schema: dict[str, Any] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """``(camelCase name, declaration)`` of every step argument: the named core settings, then the adapter inputs."""
    schema = load_yaml_schema() if schema is None else schema
    found = []
    for spec in schema["settings"].values():
        name = (spec.get("names") or {}).get("jenkins")
        if name:
            found.append((name, spec))
    for name, spec in ((schema.get("adapter_inputs") or {}).get("jenkins") or {}).items():
        found.append((name, spec))
    return found


def _type(schema: dict[str, Any]) -> str:
    types = schema.get("type", "string")
    types = [t for t in ([types] if isinstance(types, str) else types) if t != "null"]
    if types == ["array"]:
        return "list of strings (or one comma-separated string)"
    if "enum" in schema:
        return "one of " + ", ".join(f"'{v}'" for v in schema["enum"])
    if schema.get("items", {}).get("enum"):
        return "list of " + ", ".join(f"'{v}'" for v in schema["items"]["enum"])
    return {"integer": "integer", "number": "number", "boolean": "boolean"}.get(types[0], "string")


def _default(schema: dict[str, Any]) -> str:
    d = schema.get("default")
    if d is None or d == []:
        return ""
    if isinstance(d, list):
        return "[" + ", ".join(f"'{v}'" for v in d) + "]"
    if isinstance(d, bool):
        return "true" if d else "false"
    return str(d) if isinstance(d, int | float) else f"'{d}'"


def help_text(schema: dict[str, Any] | None = None) -> str:
    """The content of ``vars/ecrLogin.txt``."""
    out = [
        "ecrLogin(arguments) { block }",
        "",
        "Logs the block in to Amazon ECR with the job's OpenID Connect identity (an oidc-provider",
        '"OpenID Connect id token as file" credential), or with the agent\'s own AWS credentials when no',
        "idTokenCredentialsId is given. ecr-ci runs on the agent (from PATH, or installed by the bundled bootstrap)",
        "and writes a fresh registry config for the block: DOCKER_CONFIG (your config.json carried over, minus",
        "credentials for the target registries), and REGISTRY_AUTH_FILE / HELM_REGISTRY_CONFIG when write asks for",
        "podman or helm. They are removed when the block ends, also when it fails or is aborted. Nothing secret",
        "passes through Groovy, a command line or the build log.",
        "",
        "    ecrLogin(roleArn: 'arn:aws:iam::123456789012:role/ci-push', idTokenCredentialsId: 'aws-oidc',",
        "             registries: ['123456789012.dkr.ecr.eu-west-1.amazonaws.com']) {",
        "        sh 'docker push 123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1'",
        "    }",
        "",
        "Arguments (generated from ecr_ci/settings.yaml; see jenkins/README.md):",
    ]
    for name, spec in arguments(schema):
        schema_ = spec["schema"]
        line = f"  {name}: {_type(schema_)}"
        default = _default(schema_)
        if "default" not in schema_:
            line += " (required)"
        elif default:
            line += f", default {default}"
        out.append(line)
        description = " ".join(str(spec["description"]).split())
        out += textwrap.wrap(
            description, width=112, initial_indent="      ", subsequent_indent="      ", break_on_hyphens=False
        )
    return "\n".join(out) + "\n"


def _copies() -> dict[Path, str]:
    sources = ROOT / "bootstrap"
    return {
        RESOURCES / name: (sources / name).read_text(encoding="utf-8")
        for name in BOOTSTRAP_FILES
        if (sources / name).is_file()
    }


def bootstrap_version(copies: dict[Path, str]) -> str:
    """A short digest of the bundled bootstrap files (names and contents); empty when there are none."""
    if not copies:
        return ""
    digest = hashlib.sha256()
    for path in sorted(copies):
        digest.update(path.name.encode() + b"\0" + copies[path].encode() + b"\0")
    return digest.hexdigest()[:12]


def generated_block(names: list[str], version: str) -> str:
    """The Groovy between the markers: the accepted argument names and the bootstrap version."""
    rows = textwrap.wrap(", ".join(json.dumps(n).replace('"', "'") for n in names), width=104)
    listing = "\n".join("        " + r for r in rows)
    return (
        f"{START}\nList<String> argumentNames() {{\n    return [\n{listing}\n    ]\n}}\n\n"
        f"String bootstrapVersion() {{\n    return '{version}'\n}}\n{END}"
    )


def step_source(current: str, names: list[str], version: str) -> str:
    """``current`` (the step's source) with its generated block replaced."""
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if not pattern.search(current):
        raise ValueError(f"{STEP}: no generated block ({START!r} … {END!r})")
    return pattern.sub(lambda _: generated_block(names, version), current, count=1)


def outputs() -> dict[Path, str]:
    """Every generated file of the Jenkins library and what it should hold."""
    schema = load_yaml_schema()
    copies = _copies()
    names = [name for name, _ in arguments(schema)]
    step = step_source(STEP.read_text(encoding="utf-8"), names, bootstrap_version(copies))
    return {HELP: help_text(schema), STEP: step, **copies}


def stale_resources() -> list[Path]:
    """Files in ``jenkins/resources/ecr-ci/`` that no longer have a source (e.g. a bootstrap file removed)."""
    if not RESOURCES.is_dir():
        return []
    wanted = set(_copies())
    return sorted(p for p in RESOURCES.iterdir() if p not in wanted)


def main(argv: list[str] | None = None) -> int:
    """Write the files (``--check``: only say which differ, exit 1 if any); ``python -m ecr_ci.gendocs`` does both."""
    import sys

    argv = sys.argv[1:] if argv is None else argv
    stale = [p for p, text in outputs().items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    if "--check" in argv:
        for p in stale + stale_resources():
            print(f"{p.relative_to(ROOT)}: differs from its source (run python -m ecr_ci.gen_jenkins)")
        return 1 if stale or stale_resources() else 0
    for p in stale:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(outputs()[p], encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
