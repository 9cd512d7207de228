"""The AWS calls: STS role assumption and ECR / ECR Public authorization tokens, with retries that classify.

botocore is imported on first use only, so that bad input fails fast and cheaply. botocore's own retries are off:
:func:`call` retries throttling, 5xx, connection errors and ``IDPCommunicationError`` with full-jitter backoff
under one overall deadline, and fails at once on everything else (AccessDenied, InvalidIdentityToken, validation
errors), never sleeping after the last attempt.
"""

from __future__ import annotations

import base64
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any, TypeVar

from ecr_ci import __version__
from ecr_ci.core.identity import IdentityToken
from ecr_ci.errors import AwsError, EcrCiError, TrustError, scrub
from ecr_ci.models import Credentials, Registry, RegistryAuth

T = TypeVar("T")

RETRY_CODES = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "IDPCommunicationError",
    "IDPCommunicationErrorException",
    "InternalFailure",
    "InternalError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
}
TRUST_CODES = {
    "AccessDenied",
    "InvalidIdentityToken",
    "ExpiredToken",
    "IDPRejectedClaim",
    "IDPCommunicationError",
    "ExpiredTokenException",
}


def _code(e: BaseException) -> tuple[str, int]:
    response = getattr(e, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code, status


def retryable(e: Exception) -> bool:
    """Throttling, 5xx, connection trouble and IdP hiccups are worth another attempt; nothing else is."""
    if isinstance(e, EcrCiError):  # already judged (bad input, a trust failure…)
        return False
    if getattr(e, "connection", False):
        return True
    if isinstance(getattr(e, "response", None), dict):  # botocore's ClientError, or sts.StsError
        code, status = _code(e)
        return code in RETRY_CODES or status >= 500
    from botocore.exceptions import ConnectionError, HTTPClientError

    return isinstance(e, (ConnectionError, HTTPClientError))


def call(
    fn: Callable[[], T],
    *,
    end: float,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    give_up: type[EcrCiError] = AwsError,
) -> T:
    """Run ``fn`` until it succeeds, fails for good, or the deadline (a ``clock()`` value, ``end``) passes; then
    raise ``give_up`` (AwsError, or the caller's own kind, e.g. IdentityTokenError for a token endpoint)."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Exception as e:
            if not retryable(e):
                raise
            pause = random.uniform(0, min(10.0, 0.25 * 2**attempt))  # full jitter
            if clock() + pause >= end or attempt >= 12:
                raise give_up(f"{what}: gave up after {attempt} attempts ({_describe(e)})") from e
            sleep(pause)


def _describe(e: BaseException) -> str:
    code, status = _code(e)
    if code:
        return f"{code}, HTTP {status}" if status else code
    return str(e) if getattr(e, "connection", False) else e.__class__.__name__


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
        code = _code(cause)[0] if cause is not None else ""
        if code in ("IDPCommunicationError", "IDPCommunicationErrorException"):
            raise _trust_error("IDPCommunicationError", str(e), token, role_arn, audience, partition) from e
        raise
    except Exception as e:
        code, _ = _code(e)
        if code in TRUST_CODES:
            message = getattr(e, "response", {}).get("Error", {}).get("Message", "")
            raise _trust_error(code, message, token, role_arn, audience, partition) from e
        raise AwsError(
            f"sts:AssumeRoleWithWebIdentity: failed for {role_arn} ({_describe(e)}: {_safe_message(e)})"
        ) from e


def _safe_message(e: Exception) -> str:
    """AWS's own message of ``e``, scrubbed (AWS does not echo tokens; never rely on it)."""
    return scrub(str(getattr(e, "response", {}).get("Error", {}).get("Message", "") or e))


def _trust_error(
    code: str, message: str, token: IdentityToken, role_arn: str, audience: str | None, partition: str | None
) -> TrustError:
    code = {"ExpiredTokenException": "ExpiredToken"}.get(code, code)
    summary = f"sts:AssumeRoleWithWebIdentity: {code} for {role_arn} ({_safe_message(Exception(message))})"
    try:
        from ecr_ci.diagnostics.claims import decode_claims, explain

        claims: dict[str, Any] | None
        try:
            claims = decode_claims(token.token)
        except Exception:
            claims = None
        diagnostics = explain(
            code,
            _safe_message(Exception(message)),
            claims,
            audience_expected=audience,
            role_arn=role_arn,
            partition=partition,
            ci=token.source,
        )
        diagnostics.summary = summary
    except ImportError:  # pragma: no cover - claims ships with the package
        diagnostics = None
    return TrustError(summary, diagnostics=diagnostics)


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
        raise AwsError(f"sts:AssumeRole: failed for {role_arn} ({_describe(e)}: {_safe_message(e)})") from e
    c = response["Credentials"]
    return Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"], c["Expiration"], role_arn=role_arn)


def _split(token_b64: str) -> tuple[str, str]:
    user, _, password = base64.b64decode(token_b64).decode("utf-8").partition(":")
    return user, password


def _as_utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.fromtimestamp(float(value), tz=timezone.utc)


def _client_for(registries: list[Registry], credentials: Credentials, end: float | None = None) -> Any:
    first = registries[0]
    return client("ecr-public" if first.public else "ecr", first.region, credentials, first.variant, end)


def fetch_group(
    registries: list[Registry], credentials: Credentials, end: float, api: Any = None
) -> list[RegistryAuth]:
    """One GetAuthorizationToken call for registries sharing (partition, region, variant); no ``registryIds``."""
    first = registries[0]
    service = "ecr-public" if first.public else "ecr"
    where = f"{service}:GetAuthorizationToken in {first.region}"
    api = api or _client_for(registries, credentials, end)
    try:
        response = call(api.get_authorization_token, end=end, what=where)
    except AwsError:
        raise
    except Exception as e:
        code, status = _code(e)
        hint = ""
        if code in ("AccessDeniedException", "AccessDenied", "403") or status == 403:
            action = (
                "ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken"
                if first.public
                else "ecr:GetAuthorizationToken"
            )
            hint = f'; allow {action} on Resource "*" for {credentials.role_arn or "these credentials"}'
        raise AwsError(f"{where}: failed ({_describe(e)}: {_safe_message(e)}{hint})") from e
    data = response["authorizationData"]
    item = data if isinstance(data, dict) else data[0]
    user, password = _split(item["authorizationToken"])
    expires = _as_utc(item["expiresAt"])
    if credentials.expiration is not None:
        expires = min(expires, _as_utc(credentials.expiration))
    return [RegistryAuth(r.host, user, password, expires, r.public) for r in registries]


def prepare(groups: dict[Any, list[Registry]]) -> None:
    """Import botocore and load what the ECR clients need, before the credentials exist (see :mod:`ecr_ci.core.sts`).

    Building one throw-away client fills the session's loader caches; the real clients then take milliseconds.
    """
    first = next(iter(groups.values()))
    _client_for(first, Credentials("ASIAPREPARE", "unused", "unused"))


def fetch_all(groups: dict[Any, list[Registry]], credentials: Credentials, end: float) -> list[RegistryAuth]:
    """All groups concurrently, one call each; results in the order of the groups."""
    items = list(groups.values())
    if len(items) == 1:
        return fetch_group(items[0], credentials, end)
    from concurrent.futures import ThreadPoolExecutor

    # Clients are made here, one thread: botocore's session is not safe to create clients from concurrently.
    apis = [_client_for(regs, credentials, end) for regs in items]
    with ThreadPoolExecutor(max_workers=min(8, len(items))) as pool:
        results = list(pool.map(lambda regs, api: fetch_group(regs, credentials, end, api), items, apis))
    return [auth for group in results for auth in group]
