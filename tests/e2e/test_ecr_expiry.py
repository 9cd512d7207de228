"""The test bed's ECR expiry proxy, and the demo that uses it: tokens with a real expiry, as real ECR gives them.

Through moto alone every ECR token expired in 2015, so a login warns "these tokens expired" and the token cache
never hits. Through :class:`~tests.testbed.EcrExpiryProxy` the same login shows a future expiry (the role session's
end, or ECR's 12 hours, whichever is first), no warning, and a second login is served by the cache.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone

import pytest

from tests.e2e.hostile import HOST, ROLE, cli, github_env
from tests.testbed import EcrExpiryProxy
from tests.testbed.secrets import run


@pytest.fixture
def ecr_proxy(moto_server):
    with EcrExpiryProxy(moto_server.url) as proxy:
        yield proxy


def _login(env, *extra):
    outcome = cli("login", "--registry", HOST, "--role-arn", ROLE, "--json", *extra, env=env, process=True)
    assert outcome.code == 0, outcome.err
    return json.loads(outcome.out), outcome.err


def _when(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def test_through_the_proxy_a_login_shows_a_real_expiry_and_no_warning(ecr_proxy, oidc_issuer, moto_server):
    env = github_env(oidc_issuer, {"AWS_ENDPOINT_URL_ECR": ecr_proxy.url})
    report, err = _login(env, "--duration", "43200", "--no-cache")
    now = datetime.now(timezone.utc)
    expires = _when(report["expires_at"])
    # A clock reading, not a performance threshold: ECR's 12 hours, give or take the minute the login took.
    assert now + timedelta(hours=11, minutes=55) < expires <= now + timedelta(hours=12, minutes=1), expires
    assert "expired" not in err and report["warnings"] == []
    assert ecr_proxy.rewritten == 1 and moto_server.count("ecr", "GetAuthorizationToken") == 1


def test_the_role_session_still_bounds_the_token(ecr_proxy, oidc_issuer):
    env = github_env(oidc_issuer, {"AWS_ENDPOINT_URL_ECR": ecr_proxy.url})
    report, _ = _login(env, "--duration", "900", "--no-cache")
    expires = _when(report["expires_at"])
    assert expires <= datetime.now(timezone.utc) + timedelta(seconds=901)
    assert _when(report["expires_at"]) < datetime.fromtimestamp(ecr_proxy.expires_at, timezone.utc)


def test_without_the_proxy_moto_tokens_are_expired(oidc_issuer, moto_server):
    """What the proxy is for: the same login straight to moto warns (so the test above can fail)."""
    report, err = _login(github_env(oidc_issuer), "--no-cache")
    assert _when(report["expires_at"]).year == 2015
    assert "expired" in err


def test_a_real_expiry_lets_the_token_cache_serve_the_second_login(ecr_proxy, oidc_issuer, moto_server):
    env = github_env(oidc_issuer, {"AWS_ENDPOINT_URL_ECR": ecr_proxy.url})
    first, _ = _login(env)
    second, _ = _login(env)
    assert moto_server.count("ecr", "GetAuthorizationToken") == 1  # the second came from the cache
    assert first["expires_at"] == second["expires_at"]


@pytest.mark.requires("docker-registry", "skopeo")
def test_the_demo_shows_a_real_expiry_and_no_expired_warning():
    done = run([sys.executable, "-m", "demo"], timeout=300)  # a hang guard
    assert done.returncode == 0, done.stdout + done.stderr
    assert "expired" not in done.stdout + done.stderr
    assert "2015-01-01" not in done.stdout
    valid = [line for line in done.stdout.splitlines() if "valid until" in line]
    assert valid, done.stdout
    year = datetime.now(timezone.utc).year
    assert all(str(year) in line or str(year + 1) in line for line in valid), valid
