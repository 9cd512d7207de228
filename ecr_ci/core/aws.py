"""The AWS calls: STS role assumption and ECR / ECR Public authorization tokens, with retries that classify.

botocore is imported on first use only, so that bad input fails fast and cheaply. botocore's own retries are off:
:func:`call` retries throttling, 5xx, connection errors and ``IDPCommunicationError`` with full-jitter backoff
under one overall deadline, and fails at once on everything else (AccessDenied, InvalidIdentityToken, validation
errors), never sleeping after the last attempt.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ecr_ci import __version__
from ecr_ci.core.identity import IdentityToken
from ecr_ci.core.retry import TRUST_CODES, call, describe, error_code
from ecr_ci.errors import AwsError, EcrCiError, TrustError, scrub
from ecr_ci.models import Credentials

_session: Any = None
_session_lock = threading.Lock()


def session() -> Any:
    """One botocore session per process: its loaders cache the endpoint and service data across clients."""
    global _session
    with _session_lock:
        if _session is None:
            import botocore.session

            _session = botocore.session.get_session()
            _session.user_agent_extra = f"ecr-ci/{__version__}"
            _session.register_component("data_loader", _focused_loader(_session))
    return _session


SERVICES = ("ecr", "ecr-public", "sts", "iam")


def _focused_loader(s: Any) -> Any:
    """botocore's data loader, told which services exist instead of listing ~400 data directories.

    Before loading any model, botocore's loader checks the service name against a scan of every service folder
    (a few thousand stat calls, about 15 ms per process); ecr-ci only ever loads :data:`SERVICES`.
    """
    import os

    from botocore.loaders import Loader

    class FocusedLoader(Loader):  # type: ignore[misc]
        def list_available_services(self, type_name: str) -> list[str]:
            return [
                name for name in SERVICES if any(os.path.isdir(os.path.join(path, name)) for path in self.search_paths)
            ]

    extra = s.get_config_variable("data_path")
    return FocusedLoader(extra_search_paths=extra.split(os.pathsep) if extra else None)


def client(
    service: str,
    region: str,
    credentials: Credentials | None = None,
    variant: str = "standard",
    end: float | None = None,
    env: Mapping[str, str] | None = None,
) -> Any:
    """A botocore client with retries off; unsigned when ``credentials`` is None (STS web identity).

    Its endpoint override, CA bundle and proxies come from ``env`` (:mod:`ecr_ci.core.net`), never from the
    process environment: botocore is told to ignore configured endpoint URLs and gets them explicitly instead.
    """
    from botocore import UNSIGNED
    from botocore.config import Config

    from ecr_ci.core import net

    env = env or {}

    def make(proxies: dict[str, str]) -> Any:
        config = Config(
            retries={"total_max_attempts": 1},
            # One attempt never outlives the deadline (``end``, a time.monotonic() value): a hung endpoint must
            # not hold docker, which waits on the credential helper, past what the user allowed.
            connect_timeout=_within(10, end),
            read_timeout=_within(30, end),
            use_fips_endpoint="fips" in variant,
            use_dualstack_endpoint="dualstack" in variant,
            signature_version=UNSIGNED if credentials is None else None,
            proxies=proxies,
            ignore_configured_endpoint_urls=True,  # type: ignore[call-arg]
        )
        keys: dict[str, Any] = {}
        if credentials is not None:
            keys = {
                "aws_access_key_id": credentials.access_key_id,
                "aws_secret_access_key": credentials.secret_access_key,
                "aws_session_token": credentials.session_token,
            }
        return session().create_client(
            service,
            region_name=region,
            config=config,
            endpoint_url=net.endpoint_url(service, env),
            verify=env.get("AWS_CA_BUNDLE") or True,
            **keys,
        )

    made = make({})
    proxies = net.proxies(made.meta.endpoint_url, env)
    return make(proxies) if proxies else made


def _within(seconds: float, end: float | None) -> float:
    return seconds if end is None else max(1.0, min(seconds, end - time.monotonic()))


@dataclass(frozen=True)
class RoleRequest:
    """What a role assumption asks STS for, by web identity or by sts:AssumeRole alike."""

    role_arn: str
    session_name: str
    duration: int
    region: str
    policy: str | None = None
    policy_arns: tuple[str, ...] = ()
    audience: str | None = None  # what the identity token was requested for (to explain a refusal)
    partition: str | None = None


def assume_role_with_web_identity(
    token: IdentityToken, req: RoleRequest, *, env: Mapping[str, str], end: float
) -> Credentials:
    """Exchange the identity token for role credentials (one STS call, retried only when worth it).

    Goes through :mod:`ecr_ci.core.sts` (plain HTTPS, no botocore) so that it can overlap with botocore's import.
    """
    from ecr_ci.core import sts

    def attempt() -> Credentials:
        return sts.assume_role_with_web_identity(
            token.token,
            role_arn=req.role_arn,
            session_name=req.session_name,
            duration=req.duration,
            region=req.region,
            env=env,
            policy=req.policy,
            policy_arns=req.policy_arns,
            timeout=max(1.0, min(30.0, end - time.monotonic())),
        )

    try:
        return call(attempt, end=end, what="sts:AssumeRoleWithWebIdentity")
    except EcrCiError as e:
        if not isinstance(e, AwsError):
            raise
        cause = e.__cause__
        code = error_code(cause)[0] if cause is not None else ""
        if code in ("IDPCommunicationError", "IDPCommunicationErrorException"):
            raise _trust_error("IDPCommunicationError", str(e), token, req) from e
        raise
    except Exception as e:
        code, _ = error_code(e)
        if code in TRUST_CODES:
            message = getattr(e, "response", {}).get("Error", {}).get("Message", "")
            raise _trust_error(code, message, token, req) from e
        raise AwsError(
            f"sts:AssumeRoleWithWebIdentity: failed for {req.role_arn} ({describe(e)}: {_safe_message(e)})"
        ) from e


def _safe_message(e: Exception) -> str:
    """AWS's own message of ``e``, scrubbed (AWS does not echo tokens; never rely on it)."""
    return scrub(str(getattr(e, "response", {}).get("Error", {}).get("Message", "") or e))


