"""Decoding identity tokens, the condition keys their claims become, and the explanations of STS refusals, which
must name the likely cause and never contain the token or its signature."""

from __future__ import annotations

import base64
import json
import os
from datetime import datetime, timezone
from typing import Any

import pytest

from ecr_ci.diagnostics import render
from ecr_ci.diagnostics.claims import (
    condition_keys,
    decode_claims,
    detect_ci,
    provider_name,
    token_summary,
)
from ecr_ci.diagnostics.explain import explain
from ecr_ci.diagnostics.trust import evaluate
from ecr_ci.errors import Diagnostics, IdentityTokenError, scrub

NOW = 1_700_000_000  # 2023-11-14T22:13:20Z
ROLE = "arn:aws:iam::123456789012:role/ecr-push"
GH = "token.actions.githubusercontent.com"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_token(claims: dict[str, Any], *, padded: bool = False) -> str:
    header = b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "k1"}).encode())
    payload = b64(json.dumps(claims).encode())
    if padded:
        payload += "=" * (-len(payload) % 4)
    signature = b64(os.urandom(256))
    return f"{header}.{payload}.{signature}"


def github(sub: str = "repo:octo-org/octo-repo:ref:refs/heads/main", **extra: Any) -> dict[str, Any]:
    claims = {
        "jti": "example-id",
        "iss": f"https://{GH}",
        "aud": "sts.amazonaws.com",
        "sub": sub,
        "repository": "octo-org/octo-repo",
        "repository_owner": "octo-org",
        "repository_id": "74",
        "ref": "refs/heads/main",
        "ref_type": "branch",
        "event_name": "push",
        "actor": "octocat",
        "actor_id": "12",
        "workflow": "ci",
        "job_workflow_ref": "octo-org/octo-repo/.github/workflows/ci.yml@refs/heads/main",
        "runner_environment": "github-hosted",
        "sha": "abc123",
        "iat": NOW - 60,
        "nbf": NOW - 120,
        "exp": NOW + 240,
    }
    claims.update(extra)
    return claims


def gitlab(**extra: Any) -> dict[str, Any]:
    claims = {
        "namespace_id": "72",
        "namespace_path": "my-group",
        "project_id": "20",
        "project_path": "my-group/my-project",
        "user_login": "sample-user",
        "user_email": "sample-user@example.com",
        "pipeline_source": "push",
        "ref": "feature-branch-1",
        "ref_type": "branch",
        "ref_path": "refs/heads/feature-branch-1",
        "ref_protected": "false",
        "runner_environment": "self-hosted",
        "iss": "https://gitlab.example.com",
        "iat": NOW - 60,
        "nbf": NOW - 65,
        "exp": NOW + 3540,
        "sub": "project_path:my-group/my-project:ref_type:branch:ref:feature-branch-1",
        "aud": "sts.amazonaws.com",
    }
    claims.update(extra)
    return claims


def jenkins(**extra: Any) -> dict[str, Any]:
    claims = {
        "iss": "https://jenkins.example.com/oidc",
        "aud": "sts.amazonaws.com",
        "sub": "https://jenkins.example.com/job/app/job/main/",
        "build_number": 17,
        "iat": NOW - 4000,
        "exp": NOW - 400,
    }
    claims.update(extra)
    return claims


# --- decoding ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("extra", ["", "x", "xx", "xxx"])  # every base64 padding length
def test_decode_round_trip(extra: str) -> None:
    claims = github(note=extra)
    assert decode_claims(make_token(claims)) == claims
    assert decode_claims(make_token(claims, padded=True)) == claims
    assert decode_claims("\n " + make_token(claims) + "\n") == claims  # token files end with a newline


