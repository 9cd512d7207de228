"""Run a composite GitHub Action the way the Actions runner does, on this machine, and police its log.

:class:`Job` is one job of a workflow: a workspace, ``RUNNER_TEMP``, a tool cache, the job's environment and its
log. ``job.uses(action_dir, {"role-to-assume": …})`` runs a composite action's ``action.yml``; ``job.run(script)``
runs an ordinary ``run:`` step after it, so a test can show what "the following steps" of a job get.

What is emulated, after the runner's own code (actions/runner ``ScriptHandler``, ``OutputManager``,
``ActionCommandManager``, ``FileCommandManager``):

* **Steps**: in order; ``if:`` (an expression without a status function means ``success() && (…)``); ``shell:``
  (required in a composite action; ``bash`` is ``bash --noprofile --norc -e -o pipefail {0}``, ``sh`` is
  ``sh -e {0}``, ``pwsh`` is ``pwsh -command ". '{0}'"``, ``python``, or a custom ``cmd … {0}``); the script in a
  fresh file under ``RUNNER_TEMP``; ``env:``; ``working-directory`` (relative to the workspace);
  ``continue-on-error``; ``id`` with ``outcome``/``conclusion``/``outputs``. Like the runner, the log of each step
  starts with the script and its ``env:`` block (masked): a secret handed to a step through ``env:`` unmasked
  is caught.
* **Expressions** ``${{ … }}``: literals, ``inputs.*`` (declared only; defaults applied), ``github.*``,
  ``runner.*``, ``env.*``, ``steps.<id>.*``, ``job.status``, property and index access, ``!``, ``<``, ``<=``,
  ``>``, ``>=``, ``==``, ``!=`` (loose: numbers across types, strings case-insensitive), ``&&``, ``||`` (value
  returning), and ``success()``, ``failure()``, ``always()``, ``cancelled()``, ``contains``, ``startsWith``,
  ``endsWith``, ``format``, ``join``, ``toJSON``, ``fromJSON``. Anything else is an error, not a guess.
* **Runner files**: a fresh ``GITHUB_OUTPUT``, ``GITHUB_ENV``, ``GITHUB_PATH``, ``GITHUB_STEP_SUMMARY``,
  ``GITHUB_STATE`` per step, parsed the runner's way (``NAME=value``; ``NAME<<DELIM`` … ``DELIM``; a missing
  delimiter fails the step); ``GITHUB_ENV`` and ``GITHUB_PATH`` apply to every later step of the job.
* **Workflow commands** on stdout *and* stderr (the runner reads both; they are read here through one pipe so
  their order is the order the process wrote them): ``add-mask``, ``group``/``endgroup``, ``error``,
  ``warning``, ``notice``, ``debug``, ``stop-commands``; the retired ``set-output``, ``save-state``, ``set-env``,
  ``add-path`` are violations. Masks apply to every later line of the job, to annotations and to the summary.
* **Debug logging** (``debug=True``): ``RUNNER_DEBUG=1``, and every value a step sets in ``GITHUB_ENV`` or
  ``GITHUB_OUTPUT`` is shown in the log, as the runner's debug log does: an output secret left unmasked is caught.
* **Identity**: with ``oidc=`` (the test bed's :class:`~tests.testbed.OidcIssuer`) and ``id_token=True`` each
  step gets ``ACTIONS_ID_TOKEN_REQUEST_URL``/``_TOKEN``, as with ``permissions: id-token: write``; the request
  token is masked from the start, as the runner masks its own access token.

The police: every secret the test bed issued (the secret ledger) that appears unmasked in any line of the log,
an annotation, a group title or a step summary is a violation, and so is a ``::add-mask::`` for a value that was
already printed (the runner masks only what comes after). Masking here is literal, like the runner's for values
a step adds (no extra encodings are assumed), so it can only be stricter. With ``strict=True`` (the default) a
violation raises :class:`Violation` when the step ends; ``job.violations`` lists them either way. The masked log,
summaries and outputs are recorded in the ledger for the session-end scan.

Stricter than the runner: a ``with:`` key the action does not declare is an error (the runner warns), and so is
an expression this emulator does not implement.

Not emulated: ``uses:`` steps inside the composite action (this project's action has none), post steps
(composite actions have none), the legacy ``##[cmd]`` command form, problem matchers, containers.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import shlex
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.testbed.secrets import LEDGER


class ExpressionError(ValueError):
    """An expression the runner would reject (or that this emulator does not implement)."""


class Violation(AssertionError):
    """A secret printed unmasked, a mask registered too late, or a retired workflow command."""


# -- expressions -----------------------------------------------------------------------------------------------
_TOKEN = re.compile(
    r"\s*(?:(?P<num>0x[0-9a-fA-F]+|-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<str>'(?:[^']|'')*')"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[!<>()\[\].,*])"
    r"|(?P<id>[A-Za-z_][A-Za-z0-9_-]*))"
)
_STATUS_FUNCTIONS = ("success", "failure", "always", "cancelled")


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExpressionError(f"unexpected character in expression at {pos}: {text!r}")
        pos = m.end()
        if m.group("num") is not None:
            n = m.group("num")
            out.append(("lit", float(int(n, 16)) if n.startswith("0x") else float(n)))
        elif m.group("str") is not None:
            out.append(("lit", m.group("str")[1:-1].replace("''", "'")))
        elif m.group("op") is not None:
            out.append(("op", m.group("op")))
        else:
            name = m.group("id")
            lowered = name.lower()
            if lowered in ("true", "false"):
                out.append(("lit", lowered == "true"))
            elif lowered == "null":
                out.append(("lit", None))
            elif lowered in ("nan", "infinity"):
                out.append(("lit", float(lowered.replace("infinity", "inf"))))
            else:
                out.append(("id", name))
    return out


def to_number(v: Any) -> float:
    """The runner's number coercion: null 0, booleans 1/0, strings parsed ('' is 0), objects NaN."""
    if v is None:
        return 0.0
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        s = v.strip()
        if s == "":
            return 0.0
        try:
            return float(int(s, 16)) if s.lower().startswith("0x") else float(s)
        except ValueError:
            return math.nan
    return math.nan


