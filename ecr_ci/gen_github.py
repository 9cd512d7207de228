"""Generate the GitHub Action's input declarations from the settings schema.

``actions/ecr-login/action.yml`` is written by hand except for the regions between ``# BEGIN generated: <part>``
and ``# END generated: <part>`` lines, which this module rewrites from ``ecr_ci/settings.yaml``:

``inputs``
    the ``inputs:`` entries: every core setting with a GitHub name (``names: {github: …}``), then every adapter-only
    input under ``adapter_inputs: github:``, each with its description (plus its choices and default, from the
    schema). None is required and none has a ``default:``: an empty input means "not given", so the core's
    default, the ``ECR_CI_*`` twin and the standard fallbacks (``AWS_REGION``…) apply as everywhere else;
``env``
    the login step's ``env:``: each input as ``ECR_CI_INPUT_<NAME>: ${{ inputs.<name> }}``
    (``base.input_variable``), the only way an input reaches the adapter.

``actions/ecr-login/README.md`` gets the inputs table between ``<!-- inputs:start … -->`` and
``<!-- inputs:end -->``. :func:`outputs` returns both files as they should be; ``python -m ecr_ci.gendocs`` writes
them and a test fails when the checked-in files drift.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

from .adapters.base import input_variable
from .settings import env_twin, load_yaml_schema

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "actions" / "ecr-login" / "action.yml"
README = ROOT / "actions" / "ecr-login" / "README.md"
SURFACE = "github"
_REGION = re.compile(
    r"^(?P<indent>[ \t]*)# BEGIN generated: (?P<part>[\w-]+)\n.*?^[ \t]*# END generated: (?P=part)\n", re.S | re.M
)
_TABLE = re.compile(r"(<!-- inputs:start[^>]*-->\n).*?(<!-- inputs:end -->)", re.S)


def inputs() -> list[tuple[str, dict[str, Any], str | None]]:
    """``(input name, spec, setting name or None for an adapter-only input)`` in schema order."""
    data = load_yaml_schema()
    found: list[tuple[str, dict[str, Any], str | None]] = []
    for setting, spec in data["settings"].items():
        name = (spec.get("names") or {}).get(SURFACE)
        if name:
            found.append((name, spec, setting))
    for name, spec in ((data.get("adapter_inputs") or {}).get(SURFACE) or {}).items():
        found.append((name, spec, None))
    names = [n for n, _, _ in found]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"settings.yaml: GitHub input names used twice: {duplicates}")
    return found


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return json.dumps(value).strip('"') if not isinstance(value, str) else value


def description(spec: dict[str, Any]) -> str:
    """The schema description on one line, plus its choices and default when the text does not give them."""
    text = " ".join(str(spec["description"]).split())
    schema: dict[str, Any] = spec["schema"]
    items = schema.get("items") or {}
    choices = schema.get("enum") or items.get("enum")
    extra = []
    if choices and not all(f"`{c}`" in text for c in choices if c is not None):
        extra.append("One of " + ", ".join(f"`{c}`" for c in choices if c is not None) + ".")
    if schema.get("type") == "boolean" or (isinstance(schema.get("type"), list) and "boolean" in schema["type"]):
        extra.append("`true` or `false`.")
    default = schema.get("default")
    if default not in (None, []) and "default" not in text.lower():
        extra.append(f"Default `{_literal(default)}`.")
    return " ".join([text, *extra])


def _block(text: str, indent: str) -> list[str]:
    width = 118 - len(indent)
    return [indent + line for line in textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)]


def render_inputs(indent: str) -> str:
    lines: list[str] = []
    for name, spec, _ in inputs():
        lines += [f"{indent}{name}:", f"{indent}  description: >-", *_block(description(spec), indent + "    ")]
        lines.append(f"{indent}  required: false")
    return "\n".join(lines) + "\n" if lines else ""


def render_env(indent: str) -> str:
    return "".join(f"{indent}{input_variable(name)}: ${{{{ inputs.{name} }}}}\n" for name, _, _ in inputs())


def render_action(text: str) -> str:
    """``action.yml`` with its generated regions rewritten."""
    renderers = {"inputs": render_inputs, "env": render_env}

    def replace(m: re.Match[str]) -> str:
        indent, part = m.group("indent"), m.group("part")
        if part not in renderers:
            raise ValueError(f"{ACTION.name}: unknown generated region {part!r}")
        body = renderers[part](indent)
        return f"{indent}# BEGIN generated: {part}\n{body}{indent}# END generated: {part}\n"

    rendered, count = _REGION.subn(replace, text)
    if count != len(renderers):
        raise ValueError(f"{ACTION.name}: expected the generated regions {sorted(renderers)}, found {count}")
    return rendered


def inputs_table() -> str:
    rows = ["| input | env twin | description |", "|---|---|---|"]
    for name, _spec, setting in inputs():
        twin = f"`{env_twin(setting)}`" if setting else "—"
        rows.append(f"| `{name}` | {twin} | {description(_spec).replace('|', chr(92) + '|')} |")
    return "\n".join(rows) + "\n"


def render_readme(text: str) -> str:
    rendered, count = _TABLE.subn(lambda m: m.group(1) + inputs_table() + m.group(2), text)
    if count != 1:
        raise ValueError(f"{README.name}: the <!-- inputs:start --> … <!-- inputs:end --> markers are missing")
    return rendered


def outputs() -> dict[Path, str]:
    """Every file this module generates and what it should hold."""
    return {
        ACTION: render_action(ACTION.read_text(encoding="utf-8")),
        README: render_readme(README.read_text(encoding="utf-8")),
    }
