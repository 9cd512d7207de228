"""Evaluate an IAM role trust policy against an identity token's claims, the way IAM does for
``sts:AssumeRoleWithWebIdentity``, and say which element failed and what value it saw.

The rules implemented (IAM User Guide, "Condition operators" and "multivalued context keys"):

* An explicit ``Deny`` that applies wins; otherwise one applying ``Allow`` allows; otherwise the request is
  implicitly denied.
* A statement applies when its ``Principal`` (``"*"`` or ``Federated``: the OIDC provider ARN in the role's account,
  or a bare name such as ``cognito-identity.amazonaws.com``), its ``Action``/``NotAction`` (wildcards, case-
  insensitive) and every one of its conditions match.
* Conditions: several operators, and several keys in one operator, must all match (AND); several values for one
  key match if any does (OR). Keys are case-insensitive, values case-sensitive except in ``…IgnoreCase``.
  ``StringLike`` takes ``*`` and ``?``; ``StringEquals`` compares them literally. A missing key fails a positive
  operator and satisfies a negated one (``StringNotEquals``, ``StringNotLike``); ``…IfExists`` makes a missing key
  pass; ``Null`` tests presence. ``ForAllValues:`` is true for an empty or missing set, ``ForAnyValue:`` false.
* The keys available are the token's ``<provider>:<claim>`` keys that AWS exposes (see
  :mod:`ecr_ci.diagnostics.claims`); a key of another provider, or a claim AWS does not expose, is missing.

What is not modelled (numeric, date, IP and ARN operators, global ``aws:`` and ``sts:`` keys, ``NotPrincipal``) gives a
"not evaluated" verdict rather than a guess.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from ecr_ci.diagnostics.claims import condition_keys, detect_ci, parse_role_arn, provider_name, supported_claim_keys
from ecr_ci.errors import ConfigError

ACTION = "sts:AssumeRoleWithWebIdentity"

_MATCH, _NO, _UNKNOWN = "match", "no", "unknown"

# lower-case operator → (canonical name, kind, negated, ignore case)
_OPERATORS = {
    "stringequals": ("StringEquals", "equals", False, False),
    "stringnotequals": ("StringNotEquals", "equals", True, False),
    "stringequalsignorecase": ("StringEqualsIgnoreCase", "equals", False, True),
    "stringnotequalsignorecase": ("StringNotEqualsIgnoreCase", "equals", True, True),
    "stringlike": ("StringLike", "like", False, False),
    "stringnotlike": ("StringNotLike", "like", True, False),
    "bool": ("Bool", "bool", False, True),
    "null": ("Null", "null", False, True),
}


@dataclass(frozen=True)
class StatementRef:
    """Which statement: its position in ``Statement`` (0-based) and its ``Sid`` if it has one."""

    index: int
    sid: str | None = None

    def __str__(self) -> str:
        return f"#{self.index}" + (f" (Sid {self.sid!r})" if self.sid else "")


@dataclass(frozen=True)
class Failure:
    """The first element of an ``Allow`` statement that did not match the token.

    ``element`` is ``"principal"``, ``"action"``, ``"condition"`` or ``"statement"``. For a condition,
    ``operator`` and ``key`` are as written in the policy, ``expected`` the policy's values, ``seen`` the token's
    value (``None`` with ``missing=True`` when the request has no such key).
    """

    statement: StatementRef
    element: str
    reason: str
    operator: str | None = None
    key: str | None = None
    expected: tuple[str, ...] = ()
    seen: Any = None
    missing: bool = False

    def __str__(self) -> str:
        return f"statement {self.statement}: {self.reason}"

    @property
    def seen_text(self) -> str:
        """The token's value as shown to users: ``'missing'`` when the key is absent."""
        if self.missing:
            return "missing"
        return _show(self.seen) if self.seen is not None else ""