def bad(payload: bytes | str) -> str:
    segment = payload if isinstance(payload, str) else b64(payload)
    return f"{b64(b'{}')}.{segment}.{b64(os.urandom(64))}"


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("not-a-jwt", "1 dot-separated part,"),
        ("aaaaaaaa.bbbbbbbb", "2 dot-separated parts"),
        ("a.b.c.d.e", "encrypted JWT"),
        ("aaaa..cccc", "one of its three parts is empty"),
        (bad("!!!!"), "not base64url"),
        (bad("a"), "not valid base64url"),
        (bad(b"\xff\xfe\xfd"), "not UTF-8"),
        (bad(b"hello"), "not JSON"),
        (bad(b"[1, 2]"), "JSON list, expected an object"),
    ],
)
def test_bad_tokens_are_refused_without_quoting_them(token: str, message: str) -> None:
    with pytest.raises(IdentityTokenError, match=message) as info:
        decode_claims(token)
    text = str(info.value)
    assert "\n" not in text and text.startswith("identity token: ")
    for part in token.strip().split("."):
        if len(part) >= 4:
            assert part not in text


def test_non_text_token() -> None:
    with pytest.raises(IdentityTokenError, match="expected text, got bytes"):
        decode_claims(b"a.b.c")  # type: ignore[arg-type]


# --- condition keys ------------------------------------------------------------------------------------------------


def test_provider_name_keeps_the_path() -> None:
    assert provider_name("https://token.actions.githubusercontent.com") == GH
    assert provider_name("https://Jenkins.Example.com/oidc") == "jenkins.example.com/oidc"
    assert provider_name("https://ghe.example.com/_services/token") == "ghe.example.com/_services/token"
    assert provider_name("https://auth.example.com/") == "auth.example.com/"


def test_condition_keys_github() -> None:
    keys = condition_keys(github(environment="prod", enterprise_id="123"))
    assert keys[f"{GH}:aud"] == "sts.amazonaws.com"
    assert keys[f"{GH}:sub"] == "repo:octo-org/octo-repo:ref:refs/heads/main"
    for claim in ("repository", "repository_id", "ref", "environment", "job_workflow_ref", "actor", "actor_id",
                  "workflow", "enterprise_id"):  # fmt: skip
        assert f"{GH}:{claim}" in keys
    for claim in ("event_name", "repository_owner", "sha", "runner_environment", "jti", "iss"):
        assert f"{GH}:{claim}" not in keys
    assert list(keys)[:2] == [f"{GH}:aud", f"{GH}:sub"]


def test_condition_keys_github_enterprise_server_has_only_aud_and_sub() -> None:
    keys = condition_keys(github(iss="https://ghe.example.com/_services/token"))
    assert set(keys) == {"ghe.example.com/_services/token:aud", "ghe.example.com/_services/token:sub"}


def test_condition_keys_gitlab_and_jenkins() -> None:
    assert condition_keys(gitlab()) == {
        "gitlab.example.com:aud": "sts.amazonaws.com",
        "gitlab.example.com:sub": "project_path:my-group/my-project:ref_type:branch:ref:feature-branch-1",
    }
    assert condition_keys(jenkins()) == {
        "jenkins.example.com/oidc:aud": "sts.amazonaws.com",
        "jenkins.example.com/oidc:sub": "https://jenkins.example.com/job/app/job/main/",
    }


def test_condition_keys_cognito_and_google() -> None:
    cognito = {"iss": "https://cognito-identity.amazonaws.com", "aud": "pool", "sub": "id", "amr": ["authenticated"]}
    assert condition_keys(cognito)["cognito-identity.amazonaws.com:amr"] == ["authenticated"]
    google = {"iss": "https://accounts.google.com", "aud": "web-client", "azp": "android-client", "sub": "1"}
    keys = condition_keys(google)
    assert keys["accounts.google.com:aud"] == "android-client"
    assert keys["accounts.google.com:oaud"] == "web-client"
    assert "token.actions.githubusercontent.com:amr" not in condition_keys(github(amr=["x"]))
    assert condition_keys({"sub": "x"}) == {}