def _trust_error(code: str, message: str, token: IdentityToken, req: RoleRequest) -> TrustError:
    """STS's refusal with the facts that explain it (the renderer, :mod:`ecr_ci.diagnostics.render`, explains)."""
    from ecr_ci.core.jwt import decode_claims

    code = {"ExpiredTokenException": "ExpiredToken"}.get(code, code)
    aws_message = _safe_message(Exception(message))
    summary = f"sts:AssumeRoleWithWebIdentity: {code} for {req.role_arn} ({aws_message})"
    try:
        claims: dict[str, Any] | None = decode_claims(token.token)
    except EcrCiError:
        claims = None
    return TrustError(
        summary,
        code=_TRUST_CAUSES.get(code, "sts.refused"),
        sts_code=code,
        sts_message=aws_message,
        role_arn=req.role_arn,
        audience=req.audience,
        partition=req.partition,
        source=token.source,
        claims=claims,
    )


_TRUST_CAUSES = {
    "AccessDenied": "sts.access-denied",
    "InvalidIdentityToken": "sts.invalid-token",
    "ExpiredToken": "sts.expired-token",
    "IDPRejectedClaim": "sts.rejected-claim",
    "IDPCommunicationError": "sts.idp-unreachable",
}


def ambient_credentials() -> Credentials:
    """Credentials from the standard AWS chain (env keys, profile, SSO, instance or pod role)."""
    from botocore.exceptions import BotoCoreError

    try:
        found = session().get_credentials()
        frozen = found.get_frozen_credentials() if found is not None else None
    except BotoCoreError as e:  # a missing profile, a broken SSO cache, an unreachable credential process…
        raise AwsError(f"credentials: the AWS credential chain failed ({e})", code="aws.credentials-missing") from e
    if found is None or frozen is None:
        raise AwsError(
            "credentials: none found in the AWS credential chain (oidc: none needs AWS_ACCESS_KEY_ID, a profile, "
            "or an instance or pod role; in CI use an OIDC source instead)",
            code="aws.credentials-missing",
        )
    expiry = getattr(found, "_expiry_time", None)
    return Credentials(frozen.access_key, frozen.secret_key, frozen.token, expiry)


def assume_role(base: Credentials, req: RoleRequest, *, env: Mapping[str, str], end: float) -> Credentials:
    """sts:AssumeRole from ambient credentials (``oidc: none`` with a role)."""
    sts = client("sts", req.region, base, end=end, env=env)
    kwargs: dict[str, Any] = {
        "RoleArn": req.role_arn,
        "RoleSessionName": req.session_name,
        "DurationSeconds": req.duration,
    }
    if req.policy:
        kwargs["Policy"] = req.policy
    if req.policy_arns:
        kwargs["PolicyArns"] = [{"arn": a} for a in req.policy_arns]
    try:
        response = call(lambda: sts.assume_role(**kwargs), end=end, what="sts:AssumeRole")
    except AwsError:
        raise
    except Exception as e:
        raise AwsError(f"sts:AssumeRole: failed for {req.role_arn} ({describe(e)}: {_safe_message(e)})") from e
    c = response["Credentials"]
    return Credentials(
        c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"], c["Expiration"], role_arn=req.role_arn
    )


def caller_arn(creds: Any, region: str, end: float, env: Mapping[str, str]) -> str:
    """The ARN of the credential chain's identity (``sts:GetCallerIdentity``; needs no permission)."""
    return str(_caller_identity(creds, region, end, env)["Arn"])


def caller_account(creds: Any, region: str, end: float, env: Mapping[str, str]) -> str:
    """The account of the credential chain's identity (``sts:GetCallerIdentity``; needs no permission)."""
    return str(_caller_identity(creds, region, end, env)["Account"])


def _caller_identity(creds: Any, region: str, end: float, env: Mapping[str, str]) -> Any:
    sts = client("sts", region, creds, end=end, env=env)
    try:
        return call(sts.get_caller_identity, end=end, what="sts:GetCallerIdentity")
    except AwsError:
        raise
    except Exception as e:
        raise AwsError(
            f"sts:GetCallerIdentity: failed in {region} ({e.__class__.__name__}; the token cache keys the AWS "
            "credential chain on the caller's identity)"
        ) from e
