"""``ecr-ci doctor`` and ``ecr-ci trust-policy``: explain a login before it fails, and write the policy that works.

``doctor`` reports, on stdout, one line per check and what it saw:

* **identity**: which source is active and why (for ``oidc: auto``, the CI variables it saw, by name only);
* **claims**: the token's claims, decoded without verifying the signature and marked "for debugging", and the IAM
  condition keys they are matched as; an expired token or a surprising audience is flagged. The token itself and
  its signature are never printed;
* **settings**: the settings ``login`` would read from the environment (those doctor has no flag for) are valid,
  and every ``ECR_CI_*`` variable is one a setting reads (a misspelt one is a warning naming the closest);
* **credentials**: without an identity token, the AWS credential chain login would fall back on has credentials;
* **role**, **registries**, **region**: the role ARN and the registries as ``login`` would plan them (no network;
  no registry at all fails, as login does);
* **files**: every file login would read or replace (docker config, other clients' files, ecr-ci's records and
  lock files beside them) is usable, exactly as login checks it before its first network call;
* **trust policy**: the role's trust policy evaluated against the claims (:mod:`ecr_ci.diagnostics.trust`), naming the
  first condition that fails and the claim value it saw. The policy comes from ``--trust-policy FILE`` (``-`` for stdin;
  then no AWS call is made at all), or else from IAM: doctor tries the real ``sts:AssumeRoleWithWebIdentity`` (the
  **sts** check, the final word on the trust policy) and reads the policy with ``iam:GetRole``, using the assumed
  role's credentials or the AWS credential chain's. Whatever could not be checked is listed as such.

Exit 0 when nothing failed (the policy allows the token, or was not available and everything else checked out),
1 when something failed, 2 for bad flags or an unreadable ``--trust-policy`` file. Whatever makes ``login`` fail
before its first network call makes doctor fail too (a test holds the two to the same verdict); past that, what
doctor cannot try (``ecr:GetAuthorizationToken``) is listed under "not checked".

``trust-policy`` prints a role trust policy for a GitHub repository, GitLab project or Jenkins job
(:mod:`ecr_ci.diagnostics.trustgen`), with the OIDC provider URL and audience to register.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ecr_ci import ci
from ecr_ci.core import flow as login
from ecr_ci.core.identity import IdentityToken
from ecr_ci.diagnostics import claims as claimslib
from ecr_ci.diagnostics import render, trust, trustgen
from ecr_ci.errors import ConfigError, EcrCiError, TrustError, scrub
from ecr_ci.models import Credentials
from ecr_ci.settings import Settings

ORDER = (
    "settings",
    "identity",
    "credentials",
    "claims",
    "role",
    "registries",
    "region",
    "files",
    "sts",
    "trust policy",
)
_LABELS = {"ok": "ok", "warn": "WARN", "fail": "FAIL", "skip": "skip"}
# The variables each CI source of `oidc: auto` looks at, reported by name (never by value).
_MARKERS = ci.MARKERS
# Where to send STS and IAM calls when neither a registry nor --region names a region.
_HOME_REGION = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}


@dataclass
class Check:
    """One finding: ``status`` is ``ok``, ``warn``, ``fail`` or ``skip`` (not checked)."""

    name: str
    status: str
    summary: str
    details: list[str] = field(default_factory=list)


@dataclass
class Report:
    """What ``doctor`` found; never holds the token."""

    checks: list[Check] = field(default_factory=list)
    claims: dict[str, Any] = field(default_factory=dict)
    condition_keys: dict[str, Any] = field(default_factory=dict)
    not_checked: list[str] = field(default_factory=list)

    def add(self, name: str, status: str, summary: str, details: list[str] | None = None) -> Check:
        check = Check(name, status, summary, list(details or []))
        self.checks.append(check)
        return check

    def get(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)

    @property
    def ok(self) -> bool:
        return not any(c.status == "fail" for c in self.checks)

    def ordered(self) -> list[Check]:
        return sorted(self.checks, key=lambda c: ORDER.index(c.name) if c.name in ORDER else len(ORDER))

    def result(self) -> str:
        failed = [c.name for c in self.ordered() if c.status == "fail"]
        if failed:
            return f"{len(failed)} problem{'s' if len(failed) > 1 else ''} found: {', '.join(failed)}"
        policy, sts = self.get("trust policy"), self.get("sts")
        if (sts and sts.status == "ok") or (policy and policy.status == "ok"):
            return "no problem found; the role's trust policy accepts this token"
        return "no problem found in what could be checked (see 'not checked')"

    def render(self) -> str:
        lines: list[str] = []
        pad = " " * 20
        for c in self.ordered():
            lines.append(f"{c.name:<13} {_LABELS[c.status]:<5} {c.summary}")
            lines += [pad + d for d in c.details]
            if c.name == "claims" and self.claims:
                lines += render.claim_lines(self.claims, self.condition_keys, pad)
        if self.not_checked:
            lines.append("Not checked:")
            lines += [f"  - {n}" for n in self.not_checked]
        lines.append(f"Result: {self.result()}")
        return "\n".join(lines) + "\n"

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "result": self.result(),
            "checks": [dataclasses.asdict(c) for c in self.ordered()],
            "claims": self.claims,
            "condition_keys": self.condition_keys,
            "not_checked": self.not_checked,
        }


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(repr(v) if isinstance(v, str) else str(v) for v in value)
    return repr(value) if isinstance(value, str) else str(value)


# --- the checks ----------------------------------------------------------------------------------------------------


def diagnose(
    settings: Settings,
    env: Mapping[str, str],
    *,
    policy: tuple[dict[str, Any], str, list[str]] | None = None,
    live: bool = True,
) -> Report:
    """Every check, in order. ``policy`` is ``(policy, label, warnings)`` as :func:`read_policy` returns it;
    ``live=False`` makes no AWS call."""
    report = Report()
    end = time.monotonic() + settings.deadline
    login_settings = _login_settings(env, report)
    plan = _plan(settings, report)
    partition = plan.partition if plan else _partition(settings)
    audience = plan.audience if plan else (settings.audience or claimslib.expected_audience(partition))
    token = _identity(settings, env, audience, end, report)
    decoded = _claims(token, audience, report) if token else None
    _role(settings, token, report)
    identity_check = report.get("identity")
    if token is None and identity_check is not None and identity_check.status != "fail":
        _credentials(settings, report, live=live)  # login would fall back to the AWS credential chain
    _files(login_settings, env, report)
    if token is None:
        report.not_checked.append("the claims and the trust policy: there is no identity token")
    elif decoded is None:
        report.not_checked.append("the trust policy: the token's claims could not be read")
    else:
        if plan is None and (settings.region or partition in _HOME_REGION):
            plan = login.Plan([], partition, settings.region or _HOME_REGION[partition], audience)
        role = report.get("role")
        if live and policy is None and plan is not None and role is not None and role.status == "ok":
            creds = _exchange(settings, env, token, plan, end, report)
            policy = _read_role_policy(settings, env, creds, plan, end, report)
        elif live and policy is None:
            report.not_checked.append(
                "sts:AssumeRoleWithWebIdentity and the role's trust policy (they need a valid role_arn and a region)"
            )
        elif not live:
            report.not_checked.append(
                "sts:AssumeRoleWithWebIdentity itself (no AWS call with --trust-policy or --offline): that the role "
                "exists and the OIDC provider is registered with this audience"
            )
        _trust(settings, decoded, partition, policy, report, live=live)
    report.not_checked.append(
        "ecr:GetAuthorizationToken for the role (run `ecr-ci login --write none` to try the whole login)"
    )
    return report


def _login_settings(env: Mapping[str, str], report: Report) -> Settings | None:
    """The settings ``login`` would read from this environment (``write``, ``docker_config``, ``duration``, …: the
    ones doctor has no flag for); a value login would refuse fails here too. Unknown ``ECR_CI_*`` variables warn."""
    from ecr_ci.settings import resolve, unknown_variables

    try:
        found = resolve({}, env, command="login")
    except ConfigError as e:
        report.add("settings", "fail", f"login would refuse this environment: {e}")
        return None
    unknown = unknown_variables(env)
    if unknown:
        report.add("settings", "warn", f"{len(unknown)} ECR_CI_* variable(s) that no setting reads", unknown)
    return found


def _credentials(settings: Settings, report: Report, *, live: bool) -> None:
    """Without an identity token, login uses the AWS credential chain: it must have credentials."""
    if not live:
        report.add("credentials", "skip", "the AWS credential chain was not asked (--offline)")
        report.not_checked.append("that the AWS credential chain has credentials (drop --offline to check)")
        return
    from ecr_ci.core import aws

    try:
        aws.ambient_credentials()
    except EcrCiError as e:
        why = "no identity token was found" if settings.oidc != "none" else "oidc is none"
        report.add(
            "credentials", "fail", f"{e}", [f"{why}, so login would use the AWS credential chain, and it has none"]
        )
        return
    report.add("credentials", "ok", "the AWS credential chain has credentials: login would use them")


def _files(login_settings: Settings | None, env: Mapping[str, str], report: Report) -> None:
    """Every file login would read or replace (docker config, podman auth file, …, their records and locks)."""
    if login_settings is None:
        return
    from ecr_ci.clients import sinks

    checked, problems = [], []
    for kind in login_settings.write:
        if kind == "none":
            continue
        t = sinks.target(kind, env, login_settings.docker_config)
        try:
            sinks.check(t)
            checked.append(str(t.path))
        except EcrCiError as e:
            problems.append(str(e))
    if problems:
        report.add("files", "fail", problems[0], problems[1:])
    elif checked:
        report.add("files", "ok", f"login can write {', '.join(checked)}")
    else:
        report.add("files", "skip", "write is none: login writes no file")


def _partition(settings: Settings) -> str:
    arn = claimslib.parse_role_arn(settings.role_arn)
    if arn:
        return arn[0]
    if settings.region:
        from ecr_ci.core import registries

        found = registries.partition_of(settings.region)
        if found:
            return str(found["id"])
    return "aws"


def _plan(settings: Settings, report: Report) -> login.Plan | None:
    """Registries, region and the role's partition, exactly as ``login`` plans them."""
    from ecr_ci.core import registries

    if not settings.registries:
        # login refuses to run without one, so doctor cannot pass without one either
        report.add("registries", "fail", "none given: login needs at least one (set --registry or ECR_CI_REGISTRIES)")
        if settings.region:
            try:
                registries.check_region(settings.region, settings.where("region"))
                report.add("region", "ok", f"{settings.region} (from {settings.where('region')})")
            except ConfigError as e:
                report.add("region", "fail", str(e))
        return None
    try:
        plan = login.plan(settings)
    except ConfigError as e:
        if e.fields.get("setting") != "role_arn":
            # Registry errors name "registries"; a region error names the flag or variable it came from.
            report.add("registries" if str(e).startswith("registries") else "region", "fail", str(e))
            return None
        report.add("role", "fail", str(e))
        plan = login.plan(dataclasses.replace(settings, role_arn=None))
    lines = []
    for r in plan.registries:
        owner = "ECR Public" if r.public else f"account {r.account}"
        variant = "" if r.variant == "standard" else f", {r.variant}"
        lines.append(f"{r.host} ({owner}, {r.region}{variant})")
    calls = len(registries.group(plan.registries))
    report.add(
        "registries",
        "ok",
        f"{len(plan.registries)} in partition {plan.partition}; login makes {calls} "
        f"GetAuthorizationToken call{'s' if calls > 1 else ''}",
        lines,
    )
    if settings.region and plan.sts_region == settings.region:
        why = settings.where("region")
    elif any(not r.public for r in plan.registries):
        why = "the first private registry"
    else:
        why = "ECR Public lives there"
    report.add("region", "ok", f"STS calls go to {plan.sts_region} (from {why}); audience {plan.audience}")
    return plan


