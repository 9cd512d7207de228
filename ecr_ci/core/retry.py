"""One retry policy for every remote call: classify, then retry with full jitter under one deadline.

Throttling, 5xx, connection errors and ``IDPCommunicationError`` are retried; everything else (AccessDenied,
InvalidIdentityToken, validation errors) fails at once, and no attempt sleeps after the last one.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from ecr_ci.errors import AwsError, EcrCiError

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


THROTTLING_CODES = {c for c in RETRY_CODES if "hrottl" in c or "Limit" in c or "TooMany" in c or c == "SlowDown"}


def error_code(e: BaseException) -> tuple[str, int]:
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
        code, status = error_code(e)
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
                if give_up is not AwsError:
                    code = "identity.endpoint-failed"  # the OIDC token endpoint
                else:
                    code = "aws.throttled" if error_code(e)[0] in THROTTLING_CODES else "aws.unreachable"
                raise give_up(f"{what}: gave up after {attempt} attempts ({describe(e)})", code=code) from e
            sleep(pause)


def describe(e: BaseException) -> str:
    code, status = error_code(e)
    if code:
        return f"{code}, HTTP {status}" if status else code
    return str(e) if getattr(e, "connection", False) else e.__class__.__name__