def truthy(v: Any) -> bool:
    """Falsy: null, false, 0, -0, NaN and ''; everything else (objects and arrays too) is truthy."""
    if v is None or v is False or v == "":
        return False
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return not (v == 0 or math.isnan(v))
    return True


def to_str(v: Any) -> str:
    """How a value is interpolated into a string."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, (dict, list)):
        return json.dumps(v, indent=2)
    return str(v)


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    return "object"


def loose_equal(a: Any, b: Any) -> bool:
    ka, kb = _kind(a), _kind(b)
    if ka == kb:
        if ka == "string":
            return str(a).casefold() == str(b).casefold()
        if ka == "object":
            return a is b
        if ka == "number":
            return float(a) == float(b)
        return bool(a == b)
    return to_number(a) == to_number(b)


def _compare(a: Any, b: Any) -> float:
    if isinstance(a, str) and isinstance(b, str):
        x, y = a.casefold(), b.casefold()
        return (x > y) - (x < y)
    x, y = to_number(a), to_number(b)
    if math.isnan(x) or math.isnan(y):
        return math.nan
    return (x > y) - (x < y)


class _Lookup(dict):  # type: ignore[type-arg]
    """A context: case-insensitive keys; a missing key is null, or an error when ``strict``."""

    def __init__(self, data: Mapping[str, Any], name: str, strict: bool = False) -> None:
        super().__init__({k.lower(): v for k, v in data.items()})
        self.name, self.strict = name, strict

    def get_key(self, key: str) -> Any:
        if key.lower() in self:
            return self[key.lower()]
        if self.strict:
            raise ExpressionError(f"{self.name}.{key} is not defined")
        return None


def _index(obj: Any, key: Any) -> Any:
    if isinstance(obj, _Lookup):
        return obj.get_key(to_str(key))
    if isinstance(obj, dict):
        lowered = {str(k).lower(): v for k, v in obj.items()}
        return lowered.get(to_str(key).lower())
    if isinstance(obj, list):
        n = to_number(key)
        return obj[int(n)] if not math.isnan(n) and 0 <= int(n) < len(obj) else None
    return None


def _format(fmt: Any, *args: Any) -> str:
    text, out, i = to_str(fmt), [], 0
    while i < len(text):
        c = text[i]
        if text.startswith("{{", i) or text.startswith("}}", i):
            out.append(c)
            i += 2
        elif c == "{":
            end = text.index("}", i)
            out.append(to_str(args[int(text[i + 1 : end])]))
            i = end + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _contains(search: Any, item: Any) -> bool:
    if isinstance(search, list):
        return any(loose_equal(x, item) for x in search)
    return to_str(item).casefold() in to_str(search).casefold()


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "contains": _contains,
    "startswith": lambda s, p: to_str(s).casefold().startswith(to_str(p).casefold()),
    "endswith": lambda s, p: to_str(s).casefold().endswith(to_str(p).casefold()),
    "format": _format,
    "join": lambda a, sep=",": to_str(sep).join(map(to_str, a)) if isinstance(a, list) else to_str(a),
    "tojson": lambda v: json.dumps(v, indent=2),
    "fromjson": lambda s: json.loads(to_str(s)),
}


class _Parser:
    """Precedence, lowest first: ``||``, ``&&``, ``==``/``!=``, comparisons, ``!``, access and calls."""

    def __init__(self, text: str, contexts: Mapping[str, Any], status: Mapping[str, bool]) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.text = text
        self.contexts = {k.lower(): v for k, v in contexts.items()}
        self.status = status

    def parse(self) -> Any:
        if not self.toks:
            raise ExpressionError("empty expression")
        value = self.or_()
        if self.i != len(self.toks):
            raise ExpressionError(f"unexpected {self.toks[self.i][1]!r} in {self.text!r}")
        return value

    def peek(self, *ops: str) -> bool:
        return self.i < len(self.toks) and self.toks[self.i][0] == "op" and self.toks[self.i][1] in ops

    def take(self, op: str) -> None:
        if not self.peek(op):
            raise ExpressionError(f"expected {op!r} in {self.text!r}")
        self.i += 1

    def or_(self) -> Any:
        left = self.and_()
        while self.peek("||"):
            self.i += 1
            right = self.and_()
            left = left if truthy(left) else right
        return left

    def and_(self) -> Any:
        left = self.eq()
        while self.peek("&&"):
            self.i += 1
            right = self.eq()
            left = right if truthy(left) else left
        return left

    def eq(self) -> Any:
        left = self.cmp()
        while self.peek("==", "!="):
            op = self.toks[self.i][1]
            self.i += 1
            right = self.cmp()
            left = loose_equal(left, right) == (op == "==")
        return left

    def cmp(self) -> Any:
        left = self.unary()
        while self.peek("<", "<=", ">", ">="):
            op = self.toks[self.i][1]
            self.i += 1
            c = _compare(left, self.unary())
            left = (not math.isnan(c)) and {"<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[op]
        return left

    def unary(self) -> Any:
        if self.peek("!"):
            self.i += 1
            return not truthy(self.unary())
        return self.postfix()

    def postfix(self) -> Any:
        value = self.primary()
        while True:
            if self.peek("."):
                self.i += 1
                kind, name = self.toks[self.i] if self.i < len(self.toks) else ("", "")
                if kind != "id":
                    raise ExpressionError(f"expected a property name after '.' in {self.text!r}")
                self.i += 1
                value = _index(value, name)
            elif self.peek("["):
                self.i += 1
                if self.peek("*"):
                    raise ExpressionError("object filters (.*) are not emulated")
                key = self.or_()
                self.take("]")
                value = _index(value, key)
            else:
                return value

    def primary(self) -> Any:
        if self.i >= len(self.toks):
            raise ExpressionError(f"unexpected end of {self.text!r}")
        kind, value = self.toks[self.i]
        self.i += 1
        if kind == "lit":
            return value
        if kind == "op" and value == "(":
            inner = self.or_()
            self.take(")")
            return inner
        if kind != "id":
            raise ExpressionError(f"unexpected {value!r} in {self.text!r}")
        if self.peek("("):
            self.i += 1
            args: list[Any] = []
            while not self.peek(")"):
                args.append(self.or_())
                if not self.peek(")"):
                    self.take(",")
            self.take(")")
            name = value.lower()
            if name in _STATUS_FUNCTIONS:
                return self.status[name]
            if name not in _FUNCTIONS:
                raise ExpressionError(f"function {value}() is not emulated")
            return _FUNCTIONS[name](*args)
        if value.lower() not in self.contexts:
            raise ExpressionError(f"unknown context {value!r} in {self.text!r}")
        return self.contexts[value.lower()]


def evaluate(text: str, contexts: Mapping[str, Any], status: Mapping[str, bool] | None = None) -> Any:
    """The value of one expression (without ``${{ }}``)."""
    return _Parser(text, contexts, status or dict.fromkeys(_STATUS_FUNCTIONS, True)).parse()


def _expression_end(text: str, start: int) -> int:
    """Index of the ``}}`` closing the expression starting at ``start``, skipping string literals."""
    i, quoted = start, False
    while i < len(text):
        if text[i] == "'":
            quoted = not quoted  # '' inside a literal toggles twice
        elif not quoted and text.startswith("}}", i):
            return i
        i += 1
    raise ExpressionError(f"unclosed ${{{{ in {text!r}")


def interpolate(text: str, contexts: Mapping[str, Any], status: Mapping[str, bool] | None = None) -> str:
    """``text`` with every ``${{ expr }}`` replaced by its value as a string."""
    out, pos = [], 0
    while (start := text.find("${{", pos)) != -1:
        end = _expression_end(text, start + 3)
        out += [text[pos:start], to_str(evaluate(text[start + 3 : end], contexts, status))]
        pos = end + 2
    return "".join(out) + text[pos:]


def condition(text: Any, contexts: Mapping[str, Any], status: Mapping[str, bool]) -> bool:
    """An ``if:`` value: optional ``${{ }}``; without a status function it means ``success() && (…)``."""
    if text is None or text == "":
        return status["success"]
    if isinstance(text, bool):
        return text and status["success"]
    expr = str(text).strip()
    if expr.startswith("${{") and expr.endswith("}}") and _expression_end(expr, 3) == len(expr) - 2:
        expr = expr[3:-2]
    if not any(re.search(rf"\b{f}\s*\(", expr, re.IGNORECASE) for f in _STATUS_FUNCTIONS):
        expr = f"success() && ({expr})"
    return truthy(evaluate(expr, contexts, status))


# -- runner files ----------------------------------------------------------------------------------------------
def parse_file_command(text: str) -> dict[str, str]:
    """``GITHUB_ENV`` / ``GITHUB_OUTPUT`` content as the runner reads it; ``ValueError`` where it would fail."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()  # the runner's ReadLine: nothing after the final newline
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line == "":
            continue
        eq, heredoc = line.find("="), line.find("<<")
        if eq >= 0 and (heredoc < 0 or eq < heredoc):
            name, value = line.split("=", 1)
            if not name:
                raise ValueError(f"Invalid format '{line}': the name must not be empty")
            values[name] = value
        elif heredoc >= 0:
            name, delimiter = line.split("<<", 1)
            if not name or not delimiter:
                raise ValueError(f"Invalid format '{line}': name and delimiter must not be empty")
            body: list[str] = []
            while i < len(lines) and lines[i] != delimiter:
                body.append(lines[i])
                i += 1
            if i >= len(lines):
                raise ValueError(f"Matching delimiter not found '{delimiter}'")
            i += 1
            values[name] = "\n".join(body)
        else:
            raise ValueError(f"Invalid format '{line}'")
    return values