def _why(settings: Settings, env: Mapping[str, str]) -> str:
    """Why this identity source: the setting, or for ``auto`` the variables seen (names, never values)."""
    if settings.oidc != "auto":
        return f"oidc {settings.oidc} (set by {settings.origin.get('oidc', 'default')})"
    seen = [name for names in _MARKERS.values() for name in names if env.get(name)]
    if settings.token_file:
        seen.append(f"token_file (from {settings.where('token_file')})")
    if settings.token_variable in env:
        seen.append(settings.token_variable)
    return (
        f"oidc auto tries {', '.join(ci.AUTO_ORDER)} in that order and the first that recognises its CI "
        f"decides; seen: {', '.join(seen) or 'none of their variables'}"
    )


def _identity(
    settings: Settings, env: Mapping[str, str], audience: str, end: float, report: Report
) -> IdentityToken | None:
    why = _why(settings, env)
    try:
        source = ci.select(settings, env)
        token = source.fetch(audience, max(1.0, end - time.monotonic())) if source is not None else None
    except EcrCiError as e:
        report.add("identity", "fail", str(e), [why, *(f"hint: {h}" for h in e.diagnostics().hints)])
        return None
    if token is None:
        status = "skip" if settings.oidc == "none" else "warn"
        report.add(
            "identity",
            status,
            "no identity token: login would use the AWS credential chain (profile, env keys, instance or pod role)",
            [why],
        )
        return None
    asked = f" (audience {audience} requested)" if token.source == "github" else ""
    report.add("identity", "ok", f"{token.source}: token from {token.origin}{asked}", [why])
    return token