def test_detect_ci() -> None:
    assert detect_ci(github()) == "github"
    assert detect_ci(github(iss="https://ghe.example.com/_services/token")) == "github"
    assert detect_ci(gitlab()) == "gitlab"
    assert detect_ci(jenkins()) == "jenkins"
    assert detect_ci({"iss": "https://example.com", "sub": "x"}) is None


# --- summary -------------------------------------------------------------------------------------------------------


def test_token_summary_github() -> None:
    s = token_summary(github(environment="prod"), now=NOW)
    assert list(s)[:3] == ["iss", "aud", "sub"]
    for key in ("repository", "ref", "ref_type", "environment", "job_workflow_ref", "event_name", "repository_owner",
                "actor", "runner_environment"):  # fmt: skip
        assert key in s
    assert s["exp"] == "2023-11-14T22:17:20Z" and s["iat"] == "2023-11-14T22:12:20Z"
    assert s["expired"] is False and "not_yet_valid" not in s
    assert "sha" not in s and "jti" not in s


def test_token_summary_gitlab_leaves_personal_data_out() -> None:
    s = token_summary(gitlab(), now=datetime.fromtimestamp(NOW, tz=timezone.utc))
    for key in ("project_path", "namespace_path", "ref", "ref_type", "ref_protected", "pipeline_source"):
        assert key in s
    assert "user_email" not in s and "user_login" not in s


def test_token_summary_jenkins_expiry_and_not_before() -> None:
    s = token_summary(jenkins(), now=NOW)
    assert s["build_number"] == 17 and s["expired"] is True
    assert token_summary(github(nbf=NOW + 60), now=NOW)["not_yet_valid"] is True


# --- explain -------------------------------------------------------------------------------------------------------


def first_hint(d: Diagnostics) -> str:
    assert d.hints, render.text(d)
    return d.hints[0]


def test_access_denied_pull_request() -> None:
    d = explain(
        "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        github("repo:octo-org/octo-repo:pull_request", event_name="pull_request"),
        audience_expected="sts.amazonaws.com", role_arn=ROLE, partition="aws", ci="github", now=NOW,
    )  # fmt: skip
    assert d.summary.startswith("sts:AssumeRoleWithWebIdentity: role " + ROLE)
    assert "(AccessDenied; sub 'repo:octo-org/octo-repo:pull_request', aud 'sts.amazonaws.com')" in d.summary
    assert first_hint(d).startswith("Pull request:")
    assert d.claims["sub"] == "repo:octo-org/octo-repo:pull_request"
    assert d.condition_keys[f"{GH}:sub"] == "repo:octo-org/octo-repo:pull_request"
    assert any("StringLike" in h for h in d.hints)  # the wildcard mistake is always mentioned
    assert "Identity token claims (unverified, for debugging):" in render.text(d)


def test_access_denied_environment() -> None:
    d = explain("AccessDenied", "", github("repo:octo-org/octo-repo:environment:prod", environment="prod"), now=NOW)
    assert first_hint(d).startswith("Environment:")
    assert "repo:octo-org/octo-repo:environment:prod" in first_hint(d)


def test_access_denied_audience_mismatch_ranks_first() -> None:
    d = explain(
        "AccessDenied", "", github("repo:octo-org/octo-repo:pull_request", aud="https://github.com/octo-org"),
        audience_expected="sts.amazonaws.com", now=NOW,
    )  # fmt: skip
    assert first_hint(d).startswith("Audience:")
    assert "GitHub's default audience" in first_hint(d)


def test_access_denied_china_audience() -> None:
    role = "arn:aws-cn:iam::123456789012:role/ecr-push"
    d = explain("AccessDenied", "", github(), role_arn=role, partition="aws-cn", now=NOW)
    assert "sts.amazonaws.com.cn" in first_hint(d)
    policy = json.loads("\n".join(d.details[1:]))
    assert policy["Statement"][0]["Principal"]["Federated"].startswith("arn:aws-cn:iam::123456789012:")