# -- workflow commands -----------------------------------------------------------------------------------------
_COMMANDS = {
    "add-mask", "group", "endgroup", "error", "warning", "notice", "debug", "echo", "add-matcher",
    "remove-matcher", "set-output", "save-state", "set-env", "add-path", "stop-commands",
}  # fmt: skip
_RETIRED = {"set-output", "save-state", "set-env", "add-path"}


def _unescape(value: str, prop: bool) -> str:
    pairs = [("%0D", "\r"), ("%0A", "\n")] + ([("%3A", ":"), ("%2C", ",")] if prop else []) + [("%25", "%")]
    for code, char in pairs:
        value = value.replace(code, char)
    return value


def parse_command(line: str, registered: Iterable[str] = _COMMANDS) -> tuple[str, dict[str, str], str] | None:
    """``(command, properties, data)`` for a ``::command k=v,…::data`` line, else ``None`` (plain output)."""
    message = line.lstrip()
    if not message.startswith("::"):
        return None
    end = message.find("::", 2)
    if end < 0:
        return None
    info = message[2:end]
    name, _, props_text = info.partition(" ")
    if name.lower() not in {c.lower() for c in registered}:
        return None
    props = {}
    for pair in filter(None, props_text.strip().split(",")):
        key, sep, value = pair.partition("=")
        if sep and key and value:
            props[key] = _unescape(value, prop=True)
    return name.lower(), props, _unescape(message[end + 2 :], prop=False)