def _claims(token: IdentityToken, audience: str, report: Report) -> dict[str, Any] | None:
    try:
        decoded = claimslib.decode_claims(token.token)
    except EcrCiError as e:
        report.add("claims", "fail", str(e))
        return None
    report.claims = claimslib.token_summary(decoded)
    report.condition_keys = claimslib.condition_keys(decoded)
    problems: list[str] = []
    warnings: list[str] = []
    if report.claims.get("expired"):
        problems.append(f"the token expired at {report.claims.get('exp')}: STS refuses it; request a fresh one")
    if report.claims.get("not_yet_valid"):
        problems.append(f"the token is not valid before {report.claims.get('nbf')}: check this machine's clock")
    iss = decoded.get("iss")
    if not isinstance(iss, str) or not iss.startswith("https://"):
        problems.append(f"iss {iss!r} is not an https:// URL, so it cannot be an IAM OIDC provider")
    if not decoded.get("sub"):
        warnings.append("the token has no sub claim: a trust policy should always constrain sub")
    aud = decoded.get("aud")
    auds = [aud] if isinstance(aud, str) else [a for a in aud if isinstance(a, str)] if isinstance(aud, list) else []
    if audience not in auds:
        warnings.append(
            f"aud {_show(auds) or 'missing'} is not {audience!r}, the audience login expects: the IAM OIDC "
            "provider must list the token's aud as a client ID (set --audience if yours registers another)"
        )
    ci = claimslib.detect_ci(decoded) or "unrecognised CI"
    provider = claimslib.provider_name(iss) if isinstance(iss, str) else "no issuer"
    summary = f"{ci} token from {provider}, sub {decoded.get('sub')!r}"
    status = "fail" if problems else "warn" if warnings else "ok"
    report.add("claims", status, summary, [*problems, *(f"warning: {w}" for w in warnings)])
    return decoded