@dataclass
class Verdict:
    """The outcome. ``decision`` is ``"allowed"``, ``"explicit deny"``, ``"implicit deny"`` or
    ``"not evaluated"`` (an operator or key this module does not model could change the outcome; ``allowed`` is
    then ``False`` but IAM may decide otherwise). ``statement`` decided an allow or explicit deny; ``failed`` holds
    the first failing element of each relevant ``Allow`` statement."""

    allowed: bool
    decision: str
    statement: StatementRef | None = None
    failed: list[Failure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    not_evaluated: list[str] = field(default_factory=list)
    matched: list[str] = field(default_factory=list)
    provider: str | None = None

    @property
    def evaluated(self) -> bool:
        return self.decision != "not evaluated"

    def explain(self) -> str:
        """Plain lines: the decision, the deciding statement or the first failing element of each Allow statement
        with the claim value it saw, what could not be evaluated, then warnings."""
        lines: list[str] = []
        why = ("; ".join(self.matched)) if self.matched else ""
        if self.decision == "allowed":
            lines.append(f"allowed by statement {self.statement}" + (f": {why}" if why else ""))
        elif self.decision == "explicit deny":
            lines.append(f"denied explicitly by statement {self.statement}" + (f": {why}" if why else ""))
        elif self.decision == "implicit deny":
            lines.append("not allowed: no Allow statement matches this token (implicit deny)")
        else:
            lines.append("not evaluated: the outcome depends on something this tool does not model")
        lines += [f"  {f}" for f in self.failed]
        lines += [f"  not evaluated: {n}" for n in self.not_evaluated]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


# --- loading -------------------------------------------------------------------------------------------------------


def load_policy(text: str | bytes | Mapping[str, Any], *, warnings: list[str] | None = None) -> dict[str, Any]:
    """A trust policy from JSON text, the URL-encoded form IAM's GetRole returns, or a whole GetRole response
    (``{"Role": {"AssumeRolePolicyDocument": …}}``). Duplicate JSON keys are reported into ``warnings``.

    Raises :class:`ConfigError` when the text is not a policy.
    """
    if isinstance(text, Mapping):
        doc: Any = dict(text)
    else:
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ConfigError("trust policy: not UTF-8 text") from e
        s = text.strip()
        if s[:3].upper() == "%7B":
            s = unquote(s)
        dups: list[str] = []

        def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for k, v in pairs:
                if k in out:
                    dups.append(k)
                out[k] = v
            return out

        def constant(word: str) -> Any:
            raise ConfigError(f"trust policy: not valid JSON (the literal {word} is not JSON)")

        try:
            doc = json.loads(s, object_pairs_hook=hook, parse_constant=constant)
        except json.JSONDecodeError as e:
            raise ConfigError(f"trust policy: not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from e
        except RecursionError:
            raise ConfigError("trust policy: not a policy (its JSON nests too deeply)") from None
        if warnings is not None:
            warnings += [
                f"the policy JSON has the key {k!r} twice: only one of them takes effect (merge them into one)"
                for k in dict.fromkeys(dups)
            ]
    if isinstance(doc, dict) and isinstance(doc.get("Role"), dict):
        doc = doc["Role"]
    if isinstance(doc, dict) and "AssumeRolePolicyDocument" in doc:
        inner = doc["AssumeRolePolicyDocument"]
        return load_policy(inner if isinstance(inner, (str, Mapping)) else json.dumps(inner), warnings=warnings)
    if not isinstance(doc, dict) or "Statement" not in doc:
        raise ConfigError('trust policy: no Statement element (expected {"Version": …, "Statement": […]})')
    return doc


# --- evaluation ----------------------------------------------------------------------------------------------------


def evaluate(
    policy: Mapping[str, Any] | str | bytes,
    claims: Mapping[str, Any],
    *,
    provider: str | None = None,
    partition: str | None = None,
    account: str | None = None,
    role_arn: str | None = None,
    action: str = ACTION,
    extra_context: Mapping[str, Any] | None = None,
) -> Verdict:
    """Evaluate ``policy`` for ``action`` by the web identity whose token carries ``claims``.

    ``provider`` overrides the provider name derived from ``iss``. ``partition`` and ``account`` (or ``role_arn``,
    which supplies both) make a ``Federated`` ARN of another partition or account fail, as it does in IAM: STS
    looks the provider up in the role's own account. ``extra_context`` adds request keys the token does not carry
    (``{"sts:RoleSessionName": "…"}``).
    """
    warnings: list[str] = []
    doc = load_policy(policy, warnings=warnings)
    arn = parse_role_arn(role_arn)
    if arn:
        partition = partition or arn[0]
        account = account or arn[1]
    if provider is None and isinstance(claims.get("iss"), str) and claims.get("iss"):
        provider = provider_name(str(claims["iss"]))
    ctx = _Context(claims, provider, partition, account, action, str(doc.get("Version", "2008-10-17")))
    if extra_context:
        ctx.keys.update({k.lower(): _plain(v) for k, v in extra_context.items()})

    raw = doc.get("Statement")
    statements = raw if isinstance(raw, list) else [raw]
    results: list[tuple[StatementRef, str, _Result]] = []
    for i, st in enumerate(statements):
        if not isinstance(st, dict):
            warnings.append(f"statement #{i} is not a JSON object; IAM rejects such a policy")
            continue
        ref = StatementRef(i, st.get("Sid") if isinstance(st.get("Sid"), str) else None)
        effect = st.get("Effect")
        if effect not in ("Allow", "Deny"):
            if isinstance(effect, str) and effect.capitalize() in ("Allow", "Deny"):
                warnings.append(f"statement {ref}: Effect {effect!r} must be spelled {effect.capitalize()!r}")
                effect = effect.capitalize()
            else:
                warnings.append(f"statement {ref}: Effect {effect!r} is neither Allow nor Deny; statement ignored")
                continue
        warnings += _lint(st, ref, effect, ctx)
        results.append((ref, effect, _statement(st, ref, ctx)))

    verdict = _decide(results)
    verdict.provider = provider
    verdict.warnings = list(dict.fromkeys(warnings + ctx.warnings))
    return verdict


class _Context:
    def __init__(
        self,
        claims: Mapping[str, Any],
        provider: str | None,
        partition: str | None,
        account: str | None,
        action: str,
        version: str,
    ) -> None:
        self.claims = claims
        self.provider = provider
        self.partition = partition
        self.account = account
        self.action = action
        self.version = version
        self.keys: dict[str, Any] = (
            {k.lower(): v for k, v in condition_keys(claims, provider=provider).items()} if provider else {}
        )
        self.warnings: list[str] = []


@dataclass
class _Result:
    status: str
    failure: Failure | None = None
    unknown: str | None = None
    matched: list[str] = field(default_factory=list)


def _decide(results: list[tuple[StatementRef, str, _Result]]) -> Verdict:
    denies = [(ref, r) for ref, effect, r in results if effect == "Deny"]
    allows = [(ref, r) for ref, effect, r in results if effect == "Allow"]
    not_evaluated = [f"statement {ref}: {r.unknown}" for ref, _, r in results if r.status == _UNKNOWN and r.unknown]
    failures = [r.failure for _, r in allows if r.status == _NO and r.failure]
    relevant = [f for f in failures if f.element != "principal"] or failures

    for ref, r in denies:
        if r.status == _MATCH:
            return Verdict(False, "explicit deny", ref, [], matched=r.matched, not_evaluated=[])
    deny_unknown = any(r.status == _UNKNOWN for _, r in denies)
    for ref, r in allows:
        if r.status == _MATCH:
            if deny_unknown:
                return Verdict(False, "not evaluated", ref, relevant, not_evaluated=not_evaluated, matched=r.matched)
            return Verdict(True, "allowed", ref, [], matched=r.matched)
    if any(r.status == _UNKNOWN for _, r in allows):
        return Verdict(False, "not evaluated", None, relevant, not_evaluated=not_evaluated)
    return Verdict(False, "implicit deny", None, relevant, not_evaluated=not_evaluated)


def _statement(st: Mapping[str, Any], ref: StatementRef, ctx: _Context) -> _Result:
    checks = (_principal(st, ref, ctx), _action(st, ref, ctx), _conditions(st, ref, ctx))
    for r in checks:
        if r.status == _NO:
            return r
    unknown = next((r.unknown for r in checks if r.status == _UNKNOWN), None)
    if unknown:
        return _Result(_UNKNOWN, unknown=unknown)
    return _Result(_MATCH, matched=checks[2].matched)


# --- principal and action ------------------------------------------------------------------------------------------


def _principal(st: Mapping[str, Any], ref: StatementRef, ctx: _Context) -> _Result:
    if "NotPrincipal" in st:
        return _Result(_UNKNOWN, unknown="NotPrincipal is not evaluated by this tool")
    principal = st.get("Principal")
    if principal == "*":
        return _Result(_MATCH)
    if not isinstance(principal, dict):
        return _fail(ref, "principal", f"Principal {principal!r} names no Federated identity provider")
    fed = _get_ci(principal, "Federated")
    if fed is None:
        aws = _listed(_get_ci(principal, "AWS"))
        if "*" in aws:
            return _Result(_UNKNOWN, unknown='Principal {"AWS": "*"} is not evaluated for web identities')
        return _fail(
            ref,
            "principal",
            f"Principal {json.dumps(principal)} names no Federated identity provider, so no web identity token "
            f"(Principal.Federated should be {_expected_arn(ctx)!r})",
        )
    if not ctx.provider:
        return _fail(ref, "principal", "the token has no iss claim, so no Federated provider can match it")
    reasons = []
    values = _listed(fed)
    for value in values:
        ok, why = _federated_matches(value, ctx)
        if ok:
            return _Result(_MATCH)
        reasons.append(why if len(values) == 1 else f"{value}: {why}")
    return _fail(
        ref,
        "principal",
        f"Principal.Federated {_show(values)} does not match the token's provider {ctx.provider!r}: "
        f"{'; '.join(reasons)}",
        expected=tuple(_listed(fed)),
        seen=_expected_arn(ctx),
    )


def _expected_arn(ctx: _Context) -> str:
    return f"arn:{ctx.partition or 'aws'}:iam::{ctx.account or '<account>'}:oidc-provider/{ctx.provider or '<issuer>'}"


def _federated_matches(value: str, ctx: _Context) -> tuple[bool, str]:
    provider = ctx.provider or ""
    m = re.fullmatch(r"arn:([^:]+):iam::([^:]*):oidc-provider/(.+)", value)
    if m:
        part, acct, name = m.groups()
        if not _same_provider(name, provider):
            return False, f"it names provider {name!r}"
        if ctx.partition and part != ctx.partition:
            return False, f"it is in partition {part!r}, the role in {ctx.partition!r}"
        if ctx.account and acct != ctx.account:
            return False, f"it is in account {acct}, the role in {ctx.account} (STS looks in the role's account)"
        return True, ""
    if value.startswith("arn:"):
        return False, "it is a SAML provider" if ":saml-provider/" in value else "it is not an oidc-provider ARN"
    if _same_provider(value, provider):
        return True, ""
    return False, "it is another identity provider"


def _same_provider(a: str, b: str) -> bool:
    ha, _, pa = a.partition("/")
    hb, _, pb = b.partition("/")
    return ha.lower() == hb.lower() and pa == pb


def _action(st: Mapping[str, Any], ref: StatementRef, ctx: _Context) -> _Result:
    if "Action" in st:
        patterns = _listed(st["Action"])
        if any(_glob(p, ctx.action, ignore_case=True) for p in patterns):
            return _Result(_MATCH)
        hint = " (sts:AssumeRole is for AWS principals, not web identities)" if "sts:AssumeRole" in patterns else ""
        return _fail(
            ref, "action", f"Action {_show(patterns)} does not cover {ctx.action}{hint}", expected=tuple(patterns)
        )
    if "NotAction" in st:
        patterns = _listed(st["NotAction"])
        if any(_glob(p, ctx.action, ignore_case=True) for p in patterns):
            return _fail(ref, "action", f"NotAction {_show(patterns)} excludes {ctx.action}", expected=tuple(patterns))
        return _Result(_MATCH)
    return _fail(ref, "action", "the statement has neither Action nor NotAction")


# --- conditions ----------------------------------------------------------------------------------------------------


class _Unknown(Exception):
    pass


def _conditions(st: Mapping[str, Any], ref: StatementRef, ctx: _Context) -> _Result:
    block = st.get("Condition")
    if block is None:
        return _Result(_MATCH)
    if not isinstance(block, dict):
        return _fail(ref, "condition", f"Condition {block!r} is not a JSON object")
    matched: list[str] = []
    unknown: str | None = None
    for op, keys in block.items():
        parsed = _parse_operator(op)
        if parsed is None:
            unknown = unknown or f"condition operator {op!r} is not evaluated by this tool"
            continue
        if not isinstance(keys, dict):
            return _fail(ref, "condition", f"{op}: expected an object of keys, got {keys!r}", operator=op)
        for key, values in keys.items():
            try:
                outcome = _condition(parsed, op, key, values, ctx)
            except _Unknown as e:
                unknown = unknown or str(e)
                continue
            if isinstance(outcome, Failure):
                return _Result(_NO, failure=_with_ref(outcome, ref))
            matched.append(outcome)
    if unknown:
        return _Result(_UNKNOWN, unknown=unknown)
    return _Result(_MATCH, matched=matched)


@dataclass(frozen=True)
class _Operator:
    name: str
    kind: str
    negated: bool
    ignore_case: bool
    qualifier: str | None
    if_exists: bool


def _parse_operator(op: str) -> _Operator | None:
    if not isinstance(op, str):
        return None
    qualifier = None
    base = op
    m = re.fullmatch(r"(?i)(forallvalues|foranyvalue):(.+)", op)
    if m:
        qualifier = "ForAllValues" if m.group(1).lower() == "forallvalues" else "ForAnyValue"
        base = m.group(2)
    if_exists = base.lower().endswith("ifexists")
    if if_exists:
        base = base[: -len("IfExists")]
    spec = _OPERATORS.get(base.lower())
    if spec is None or (if_exists and spec[1] == "null"):
        return None
    return _Operator(spec[0], spec[1], spec[2], spec[3], qualifier, if_exists)


def _lookup(key: str, ctx: _Context) -> tuple[bool, Any, str]:
    """(present, value, why-missing). Raises _Unknown for request keys this tool cannot know."""
    k = key.lower()
    if k in ctx.keys:
        value = ctx.keys[k]
        return (value != [] and value is not None), value, ""
    prefix, _, claim = k.rpartition(":")
    if prefix in ("aws", "sts") or not prefix:
        raise _Unknown(f"condition key {key!r} is a request key this tool does not know; not evaluated")
    if ctx.provider and _same_provider(prefix, ctx.provider):
        supported = supported_claim_keys(ctx.provider)
        if claim not in supported:
            return False, None, f"AWS exposes only {', '.join(supported)} as keys for {ctx.provider}"
        return False, None, f"the token has no {claim} claim"
    return False, None, f"the key names provider {prefix!r}, the token comes from {ctx.provider!r}"


def _condition(op: _Operator, op_text: str, key: str, values: Any, ctx: _Context) -> str | Failure:
    patterns = [_policy_string(v) for v in _listed_any(values)]
    present, seen, why_missing = _lookup(key, ctx)
    if op.kind == "null":
        wanted = {p.lower() for p in patterns}
        if not wanted <= {"true", "false"}:
            raise _Unknown(f"Null {key!r} takes true or false, got {patterns!r}")
        ok = ("true" in wanted and not present) or ("false" in wanted and present)
        if ok:
            return f"Null {key} = {'absent' if not present else 'present'}"
        return _condition_failure(op, op_text, key, patterns, seen, present, why_missing)

    multi = isinstance(seen, list)
    if present and multi and op.qualifier is None and len(seen) > 1:
        ctx.warnings.append(
            f"{key} has several values in this token ({_show(seen)}): use ForAnyValue: or ForAllValues: with it; "
            "without a qualifier this tool assumes any one value may match"
        )
    compiled = [_compile(p, op, ctx) for p in patterns]

    def value_ok(v: str) -> bool:
        hit = any(c(v) for c in compiled)
        return not hit if op.negated else hit

    if not present:
        if op.if_exists or op.qualifier == "ForAllValues":
            ok = True
        elif op.qualifier == "ForAnyValue":
            ok = False
        else:
            ok = op.negated
    else:
        items = [str(v) for v in seen] if multi else [str(seen)]
        if op.qualifier == "ForAllValues":
            ok = all(value_ok(v) for v in items)
        elif op.qualifier == "ForAnyValue" or not op.negated:
            ok = any(value_ok(v) for v in items)
        else:
            ok = all(value_ok(v) for v in items)
    if ok:
        shown = _show(seen) if present else "missing"
        return f"{op_text} {key} {shown}"
    return _condition_failure(op, op_text, key, patterns, seen, present, why_missing)


def _condition_failure(
    op: _Operator, op_text: str, key: str, patterns: list[str], seen: Any, present: bool, why_missing: str
) -> Failure:
    if op.kind == "null":
        want = "absent" if "true" in {p.lower() for p in patterns} else "present"
        state = f"present ({_show(seen)})" if present else "missing"
        reason = f"condition {op_text} {key} requires the key {want}, but it is {state}"
    else:
        expected = _show(patterns)
        lead = "anything but " if op.negated else ("one of " if len(patterns) > 1 else "")
        if present:
            reason = f"condition {op_text} {key} expects {lead}{expected}, the token has {_show(seen)}"
        else:
            reason = f"condition {op_text} {key} expects {lead}{expected}, the token has no such key (missing"
            reason += f": {why_missing})" if why_missing else ")"
        if op.kind == "equals" and any("*" in p or "?" in p for p in patterns):
            reason += f" ('*' and '?' are literal under {op.name}: use StringLike)"
    return Failure(
        statement=StatementRef(-1),
        element="condition",
        reason=reason,
        operator=op_text,
        key=key,
        expected=tuple(patterns),
        seen=seen if present else None,
        missing=not present,
    )


def _with_ref(f: Failure, ref: StatementRef) -> Failure:
    return Failure(ref, f.element, f.reason, f.operator, f.key, f.expected, f.seen, f.missing)


def _compile(pattern: str, op: _Operator, ctx: _Context) -> Any:
    tokens = _pattern_tokens(pattern, ctx)
    if op.kind == "bool":
        text = "".join(t for t in tokens if isinstance(t, str)).lower()
        return lambda v: v.lower() == text
    if op.kind == "equals":
        text = "".join(t if isinstance(t, str) else t.char for t in tokens)
        if op.ignore_case:
            folded = text.casefold()
            return lambda v: v.casefold() == folded
        return lambda v: v == text
    regex = "".join(re.escape(t) if isinstance(t, str) else (".*" if t.char == "*" else ".") for t in tokens)
    compiled = re.compile(regex, re.DOTALL)
    return lambda v: compiled.fullmatch(v) is not None


@dataclass(frozen=True)
class _Wild:
    char: str


def _pattern_tokens(pattern: str, ctx: _Context) -> list[str | _Wild]:
    """Split a policy value into literal text and wildcards, substituting ``${…}`` policy variables (only in
    policies of version 2012-10-17, as IAM does)."""
    out: list[str | _Wild] = []
    i = 0
    variables = ctx.version == "2012-10-17"
    while i < len(pattern):
        c = pattern[i]
        if variables and pattern.startswith("${", i) and "}" in pattern[i:]:
            end = pattern.index("}", i)
            name = pattern[i + 2 : end]
            i = end + 1
            if name in ("*", "?", "$"):
                out.append(name)
                continue
            var, _, default = name.partition(",")
            present, value, _ = _lookup(var.strip(), ctx) if ":" in var else (False, None, "")
            if present and isinstance(value, str):
                out.append(value)
            elif default.strip().startswith("'") and default.strip().endswith("'"):
                out.append(default.strip()[1:-1])
            else:
                raise _Unknown(f"policy variable ${{{name}}} is not evaluated by this tool")
            continue
        out.append(_Wild(c) if c in "*?" else c)
        i += 1
    return out


def _glob(pattern: str, value: str, *, ignore_case: bool) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL | (re.IGNORECASE if ignore_case else 0)) is not None


# --- warnings ------------------------------------------------------------------------------------------------------


def _lint(st: Mapping[str, Any], ref: StatementRef, effect: str, ctx: _Context) -> list[str]:
    w: list[str] = []
    if "Resource" in st or "NotResource" in st:
        w.append(f"statement {ref}: a trust policy has no Resource element (IAM rejects the policy)")
    principal = st.get("Principal")
    if principal == "*" and effect == "Allow":
        w.append(f'statement {ref}: Principal "*" trusts everyone; name the Federated OIDC provider instead')
    providers: list[str] = []
    if isinstance(principal, dict):
        for value in _listed(_get_ci(principal, "Federated")):
            m = re.fullmatch(r"arn:[^:]+:iam::[^:]*:oidc-provider/(.+)", value)
            if m:
                providers.append(m.group(1))
            elif not value.startswith("arn:"):
                providers.append(value)
    if not providers and principal == "*" and ctx.provider:
        providers = [ctx.provider]
    if not providers:
        return w
    if "Action" in st and not any(_glob(p, ctx.action, ignore_case=True) for p in _listed(st["Action"])):
        if "sts:AssumeRole" in _listed(st["Action"]):
            w.append(f"statement {ref}: Action sts:AssumeRole does not cover {ctx.action}")
        return w
    raw = st.get("Condition")
    block: dict[str, Any] = raw if isinstance(raw, dict) else {}
    checked: dict[str, list[tuple[_Operator | None, str, list[str]]]] = {}
    for op_text, keys in block.items():
        op = _parse_operator(op_text)
        if not isinstance(keys, dict):
            continue
        for key, values in keys.items():
            patterns = [_policy_string(v) for v in _listed_any(values)]
            prefix, _, claim = key.lower().rpartition(":")
            checked.setdefault(claim, []).append((op, op_text, patterns))
            if op and op.kind == "equals" and any("*" in p or "?" in p for p in patterns):
                w.append(
                    f"statement {ref}: {op_text} {key} has a wildcard in {_show(patterns)}, but {op.name} "
                    "compares '*' and '?' literally: use StringLike"
                )
            if "." in prefix and not any(_same_provider(prefix, p) for p in providers):
                w.append(
                    f"statement {ref}: condition key {key!r} names provider {prefix!r} but Principal.Federated is "
                    f"{', '.join(repr(p) for p in providers)}: that key is always missing"
                )
            elif "." in prefix and claim not in supported_claim_keys(prefix):
                w.append(
                    f"statement {ref}: AWS does not expose {claim!r} as a condition key for {prefix} (only "
                    f"{', '.join(supported_claim_keys(prefix))}): {key!r} is always missing"
                )
            if effect == "Allow" and op and claim in ("sub", "aud") and "." in prefix:
                if op.if_exists:
                    w.append(f"statement {ref}: {op_text} on {key} lets a token without {claim} through")
                elif op.negated:
                    w.append(f"statement {ref}: {op_text} on {key} in an Allow admits every other {claim}")
                elif op.qualifier == "ForAllValues":
                    w.append(
                        f"statement {ref}: ForAllValues: on the single-valued {key} is true when the key is "
                        "missing; use the operator without a qualifier"
                    )
            if effect == "Allow" and op and op.kind == "like" and not op.negated and claim == "sub":
                for p in patterns:
                    w += _broad_subject(ref, key, p)
    if effect != "Allow":
        return w

    def positive(claim: str) -> bool:
        return any(
            op is not None and not op.negated and op.kind in ("equals", "like") for op, _, _ in checked.get(claim, [])
        )

    for provider in providers:
        if provider.split("/", 1)[0].lower() in ("cognito-identity.amazonaws.com",):
            if not positive("aud"):
                w.append(f"statement {ref}: Amazon Cognito roles must check {provider}:aud (the identity pool)")
            continue
        if not positive("aud"):
            w.append(f"statement {ref}: no condition on {provider}:aud; AWS recommends checking the audience")
        if not positive("sub"):
            who = _who_else(provider, ctx)
            w.append(f"statement {ref}: {provider}:sub is not constrained, so {who} can assume this role")
    return w


def _who_else(provider: str, ctx: _Context) -> str:
    host = provider.split("/", 1)[0].lower()
    ci = detect_ci(ctx.claims) if ctx.provider and _same_provider(provider, ctx.provider) else None
    if host == "token.actions.githubusercontent.com":
        return "any workflow of any repository on GitHub"
    if ci == "github":
        return f"any workflow of any repository on {host}"
    if host == "gitlab.com" or ci == "gitlab":
        return f"any pipeline of any project on {host}"
    if "/oidc" in provider or ci == "jenkins":
        return "any job of that Jenkins"
    return f"any identity {provider} issues a token to"


def _broad_subject(ref: StatementRef, key: str, pattern: str) -> list[str]:
    if pattern in ("*", "repo:*", "project_path:*"):
        return [f"statement {ref}: StringLike {key} {pattern!r} matches every subject"]
    m = re.fullmatch(r"repo:([^:/*?]+)/\*(:.*)?", pattern)
    if m:
        return [f"statement {ref}: StringLike {key} {pattern!r} matches every repository of {m.group(1)!r}"]
    m = re.fullmatch(r"(repo:[^:/*?]+/[^:*?]+|project_path:[^:*?]+)\*(.*)", pattern)
    if m and not m.group(2).startswith(":"):
        return [
            f"statement {ref}: StringLike {key} {pattern!r} also matches other repositories or projects whose "
            f"names start the same way (e.g. {m.group(1)}-fork…): put ':' before the '*'"
        ]
    return []


# --- small helpers -------------------------------------------------------------------------------------------------


def _fail(ref: StatementRef, element: str, reason: str, **kw: Any) -> _Result:
    return _Result(_NO, failure=Failure(ref, element, reason, **kw))


def _get_ci(mapping: Mapping[str, Any], name: str) -> Any:
    for k, v in mapping.items():
        if isinstance(k, str) and k.lower() == name.lower():
            return v
    return None


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def _listed_any(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _policy_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return str(value)


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(repr(v) for v in value) if value else "[]"
    return repr(value)
