"""The AWS calls: STS role assumption and ECR / ECR Public authorization tokens, with retries that classify.

botocore is imported on first use only, so that bad input fails fast and cheaply. botocore's own retries are off:
:func:`call` retries throttling, 5xx, connection errors and ``IDPCommunicationError`` with full-jitter backoff
under one overall deadline, and fails at once on everything else (AccessDenied, InvalidIdentityToken, validation
errors), never sleeping after the last attempt.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
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
) -> Any:
    """A botocore client with retries off; unsigned when ``credentials`` is None (STS web identity)."""
    from botocore import UNSIGNED
    from botocore.config import Config

    config = Config(
        retries={"total_max_attempts": 1},
        # One attempt never outlives the deadline (``end``, a time.monotonic() value): a hung endpoint must not
        # hold docker, which waits on the credential helper, past what the user allowed.
        connect_timeout=_within(10, end),
        read_timeout=_within(30, end),
        use_fips_endpoint="fips" in variant,
        use_dualstack_endpoint="dualstack" in variant,
        signature_version=UNSIGNED if credentials is None else None,
    )
    keys: dict[str, Any] = {}
    if credentials is not None:
        keys = {
            "aws_access_key_id": credentials.access_key_id,
            "aws_secret_access_key": credentials.secret_access_key,
            "aws_session_token": credentials.session_token,
        }
    return session().create_client(service, region_name=region, config=config, **keys)


def _within(seconds: float, end: float | None) -> float:
    return seconds if end is None else max(1.0, min(seconds, end - time.monotonic()))


def assume_role_with_web_identity(
    token: IdentityToken,
    *,
    role_arn: str,
    session_name: str,
    duration: int,
    region: str,
    env: Mapping[str, str],
    policy: str | None = None,
    policy_arns: Iterable[str] = (),
    end: float,
    audience: str | None = None,
    partition: str | None = None,
) -> Credentials:
    """Exchange the identity token for role credentials (one STS call, retried only when worth it).

    Goes through :mod:`ecr_ci.core.sts` (plain HTTPS, no botocore) so that it can overlap with botocore's import.
    """
    from ecr_ci.core import sts

    def attempt() -> Credentials:
        return sts.assume_role_with_web_identity(
            token.token,
            role_arn=role_arn,
            session_name=session_name,
            duration=duration,
            region=region,
            env=env,
            policy=policy,
            policy_arns=policy_arns,
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
            raise _trust_error("IDPCommunicationError", str(e), token, role_arn, audience, partition) from e
        raise
    except Exception as e:
        code, _ = error_code(e)
        if code in TRUST_CODES:
            message = getattr(e, "response", {}).get("Error", {}).get("Message", "")
            raise _trust_error(code, message, token, role_arn, audience, partition) from e
        raise AwsError(
            f"sts:AssumeRoleWithWebIdentity: failed for {role_arn} ({describe(e)}: {_safe_message(e)})"
        ) from e


def _safe_message(e: Exception) -> str:
    """AWS's own message of ``e``, scrubbed (AWS does not echo tokens; never rely on it)."""
    return scrub(str(getattr(e, "response", {}).get("Error", {}).get("Message", "") or e))


def _trust_error(
    code: str, message: str, token: IdentityToken, role_arn: str, audience: str | None, partition: str | None
) -> TrustError:
    """STS's refusal with the facts that explain it (the renderer, :mod:`ecr_ci.diagnostics.render`, explains)."""
    from ecr_ci.core.jwt import decode_claims

    code = {"ExpiredTokenException": "ExpiredToken"}.get(code, code)
    aws_message = _safe_message(Exception(message))
    summary = f"sts:AssumeRoleWithWebIdentity: {code} for {role_arn} ({aws_message})"
    try:
        claims: dict[str, Any] | None = decode_claims(token.token)
    except EcrCiError:
        claims = None
    return TrustError(
        summary,
        code=_TRUST_CAUSES.get(code, "sts.refused"),
        sts_code=code,
        sts_message=aws_message,
        role_arn=role_arn,
        audience=audience,
        partition=partition,
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
        raise AwsError(f"credentials: the AWS credential chain failed ({e})") from e
    if found is None or frozen is None:
        raise AwsError(
            "credentials: none found in the AWS credential chain (oidc: none needs AWS_ACCESS_KEY_ID, a profile, "
            "or an instance or pod role; in CI use an OIDC source instead)"
        )
    expiry = getattr(found, "_expiry_time", None)
    return Credentials(frozen.access_key, frozen.secret_key, frozen.token, expiry)


def assume_role(
    base: Credentials,
    *,
    role_arn: str,
    session_name: str,
    duration: int,
    region: str,
    policy: str | None,
    policy_arns: Iterable[str],
    end: float,
) -> Credentials:
    """sts:AssumeRole from ambient credentials (``oidc: none`` with a role)."""
    sts = client("sts", region, base, end=end)
    kwargs: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": session_name, "DurationSeconds": duration}
    if policy:
        kwargs["Policy"] = policy
    if policy_arns:
        kwargs["PolicyArns"] = [{"arn": a} for a in policy_arns]
    try:
        response = call(lambda: sts.assume_role(**kwargs), end=end, what="sts:AssumeRole")
    except AwsError:
        raise
    except Exception as e:
        raise AwsError(f"sts:AssumeRole: failed for {role_arn} ({describe(e)}: {_safe_message(e)})") from e
    c = response["Credentials"]
    return Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"], c["Expiration"], role_arn=role_arn)


def caller_arn(creds: Any, region: str, end: float) -> str:
    """The ARN of the credential chain's identity (``sts:GetCallerIdentity``; needs no permission)."""
    return str(_caller_identity(creds, region, end)["Arn"])


def caller_account(creds: Any, region: str, end: float) -> str:
    """The account of the credential chain's identity (``sts:GetCallerIdentity``; needs no permission)."""
    return str(_caller_identity(creds, region, end)["Account"])


def _caller_identity(creds: Any, region: str, end: float) -> Any:
    sts = client("sts", region, creds, end=end)
    try:
        return call(sts.get_caller_identity, end=end, what="sts:GetCallerIdentity")
    except AwsError:
        raise
    except Exception as e:
        raise AwsError(
            f"sts:GetCallerIdentity: failed in {region} ({e.__class__.__name__}; the token cache keys the AWS "
            "credential chain on the caller's identity)"
        ) from e
