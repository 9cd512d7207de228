"""The core follows the environment mapping it is given, never os.environ: endpoints, proxies, the cache key.

Each test runs the real flow in this process against moto with a mapping that differs from os.environ, which is
pointed at a closed port: a call that read os.environ would fail.
"""

from __future__ import annotations

import json
import os

import pytest

from ecr_ci import ci
from ecr_ci.core.flow import login
from ecr_ci.settings import resolve
from tests.testbed.proxy import HttpProxy

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ci-push"
HOST = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com"
CLOSED = "http://127.0.0.1:9"


@pytest.fixture
def mapping(oidc_issuer, moto_server, monkeypatch, tmp_path):
    """os.environ points every AWS endpoint at a closed port; the returned mapping points them at moto."""
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_ECR"):
        monkeypatch.setenv(var, CLOSED)
    for var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    env = {
        "HOME": str(tmp_path),
        "AWS_ENDPOINT_URL": moto_server.url,
        "GITHUB_ACTIONS": "true",
        "ACTIONS_ID_TOKEN_REQUEST_URL": oidc_issuer.request_url,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": oidc_issuer.request_token,
    }
    return env


def _login(env, tmp_path, **flags):
    s = resolve({"registries": [HOST], "role_arn": ROLE, "docker_config": str(tmp_path / "d"), **flags}, env)
    return login(s, env, ci.select(s, env))


def test_endpoints_come_from_the_mapping_not_os_environ(mapping, moto_server, tmp_path):
    assert os.environ["AWS_ENDPOINT_URL_ECR"] == CLOSED
    result = _login(mapping, tmp_path, cache="false")
    assert [a.host for a in result.obtained.auths] == [HOST]
    assert moto_server.count("sts", "AssumeRoleWithWebIdentity") == 1
    assert moto_server.count("ecr", "GetAuthorizationToken") == 1
    assert HOST in json.loads((tmp_path / "d" / "config.json").read_text())["auths"]


def test_proxies_come_from_the_mapping(mapping, moto_server, oidc_issuer, tmp_path, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "*")  # os.environ would bypass every proxy; the mapping says otherwise
    with HttpProxy() as proxy:
        _login({**mapping, "HTTP_PROXY": proxy.url}, tmp_path, cache="false")
        moto_host = moto_server.url.removeprefix("http://")
        assert ("GET", oidc_issuer.url.removeprefix("http://")) in proxy.seen
        assert [m for m, h in proxy.seen if h == moto_host] == ["POST", "POST"]  # STS, then ECR
        proxy.reset()
        _login({**mapping, "HTTP_PROXY": proxy.url, "NO_PROXY": "127.0.0.1"}, tmp_path, cache="false")
        assert proxy.seen == []


def test_the_cache_key_follows_the_mapping_endpoints(mapping, moto_server, tmp_path):
    cache_dir = str(tmp_path / "cache")
    _login(mapping, tmp_path, cache_dir=cache_dir)
    other = {**mapping, "AWS_ENDPOINT_URL_ECR": moto_server.url + "/"}  # another endpoint: another entry
    _login(other, tmp_path, cache_dir=cache_dir)
    assert len([n for n in os.listdir(cache_dir) if n.endswith(".json")]) <= 2
    assert moto_server.count("ecr", "GetAuthorizationToken") == 2