def test_access_denied_role_in_wrong_partition() -> None:
    d = explain("AccessDenied", "", github(), role_arn=ROLE, partition="aws-us-gov", now=NOW)
    assert any(h.startswith("Partition:") and "'aws'" in h and "'aws-us-gov'" in h for h in d.hints[:2])


def test_access_denied_malformed_role_arn() -> None:
    d = explain("AccessDenied", "", github(), role_arn="arn:aws:iam::12345:role/x", now=NOW)
    assert first_hint(d).startswith("Role ARN:")


@pytest.mark.parametrize(
    ("claims", "start"),
    [
        (github("repository_owner:octo-org:repository_visibility:private"), "Custom subject:"),
        (github("repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main"), "Immutable subject:"),
        (github(event_name="pull_request_target"), "pull_request_target:"),
        (github("repo:octo-org/octo-repo:ref:refs/heads/dependabot/npm/x", actor="dependabot[bot]"), "Dependabot:"),
        (github(job_workflow_ref="octo-org/automation/.github/workflows/deploy.yml@refs/heads/main"), "Reusable"),
        (gitlab(), "GitLab: this job's sub is 'project_path:my-group/my-project:ref_type:branch:ref:feature-branch-1'"),
        (gitlab(sub="project_path:my-group/my-project:environment:prod"), "Custom subject:"),
        (jenkins(), "Jenkins: sub is the job URL"),
    ],
)
def test_access_denied_cause_specific_hints(claims: dict[str, Any], start: str) -> None:
    d = explain("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity", claims, now=NOW)
    assert first_hint(d).startswith(start), d.hints


def test_access_denied_with_trust_policy_names_first_failing_condition() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": f"arn:aws:iam::123456789012:oidc-provider/{GH}"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{GH}:aud": "sts.amazonaws.com", f"{GH}:sub": "repo:octo-org/octo-repo:ref:refs/heads/main",
            }},
        }],
    }  # fmt: skip
    claims = github("repo:octo-org/octo-repo:environment:prod", environment="prod")
    d = explain("AccessDenied", "", claims, role_arn=ROLE, trust_policy=policy, now=NOW)
    hint = first_hint(d)
    assert hint.startswith("Trust policy: statement #0: condition StringEquals")
    assert f"{GH}:sub" in hint and "'repo:octo-org/octo-repo:environment:prod'" in hint
    assert d.hints[1].startswith("Environment:")
    assert "Trust policy evaluated against these claims:" in d.details


def test_suggested_policy_accepts_the_token() -> None:
    claims = github("repo:octo-org/octo-repo:environment:prod", environment="prod")
    d = explain("AccessDenied", "", claims, role_arn=ROLE, now=NOW)
    start = next(i for i, line in enumerate(d.details) if "would accept exactly this token" in line)
    policy = json.loads("\n".join(d.details[start + 1 :]))
    assert evaluate(policy, claims, role_arn=ROLE).allowed
    assert policy["Statement"][0]["Principal"]["Federated"] == f"arn:aws:iam::123456789012:oidc-provider/{GH}"


@pytest.mark.parametrize(
    ("message", "start", "needle"),
    [
        (
            "No OpenIDConnect provider found in your account for https://gitlab.example.com",
            "Provider:",
            "'https://gitlab.example.com' in account 123456789012",
        ),
        ("Incorrect token audience", "Audience:", "add-client-id-to-open-id-connect-provider"),
        (
            "Couldn't retrieve verification key from your identity provider, please reference "
            "AssumeRoleWithWebIdentity documentation for requirements",
            "Reachability:",
            "ci_id_tokens_issuer_url",
        ),
        ("The web identity token that was passed could not be validated by AWS", "Provider:", "create-open-id"),
    ],
)
def test_invalid_identity_token(message: str, start: str, needle: str) -> None:
    d = explain("InvalidIdentityToken", message, gitlab(), role_arn=ROLE, ci="gitlab", now=NOW)
    assert d.summary.startswith("sts:AssumeRoleWithWebIdentity: AWS rejected the identity token itself (Invalid")
    assert first_hint(d).startswith(start) and needle in first_hint(d), d.hints