def _role(settings: Settings, token: IdentityToken | None, report: Report) -> None:
    if report.get("role"):  # the plan already found the role at odds with the registries
        return
    if not settings.role_arn:
        if token is not None:
            report.add(
                "role", "fail", "role_arn: not set, but an identity token was found (set --role-arn, "
                "ECR_CI_ROLE_ARN or AWS_ROLE_ARN to the role to assume)",
            )  # fmt: skip
        else:
            report.add("role", "skip", "not set: login would use the AWS credential chain's own identity")
        return
    arn = claimslib.parse_role_arn(settings.role_arn)
    if arn is None:  # the settings schema lets nothing else through; kept for callers building Settings by hand
        report.add("role", "fail", f"role_arn: {settings.role_arn!r} is not an IAM role ARN")
        return
    partition, account, _ = arn
    report.add(
        "role", "ok", f"{settings.role_arn} (account {account}, partition {partition}, "
        f"from {settings.where('role_arn')})",
    )  # fmt: skip


def _exchange(
    settings: Settings,
    env: Mapping[str, str],
    token: IdentityToken,
    plan: login.Plan,
    end: float,
    report: Report,
) -> Credentials | None:
    """The real sts:AssumeRoleWithWebIdentity, the final word on the trust policy; the credentials if accepted."""
    try:
        session_name = login.session_name_for(settings, ci.select(settings, env), ci.session_name(env))
        creds, _, session = login.credentials(settings, env, plan, end, token, session_name)
    except TrustError as e:
        d = render.diagnose(e)
        report.add("sts", "fail", d.summary, [*(f"hint: {h}" for h in d.hints), *d.details])
        return None
    except EcrCiError as e:
        report.add("sts", "warn", f"sts:AssumeRoleWithWebIdentity could not be tried to the end ({e})")
        report.not_checked.append("sts:AssumeRoleWithWebIdentity (see the sts line)")
        return None
    until = f", valid until {creds.expiration:%Y-%m-%d %H:%M:%S} UTC" if creds.expiration else ""
    report.add("sts", "ok", f"sts:AssumeRoleWithWebIdentity accepted this token for {settings.role_arn}",
               [f"session {session}{until}"])  # fmt: skip
    return creds


