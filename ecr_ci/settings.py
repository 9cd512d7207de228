"""Settings, parsed once at the edge from one schema (``settings.yaml``).

A value comes from the first of: the command-line flag, the env twin ``ECR_CI_<NAME>``, the setting's standard
fallback variables (``AWS_ROLE_ARN``, ``AWS_REGION``, …), the schema default. Strings from flags and variables are
coerced by the setting's type (strict booleans, comma-separated arrays), then validated with ``jsonschema``.
A bad value raises :class:`~ecr_ci.errors.ConfigError` with one line naming the setting, where it came from, the
value and the rule.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

SCHEMA_PATH = Path(__file__).with_name("settings.yaml")


@functools.lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The parsed settings schema (``settings.yaml``)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        data: dict[str, Any] = yaml.load(f, Loader=loader)  # noqa: S506 - a safe loader
    return data


def specs() -> dict[str, dict[str, Any]]:
    """Each setting's declaration, by name."""
    settings: dict[str, dict[str, Any]] = schema()["settings"]
    return settings


def env_twin(name: str) -> str:
    """The environment variable that sets ``name``: ``ECR_CI_<NAME>``."""
    return "ECR_CI_" + name.upper()


@dataclass(frozen=True)
class Settings:
    """Every setting, validated. Field names are the schema's setting names."""

    registries: list[str] = field(default_factory=list)
    region: str | None = None
    role_arn: str | None = None
    oidc: str = "auto"
    audience: str | None = None
    token_file: str | None = None
    token_variable: str = "AWS_ID_TOKEN"
    session_name: str | None = None
    duration: int = 3600
    session_policy: str | None = None
    managed_session_policies: list[str] = field(default_factory=list)
    docker_config: str | None = None
    write: list[str] = field(default_factory=lambda: ["docker"])
    shadowing: str = "override"
    deadline: float = 60
    cache_dir: str | None = None
    json: bool = False
    # Where each non-default value came from ("--duration", "ECR_CI_DURATION", …), for error messages.
    origin: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def where(self, name: str) -> str:
        """How the user set ``name``: the flag or variable that gave its value, else the setting's flag name."""
        return self.origin.get(name) or specs()[name].get("cli", name)


def _types(spec: Mapping[str, Any]) -> list[str]:
    t = spec["schema"].get("type", "string")
    return [t] if isinstance(t, str) else list(t)


def _coerce(name: str, raw: object, source: str) -> object:
    """Turn a flag's or variable's string into the setting's type; JSON-typed values pass through."""
    if not isinstance(raw, str):
        return raw
    types = _types(specs()[name])
    text = raw.strip()
    if "null" in types and text == "":
        return None
    if "array" in types:
        return [part.strip() for part in re.split(r"[,\n]", text) if part.strip()]
    if "boolean" in types:
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise ConfigError(f"settings: {source} = {raw!r} is not a boolean (use true or false)")
    if "integer" in types:
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        raise ConfigError(f"settings: {source} = {raw!r} is not a whole number")
    if "number" in types:
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"settings: {source} = {raw!r} is not a number") from None
    return text


# The keywords settings.yaml uses. Values are checked against them directly (importing jsonschema costs more than
# the rest of a credential-helper cache hit); jsonschema is the judge whenever a value fails or a schema uses
# anything else, and a test holds the two to the same verdicts.
_FAST = {"type", "enum", "pattern", "minimum", "maximum", "exclusiveMinimum", "minLength", "maxLength", "minItems",
         "maxItems", "uniqueItems", "items", "default"}
_PY_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,), "number": (int, float),
                                          "boolean": (bool,), "array": (list,), "null": (type(None),)}


def fast_valid(schema_: Mapping[str, Any], value: object) -> bool | None:
    """True/False for schemas made only of :data:`_FAST` keywords, None (ask jsonschema) otherwise."""
    if not set(schema_) <= _FAST:
        return None
    types = schema_.get("type", [])
    types = [types] if isinstance(types, str) else types
    if types and not any(
        isinstance(value, _PY_TYPES[t]) and not (t in ("integer", "number") and isinstance(value, bool)) for t in types
    ):
        return False
    if "enum" in schema_ and value not in schema_["enum"]:
        return False
    if isinstance(value, str):
        if len(value) < schema_.get("minLength", 0) or len(value) > schema_.get("maxLength", len(value)):
            return False
        if "pattern" in schema_ and not re.search(schema_["pattern"], value):
            return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < schema_.get("minimum", value) or value > schema_.get("maximum", value):
            return False
        if "exclusiveMinimum" in schema_ and value <= schema_["exclusiveMinimum"]:
            return False
    if isinstance(value, list):
        if len(value) < schema_.get("minItems", 0) or len(value) > schema_.get("maxItems", len(value)):
            return False
        if schema_.get("uniqueItems") and len(set(map(repr, value))) != len(value):
            return False
        if "items" in schema_:
            verdicts = [fast_valid(schema_["items"], v) for v in value]
            return None if None in verdicts else all(verdicts)
    return True


def _check(name: str, value: object, source: str) -> None:
    if fast_valid(specs()[name]["schema"], value):
        return
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    error = best_match(Draft202012Validator(specs()[name]["schema"]).iter_errors(value))
    if error is not None:
        rule = error.message
        if error.validator == "pattern":
            rule = f"must match {error.validator_value}"
        elif error.validator == "enum":
            rule = "must be one of " + ", ".join(map(str, error.validator_value))
        elif error.validator in ("minimum", "maximum"):
            lo, hi = specs()[name]["schema"].get("minimum"), specs()[name]["schema"].get("maximum")
            rule = f"must be between {lo} and {hi}"
        shown = error.instance if error.instance is not value else value
        raise ConfigError(f"settings: {source} = {shown!r} is invalid ({rule}; {describe_fix(name)})")


def describe_fix(name: str) -> str:
    """Where to change a setting, for error messages."""
    spec = specs()[name]
    return f"set {spec.get('cli', '')} or {env_twin(name)}".replace("set  or", "set")


def resolve(
    flags: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    command: str | None = None,
) -> Settings:
    """Build :class:`Settings` from flags (``None`` = not given) and an environment mapping.

    ``env`` is passed in, never read from the process: the caller decides what the environment is.
    Only settings that ``command`` takes are read; the others keep their defaults.
    """
    flags = flags or {}
    env = env or {}
    values: dict[str, object] = {}
    origin: dict[str, str] = {}
    for name, spec in specs().items():
        if command is not None and command not in spec.get("commands", []):
            continue
        raw: object = None
        source = ""
        if flags.get(name) not in (None, []):
            raw, source = flags[name], spec.get("cli", name)
            if isinstance(raw, list):  # repeated flags, each possibly comma-separated
                raw = ",".join(str(r) for r in raw)
        else:
            for var in [env_twin(name), *spec.get("fallback_env", [])]:
                if env.get(var, "").strip():
                    raw, source = env[var], var
                    break
        if source:
            value = _coerce(name, raw, source)
            if value is None:
                continue
            _check(name, value, source)
            values[name] = value
            origin[name] = source
    return Settings(**values, origin=origin)  # type: ignore[arg-type]
