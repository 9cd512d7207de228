"""`ecr-ci login` against a fake STS answering each trust error: the output carries the token's claims (marked for
debugging), the IAM condition keys and the hint for that cause, exits 1, and never carries the token or its
signature. Trust errors are not retried; IDPCommunicationError is, within the deadline."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

from tests.testbed.secrets import run

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ci-push"
HOST = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
GH = "token.actions.githubusercontent.com"


@pytest.fixture
def job(oidc_issuer, fake_aws, moto_server):
    """A GitHub Actions job with `id-token: write`; STS is the fake, ECR is moto (AWS_ENDPOINT_URL, conftest)."""
    return {
        **os.environ,
        "GITHUB_ACTIONS": "true",
        "GITHUB_RUN_ID": "4242",
        "ACTIONS_ID_TOKEN_REQUEST_URL": oidc_issuer.request_url,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": oidc_issuer.request_token,
        "AWS_ENDPOINT_URL_STS": fake_aws.url,
    }


def login(env: dict[str, str], *extra: str):
    return run(
        [sys.executable, "-m", "ecr_ci", "login", "--registry", HOST, "--role-arn", ROLE, *extra], env=env, cwd=ROOT
    )


def assert_explained(proc, token: str, sub: str) -> None:
    """Exit 1; the claims and condition keys are shown; neither the token nor any part of it that is secret."""
    assert proc.returncode == 1, proc.stderr
    err = proc.stderr
    assert "Identity token claims (unverified, for debugging):" in err
    assert f"sub: {sub!r}" in err and f"iss: 'https://{GH}'" in err and "aud: 'sts.amazonaws.com'" in err
    assert "repository: 'octo-org/octo-repo'" in err
    assert f"{GH}:sub = {sub!r}" in err and f"{GH}:aud = 'sts.amazonaws.com'" in err
    header, payload, signature = token.split(".")
    for secret in (token, signature, payload, f"{payload}.{signature}"):
        assert secret not in proc.stdout and secret not in err
    assert proc.stdout == ""  # nothing was asked to be printed


# (id, scripted reply, claims to change, text of the right hint)
CASES = [
    (
        "access-denied-environment",
        "AccessDenied",
        {"sub": "repo:octo-org/octo-repo:environment:prod", "environment": "prod"},
        "Environment: the job uses the GitHub environment 'prod', so sub is 'repo:octo-org/octo-repo:environment:prod'",
    ),
    (
        "access-denied-pull-request",
        "AccessDenied",
        {"sub": "repo:octo-org/octo-repo:pull_request", "event_name": "pull_request", "ref": "refs/pull/7/merge"},
        "Pull request: this job runs for a pull request",
    ),
    (
        "access-denied-custom-sub",
        "AccessDenied",
        {"sub": "repo:octo-org/octo-repo:context:prod:job_workflow_ref:x"},
        "Custom subject: sub is",
    ),
    (
        "invalid-token-no-provider",
        ("InvalidIdentityToken", 400, f"No OpenIDConnect provider found in your account for https://{GH}"),
        {},
        f"Provider: register an IAM OIDC provider whose URL is exactly 'https://{GH}' in account {ACCOUNT}",
    ),
    (
        "invalid-token-verification-key",
        "InvalidIdentityToken",
        {},
        "Reachability: AWS fetches",
    ),
    (
        "expired-token",
        "ExpiredTokenException",
        {},
        "Clock: by this machine's clock the token is still valid until",
    ),
    (
        "idp-rejected-claim",
        "IDPRejectedClaim",
        {},
        "The identity provider reported the claim invalid, expired or revoked",
    ),
]


@pytest.mark.parametrize(("reply", "claims", "hint"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_trust_error_is_explained_with_claims_and_its_hint_and_not_retried(
    reply, claims, hint, job, oidc_issuer, fake_aws, moto_server
):
    oidc_issuer.claims.update(claims)
    fake_aws.sts.default = reply  # every attempt would be refused: a retry would show in the count
    proc = login(job)
    token = oidc_issuer.tokens[-1]
    assert_explained(proc, token, oidc_issuer.claims["sub"])
    code = reply if isinstance(reply, str) else reply[0]
    assert f"sts:AssumeRoleWithWebIdentity: {code.removesuffix('Exception')} for {ROLE}" in proc.stderr
    assert hint in proc.stderr
    assert fake_aws.count("sts", "AssumeRoleWithWebIdentity") == 1
    assert moto_server.count("ecr", "GetAuthorizationToken") == 0
    assert not (Path(job["DOCKER_CONFIG"]) / "config.json").exists()


def test_access_denied_hints_come_before_the_suggested_policy(job, oidc_issuer, fake_aws):
    fake_aws.sts.push("AccessDenied")
    proc = login(job)
    err = proc.stderr
    assert proc.returncode == 1
    claims_at, hints_at = err.index("Identity token claims"), err.index("Likely causes:")
    policy_at = err.index("A trust policy that would accept exactly this token")
    assert claims_at < hints_at < policy_at
    policy = json.loads(err[err.index("{", policy_at) : err.rindex("}") + 1].replace("\n    ", "\n"))
    condition = policy["Statement"][0]["Condition"]["StringEquals"]
    assert condition == {f"{GH}:aud": "sts.amazonaws.com", f"{GH}:sub": "repo:octo-org/octo-repo:ref:refs/heads/main"}
    assert fake_aws.count("sts", "AssumeRoleWithWebIdentity") == 1


def test_persistent_idp_communication_error_is_retried_then_explained(job, oidc_issuer, fake_aws, moto_server):
    fake_aws.sts.default = "IDPCommunicationError"
    proc = login(job, "--deadline", "2")
    token = oidc_issuer.tokens[-1]
    assert_explained(proc, token, oidc_issuer.claims["sub"])
    attempts = fake_aws.count("sts", "AssumeRoleWithWebIdentity")
    assert attempts >= 2
    assert re.search(rf"gave up after {attempts} attempts \(IDPCommunicationError", proc.stderr), proc.stderr
    assert "Transient: AWS could not reach the identity provider in time" in proc.stderr
    assert "githubstatus.com" in proc.stderr
    assert moto_server.count("ecr", "GetAuthorizationToken") == 0


def test_one_idp_communication_error_then_success_logs_in(job, oidc_issuer, fake_aws, moto_server):
    fake_aws.sts.push("IDPCommunicationError")
    proc = login(job, "--json")
    assert proc.returncode == 0, proc.stderr
    assert fake_aws.count("sts", "AssumeRoleWithWebIdentity") == 2
    assert moto_server.count("ecr", "GetAuthorizationToken") == 1  # moto accepts the fake's credentials
    assert [r["host"] for r in json.loads(proc.stdout)["registries"]] == [HOST]
    assert HOST in json.loads((Path(job["DOCKER_CONFIG"]) / "config.json").read_text())["auths"]
    token = oidc_issuer.tokens[-1]
    assert token not in proc.stderr and token.rsplit(".", 1)[1] not in proc.stderr


def test_throttling_is_retried_but_access_denied_after_it_is_not(job, fake_aws):
    fake_aws.sts.push("Throttling", "AccessDenied", "ok")
    proc = login(job)
    assert proc.returncode == 1
    assert "AccessDenied" in proc.stderr
    assert fake_aws.count("sts", "AssumeRoleWithWebIdentity") == 2