def _read_role_policy(
    settings: Settings,
    env: Mapping[str, str],
    creds: Credentials | None,
    plan: login.Plan,
    end: float,
    report: Report,
) -> tuple[dict[str, Any], str, list[str]] | None:
    """The role's trust policy from iam:GetRole, with the assumed role's credentials, else the credential chain's."""
    from ecr_ci.core import aws, retry

    arn = claimslib.parse_role_arn(settings.role_arn)
    assert arn is not None  # the role check passed
    name = arn[2].rsplit("/", 1)[-1]
    attempts: list[str] = []
    sources: list[tuple[str, Callable[[], Credentials]]] = []
    if creds is not None:
        sources.append(("the assumed role's credentials", lambda: creds))
    sources.append(("the AWS credential chain", aws.ambient_credentials))
    for label, source in sources:
        try:
            iam: Any = aws.client("iam", plan.sts_region, source(), env=env)
            response = retry.call(functools.partial(iam.get_role, RoleName=name), end=end, what="iam:GetRole")
            document = response["Role"]["AssumeRolePolicyDocument"]
            warnings: list[str] = []
            policy = trust.load_policy(document if isinstance(document, (str, Mapping)) else json.dumps(document),
                                       warnings=warnings)  # fmt: skip
            return policy, f"the trust policy of role {name} (iam:GetRole with {label})", warnings
        except Exception as e:  # any failure here only means: not checked
            attempts.append(f"with {label}: {_describe(e)}")
    report.add(
        "trust policy", "skip", f"iam:GetRole {name} failed, so the trust policy was not read", attempts
    )  # fmt: skip
    report.not_checked.append("the trust policy: give it with --trust-policy FILE (e.g. from `aws iam get-role`)")
    return None


def _describe(e: Exception) -> str:
    error = (getattr(e, "response", None) or {}).get("Error", {})
    if error.get("Code"):
        return scrub(f"{error['Code']}: {error.get('Message', '')}".strip())
    return scrub(str(e).splitlines()[0] if str(e) else e.__class__.__name__)


def _trust(
    settings: Settings,
    decoded: dict[str, Any],
    partition: str,
    policy: tuple[dict[str, Any], str, list[str]] | None,
    report: Report,
    *,
    live: bool,
) -> None:
    if policy is None:
        if not report.get("trust policy"):
            report.add("trust policy", "skip", "not available (give --trust-policy FILE)")
            if not live:
                report.not_checked.append("the trust policy: give --trust-policy FILE, or drop --offline")
        return
    document, label, load_warnings = policy
    verdict = trust.evaluate(document, decoded, partition=partition, role_arn=settings.role_arn)
    warnings = [f"warning: {w}" for w in [*load_warnings, *verdict.warnings]]
    sts = report.get("sts")
    if verdict.allowed:
        details = [f"matched: {m}" for m in verdict.matched] + warnings
        report.add("trust policy", "ok", f"{label} allows this token (statement {verdict.statement})", details)
        if sts and sts.status == "fail":
            sts.details.insert(0, "the trust policy allows the token, so look at the provider, audience or role")
        return
    if verdict.decision == "not evaluated":
        report.add(
            "trust policy", "warn", f"{label} could not be decided by this tool",
            [f"not evaluated: {n}" for n in verdict.not_evaluated] + [f"fails: {f}" for f in verdict.failed] + warnings,
        )  # fmt: skip
        report.not_checked.append("the parts of the trust policy this tool does not model (see the trust policy line)")
        return
    if verdict.decision == "explicit deny":
        summary = f"{label} denies this token: statement {verdict.statement} (Deny) matches"
        details = [f"matched: {m}" for m in verdict.matched]
    elif verdict.failed:
        first = verdict.failed[0]
        summary = f"{label} refuses this token: {first}"
        details = [f"also: {f}" for f in verdict.failed[1:]]
    else:
        summary = f"{label} refuses this token: it has no Allow statement for {trust.ACTION}"
        details = []
    details += warnings
    sub = decoded.get("sub")
    if isinstance(sub, str) and isinstance(decoded.get("iss"), str) and verdict.decision != "explicit deny":
        arn = claimslib.parse_role_arn(settings.role_arn)
        aud = claimslib.expected_audience(partition)
        token_aud = decoded.get("aud")
        if isinstance(token_aud, str):
            aud = token_aud
        suggestion = trustgen.policy_for_claims(
            decoded, account=arn[1] if arn else "ACCOUNT_ID", partition=partition, audience=aud
        )
        details.append("A trust policy that would accept exactly this token (narrow or widen sub to taste):")
        details += ["  " + line for line in json.dumps(suggestion, indent=2).splitlines()]
        if sts:  # the refused exchange suggested the same policy: show it once, here
            sts.details = [d for d in sts.details if d.startswith("hint: ")]
    status = "fail"
    if sts and sts.status == "ok":
        # STS is the authority: if it accepted the token, this tool's reading of the policy is what is wrong.
        status = "warn"
        summary += " — but STS accepted the token, so trust STS (and please report this evaluation)"
    report.add("trust policy", status, summary, details)
