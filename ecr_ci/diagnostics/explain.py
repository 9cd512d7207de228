"""Why STS refused an identity token: the claims, the condition keys they are matched as, the likely causes
(most likely first) and a trust-policy statement that would accept this very token.

The token itself is never an input: only its unverified claims, STS's error code and message, and the login's
role, audience and partition.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ecr_ci.diagnostics.claims import (
    _SUMMARY_KEYS,
    STS_AUDIENCE,
    STS_AUDIENCE_CN,
    _ago,
    _iso,
    _number,
    _timestamp,
    condition_keys,
    detect_ci,
    expected_audience,
    parse_role_arn,
    provider_name,
    token_summary,
)
from ecr_ci.errors import Diagnostics, scrub

_CODES = {
    "AccessDenied": "AccessDenied",
    "AccessDeniedException": "AccessDenied",
    "InvalidIdentityToken": "InvalidIdentityToken",
    "InvalidIdentityTokenException": "InvalidIdentityToken",
    "ExpiredToken": "ExpiredToken",
    "ExpiredTokenException": "ExpiredToken",
    "IDPRejectedClaim": "IDPRejectedClaim",
    "IDPRejectedClaimException": "IDPRejectedClaim",
    "IDPCommunicationError": "IDPCommunicationError",
    "IDPCommunicationErrorException": "IDPCommunicationError",
}


# STS's error codes (normalised by _CODES) as ecr-ci's stable cause codes.
_CAUSES = {
    "AccessDenied": "sts.access-denied",
    "InvalidIdentityToken": "sts.invalid-token",
    "ExpiredToken": "sts.expired-token",
    "IDPRejectedClaim": "sts.rejected-claim",
    "IDPCommunicationError": "sts.idp-unreachable",
}


def explain(
    error_code: str,
    aws_message: str,
    claims: Mapping[str, Any] | None,
    *,
    audience_expected: str | None = None,
    role_arn: str | None = None,
    partition: str | None = None,
    ci: str | None = None,
    trust_policy: Mapping[str, Any] | str | None = None,
    now: datetime | float | None = None,
) -> Diagnostics:
    """Why STS refused the identity token: a one-line summary, the claims (for debugging), the condition keys they
    are matched as, the likely causes (most likely first) and, in ``details``, a trust-policy statement that would
    accept this very token.

    ``error_code`` is STS's code (``AccessDenied``, ``InvalidIdentityToken``, ``ExpiredToken[Exception]``,
    ``IDPRejectedClaim``, ``IDPCommunicationError``); ``aws_message`` its message (anything JWT-shaped in it is
    redacted). ``trust_policy``, when the caller has the role's trust policy, is evaluated against the claims and
    its first failing condition becomes the first hint. The token itself is never an input.
    """
    code = _CODES.get(error_code, error_code or "error")
    message = scrub(aws_message or "").strip()
    claims = dict(claims or {})
    now_ts = _timestamp(now)
    arn = parse_role_arn(role_arn)
    if partition is None and arn:
        partition = arn[0]
    ci_name = ci if ci in _SUMMARY_KEYS else detect_ci(claims)
    iss = claims.get("iss") if isinstance(claims.get("iss"), str) else None
    provider = provider_name(iss) if iss else None
    sub = claims.get("sub") if isinstance(claims.get("sub"), str) else None
    audience = audience_expected or expected_audience(partition)

    ctx = _Context(claims, ci_name, provider, sub, audience, partition, arn, role_arn, message, now_ts)
    hints: list[tuple[int, str]] = []
    details: list[str] = []
    if code == "AccessDenied":
        summary = f"{_who(role_arn)} does not trust this identity token ({code}{_evidence(sub, claims.get('aud'))})"
        hints += _access_denied_hints(ctx)
        if trust_policy is not None:
            hints += _policy_hints(ctx, trust_policy, details)
    elif code == "InvalidIdentityToken":
        summary = f"AWS rejected the identity token itself ({code}: {message or 'no message'})"
        hints += _invalid_token_hints(ctx)
    elif code == "ExpiredToken":
        exp = _number(claims.get("exp"))
        when = f"exp {_iso(exp)}, {_ago(now_ts - exp)} {'ago' if now_ts >= exp else 'from now'}" if exp else message
        summary = f"the identity token had expired when AWS checked it ({code}: {when or 'no exp claim'})"
        hints += _expired_hints(ctx)
    elif code == "IDPRejectedClaim":
        summary = f"the identity provider's claims were rejected ({code}: {message or 'no message'})"
        hints += _rejected_claim_hints(ctx)
    elif code == "IDPCommunicationError":
        summary = f"AWS could not reach the identity provider {iss or ''} to verify the token ({code}: {message})"
        hints += _communication_hints(ctx)
    else:
        summary = f"the token exchange failed ({code}: {message or 'no message'})"
        hints += _access_denied_hints(ctx)
    summary = "sts:AssumeRoleWithWebIdentity: " + " ".join(summary.split())

    if claims and code in ("AccessDenied", "InvalidIdentityToken", "IDPRejectedClaim"):
        details += _suggested_policy(ctx)
    ranked = [text for _, text in sorted(hints, key=lambda h: -h[0])]
    unique = list(dict.fromkeys(ranked))
    cause = _CAUSES.get(code, "sts.refused")
    if code in ("AccessDenied", "InvalidIdentityToken") and ctx.auds() and audience not in ctx.auds():
        cause = "sts.audience-mismatch"
    return Diagnostics(
        summary=summary,
        code=cause,
        claims=token_summary(claims, now=now_ts) if claims else {},
        condition_keys=condition_keys(claims) if claims else {},
        hints=unique,
        details=details,
    )


class _Context:
    def __init__(
        self,
        claims: dict[str, Any],
        ci: str | None,
        provider: str | None,
        sub: str | None,
        audience: str,
        partition: str | None,
        arn: tuple[str, str, str] | None,
        role_arn: str | None,
        message: str,
        now: float,
    ) -> None:
        self.claims = claims
        self.ci = ci
        self.provider = provider
        self.sub = sub
        self.audience = audience
        self.partition = partition
        self.arn = arn
        self.role_arn = role_arn
        self.message = message
        self.now = now

    @property
    def account(self) -> str:
        return self.arn[1] if self.arn else "<the role's account>"

    @property
    def arn_partition(self) -> str:
        return self.partition or (self.arn[0] if self.arn else "aws")

    @property
    def provider_arn(self) -> str:
        return f"arn:{self.arn_partition}:iam::{self.account}:oidc-provider/{self.provider or '<issuer host/path>'}"

    def auds(self) -> list[str]:
        aud = self.claims.get("aud")
        if isinstance(aud, str):
            return [aud]
        if isinstance(aud, list):
            return [a for a in aud if isinstance(a, str)]
        return []


def _who(role_arn: str | None) -> str:
    return f"role {role_arn}" if role_arn else "the role"


def _evidence(sub: str | None, aud: Any) -> str:
    parts = []
    if sub:
        parts.append(f"sub {sub!r}")
    if isinstance(aud, str):
        parts.append(f"aud {aud!r}")
    elif isinstance(aud, list):
        parts.append(f"aud {', '.join(repr(a) for a in aud)}")
    return ("; " + ", ".join(parts)) if parts else "; no claims could be read"


def _audience_hints(c: _Context, base: int) -> list[tuple[int, str]]:
    auds = c.auds()
    if not auds or c.audience in auds:
        return []
    shown = ", ".join(repr(a) for a in auds)
    if c.partition == "aws-cn" and STS_AUDIENCE in auds:
        return [
            (
                base + 5,
                f"Audience: in the China regions (partition aws-cn) the token's aud must be {STS_AUDIENCE_CN!r}, "
                f"this one has {shown}. Request the token with audience {STS_AUDIENCE_CN} and register that "
                "audience on the IAM OIDC provider.",
            )
        ]
    default = ""
    if c.ci == "github" and any(a.startswith("https://github.com/") for a in auds):
        default = " (that is GitHub's default audience: the token was requested without an audience)"
    elif c.ci == "gitlab" and any(a.startswith("https://") for a in auds):
        default = " (GitLab's default is the instance URL: declare 'id_tokens: AWS_ID_TOKEN: aud: …')"
    return [
        (
            base,
            f"Audience: the token's aud is {shown}{default} but {c.audience!r} was expected. The trust "
            f"policy's {c.provider or '<provider>'}:aud condition and the provider's registered audiences must "
            "name the audience the token is requested with.",
        )
    ]


def _access_denied_hints(c: _Context) -> list[tuple[int, str]]:
    hints: list[tuple[int, str]] = _audience_hints(c, 90)
    cl, sub = c.claims, c.sub or ""
    if c.ci == "github":
        hints += _github_hints(c)
    elif c.ci == "gitlab":
        ref, ref_type = cl.get("ref"), cl.get("ref_type")
        if sub and not re.fullmatch(r"project_path:[^:]+:ref_type:(branch|tag):ref:.+", sub):
            hints.append(
                (
                    75,
                    f"Custom subject: sub is {sub!r}, not GitLab's default 'project_path:…:ref_type:…:ref:…': the "
                    "project customised its ID token sub (ci_id_token_sub_claim_components). The trust policy's "
                    "sub condition must follow that format.",
                )
            )
        elif sub:
            hints.append(
                (
                    60,
                    f"GitLab: this job's sub is {sub!r} (ref_type {ref_type!r}, ref {ref!r}). A condition naming "
                    "another branch, or ref_type branch for a tag pipeline, does not match; use StringLike with "
                    f"'project_path:{cl.get('project_path', 'group/project')}:ref_type:{ref_type or 'branch'}:ref:*' "
                    "to allow every ref of that type.",
                )
            )
    elif c.ci == "jenkins":
        hints.append(
            (
                60,
                f"Jenkins: sub is the job URL {sub!r} (with its trailing slash; a multibranch pipeline has one job "
                "per branch, …/job/<pipeline>/job/<branch>/). Match it exactly with StringEquals, or use StringLike "
                "with a trailing '*' to allow every branch of a pipeline.",
            )
        )
    hints.append(
        (
            40,
            "Wildcards: a condition value containing '*' or '?' only works under StringLike; StringEquals compares "
            "the asterisk literally, so 'repo:org/repo:*' under StringEquals never matches.",
        )
    )
    hints += _role_hints(c, 35)
    return hints


def _github_hints(c: _Context) -> list[tuple[int, str]]:
    cl, sub = c.claims, c.sub or ""
    repo = cl.get("repository") if isinstance(cl.get("repository"), str) else None
    hints: list[tuple[int, str]] = []
    default_shape = re.fullmatch(r"repo:([^:]+):(ref:.+|environment:.+|pull_request)", sub)
    if sub and not default_shape:
        hints.append(
            (
                75,
                f"Custom subject: sub is {sub!r}, not GitHub's default 'repo:OWNER/REPO:…' form: the organisation "
                "or repository customised the subject claim (include_claim_keys). The trust policy's sub condition "
                "must follow that exact format.",
            )
        )
    if default_shape and "@" in default_shape.group(1):
        hints.append(
            (
                78,
                f"Immutable subject: sub {sub!r} carries owner and repository IDs ('owner@ID/repo@ID'), GitHub's "
                "format for repositories created or renamed after 15 July 2026 (or opted in). A condition written "
                "as 'repo:owner/repo:…' no longer matches it; put the IDs in the policy.",
            )
        )
    if sub.endswith(":pull_request"):
        hints.append(
            (
                85,
                f"Pull request: this job runs for a pull request, so GitHub sets sub to {sub!r} (no branch name). "
                "A condition naming refs/heads/… does not match it. Add that exact subject only if pull-request "
                "jobs should reach this role; pull requests from forks get no ID token (by default).",
            )
        )
    env = cl.get("environment")
    if isinstance(env, str) and env and ":environment:" in sub:
        name = repo or "OWNER/REPO"
        hints.append(
            (
                80,
                f"Environment: the job uses the GitHub environment {env!r}, so sub is {sub!r} instead of "
                f"'repo:{name}:ref:{cl.get('ref', 'refs/heads/…')}'. Allow that subject, or drop 'environment:' "
                "from the job.",
            )
        )
    event = cl.get("event_name")
    if event == "pull_request_target":
        hints.append(
            (
                70,
                f"pull_request_target: the token carries the base branch's identity (sub {sub!r}) while the job "
                "handles a pull request, possibly from a fork. A role trusting this subject trusts such runs too: "
                "keep push rights out of pull_request_target jobs.",
            )
        )
    actor = cl.get("actor")
    if isinstance(actor, str) and actor.startswith("dependabot"):
        hints.append(
            (
                65,
                f"Dependabot: this run was started by {actor} (ref {cl.get('ref')!r}). Roles are usually limited "
                "to your own branches, so Dependabot's branches are refused; that is normally intended.",
            )
        )
    jwr = cl.get("job_workflow_ref")
    if isinstance(jwr, str) and repo and not jwr.startswith(repo + "/"):
        hints.append(
            (
                50,
                f"Reusable workflow: the job runs {jwr!r} from another repository, but sub still names the "
                f"calling repository {repo!r} (unless the organisation added job_workflow_ref to the subject).",
            )
        )
    if cl.get("ref_type") == "tag" and ":ref:refs/tags/" in sub:
        hints.append(
            (
                55,
                f"Tag: this run is for a tag, so sub is {sub!r}; a condition naming refs/heads/… does not match.",
            )
        )
    return hints


def _role_hints(c: _Context, base: int) -> list[tuple[int, str]]:
    hints: list[tuple[int, str]] = []
    if c.role_arn and not c.arn:
        hints.append(
            (
                base + 50,
                f"Role ARN: {c.role_arn!r} is not a role ARN (arn:<partition>:iam::<12-digit account>:role/<name>).",
            )
        )
    elif c.arn and c.partition and c.arn[0] != c.partition:
        hints.append(
            (
                base + 53,
                f"Partition: the role ARN is in partition {c.arn[0]!r} but the registries are in {c.partition!r}; "
                "STS of one partition cannot assume a role of another.",
            )
        )
    hints.append(
        (
            base,
            f"Principal: the trust policy must name the OIDC provider registered in the role's own account, "
            f"Principal.Federated = {c.provider_arn!r}, and allow the action sts:AssumeRoleWithWebIdentity.",
        )
    )
    return hints


def _invalid_token_hints(c: _Context) -> list[tuple[int, str]]:
    msg = c.message.lower()
    iss = c.claims.get("iss") or "<the token's iss>"
    register = (
        f"Provider: register an IAM OIDC provider whose URL is exactly {iss!r} in account {c.account} "
        f"(partition {c.arn_partition}): aws iam create-open-id-connect-provider --url {iss} --client-id-list "
        f"{c.audience}. The URL must equal the token's iss, path included"
    )
    if c.ci == "github":
        register += (
            " (GitHub Enterprise Cloud with a unique issuer uses https://token.actions.githubusercontent.com/<slug>, "
            "GitHub Enterprise Server https://HOST/_services/token)"
        )
    register += "."
    auds = ", ".join(repr(a) for a in c.auds()) or "<none>"
    audience = (
        f"Audience: the token's aud {auds} is not one of the provider's registered audiences (client IDs): add it "
        f"(aws iam add-client-id-to-open-id-connect-provider), or request the token with audience {c.audience!r}."
    )
    reach = (
        f"Reachability: AWS fetches {iss}/.well-known/openid-configuration and its jwks_uri over the public internet "
        "(answering within about 5 s, with the certificate chain in order). A self-managed GitLab or Jenkins behind a "
        "firewall cannot be verified: publish those two documents at a public issuer URL (GitLab 18.1+: "
        "ci_id_tokens_issuer_url; Jenkins oidc-provider: an alternate issuer URI)."
    )
    thumb = (
        "Thumbprint: if the issuer's TLS certificate is not from a CA AWS trusts and was renewed, update the "
        "provider's thumbprint list (aws iam update-open-id-connect-provider-thumbprint)."
    )
    hints: list[tuple[int, str]] = []
    if "no openidconnect provider" in msg or "provider found" in msg:
        hints.append((100, register))
        hints += _role_hints(c, 60)
    elif "audience" in msg:
        hints.append((100, audience))
        hints += _audience_hints(c, 95)
    elif "verification key" in msg or "jwks" in msg or "openid configuration" in msg or "connect" in msg:
        hints.append((100, reach))
        hints.append((50, thumb))
    elif "thumbprint" in msg or "certificate" in msg:
        hints.append((100, thumb))
        hints.append((60, reach))
    elif "issuer" in msg:
        hints.append((100, register))
    else:
        hints += [(90, register), (80, audience), (70, reach), (50, thumb)]
    return hints


def _lifetime(c: _Context) -> str:
    exp, iat = _number(c.claims.get("exp")), _number(c.claims.get("iat"))
    if exp is None or iat is None or exp <= iat:
        return ""
    return f" This token was valid for {_ago(exp - iat)} from its issue time."


def _expired_hints(c: _Context) -> list[tuple[int, str]]:
    hints: list[tuple[int, str]] = []
    exp = _number(c.claims.get("exp"))
    if exp is not None and c.now < exp:
        hints.append(
            (
                95,
                f"Clock: by this machine's clock the token is still valid until {_iso(exp)}, yet AWS found it "
                "expired. Check the runner's clock (AWS allows only 5 min of skew).",
            )
        )
    if c.ci == "jenkins":
        hints.append(
            (
                90,
                "Jenkins: the token is minted when the credential is bound (withCredentials) and lives for the "
                "configured lifetime (default 1 h, Manage Jenkins > Security > OpenID Connect). Bind it right "
                "before ecr-ci runs, not around a long build.",
            )
        )
    elif c.ci == "gitlab":
        hints.append(
            (
                90,
                "GitLab: ID tokens are created when the job starts and expire with the job's timeout; a long job "
                "that logs in late can outlive its token. Log in early in the job, or split the job.",
            )
        )
    elif c.ci == "github":
        hints.append(
            (
                90,
                "GitHub: ID tokens are short-lived; fetch the token right before the exchange (ecr-ci does, unless "
                "a token was handed in from an earlier step).",
            )
        )
    hints.append((50, "Request a fresh token and retry: an expired token never becomes valid." + _lifetime(c)))
    return hints


def _rejected_claim_hints(c: _Context) -> list[tuple[int, str]]:
    hints = _expired_hints(c)
    nbf = _number(c.claims.get("nbf"))
    if nbf is not None and c.now < nbf:
        hints.append((96, f"Clock: the token is not valid before {_iso(nbf)} (nbf); check the runner's clock."))
    hints.append(
        (
            85,
            "The identity provider reported the claim invalid, expired or revoked: request a new token; if it "
            "keeps happening, the provider's keys may have been rotated (Jenkins: re-saving an id token "
            "credential rotates its key pair).",
        )
    )
    return hints


def _communication_hints(c: _Context) -> list[tuple[int, str]]:
    iss = c.claims.get("iss") or "<the issuer>"
    hints = [
        (
            70,
            "Transient: AWS could not reach the identity provider in time; ecr-ci retries this error with "
            "backoff. If it persists, it is not transient.",
        )
    ]
    if c.ci in ("gitlab", "jenkins"):
        hints.append(
            (
                90,
                f"Self-managed issuer: {iss} must be reachable from AWS over the internet with HTTPS "
                "(/.well-known/openid-configuration and jwks_uri, within about 5 s). GitLab 18.1+ can publish "
                "these at a public URL (ci_id_tokens_issuer_url); Jenkins' oidc-provider can use an alternate "
                "issuer URI serving two static files.",
            )
        )
    elif c.ci == "github":
        hints.append((80, "GitHub: check https://www.githubstatus.com for an Actions incident."))
    else:
        hints.append((80, f"Issuer: {iss} must be reachable from AWS over the internet with HTTPS."))
    return hints


def _policy_hints(c: _Context, policy: Mapping[str, Any] | str, details: list[str]) -> list[tuple[int, str]]:
    from ecr_ci.diagnostics import trust

    try:
        verdict = trust.evaluate(policy, c.claims, provider=c.provider, partition=c.partition, role_arn=c.role_arn)
    except Exception as e:  # a broken policy must not hide the original refusal
        return [(99, f"Trust policy: could not be read ({scrub(str(e))})")]
    details.append("Trust policy evaluated against these claims:")
    details += ["  " + line for line in verdict.explain().splitlines()]
    if verdict.failed:
        return [(100, f"Trust policy: {verdict.failed[0]}")]
    if verdict.decision == "explicit deny":
        return [(100, f"Trust policy: explicitly denied by statement {verdict.statement}")]
    return []


def _suggested_policy(c: _Context) -> list[str]:
    if not c.sub or not c.provider:
        return []
    from ecr_ci.diagnostics import trustgen

    auds = c.auds()
    audience = c.audience if (c.audience in auds or not auds) else auds[0]
    policy = trustgen.policy_for_claims(
        c.claims, account=c.arn[1] if c.arn else "ACCOUNT_ID", partition=c.arn_partition, audience=audience
    )
    lines = ["A trust policy that would accept exactly this token (narrow or widen 'sub' to taste):"]
    lines += ["  " + line for line in json.dumps(policy, indent=2).splitlines()]
    return lines
