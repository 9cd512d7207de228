"""Generate the GitLab CI/CD component's input declarations from the settings schema.

``gitlab/templates/ecr-login.yml`` is written by hand except for the regions between ``# BEGIN generated: <part>``
and ``# END generated: <part>`` lines, which this module rewrites from ``ecr_ci/settings.yaml``:

``inputs``
    the ``spec: inputs:`` entries: every core setting that has a GitLab name (``names: {gitlab: …}``) and every
    adapter-only input under ``adapter_inputs: gitlab:``, each with its GitLab type, default, options, an anchored
    RE2 regex and its description;
``variables``
    the hidden job's ``variables:``: each input as ``ECR_CI_INPUT_<NAME>`` (``base.input_variable``), strings with
    ``expand: false`` so a ``$`` in a value stays a ``$``; inputs never reach ``script:`` text;
``bootstrap``
    the shared bootstrap (``bootstrap/bootstrap.sh``, its builder ``_build.py`` and the hash lock
    ``requirements.lock``), byte for byte as here-documents, so that a job without ecr-ci on its ``PATH`` installs
    the pinned, hash-checked set: a component ships only its YAML.

``gitlab/README.md`` gets the inputs table between ``<!-- inputs:start -->`` and ``<!-- inputs:end -->``.
:func:`outputs` returns both files as they should be; ``python -m ecr_ci.gendocs`` writes them and a test fails
when the checked-in files drift.

Types map as GitLab can check them: strings and nullable strings are ``string`` (an empty value means "not
given"), integers and numbers ``number``, booleans ``boolean``, enumerations ``options``. Arrays are a ``string``
of comma-separated items, the form every other surface takes too; their regex checks each item when the items
have a pattern or an enumeration. GitLab can't check lengths or numeric ranges: the adapter checks every value
again with the settings schema and names the input.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from .settings import load_yaml_schema

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "gitlab" / "templates" / "ecr-login.yml"
README = ROOT / "gitlab" / "README.md"
BOOTSTRAP_DIR = ROOT / "bootstrap"
# The POSIX front end, its builder and the hash lock: what bootstrap.sh needs beside it (bootstrap.ps1 is Windows').
BOOTSTRAP_FILES = ("requirements.lock", "_build.py", "bootstrap.sh")

# GitLab's id_tokens need an audience; the core's default (None: chosen from the registries' partition) can't be
# written there, so the component defaults to the commercial partition's and China users set `audience`.
DEFAULT_OVERRIDES: dict[str, object] = {"audience": "sts.amazonaws.com"}
HEREDOC = "ECR_CI_EMBEDDED_EOF"
SCRIPT_INDENT = " " * 6  # the indentation of a before_script item's lines (`    - |` then six spaces)
_REGION = re.compile(
    r"^(?P<indent>[ \t]*)# BEGIN generated: (?P<part>[\w-]+)\n.*?^[ \t]*# END generated: (?P=part)\n", re.S | re.M
)


def input_variable(name: str) -> str:
    """``ECR_CI_INPUT_`` + the input name upper-cased, every non-alphanumeric as ``_`` (as ``base.input_variable``)."""
    return "ECR_CI_INPUT_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def inputs() -> list[tuple[str, dict[str, Any], str | None]]:
    """``(gitlab name, declaration, setting name or None)`` for every component input, in schema order."""
    data = load_yaml_schema()
    found: list[tuple[str, dict[str, Any], str | None]] = []
    for setting, spec in data["settings"].items():
        name = (spec.get("names") or {}).get("gitlab")
        if name:
            found.append((name, spec, setting))
    for name, spec in ((data.get("adapter_inputs") or {}).get("gitlab") or {}).items():
        found.append((name, spec, None))
    return found


def _types(schema: dict[str, Any]) -> list[str]:
    t = schema.get("type", "string")
    return [t] if isinstance(t, str) else list(t)


def _inner(pattern: str) -> str:
    """A schema pattern without its ``^…$`` anchors, grouped (JSON Schema and RE2 agree on the syntax used)."""
    body = pattern[1:] if pattern.startswith("^") else ".*" + pattern
    body = body[:-1] if body.endswith("$") and not body.endswith("\\$") else body + ".*"
    return f"(?:{body})"


def _item_regex(items: dict[str, Any]) -> str | None:
    if "enum" in items:
        return "(?:" + "|".join(re.escape(str(v)) for v in items["enum"]) + ")"
    if "pattern" in items:
        return _inner(items["pattern"])
    return None


def declaration(spec: dict[str, Any], setting: str | None) -> dict[str, Any]:
    """The ``spec:inputs`` entry for one setting or adapter input."""
    schema: dict[str, Any] = spec["schema"]
    types = _types(schema)
    out: dict[str, Any] = {}
    has_default = "default" in schema or (setting in DEFAULT_OVERRIDES)
    default = DEFAULT_OVERRIDES.get(setting or "", schema.get("default"))
    if "array" in types:
        out["type"] = "string"
        item = _item_regex(schema.get("items", {}))
        if item is not None:
            sep = r"\s*[,\n]\s*"
            required = schema.get("minItems", 0) > 0 and not default
            out["regex"] = rf"^\s*{item}(?:{sep}{item})*\s*$" if required else rf"^\s*(?:{item}(?:{sep}{item})*)?\s*$"
        if has_default:
            out["default"] = ",".join(str(v) for v in default) if isinstance(default, list) else ""
    elif "boolean" in types:
        out["type"] = "boolean"
        if has_default:
            out["default"] = bool(default)
    elif "integer" in types or "number" in types:
        out["type"] = "number"
        if has_default:
            out["default"] = default
    else:
        out["type"] = "string"
        if "enum" in schema:
            out["options"] = [str(v) for v in schema["enum"]]
        elif "pattern" in schema:
            optional = "null" in types or default in ("", None)
            out["regex"] = f"^{_inner(schema['pattern'])}?$" if optional else f"^{_inner(schema['pattern'])}$"
        if has_default:
            out["default"] = "" if default is None else str(default)
    out["description"] = " ".join(str(spec["description"]).split())
    return out


def _scalar(value: object) -> str:
    """A YAML scalar: JSON strings are valid YAML double-quoted scalars, and say exactly what they hold."""
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z][\w.-]*", value) and value not in ("true", "false", "null"):
        return value
    return json.dumps(value)


def inputs_block(indent: str) -> str:
    lines = []
    for name, spec, setting in inputs():
        lines.append(f"{indent}{name}:")
        for key, value in declaration(spec, setting).items():
            if key == "options":
                lines.append(f"{indent}  options: [{', '.join(_scalar(v) for v in value)}]")
            else:
                lines.append(f"{indent}  {key}: {_scalar(value)}")
    return "\n".join(lines) + "\n"


def variables_block(indent: str) -> str:
    lines = []
    for name, spec, setting in inputs():
        var = input_variable(name)
        if declaration(spec, setting)["type"] == "string":
            # expand: false keeps a `$` in the value literal (GitLab would otherwise expand $VAR references).
            lines += [f"{indent}{var}:", f"{indent}  value: $[[ inputs.{name} ]]", f"{indent}  expand: false"]
        else:
            lines.append(f"{indent}{var}: $[[ inputs.{name} ]]")
    return "\n".join(lines) + "\n"


def bootstrap_block(indent: str, source: Path) -> str:
    """Shell that writes each bootstrap file, byte for byte, into ``$ECR_CI_BOOTSTRAP_DIR`` (here-documents)."""
    if not indent.startswith(SCRIPT_INDENT):
        raise ValueError(f"{TEMPLATE.name}: the bootstrap region must sit inside a before_script item")
    if not all((source / name).is_file() for name in BOOTSTRAP_FILES):
        missing = ", ".join(BOOTSTRAP_FILES)
        return f"{indent}echo 'ecr-login: this template was generated without bootstrap/ ({missing})' >&2; exit 1\n"
    lines = []
    for name in BOOTSTRAP_FILES:
        text = (source / name).read_text(encoding="utf-8")
        if any(line == HEREDOC for line in text.splitlines()):
            raise ValueError(
                f"{source / name}: holds the line {HEREDOC}, which ends the here-document it is embedded in"
            )
        if not text.endswith("\n") or "\r" in text or re.search(r"^[ \t]+$", text, re.M):
            # YAML's block scalar would not keep these exactly: a whitespace-only line or a missing final newline.
            raise ValueError(f"{source / name}: needs a final newline and no CR or whitespace-only lines to embed")
        lines.append(f"{indent}cat > \"$ECR_CI_BOOTSTRAP_DIR/{name}\" <<'{HEREDOC}'")
        # YAML strips the block scalar's own indentation: the here-document body and its end marker land at
        # column 0 of the script, as the shell needs them.
        lines += [f"{SCRIPT_INDENT}{line}" if line else "" for line in text.splitlines()]
        lines.append(f"{SCRIPT_INDENT}{HEREDOC}")
    return "\n".join(lines) + "\n"


def render_template(text: str, bootstrap_dir: Path = BOOTSTRAP_DIR) -> str:
    """``text`` (the template) with every generated region rewritten (the bootstrap from ``bootstrap_dir``)."""

    def region(m: re.Match[str]) -> str:
        indent, part = m.group("indent"), m.group("part")
        if part == "inputs":
            body = inputs_block(indent)
        elif part == "variables":
            body = variables_block(indent)
        elif part == "bootstrap":
            body = bootstrap_block(indent, bootstrap_dir)
        else:
            raise ValueError(f"{TEMPLATE.name}: unknown generated region {part!r}")
        return f"{indent}# BEGIN generated: {part}\n{body}{indent}# END generated: {part}\n"

    return _REGION.sub(region, text)


README_START = "<!-- inputs:start (generated by python -m ecr_ci.gendocs) -->"
README_END = "<!-- inputs:end -->"


def inputs_table() -> str:
    rows = ["| input | type | default | description |", "|---|---|---|---|"]
    for name, spec, setting in inputs():
        d = declaration(spec, setting)
        kind = d["type"] + (" (" + " \\| ".join(f"`{o}`" for o in d["options"]) + ")" if "options" in d else "")
        if "default" not in d:
            default = "**required**"
        elif d["default"] in ("", None):
            default = ""
        else:
            default = "`" + (json.dumps(d["default"]) if not isinstance(d["default"], str) else d["default"]) + "`"
        description = d["description"].replace("|", "\\|")
        rows.append(f"| `{name}` | {kind} | {default} | {description} |")
    return "\n".join(rows)


def integrity(template: str) -> str:
    """GitLab's ``include: integrity:`` value for a file: ``sha256-`` + the base64 SHA-256 of its bytes."""
    return "sha256-" + base64.b64encode(hashlib.sha256(template.encode("utf-8")).digest()).decode()


def render_readme(text: str, template: str) -> str:
    """The README with the inputs table and the ``integrity:`` of ``template`` (the rendered template) in place."""
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    text = f"{head}{README_START}\n{inputs_table()}\n{README_END}{tail}"
    return re.sub(r"integrity: sha256-[A-Za-z0-9+/]{43}=", f"integrity: {integrity(template)}", text)


def outputs() -> dict[Path, str]:
    """Every file this module generates, and what it should hold."""
    template = render_template(TEMPLATE.read_text(encoding="utf-8"))
    return {TEMPLATE: template, README: render_readme(README.read_text(encoding="utf-8"), template)}
