"""The botocore-free STS call must go where botocore would send it."""

import botocore.session
import pytest
from botocore.config import Config

from ecr_ci.core import registries, sts

REGIONS = [r for p in registries.partitions() for r in p["regions"] if not r.startswith("aws-")]


@pytest.fixture
def session(monkeypatch):
    import os

    for var in [v for v in os.environ if v.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(var)  # compare with botocore's own resolution, not the test bed's override
    return botocore.session.get_session()


def test_regional_endpoint_matches_botocore_for_every_known_region(session):
    assert len(REGIONS) > 30
    for region in REGIONS:
        client = session.create_client("sts", region_name=region, config=Config(signature_version=botocore.UNSIGNED))
        assert sts.endpoint(region, {}) == client.meta.endpoint_url + "/", region


def test_endpoint_overrides_follow_the_sdk_variables():
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:2/"}
    assert sts.endpoint("eu-west-1", env) == "http://127.0.0.1:2/"
    assert sts.endpoint("eu-west-1", {"AWS_ENDPOINT_URL": "http://127.0.0.1:1"}) == "http://127.0.0.1:1/"
    assert sts.endpoint("eu-west-1", {**env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}) == (
        "https://sts.eu-west-1.amazonaws.com/"
    )


def test_error_and_garbage_answers_become_classified_errors():
    code, message = sts._error(
        b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
        b"<Code>InvalidIdentityToken</Code><Message>No OpenIDConnect provider found</Message></Error></ErrorResponse>"
    )
    assert (code, message) == ("InvalidIdentityToken", "No OpenIDConnect provider found")
    assert sts._error(b"<html>proxy error</html>") == ("", "")
    with pytest.raises(sts.StsError) as e:
        sts._credentials(b"<AssumeRoleWithWebIdentityResponse/>")
    assert e.value.response["Error"]["Code"] == "MalformedResponse"
