"""Retries classify: throttling, 5xx, connection errors and IdP hiccups retry under the deadline; the rest fail now."""

import time

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from ecr_ci.core import aws
from ecr_ci.errors import AwsError


def client_error(code, status=400):
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


class Flaky:
    def __init__(self, *failures):
        self.failures = list(failures)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


@pytest.mark.parametrize(
    "error",
    [
        client_error("ThrottlingException"),
        client_error("Throttling"),
        client_error("IDPCommunicationError"),
        client_error("InternalError", 500),
        client_error("Whatever", 503),
        EndpointConnectionError(endpoint_url="x"),
    ],
)
def test_transient_errors_are_retried(error):
    sleeps = []
    fn = Flaky(error, error)
    assert aws.call(fn, end=time.monotonic() + 60, what="w", sleep=sleeps.append) == "ok"
    assert fn.calls == 3 and len(sleeps) == 2
    assert all(0 <= s <= 10 for s in sleeps)


@pytest.mark.parametrize(
    "code", ["AccessDenied", "InvalidIdentityToken", "ExpiredTokenException", "ValidationError", "IDPRejectedClaim"]
)
def test_permanent_errors_fail_at_once(code):
    sleeps = []
    fn = Flaky(client_error(code, 403))
    with pytest.raises(ClientError):
        aws.call(fn, end=time.monotonic() + 60, what="w", sleep=sleeps.append)
    assert fn.calls == 1 and sleeps == []


def test_gives_up_at_the_deadline_without_a_last_sleep():
    now = [100.0]
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    fn = Flaky(*[client_error("ThrottlingException")] * 100)
    with pytest.raises(AwsError, match=r"^w: gave up after \d+ attempts \(ThrottlingException, HTTP 400\)$"):
        aws.call(fn, end=now[0] + 3.0, what="w", sleep=sleep, clock=lambda: now[0])
    # Every pause ended before the deadline, and the failing attempt was not followed by one.
    assert len(sleeps) == fn.calls - 1
    assert now[0] < 103.0


def test_full_jitter_spreads_pauses():
    sleeps = []
    for _ in range(30):
        fn = Flaky(client_error("ThrottlingException"))
        aws.call(fn, end=time.monotonic() + 60, what="w", sleep=sleeps.append)
    assert len(set(sleeps)) > 20 and min(sleeps) < 0.25 < max(sleeps) <= 0.5
