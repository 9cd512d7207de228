"""The one renderer: text and Markdown from the same diagnostics, cause codes, never a secret."""

from __future__ import annotations

import time

import pytest

from ecr_ci.core.retry import call
from ecr_ci.diagnostics import render
from ecr_ci.errors import AwsError, ConfigError, Diagnostics, IdentityTokenError, TrustError

CLAIMS = {
    "iss": "https://token.actions.githubusercontent.com",
    "aud": "https://github.com/org",
    "sub": "repo:org/app:ref:refs/heads/main",
}


def trust_error(**over):
    fields = dict(
        sts_code="AccessDenied",
        sts_message="Not authorized to perform sts:AssumeRoleWithWebIdentity",
        role_arn="arn:aws:iam::123456789012:role/push",
        audience="sts.amazonaws.com",
        partition="aws",
        source="github",
        claims=CLAIMS,
    )
    fields.update(over)
    return TrustError(
        "sts:AssumeRoleWithWebIdentity: AccessDenied for arn:aws:iam::123456789012:role/push",
        code="sts.access-denied",
        **fields,
    )


def test_a_trust_error_is_explained_with_claims_keys_and_cause():
    d = render.diagnose(trust_error())
    assert d.code == "sts.audience-mismatch"  # the token's aud is GitHub's default, not sts.amazonaws.com
    assert d.claims["sub"] == CLAIMS["sub"] and "token.actions.githubusercontent.com:sub" in d.condition_keys
    text = render.text(d)
    assert render.CLAIMS_HEADING in text and render.KEYS_HEADING in text and "(cause: sts.audience-mismatch)" in text
    md = render.markdown(d)
    assert "`sts.audience-mismatch`" in md and "| `sub` |" in md


def test_matching_audience_is_access_denied():
    d = render.diagnose(trust_error(claims={**CLAIMS, "aud": "sts.amazonaws.com"}))
    assert d.code == "sts.access-denied"


def test_a_one_line_error_stays_one_line():
    text = render.text(render.diagnose(ConfigError("settings: --duration = 1 is invalid")))
    assert text == "settings: --duration = 1 is invalid"


def test_a_bug_is_internal_and_scrubbed():
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl"
    d = render.diagnose(ValueError(f"boom {jwt}"))
    assert d.code == "internal.bug" and jwt not in render.text(d) and "<redacted>" in d.summary


def test_diagnostics_are_copied_not_changed():
    mine = Diagnostics(summary="x eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl", code="github.fork-pr")
    e = IdentityTokenError("y", diagnostics=mine)
    assert e.code == "github.fork-pr" and "<redacted>" in e.diagnostics().summary
    assert "eyJ" in mine.summary  # the caller's record is untouched


class Throttled(Exception):
    response = {"Error": {"Code": "ThrottlingException"}, "ResponseMetadata": {"HTTPStatusCode": 400}}


class Down(Exception):
    connection = True


@pytest.mark.parametrize(
    ("exc", "give_up", "code"),
    [
        (Throttled, AwsError, "aws.throttled"),
        (Down, AwsError, "aws.unreachable"),
        (Down, IdentityTokenError, "identity.endpoint-failed"),
    ],
)
def test_giving_up_says_why(exc, give_up, code):
    def fn():
        raise exc()

    with pytest.raises(give_up) as e:
        call(fn, end=time.monotonic() + 0.01, what="w", sleep=lambda s: None, give_up=give_up)
    assert e.value.code == code