# -- the job ---------------------------------------------------------------------------------------------------
_SHELLS = {
    "bash": ("bash", "--noprofile --norc -e -o pipefail {0}", ".sh"),
    "sh": ("sh", "-e {0}", ".sh"),
    "pwsh": ("pwsh", "-command \". '{0}'\"", ".ps1"),
    "powershell": ("powershell", "-command \". '{0}'\"", ".ps1"),
    "python": ("python", "{0}", ".py"),
}


_PWSH_EXIT = "if ((Test-Path -LiteralPath variable:\\LASTEXITCODE)) { exit $LASTEXITCODE }"


@dataclass
class Annotation:
    kind: str  # error, warning, notice, debug
    message: str  # masked
    properties: dict[str, str]
    step: str


@dataclass
class LogLine:
    step: str
    text: str  # masked
    group: str | None


@dataclass
class StepResult:
    """One step as the job saw it. ``outcome`` is ``success``, ``failure`` or ``skipped``."""

    id: str
    name: str
    outcome: str
    conclusion: str
    exit_code: int | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    env_set: dict[str, str] = field(default_factory=dict)
    summary: str = ""  # masked
    log: list[str] = field(default_factory=list)  # masked
    errors: list[str] = field(default_factory=list)  # the runner's own error lines (file commands, exit code)

    @property
    def failed(self) -> bool:
        return self.outcome == "failure"


@dataclass
class ActionResult:
    """A composite action's step: its ``outcome``, declared ``outputs`` and the inner steps."""

    outcome: str
    outputs: dict[str, str]
    steps: list[StepResult]
    annotations: list[Annotation]
    log: list[str]

    @property
    def failed(self) -> bool:
        return self.outcome == "failure"

    def errors(self) -> list[str]:
        return [a.message for a in self.annotations if a.kind == "error"]


def _runner_os() -> str:
    return {"Linux": "Linux", "Darwin": "macOS", "Windows": "Windows"}.get(platform.system(), platform.system())


def _runner_arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "X64", "amd64": "X64", "aarch64": "ARM64", "arm64": "ARM64"}.get(machine, machine.upper())