def test_expired_token_jenkins() -> None:
    d = explain("ExpiredTokenException", "Token expired: current date/time …", jenkins(), ci="jenkins", now=NOW)
    assert "exp 2023-11-14T22:06:40Z, 6 min ago" in d.summary
    assert first_hint(d).startswith("Jenkins:") and "withCredentials" in first_hint(d)
    assert any("valid for 1 h from" in h for h in d.hints)
    assert d.claims["expired"] is True


def test_expired_token_but_local_clock_disagrees() -> None:
    d = explain("ExpiredToken", "", github(), now=NOW)
    assert first_hint(d).startswith("Clock:")


def test_idp_rejected_claim() -> None:
    d = explain("IDPRejectedClaim", "claim rejected", gitlab(exp=NOW - 10), now=NOW)
    assert any("revoked" in h for h in d.hints)
    assert d.summary.startswith("sts:AssumeRoleWithWebIdentity: the identity provider's claims were rejected")


def test_idp_communication_error() -> None:
    d = explain("IDPCommunicationError", "could not reach", gitlab(), ci="gitlab", now=NOW)
    assert first_hint(d).startswith("Self-managed issuer: https://gitlab.example.com")
    assert "AWS could not reach the identity provider https://gitlab.example.com" in d.summary
    d = explain("IDPCommunicationError", "", github(), ci="github", now=NOW)
    assert any("githubstatus" in h for h in d.hints)


def test_explain_without_claims_and_unknown_codes() -> None:
    d = explain("AccessDenied", "Not authorized", None, role_arn=ROLE)
    assert d.claims == {} and d.condition_keys == {} and d.hints
    assert "no claims could be read" in d.summary
    d = explain("SomethingNew", "odd", github(), now=NOW)
    assert d.summary.startswith("sts:AssumeRoleWithWebIdentity: the token exchange failed (SomethingNew: odd)")


@pytest.mark.parametrize(
    "code",
    ["AccessDenied", "InvalidIdentityToken", "ExpiredTokenException", "IDPRejectedClaim", "IDPCommunicationError"],
)
@pytest.mark.parametrize("claims", [github(), gitlab(), jenkins()], ids=["github", "gitlab", "jenkins"])
def test_explain_never_contains_the_token_or_its_signature(code: str, claims: dict[str, Any]) -> None:
    token = make_token(claims)
    header, payload, signature = token.split(".")
    # Even if AWS (or a caller) put the token into the message, it must not come out.
    d = explain(code, f"bad token {token}", decode_claims(token), role_arn=ROLE, trust_policy=None, now=NOW)
    everything = "\n".join([render.text(d), d.summary, repr(d.claims), repr(d.condition_keys), *d.hints, *d.details])
    for secret in (token, signature, payload, header, signature[:40]):
        assert secret not in everything
    if code not in ("AccessDenied", "ExpiredTokenException"):  # those summaries carry claims, not the message
        assert "<redacted>" in d.summary


def test_scrub() -> None:
    token = make_token(github())
    assert scrub(f"x {token} y") == "x <redacted> y"
    assert scrub("sts.amazonaws.com and v1.2.3") == "sts.amazonaws.com and v1.2.3"


def test_identity_source_hints() -> None:
    from ecr_ci.ci import github, gitlab

    assert "id-token: write" in github.PERMISSION_HINT
    assert "ACTIONS_ID_TOKEN_REQUEST_URL" in github.PERMISSION_HINT
    assert "id_tokens: AWS_ID_TOKEN: aud: sts.amazonaws.com" in gitlab.hint("AWS_ID_TOKEN", "sts.amazonaws.com")
