"""Read an identity token's claims and explain why STS refused it.

Nothing here verifies a signature: the claims are decoded only to show the user what AWS saw, marked "unverified,
for debugging". Nothing here ever returns, prints or embeds the token itself or its signature.

The IAM side of the story: STS matches a web identity token against the role's trust policy under condition keys
named ``<provider>:<claim>``, where ``<provider>`` is the token's issuer URL without ``https://`` (the path is kept:
``gitlab.example.com``, ``jenkins.example.com/oidc``). For an OIDC provider AWS exposes ``aud`` and ``sub``;
``amr`` only for Amazon Cognito and ``oaud`` only for Google. Since early 2026 STS also exposes a few GitHub claims
(``actor``, ``actor_id``, ``job_workflow_ref``, ``repository``, ``repository_id``, ``workflow``, ``ref``,
``environment``, ``enterprise_id``) under ``token.actions.githubusercontent.com:<claim>``; every other claim of a CI
token is invisible to a trust policy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from ecr_ci.core.jwt import decode_claims  # noqa: F401 - re-exported: diagnostics and tests read claims here

GITHUB_HOST = "token.actions.githubusercontent.com"
STS_AUDIENCE = "sts.amazonaws.com"
STS_AUDIENCE_CN = "sts.amazonaws.com.cn"

# Claims STS turns into condition keys, per provider. Anything else is absent from the request context.
_STANDARD_KEYS = ("aud", "sub")
_GITHUB_EXTRA_KEYS = (
    "actor",
    "actor_id",
    "job_workflow_ref",
    "repository",
    "repository_id",
    "workflow",
    "ref",
    "environment",
    "enterprise_id",
)

# Non-secret claims worth showing, by CI. (No e-mail addresses: they are personal data and never decide trust.)
_SUMMARY_KEYS = {
    "github": (
        "repository",
        "repository_owner",
        "ref",
        "ref_type",
        "environment",
        "event_name",
        "job_workflow_ref",
        "workflow_ref",
        "actor",
        "runner_environment",
        "base_ref",
        "head_ref",
    ),
    "gitlab": (
        "project_path",
        "namespace_path",
        "ref",
        "ref_type",
        "ref_protected",
        "environment",
        "environment_protected",
        "pipeline_source",
        "runner_environment",
    ),
    "jenkins": ("build_number", "git_url"),
}


# --- decoding -----------------------------------------------------------------------------------------------------


# --- what the claims are matched as -------------------------------------------------------------------------------


def provider_name(issuer: str) -> str:
    """The IAM name of an OIDC provider: the issuer URL without ``https://``, path kept (``gitlab.example.com``,
    ``jenkins.example.com/oidc``). It prefixes the condition keys and ends the provider ARN."""
    name = issuer.strip()
    for scheme in ("https://", "http://"):
        if name.lower().startswith(scheme):
            name = name[len(scheme) :]
            break
    host, sep, path = name.partition("/")
    return host.lower() + sep + path


def detect_ci(claims: Mapping[str, Any]) -> str | None:
    """``"github"``, ``"gitlab"``, ``"jenkins"`` or ``None``, judged from the issuer and the claims present."""
    iss = claims.get("iss")
    name = provider_name(iss) if isinstance(iss, str) else ""
    host, _, path = name.partition("/")
    if host == GITHUB_HOST or (host.startswith("token.actions.") and host.endswith(".ghe.com")):
        return "github"
    if path == "_services/token" or ("repository" in claims and "job_workflow_ref" in claims):
        return "github"
    if "project_path" in claims and ("pipeline_source" in claims or "namespace_path" in claims):
        return "gitlab"
    if "build_number" in claims or path == "oidc" or path.startswith("oidc/job/"):
        return "jenkins"
    return None


def supported_claim_keys(provider: str) -> tuple[str, ...]:
    """The claims AWS exposes as ``<provider>:<claim>`` condition keys for this provider name."""
    host = provider.split("/", 1)[0].lower()
    if host == "cognito-identity.amazonaws.com":
        return ("aud", "sub", "amr")
    if host == "accounts.google.com":
        return ("aud", "sub", "oaud")
    if host == GITHUB_HOST:
        return _STANDARD_KEYS + _GITHUB_EXTRA_KEYS
    return _STANDARD_KEYS


def condition_keys(claims: Mapping[str, Any], *, provider: str | None = None) -> dict[str, Any]:
    """The IAM condition keys these claims are matched as, mapped to their values: ``{"gitlab.com:sub": "…"}``.

    ``provider`` overrides the name derived from ``iss``. Claims the token lacks are left out (IAM sees them as
    missing). For Google, ``aud`` is matched against ``azp`` when that claim is set and ``oaud`` holds ``aud``.
    """
    if provider is None:
        iss = claims.get("iss")
        if not isinstance(iss, str) or not iss:
            return {}
        provider = provider_name(iss)
    keys: dict[str, Any] = {}
    google = provider.split("/", 1)[0].lower() == "accounts.google.com"
    for claim in supported_claim_keys(provider):
        if claim == "aud" and google and claims.get("azp"):
            value: Any = claims.get("azp")
        elif claim == "oaud":
            value = claims.get("aud")
        else:
            value = claims.get(claim)
        if value is None:
            continue
        keys[f"{provider}:{claim}"] = _plain(value)
    return keys


def _plain(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (int, float)):
        return str(value)
    return value


# --- what is worth showing ----------------------------------------------------------------------------------------


def token_summary(claims: Mapping[str, Any], *, now: datetime | float | None = None) -> dict[str, Any]:
    """The non-secret claims worth showing, in a stable order: ``iss``, ``aud``, ``sub``, the CI's own claims, then
    ``iat``/``nbf``/``exp`` as ISO 8601 UTC times and ``expired`` (and ``not_yet_valid``) judged at ``now``."""
    out: dict[str, Any] = {}
    for key in ("iss", "aud", "sub"):
        if key in claims and _showable(claims[key]):
            out[key] = claims[key]
    ci = detect_ci(claims)
    wanted: list[str] = []
    for name in ([ci] if ci else []) + [c for c in _SUMMARY_KEYS if c != ci]:
        wanted += [k for k in _SUMMARY_KEYS[name] if k not in wanted]
    for key in wanted:
        value = claims.get(key)
        if value not in (None, "") and _showable(value):
            out[key] = value
    now_ts = _timestamp(now)
    for key in ("iat", "nbf", "exp"):
        ts = _number(claims.get(key))
        if ts is not None:
            out[key] = _iso(ts)
    exp = _number(claims.get("exp"))
    if exp is not None:
        out["expired"] = now_ts >= exp
    nbf = _number(claims.get("nbf"))
    if nbf is not None and now_ts < nbf:
        out["not_yet_valid"] = True
    return out


def _showable(value: Any) -> bool:
    if isinstance(value, (str, int, float, bool)):
        return True
    return isinstance(value, list) and all(isinstance(v, (str, int, float, bool)) for v in value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"\d{1,12}(\.\d+)?", value):
        return float(value)
    return None


def _timestamp(now: datetime | float | None) -> float:
    if now is None:
        return datetime.now(timezone.utc).timestamp()
    if isinstance(now, datetime):
        return (now if now.tzinfo else now.replace(tzinfo=timezone.utc)).timestamp()
    return float(now)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ago(seconds: float) -> str:
    seconds = abs(int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    hours, minutes = seconds // 3600, seconds % 3600 // 60
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


# --- role ARNs and audiences ----------------------------------------------------------------------------------


def parse_role_arn(role_arn: str | None) -> tuple[str, str, str] | None:
    """``(partition, account, role path/name)`` of an IAM role ARN, or ``None`` when it is not one."""
    if not role_arn:
        return None
    m = re.fullmatch(r"arn:(aws[a-z-]*):iam::(\d{12}):role/(.+)", role_arn.strip())
    return (m.group(1), m.group(2), m.group(3)) if m else None


def expected_audience(partition: str | None) -> str:
    """The audience ecr-ci requests by default: ``sts.amazonaws.com.cn`` in China, ``sts.amazonaws.com`` elsewhere."""
    return STS_AUDIENCE_CN if partition == "aws-cn" else STS_AUDIENCE
