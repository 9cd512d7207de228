"""--verbose / ECR_CI_DEBUG: each step on stderr, never a secret; a bug shows its traceback."""

from __future__ import annotations

import sys

from tests.testbed import run

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ci-push"
HOST = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"


def _github(monkeypatch, issuer):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", issuer.request_url)
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", issuer.request_token)


def test_verbose_logs_each_step_and_no_secret(oidc_issuer, monkeypatch):
    _github(monkeypatch, oidc_issuer)
    proc = run([sys.executable, "-m", "ecr_ci", "login", "--verbose", "--registry", HOST, "--role-arn", ROLE])
    assert proc.returncode == 0, proc.stderr
    for step in (
        "debug: plan:",
        "debug: identity token from github",
        "debug: sts:AssumeRoleWithWebIdentity",
        "debug: GetAuthorizationToken",
        "debug: wrote 1 entry",
    ):
        assert step in proc.stderr, step


def test_ecr_ci_debug_is_the_env_twin(oidc_issuer, monkeypatch):
    _github(monkeypatch, oidc_issuer)
    monkeypatch.setenv("ECR_CI_DEBUG", "true")
    proc = run([sys.executable, "-m", "ecr_ci", "login", "--registry", HOST, "--role-arn", ROLE])
    assert proc.returncode == 0 and "debug: plan:" in proc.stderr


def test_quiet_by_default(oidc_issuer, monkeypatch):
    _github(monkeypatch, oidc_issuer)
    proc = run([sys.executable, "-m", "ecr_ci", "login", "--registry", HOST, "--role-arn", ROLE])
    assert proc.returncode == 0 and "debug:" not in proc.stderr