class Job:
    """One workflow job on an emulated runner, rooted in ``root`` (a fresh directory).

    ``env``: the runner process's environment (default ``os.environ``), onto which the runner's own variables
    are laid. ``oidc`` and ``id_token``: serve ``ACTIONS_ID_TOKEN_REQUEST_*`` from an OidcIssuer (as with
    ``permissions: id-token: write``). ``event_name``/``event``: the triggering event (written to
    ``GITHUB_EVENT_PATH``). ``debug``: ``RUNNER_DEBUG=1``. ``allow_outputs``/``allow_env``: per output or
    variable name, the secret kinds it may hold (e.g. ``{"docker-password": {"password"}}``) when recorded in
    the ledger; they are never allowed in the log. ``strict``: raise :class:`Violation` at the end of the step
    that caused one.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        env: Mapping[str, str] | None = None,
        oidc: Any = None,
        id_token: bool = True,
        repository: str = "octo-org/octo-repo",
        run_id: str = "4242",
        run_attempt: str = "1",
        actor: str = "octocat",
        ref: str = "refs/heads/main",
        event_name: str = "push",
        event: Mapping[str, Any] | None = None,
        runner_os: str | None = None,
        debug: bool = False,
        allow_outputs: Mapping[str, Iterable[str]] | None = None,
        allow_env: Mapping[str, Iterable[str]] | None = None,
        strict: bool = True,
        timeout: float = 300,
        label: str = "gha job",
    ) -> None:
        self.root = Path(root)
        self.workspace = self.root / "workspace"
        self.temp = self.root / "runner-temp"
        self.tool_cache = self.root / "tool-cache"
        for d in (self.workspace, self.temp, self.tool_cache, self.temp / "_runner_file_commands"):
            d.mkdir(parents=True, exist_ok=True)
        self.base_env = dict(os.environ if env is None else env)
        self.oidc, self.id_token, self.debug, self.strict, self.timeout = oidc, id_token, debug, strict, timeout
        self.label = label
        self.allow_outputs = {k: frozenset(v) for k, v in (allow_outputs or {}).items()}
        self.allow_env = {k: frozenset(v) for k, v in (allow_env or {}).items()}
        self.event_path = self.root / "event.json"
        self.event_path.write_text(json.dumps(dict(event or {})))
        owner = repository.split("/")[0]
        self.github: dict[str, Any] = {
            "repository": repository, "repository_owner": owner, "run_id": run_id, "run_number": "7",
            "run_attempt": run_attempt, "actor": actor, "triggering_actor": actor, "ref": ref,
            "ref_name": ref.rsplit("/", 1)[-1], "ref_type": "tag" if ref.startswith("refs/tags/") else "branch",
            "sha": "0123456789abcdef0123456789abcdef01234567", "event_name": event_name,
            "event": dict(event or {}), "event_path": str(self.event_path), "workspace": str(self.workspace),
            "server_url": "https://github.com", "api_url": "https://api.github.com",
            "graphql_url": "https://api.github.com/graphql", "workflow": "ci",
            "workflow_ref": f"{repository}/.github/workflows/ci.yml@{ref}", "job": "build",
            "repository_id": "123456789", "repository_owner_id": "987654321", "retention_days": "90",
            "head_ref": "", "base_ref": "", "action": "", "action_path": "", "action_repository": "",
        }  # fmt: skip
        self.runner: dict[str, Any] = {
            "os": runner_os or _runner_os(), "arch": _runner_arch(), "name": "emulated-runner",
            "temp": str(self.temp), "tool_cache": str(self.tool_cache), "environment": "github-hosted",
            "debug": "1" if debug else "",
        }  # fmt: skip
        self.env: dict[str, str] = {}  # what GITHUB_ENV set, for every later step
        self.path: list[str] = []  # GITHUB_PATH entries, most recent first
        self.steps: dict[str, dict[str, Any]] = {}  # job-level step contexts by id
        self.results: list[StepResult | ActionResult] = []
        self.log: list[LogLine] = []
        self.annotations: list[Annotation] = []
        self.violations: list[str] = []
        self.summaries: list[str] = []
        self.failed = False
        self._masks: set[str] = set()
        self._group: str | None = None
        self._counter = 0
        if oidc is not None and id_token:
            self._masks.add(oidc.request_token)

    # -- public ------------------------------------------------------------------------------------------------
    def is_masked(self, value: str) -> bool:
        """Whether ``value`` was registered with ``::add-mask::`` (or is the runner's own token)."""
        return value in self._masks

    def text(self) -> str:
        """The job's whole masked log."""
        return "\n".join(line.text for line in self.log)

    def uses(
        self,
        action_dir: str | os.PathLike[str],
        inputs: Mapping[str, Any] | None = None,
        *,
        id: str | None = None,
        env: Mapping[str, str] | None = None,
        if_: str | None = None,
    ) -> ActionResult:
        """Run the composite action in ``action_dir`` as a job step ``uses: ./that/dir`` with ``with: inputs``."""
        action_dir = Path(action_dir).resolve()
        manifest_path = next((action_dir / n for n in ("action.yml", "action.yaml") if (action_dir / n).exists()), None)
        if manifest_path is None:
            raise FileNotFoundError(f"no action.yml in {action_dir}")
        manifest = yaml.safe_load(manifest_path.read_text())
        runs = manifest.get("runs") or {}
        if runs.get("using") != "composite":
            raise ValueError(f"{manifest_path}: runs.using is {runs.get('using')!r}, not composite")
        step_id = id or f"__action_{self._next()}"
        status = self._status()
        contexts = self._contexts(steps=self.steps, extra_env=env)
        if not condition(if_, contexts, status):
            result = ActionResult("skipped", {}, [], [], [])
            self._record_step(step_id, "skipped", "skipped", {})
            self.results.append(result)
            return result
        declared = {str(k).lower(): (v or {}) for k, v in (manifest.get("inputs") or {}).items()}
        given = {str(k).lower(): v for k, v in (inputs or {}).items()}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise ValueError(f"unexpected input(s) {unknown}; valid inputs are {sorted(declared)}")
        github = dict(self.github, action_path=str(action_dir), action=step_id, action_repository="")
        values: dict[str, str] = {}
        for name, spec in declared.items():
            if name in given:
                value = given[name]
                values[name] = value if isinstance(value, str) else to_str(value)
            elif "default" in spec:
                default = to_str(spec["default"]) if not isinstance(spec["default"], str) else spec["default"]
                values[name] = interpolate(default, {**contexts, "github": github})
            else:
                values[name] = ""
        inner_steps: dict[str, dict[str, Any]] = {}
        results: list[StepResult] = []
        first_log, first_note = len(self.log), len(self.annotations)
        # The runner's header for a `uses:` step: the action, its `with:` values and the step's env, masked.
        header = [
            f"##[group]Run {action_dir}",
            *(["with:"] if given else []),
            *(f"  {k}: {v}" for k, v in given.items()),
        ]
        header += ["env:", *(f"  {k}: {v}" for k, v in env.items())] if env else []
        for line in [*header, "##[endgroup]"]:
            self._show(f"{self.label} step {step_id}", self._mask(to_str(line)))
        failed = False
        for n, step in enumerate(runs.get("steps") or []):
            if "uses" in step:
                raise ValueError(f"{manifest_path}: step {n + 1} uses {step['uses']!r}: not emulated")
            if "shell" not in step:
                raise ValueError(f"{manifest_path}: step {n + 1} has no shell: (required in composite actions)")
            inner_status = {"success": not failed and not self.failed, "failure": failed or self.failed,
                            "always": True, "cancelled": False}  # fmt: skip
            ctx = {
                **self._contexts(steps=inner_steps, extra_env=env, github=github),
                "inputs": _Lookup(values, "inputs", strict=True),
            }
            res = self._run_step(step, ctx, inner_status, action_path=action_dir, uses_env=env, index=n)
            results.append(res)
            if res.id:
                inner_steps[res.id] = {"outputs": res.outputs, "outcome": res.outcome, "conclusion": res.conclusion}
            if res.conclusion == "failure":
                failed = True
        out_ctx = {**self._contexts(steps=inner_steps, github=github), "inputs": _Lookup(values, "inputs", True)}
        outputs = {
            str(name): interpolate(to_str((spec or {}).get("value", "")), out_ctx)
            for name, spec in (manifest.get("outputs") or {}).items()
        }
        for name, value in outputs.items():
            LEDGER.record(f"{self.label} {step_id} output {name}", value, allow=self.allow_outputs.get(name, False))
        outcome = "failure" if failed else "success"
        if failed:
            self.failed = True
        self._record_step(step_id, outcome, outcome, outputs)
        result = ActionResult(
            outcome, outputs, results, self.annotations[first_note:], [x.text for x in self.log[first_log:]]
        )
        self.results.append(result)
        self._raise_if_strict()
        return result

    def run(
        self,
        script: str,
        *,
        shell: str = "bash",
        env: Mapping[str, str] | None = None,
        id: str | None = None,
        name: str | None = None,
        if_: str | None = None,
        working_directory: str | None = None,
        continue_on_error: bool = False,
    ) -> StepResult:
        """A plain ``run:`` step of the job (``if:`` and ``env:`` values may use expressions)."""
        step: dict[str, Any] = {"run": script, "shell": shell, "env": dict(env or {})}
        for key, value in (("id", id), ("name", name), ("if", if_), ("working-directory", working_directory)):
            if value is not None:
                step[key] = value
        step["continue-on-error"] = continue_on_error
        status = self._status()
        res = self._run_step(step, self._contexts(steps=self.steps), status, action_path=None, uses_env=None)
        if res.conclusion == "failure":
            self.failed = True
        if res.id:
            self._record_step(res.id, res.outcome, res.conclusion, res.outputs)
        self.results.append(res)
        self._raise_if_strict()
        return res

    # -- internals ---------------------------------------------------------------------------------------------
    def _next(self) -> int:
        self._counter += 1
        return self._counter

    def _status(self) -> dict[str, bool]:
        return {"success": not self.failed, "failure": self.failed, "always": True, "cancelled": False}

    def _record_step(self, step_id: str, outcome: str, conclusion: str, outputs: Mapping[str, str]) -> None:
        self.steps[step_id] = {"outputs": dict(outputs), "outcome": outcome, "conclusion": conclusion}

    def _contexts(
        self,
        *,
        steps: Mapping[str, Any],
        extra_env: Mapping[str, str] | None = None,
        github: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        env = {**self.env, **(extra_env or {})}
        return {
            "github": _Lookup(github or self.github, "github"),
            "runner": _Lookup(self.runner, "runner"),
            "env": _Lookup(env, "env"),
            "steps": _Lookup({k: _Lookup(v, f"steps.{k}") for k, v in steps.items()}, "steps"),
            "job": _Lookup({"status": "failure" if self.failed else "success"}, "job"),
        }

    def _process_env(
        self, step_env: Mapping[str, str], action_path: Path | None, files: Mapping[str, Path]
    ) -> dict[str, str]:
        env = dict(self.base_env)
        env.update(self.env)
        env.update(step_env)
        if self.path:
            env["PATH"] = os.pathsep.join([*self.path, env.get("PATH", os.defpath)])
        g = self.github
        env.update(
            {
                "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": g["repository"],
                "GITHUB_REPOSITORY_OWNER": g["repository_owner"], "GITHUB_RUN_ID": g["run_id"],
                "GITHUB_RUN_NUMBER": g["run_number"], "GITHUB_RUN_ATTEMPT": g["run_attempt"],
                "GITHUB_ACTOR": g["actor"], "GITHUB_TRIGGERING_ACTOR": g["triggering_actor"], "GITHUB_REF": g["ref"],
                "GITHUB_REF_NAME": g["ref_name"], "GITHUB_REF_TYPE": g["ref_type"], "GITHUB_SHA": g["sha"],
                "GITHUB_EVENT_NAME": g["event_name"], "GITHUB_EVENT_PATH": g["event_path"],
                "GITHUB_WORKSPACE": g["workspace"], "GITHUB_SERVER_URL": g["server_url"],
                "GITHUB_API_URL": g["api_url"], "GITHUB_GRAPHQL_URL": g["graphql_url"],
                "GITHUB_WORKFLOW": g["workflow"], "GITHUB_WORKFLOW_REF": g["workflow_ref"], "GITHUB_JOB": g["job"],
                "GITHUB_REPOSITORY_ID": g["repository_id"], "GITHUB_REPOSITORY_OWNER_ID": g["repository_owner_id"],
                "GITHUB_HEAD_REF": g["head_ref"], "GITHUB_BASE_REF": g["base_ref"],
                "RUNNER_OS": self.runner["os"], "RUNNER_ARCH": self.runner["arch"],
                "RUNNER_NAME": self.runner["name"], "RUNNER_TEMP": str(self.temp),
                "RUNNER_TOOL_CACHE": str(self.tool_cache), "RUNNER_ENVIRONMENT": self.runner["environment"],
                "GITHUB_ENV": str(files["env"]), "GITHUB_OUTPUT": str(files["output"]),
                "GITHUB_PATH": str(files["path"]), "GITHUB_STEP_SUMMARY": str(files["summary"]),
                "GITHUB_STATE": str(files["state"]),
            }
        )  # fmt: skip
        if self.debug:
            env["RUNNER_DEBUG"] = "1"
        else:
            env.pop("RUNNER_DEBUG", None)
        if action_path is not None:
            env["GITHUB_ACTION_PATH"] = str(action_path)
        else:
            env.pop("GITHUB_ACTION_PATH", None)
        env.pop("ACTIONS_ID_TOKEN_REQUEST_URL", None)
        env.pop("ACTIONS_ID_TOKEN_REQUEST_TOKEN", None)
        if self.oidc is not None and self.id_token:
            env["ACTIONS_ID_TOKEN_REQUEST_URL"] = self.oidc.request_url
            env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = self.oidc.request_token
        return env

    def _run_step(
        self,
        step: Mapping[str, Any],
        ctx: Mapping[str, Any],
        status: Mapping[str, bool],
        *,
        action_path: Path | None,
        uses_env: Mapping[str, str] | None,
        index: int = 0,
    ) -> StepResult:
        step_id = str(step.get("id") or "")
        name = str(step.get("name") or "")
        where = f"{self.label} step {step_id or name or index + 1}"
        if not condition(step.get("if"), ctx, status):
            return StepResult(step_id, name, "skipped", "skipped")
        step_env = {**(uses_env or {})}
        for key, value in (step.get("env") or {}).items():
            step_env[str(key)] = interpolate(value if isinstance(value, str) else to_str(value), ctx, status)
        script = interpolate(str(step["run"]), ctx, status)
        shell_spec = interpolate(str(step["shell"]), ctx, status)
        wd = step.get("working-directory")
        cwd = self.workspace / interpolate(str(wd), ctx, status) if wd else self.workspace
        stamp = uuid.uuid4().hex
        fc = self.temp / "_runner_file_commands"
        files = {k: fc / f"{p}{stamp}" for k, p in (("env", "set_env_"), ("output", "set_output_"),
                 ("path", "add_path_"), ("summary", "step_summary_"), ("state", "save_state_"))}  # fmt: skip
        for f in files.values():
            f.write_text("")
        env = self._process_env(step_env, action_path, files)
        command, args_format, ext = self._shell(shell_spec)
        script_path = self.temp / f"{uuid.uuid4()}{ext}"
        if ext == ".ps1":  # the runner's fix-up for PowerShell scripts
            script = f"$ErrorActionPreference = 'stop'\n{script}\n{_PWSH_EXIT}"
        script_path.write_text(script)
        program = shutil.which(command, path=env.get("PATH"))
        result = StepResult(step_id, name, "success", "success")
        first = len(self.log)
        # The runner's step header: the script, then the step's env block, inside a group; masked like any line.
        header = [f"##[group]Run {script.splitlines()[0] if script.strip() else ''}", *script.splitlines()]
        if step_env:
            header += ["env:", *(f"  {k}: {v}" for k, v in step_env.items())]
        for line in [*header, "##[endgroup]"]:
            self._show(where, self._mask(line))
        if program is None:
            result.errors.append(f"{command}: command not found")
            self._annotate(where, "error", f"{command}: command not found", {})
            result.outcome = "failure"
        else:
            argv = [program, *shlex.split(args_format.replace("{0}", shlex.quote(str(script_path))))]
            try:
                proc = subprocess.run(
                    argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT, timeout=self.timeout,
                )  # fmt: skip
                output, result.exit_code = proc.stdout.decode("utf-8", "replace"), proc.returncode
            except subprocess.TimeoutExpired as e:
                output, result.exit_code = (e.stdout or b"").decode("utf-8", "replace"), None
                result.errors.append(f"step timed out after {self.timeout} s (hang guard)")
            for line in re.split(r"\r\n|\r|\n", output.removesuffix("\n")) if output else []:
                self._line(where, line)
            if result.exit_code != 0:
                message = f"Process completed with exit code {result.exit_code}."
                result.errors.append(message)
                self._annotate(where, "error", message, {})
                result.outcome = "failure"
        self._group = None
        self._read_files(where, files, result)
        script_path.unlink(missing_ok=True)
        result.log = [x.text for x in self.log[first:]]
        if result.outcome == "failure":
            result.conclusion = "success" if step.get("continue-on-error") in (True, "true") else "failure"
        return result

    def _shell(self, spec: str) -> tuple[str, str, str]:
        if spec in _SHELLS:
            return _SHELLS[spec]
        command, _, args = spec.partition(" ")
        if "{0}" not in args:
            raise ValueError(f"shell {spec!r}: must be a built-in or a format string containing '{{0}}'")
        return command, args, _SHELLS.get(command, ("", "", ""))[2]

    def _read_files(self, where: str, files: Mapping[str, Path], result: StepResult) -> None:
        for kind in ("env", "output"):
            text = files[kind].read_text(encoding="utf-8", errors="replace")
            try:
                values = parse_file_command(text)
            except ValueError as e:
                message = f"Unable to process file command '{kind}' successfully: {e}"
                result.errors.append(message)
                self._annotate(where, "error", message, {})
                result.outcome = "failure"
                continue
            for name, value in values.items():
                allow = (self.allow_env if kind == "env" else self.allow_outputs).get(name, False)
                LEDGER.record(f"{where} GITHUB_{kind.upper()} {name}", value, allow=allow)
                if self.debug:  # the runner's debug log shows every value set (masked like any line)
                    shown = f"{name}='{value}'" if kind == "env" else f"Set output {name} = {value}"
                    for line in shown.split("\n"):
                        self._show(where, "##[debug]" + self._mask(line))
            if kind == "env":
                result.env_set.update(values)
                self.env.update(values)
            else:
                result.outputs.update(values)
        for entry in files["path"].read_text().splitlines():
            if entry:
                self.path = [entry, *(p for p in self.path if p != entry)]
        summary = files["summary"].read_text(encoding="utf-8", errors="replace")
        if summary:
            if len(summary.encode()) > 128 * 1024:
                result.errors.append("$GITHUB_STEP_SUMMARY supports content up to 128k")
                self._annotate(where, "error", result.errors[-1], {})
            hits = LEDGER.scan(summary, f"{where} step summary")
            for hit in hits:
                self.violations.append(f"{where}: the step summary holds a {hit.kind} ({hit.source})")
            result.summary = "\n".join(self._mask(line) for line in summary.split("\n"))
            self.summaries.append(result.summary)
            LEDGER.record(f"{where} [step summary]", LEDGER.redact(result.summary) if hits else result.summary)
        state = files["state"].read_text()
        if state:
            LEDGER.record(f"{where} GITHUB_STATE", state)

    def _mask(self, text: str) -> str:
        for value in sorted(self._masks, key=len, reverse=True):
            if value and value in text:
                text = text.replace(value, "***")
        return text

    def _show(self, where: str, masked: str) -> None:
        """Put one (masked) line in the log and scan it for issued secrets.

        A line with a violation is recorded in the ledger redacted: the violation itself reports it (and fails
        the test when ``strict``), and a test that provokes one on purpose must not fail the session scan.
        """
        hits = LEDGER.scan(masked, where)
        for hit in hits:
            self.violations.append(f"{where}: unmasked {hit.kind} ({hit.source}) in the log: {LEDGER.redact(masked)}")
        self.log.append(LogLine(where, masked, self._group))
        LEDGER.record(f"{where} [log]", LEDGER.redact(masked) if hits else masked)

    def _annotate(self, where: str, kind: str, raw: str, props: dict[str, str]) -> None:
        masked = self._mask(raw)
        self._show(where, f"##[{kind}]{masked}")
        self.annotations.append(Annotation(kind, masked, {k: self._mask(v) for k, v in props.items()}, where))

    def _line(self, where: str, line: str) -> None:
        stop = getattr(self, "_stop_token", None)
        parsed = parse_command(line, _COMMANDS | ({stop} if stop else set()))
        if stop:
            if parsed and parsed[0] == stop.lower():
                self._stop_token = None
            self._show(where, self._mask(line))
            return
        if parsed is None:
            self._show(where, self._mask(line))
            return
        command, props, data = parsed
        if command == "add-mask":
            if data.strip() == "":
                self._annotate(where, "warning", "Can't add secret mask for empty string in ##[add-mask] command.", {})
                return
            if any(data in shown.text for shown in self.log):  # shown unmasked before
                self.violations.append(f"{where}: ::add-mask:: registered after the value was printed")
            self._masks.add(data)
        elif command == "group":
            self._show(where, f"##[group]{self._mask(data)}")
            self._group = self._mask(data)
        elif command == "endgroup":
            self._group = None
        elif command in ("error", "warning", "notice", "debug"):
            self._annotate(where, command, data, props)
        elif command == "stop-commands":
            self._stop_token = data
            self._show(where, self._mask(line))
        elif command in _RETIRED:
            self.violations.append(f"{where}: retired workflow command ::{command}:: (use the runner files)")
            self._show(where, self._mask(line))
        # echo, add-matcher, remove-matcher: accepted, nothing to show

    def _raise_if_strict(self) -> None:
        if self.strict and self.violations:
            raise Violation("\n".join(LEDGER.redact(v) for v in self.violations))
