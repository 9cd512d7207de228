"""ECR and ECR Public authorization tokens: one GetAuthorizationToken call per (partition, region, endpoint
variant), all groups concurrently. A token serves every registry of its region the principal can reach, so there is
never one call per registry (``registryIds`` is deprecated and does not change a token's scope).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from ecr_ci.core.aws import _safe_message, client
from ecr_ci.core.retry import call, describe, error_code
from ecr_ci.errors import AwsError
from ecr_ci.models import Credentials, Registry, RegistryAuth


def _split(token_b64: str) -> tuple[str, str]:
    user, _, password = base64.b64decode(token_b64).decode("utf-8").partition(":")
    return user, password


def _as_utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.fromtimestamp(float(value), tz=timezone.utc)


def _client_for(registries: list[Registry], credentials: Credentials, end: float | None, env: Mapping[str, str]) -> Any:
    first = registries[0]
    return client("ecr-public" if first.public else "ecr", first.region, credentials, first.variant, end, env)


def fetch_group(
    registries: list[Registry], credentials: Credentials, end: float, env: Mapping[str, str], api: Any = None
) -> list[RegistryAuth]:
    """One GetAuthorizationToken call for registries sharing (partition, region, variant); no ``registryIds``."""
    first = registries[0]
    service = "ecr-public" if first.public else "ecr"
    where = f"{service}:GetAuthorizationToken in {first.region}"
    api = api or _client_for(registries, credentials, end, env)
    try:
        response = call(api.get_authorization_token, end=end, what=where)
    except AwsError:
        raise
    except Exception as e:
        code, status = error_code(e)
        hint, cause = "", "aws.failed"
        if code in ("AccessDeniedException", "AccessDenied", "403") or status == 403:
            cause = "ecr.access-denied"
            action = (
                "ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken"
                if first.public
                else "ecr:GetAuthorizationToken"
            )
            hint = f'; allow {action} on Resource "*" for {credentials.role_arn or "these credentials"}'
        raise AwsError(f"{where}: failed ({describe(e)}: {_safe_message(e)}{hint})", code=cause) from e
    data = response["authorizationData"]
    item = data if isinstance(data, dict) else data[0]
    user, password = _split(item["authorizationToken"])
    expires = _as_utc(item["expiresAt"])
    if credentials.expiration is not None:
        expires = min(expires, _as_utc(credentials.expiration))
    return [RegistryAuth(r.host, user, password, expires, r.public) for r in registries]


def prepare(groups: dict[Any, list[Registry]], env: Mapping[str, str]) -> None:
    """Import botocore and load what the ECR clients need, before the credentials exist (see :mod:`ecr_ci.core.sts`).

    Building one throw-away client fills the session's loader caches; the real clients then take milliseconds.
    """
    first = next(iter(groups.values()))
    _client_for(first, Credentials("ASIAPREPARE", "unused", "unused"), None, env)


def fetch_all(
    groups: dict[Any, list[Registry]], credentials: Credentials, end: float, env: Mapping[str, str]
) -> list[RegistryAuth]:
    """All groups concurrently, one call each; results in the order of the groups."""
    items = list(groups.values())
    if len(items) == 1:
        return fetch_group(items[0], credentials, end, env)
    from concurrent.futures import ThreadPoolExecutor

    # Clients are made here, one thread: botocore's session is not safe to create clients from concurrently.
    apis = [_client_for(regs, credentials, end, env) for regs in items]
    with ThreadPoolExecutor(max_workers=min(8, len(items))) as pool:
        results = list(pool.map(lambda regs, api: fetch_group(regs, credentials, end, env, api), items, apis))
    return [auth for group in results for auth in group]
