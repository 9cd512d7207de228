"""`ecr-ci doctor` and `ecr-ci trust-policy` as a user runs them (subprocesses): every policy the generator prints
is accepted by the doctor for the identity it was made for and refused, naming the failing condition and the
claim value seen, for its neighbours; the doctor says which identity source is active and why, and never prints
the token or its signature."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.testbed.oidc import OidcIssuer
from tests.testbed.secrets import run

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "012345678901"  # a leading zero on purpose
GH = "token.actions.githubusercontent.com"
JENKINS = "https://jenkins.example.com"
REGISTRY = {
    "aws": f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com",
    "aws-cn": f"{ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn",
    "aws-us-gov": f"{ACCOUNT}.dkr.ecr.us-gov-west-1.amazonaws.com",
}


@pytest.fixture(scope="module")
def issuer() -> OidcIssuer:
    """Mints RS256 tokens (registered in the secret ledger); not started: no endpoint is needed here."""
    return OidcIssuer()


def env_with(**extra: str) -> dict[str, str]:
    """This process's environment (conftest's ``clean_env`` has removed every CI and AWS variable) plus ``extra``."""
    return {**os.environ, **extra}


def ecr_ci(*args: str, env: dict[str, str] | None = None, stdin: str | None = None):
    return run([sys.executable, "-m", "ecr_ci", *args], env=env or env_with(), input=stdin, cwd=ROOT)


def mint(issuer: OidcIssuer, claims: dict[str, Any]) -> str:
    return issuer.mint(base=claims)


def assert_no_token(proc, token: str) -> None:
    for stream in (proc.stdout, proc.stderr):
        assert token not in stream
        assert token.rsplit(".", 1)[1] not in stream
        assert token.split(".")[1] not in stream  # not even the payload: claims are shown decoded only


def doctor(token_file: Path, partition: str, *extra: str, env: dict[str, str] | None = None, stdin: str | None = None):
    return ecr_ci(
        "doctor", "--oidc", "file", "--token-file", str(token_file), "--role-arn",
        f"arn:{partition}:iam::{ACCOUNT}:role/ci-push", "--registry", REGISTRY[partition], *extra,
        env=env, stdin=stdin,
    )  # fmt: skip


# --- claims of each CI -----------------------------------------------------------------------------------------------


def aud_for(partition: str) -> str:
    return "sts.amazonaws.com.cn" if partition == "aws-cn" else "sts.amazonaws.com"


def github(repo: str, tail: str, partition: str) -> dict[str, Any]:
    ref = tail.removeprefix("ref:") if tail.startswith("ref:") else "refs/heads/main"
    claims = {
        "iss": f"https://{GH}",
        "aud": aud_for(partition),
        "sub": f"repo:{repo}:{tail}",
        "repository": repo,
        "repository_owner": repo.split("/")[0],
        "ref": ref,
        "ref_type": "tag" if ref.startswith("refs/tags/") else "branch",
        "event_name": "pull_request" if tail == "pull_request" else "push",
        "job_workflow_ref": f"{repo}/.github/workflows/ci.yml@{ref}",
    }
    if tail.startswith("environment:"):
        claims["environment"] = tail.split(":", 1)[1]
    return claims


def gitlab(project: str, ref_type: str, ref: str, partition: str, host: str = "gitlab.com") -> dict[str, Any]:
    return {
        "iss": f"https://{host}",
        "aud": aud_for(partition),
        "sub": f"project_path:{project}:ref_type:{ref_type}:ref:{ref}",
        "project_path": project,
        "namespace_path": project.rsplit("/", 1)[0],
        "ref": ref,
        "ref_type": ref_type,
        "ref_protected": "true",
        "pipeline_source": "push",
    }


def jenkins(job: str, partition: str) -> dict[str, Any]:
    return {"iss": f"{JENKINS}/oidc", "aud": aud_for(partition), "sub": job, "build_number": 7}


# (id, trust-policy flags, claims it must accept, neighbours it must refuse, each with the key expected to fail)
Case = tuple[str, list[str], Any, list[tuple[Any, str]]]
VARIANTS: list[Case] = [
    (
        "github-branch",
        ["--ci", "github", "--repo", "octo-org/octo-repo", "--branch", "main"],
        lambda p: github("octo-org/octo-repo", "ref:refs/heads/main", p),
        [
            (lambda p: github("octo-org/octo-repo2", "ref:refs/heads/main", p), f"{GH}:sub"),
            (lambda p: github("octo-org/octo-repo", "ref:refs/heads/mainline", p), f"{GH}:sub"),
        ],
    ),
    (
        "github-tag",
        ["--ci", "github", "--repo", "octo-org/octo-repo", "--tag", "v1.*"],
        lambda p: github("octo-org/octo-repo", "ref:refs/tags/v1.2.3", p),
        [
            (lambda p: github("octo-org/octo-repo", "ref:refs/tags/v2.0.0", p), f"{GH}:sub"),
            (lambda p: github("octo-org/octo-repo", "ref:refs/heads/v1.2.3", p), f"{GH}:sub"),
        ],
    ),
    (
        "github-environment",
        ["--ci", "github", "--repo", "octo-org/octo-repo", "--environment", "prod"],
        lambda p: github("octo-org/octo-repo", "environment:prod", p),
        [
            (lambda p: github("octo-org/octo-repo", "environment:staging", p), f"{GH}:sub"),
            (lambda p: github("octo-org/octo-repo", "ref:refs/heads/main", p), f"{GH}:sub"),
        ],
    ),
    (
        "github-pull-request",
        ["--ci", "github", "--repo", "octo-org/octo-repo", "--pull-request"],
        lambda p: github("octo-org/octo-repo", "pull_request", p),
        [(lambda p: github("octo-org/other", "pull_request", p), f"{GH}:sub")],
    ),
    (
        "github-any-ref",
        ["--ci", "github", "--repo", "octo-org/octo-repo", "--any-ref"],
        lambda p: github("octo-org/octo-repo", "ref:refs/heads/feature/x", p),
        [(lambda p: github("octo-org/octo-repo-fork", "ref:refs/heads/main", p), f"{GH}:sub")],
    ),
    (
        "gitlab-branch",
        ["--ci", "gitlab", "--project", "my-group/my-project", "--ref", "main"],
        lambda p: gitlab("my-group/my-project", "branch", "main", p),
        [
            (lambda p: gitlab("my-group/my-project2", "branch", "main", p), "gitlab.com:sub"),
            (lambda p: gitlab("my-group/my-project", "branch", "dev", p), "gitlab.com:sub"),
        ],
    ),
    (
        "gitlab-self-managed-tag",
        [
            "--ci",
            "gitlab",
            "--host",
            "gitlab.example.com",
            "--project",
            "g/sub/app",
            "--ref-type",
            "tag",
            "--ref",
            "v*",
        ],
        lambda p: gitlab("g/sub/app", "tag", "v1.0", p, host="gitlab.example.com"),
        [
            (lambda p: gitlab("g/sub/app", "branch", "v1.0", p, host="gitlab.example.com"), "gitlab.example.com:sub"),
            (lambda p: gitlab("g/sub/app2", "tag", "v1.0", p, host="gitlab.example.com"), "gitlab.example.com:sub"),
        ],
    ),
    (
        "jenkins-job",
        ["--ci", "jenkins", "--issuer", f"{JENKINS}/oidc", "--job", f"{JENKINS}/job/app/"],
        lambda p: jenkins(f"{JENKINS}/job/app/", p),
        [
            (lambda p: jenkins(f"{JENKINS}/job/app2/", p), "jenkins.example.com/oidc:sub"),
            (lambda p: jenkins(f"{JENKINS}/job/app/job/main/", p), "jenkins.example.com/oidc:sub"),
        ],
    ),
]
ALL_VARIANTS_IN = "aws"
PER_CI = ("github-branch", "gitlab-branch", "jenkins-job")  # in every partition
GRID = [(v, "aws") for v in VARIANTS] + [(v, p) for p in ("aws-cn", "aws-us-gov") for v in VARIANTS if v[0] in PER_CI]


@pytest.mark.parametrize(("variant", "partition"), GRID, ids=[f"{v[0]}-{p}" for v, p in GRID])
def test_every_generated_policy_admits_its_identity_and_refuses_the_neighbours(variant, partition, issuer, tmp_path):
    _, flags, claims, neighbours = variant
    made = ecr_ci("trust-policy", *flags, "--account", ACCOUNT, "--partition", partition, "--format", "json")
    assert made.returncode == 0, made.stderr
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(made.stdout)
    assert json.loads(made.stdout)["Statement"][0]["Principal"]["Federated"].startswith(
        f"arn:{partition}:iam::{ACCOUNT}:"
    )
    assert "register the IAM OIDC provider https://" in made.stderr

    token_file = tmp_path / "token"
    token = mint(issuer, claims(partition))
    token_file.write_text(token)
    ok = doctor(token_file, partition, "--trust-policy", str(policy_file))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "allows this token" in ok.stdout
    assert_no_token(ok, token)

    for neighbour, key in neighbours:
        other = neighbour(partition)
        token = mint(issuer, other)
        token_file.write_text(token)
        refused = doctor(token_file, partition, "--trust-policy", str(policy_file))
        assert refused.returncode == 1, refused.stdout + refused.stderr
        line = next(x for x in refused.stdout.splitlines() if x.startswith("trust policy"))
        assert "FAIL" in line and "condition String" in line and key in line, line
        assert repr(other["sub"]) in line  # the claim value the condition saw
        assert_no_token(refused, token)


def test_china_policy_refuses_a_token_with_the_global_audience(issuer, tmp_path):
    made = ecr_ci("trust-policy", "--ci", "github", "--repo", "octo-org/octo-repo", "--branch", "main",
                  "--account", ACCOUNT, "--partition", "aws-cn", "--format", "json")  # fmt: skip
    claims = github("octo-org/octo-repo", "ref:refs/heads/main", "aws")  # aud sts.amazonaws.com
    (tmp_path / "token").write_text(mint(issuer, claims))
    proc = doctor(tmp_path / "token", "aws-cn", "--trust-policy", "-", stdin=made.stdout)
    assert proc.returncode == 1
    line = next(x for x in proc.stdout.splitlines() if x.startswith("trust policy"))
    assert f"{GH}:aud" in line and "'sts.amazonaws.com.cn'" in line and "'sts.amazonaws.com'" in line
    assert "is not 'sts.amazonaws.com.cn', the audience login expects" in proc.stdout


def test_a_policy_for_another_partition_or_account_fails_at_the_principal(issuer, tmp_path):
    made = ecr_ci("trust-policy", "--ci", "gitlab", "--project", "g/app", "--ref", "main", "--account", ACCOUNT,
                  "--format", "json")  # fmt: skip
    (tmp_path / "policy.json").write_text(made.stdout)
    (tmp_path / "token").write_text(mint(issuer, gitlab("g/app", "branch", "main", "aws-us-gov")))
    proc = doctor(tmp_path / "token", "aws-us-gov", "--trust-policy", str(tmp_path / "policy.json"))
    assert proc.returncode == 1
    assert "partition 'aws'" in proc.stdout and "'aws-us-gov'" in proc.stdout


def test_json_report_has_the_checks_and_claims_but_never_the_token(issuer, tmp_path):
    made = ecr_ci("trust-policy", "--ci", "github", "--repo", "octo-org/octo-repo", "--branch", "main",
                  "--account", ACCOUNT, "--format", "json")  # fmt: skip
    (tmp_path / "policy.json").write_text(made.stdout)
    token = mint(issuer, github("octo-org/octo-repo", "ref:refs/heads/dev", "aws"))
    (tmp_path / "token").write_text(token)
    proc = doctor(tmp_path / "token", "aws", "--trust-policy", str(tmp_path / "policy.json"), "--json")
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["ok"] is False
    status = {c["name"]: c["status"] for c in report["checks"]}
    assert status == {"identity": "ok", "claims": "ok", "role": "ok", "registries": "ok", "region": "ok",
                      "files": "ok", "trust policy": "fail"}  # fmt: skip
    policy_check = next(c for c in report["checks"] if c["name"] == "trust policy")
    assert f"{GH}:sub" in policy_check["summary"] and "refs/heads/dev" in policy_check["summary"]
    assert report["claims"]["sub"] == "repo:octo-org/octo-repo:ref:refs/heads/dev"
    assert report["condition_keys"][f"{GH}:sub"] == "repo:octo-org/octo-repo:ref:refs/heads/dev"
    assert_no_token(proc, token)


def test_auto_names_the_variables_it_saw_and_never_their_values(issuer):
    token = mint(issuer, gitlab("g/app", "branch", "main", "aws"))
    env = env_with(GITLAB_CI="true", CI_JOB_ID="77", AWS_ID_TOKEN=token)
    proc = ecr_ci("doctor", "--registry", REGISTRY["aws"], "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/ci",
                  "--offline", env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stdout
    identity = proc.stdout.split("\nclaims")[0]
    assert identity.startswith("identity      ok    gitlab: token from variable AWS_ID_TOKEN")
    assert "oidc auto tries github, gitlab, jenkins, file, env" in identity
    assert "seen: GITLAB_CI, AWS_ID_TOKEN" in identity
    assert "project_path: 'g/app'" in proc.stdout
    assert "gitlab.com:sub = 'project_path:g/app:ref_type:branch:ref:main'" in proc.stdout
    assert "Not checked:" in proc.stdout and "the trust policy" in proc.stdout
    assert_no_token(proc, token)


def test_missing_github_permission_is_named_with_its_fix():
    env = env_with(GITHUB_ACTIONS="true")
    proc = ecr_ci("doctor", "--registry", REGISTRY["aws"], "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/ci", env=env)
    assert proc.returncode == 1
    assert "identity      FAIL  github: cannot request an OIDC token" in proc.stdout
    assert "seen: GITHUB_ACTIONS" in proc.stdout
    assert "permissions: id-token: write" in proc.stdout
    assert "Result: 1 problem found: identity" in proc.stdout


def test_expired_token_and_missing_role_are_problems_even_without_a_policy(issuer, tmp_path):
    token = mint(issuer, github("octo-org/octo-repo", "ref:refs/heads/main", "aws") | {"iat": 1, "exp": 2})
    (tmp_path / "token").write_text(token)
    proc = ecr_ci("doctor", "--token-file", str(tmp_path / "token"), "--registry", REGISTRY["aws"], "--offline")
    assert proc.returncode == 1
    assert "the token expired at 1970-01-01T00:00:02Z" in proc.stdout
    assert "role          FAIL  role_arn: not set, but an identity token was found" in proc.stdout
    assert "seen: token_file (from --token-file)" in proc.stdout
    assert_no_token(proc, token)


def test_without_a_policy_doctor_passes_and_says_what_it_did_not_check(issuer, tmp_path):
    token = mint(issuer, jenkins(f"{JENKINS}/job/app/", "aws"))
    (tmp_path / "token").write_text(token)
    proc = doctor(tmp_path / "token", "aws", "--offline")
    assert proc.returncode == 0, proc.stdout
    assert "trust policy  skip" in proc.stdout
    assert "Not checked:" in proc.stdout and "give --trust-policy FILE" in proc.stdout
    assert "no problem found in what could be checked" in proc.stdout


def test_registry_and_role_in_different_partitions_fail_the_role_check(issuer, tmp_path):
    (tmp_path / "token").write_text(mint(issuer, jenkins(f"{JENKINS}/job/app/", "aws")))
    proc = ecr_ci("doctor", "--oidc", "file", "--token-file", str(tmp_path / "token"), "--registry", REGISTRY["aws-cn"],
                  "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/ci", "--offline")  # fmt: skip
    assert proc.returncode == 1
    assert "role          FAIL  --role-arn:" in proc.stdout and "aws-cn" in proc.stdout
    assert "registries    ok" in proc.stdout  # still planned, without the role


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "not valid JSON"), ('{"Version": "2012-10-17"}', "no Statement element"), (None, "cannot be read")],
)
def test_an_unusable_policy_file_is_bad_input(content, message, issuer, tmp_path):
    (tmp_path / "token").write_text(mint(issuer, jenkins(f"{JENKINS}/job/app/", "aws")))
    if content is not None:
        (tmp_path / "policy.json").write_text(content)
    proc = doctor(tmp_path / "token", "aws", "--trust-policy", str(tmp_path / "policy.json"))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_trust_policy_text_names_the_provider_and_audience_to_register():
    proc = ecr_ci("trust-policy", "--ci", "gitlab", "--host", "gitlab.example.com", "--project", "g/app", "--ref",
                  "main", "--account", ACCOUNT, "--partition", "aws-us-gov")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Provider URL: https://gitlab.example.com" in proc.stdout
    assert "Audience:     sts.amazonaws.com" in proc.stdout
    assert f"arn:aws-us-gov:iam::{ACCOUNT}:oidc-provider/gitlab.example.com" in proc.stdout
    policy = json.loads(proc.stdout[proc.stdout.index("{") : proc.stdout.rindex("}") + 1])
    assert policy["Statement"][0]["Condition"]["StringEquals"]["gitlab.example.com:sub"] == (
        "project_path:g/app:ref_type:branch:ref:main"
    )


def test_repeated_branches_give_one_statement_with_every_subject():
    proc = ecr_ci("trust-policy", "--ci", "github", "--repo", "o/r", "--branch", "main", "--branch", "release/*",
                  "--account", ACCOUNT, "--format", "json")  # fmt: skip
    condition = json.loads(proc.stdout)["Statement"][0]["Condition"]
    assert condition["StringEquals"][f"{GH}:sub"] == "repo:o/r:ref:refs/heads/main"
    assert condition["StringLike"][f"{GH}:sub"] == "repo:o/r:ref:refs/heads/release/*"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--repo", "o/r", "--branch", "main", "--account", ACCOUNT], "--ci is required"),
        (["--ci", "bitbucket", "--account", ACCOUNT], "ci 'bitbucket' must be one of github, gitlab, jenkins"),
        (["--ci", "github", "--repo", "o/r", "--branch", "main", "--account", "12345"], "not a 12-digit"),
        (["--ci", "github", "--repo", "o/r", "--branch", "main"], "account is required"),
        (
            ["--ci", "github", "--repo", "o/r", "--branch", "main", "--account", ACCOUNT, "--partition", "aws-mars"],
            "partition 'aws-mars' must be one of",
        ),
        (["--ci", "github", "--repo", "o/r", "--account", ACCOUNT], "exactly one of branch, tag"),
        (
            ["--ci", "github", "--repo", "o/r", "--branch", "main", "--tag", "v1", "--account", ACCOUNT],
            "got branch and tag",
        ),
        (["--ci", "github", "--repo", "not a repo", "--any-ref", "--account", ACCOUNT], "is not OWNER/NAME"),
        (
            ["--ci", "gitlab", "--project", "g/app", "--ref", "main", "--repo", "o/r", "--account", ACCOUNT],
            "repo does not apply to gitlab",
        ),
        (["--ci", "gitlab", "--project", "g/app", "--account", ACCOUNT], "gitlab needs ref"),
        (["--ci", "jenkins", "--job", f"{JENKINS}/job/app/", "--account", ACCOUNT], "jenkins needs issuer"),
        (["--ci", "jenkins", "--issuer", "http://jenkins/oidc", "--job", "x", "--account", ACCOUNT], "https://"),
        (
            ["--ci", "github", "--repo", "o/r", "--branch", "main", "--account", ACCOUNT, "--format", "yaml"],
            "--format 'yaml' must be text or json",
        ),
    ],
)
def test_bad_trust_policy_options_fail_in_one_line_with_exit_2(flags, message):
    proc = ecr_ci("trust-policy", *flags)
    assert proc.returncode == 2, proc.stdout
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ecr-ci: error: trust-policy: ") and message in lines[0], lines


# --- live: the real exchange and iam:GetRole, against moto and the fake STS -------------------------------------------

MOTO_ACCOUNT = "123456789012"
MOTO_ROLE = f"arn:aws:iam::{MOTO_ACCOUNT}:role/ci-push"


def create_role(moto_server, policy: str) -> None:
    import boto3

    iam = boto3.client(
        "iam", endpoint_url=moto_server.url, region_name="us-east-1", aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )  # fmt: skip
    iam.create_role(RoleName="ci-push", AssumeRolePolicyDocument=policy)


def github_job(oidc_issuer, **extra: str) -> dict[str, str]:
    return env_with(
        GITHUB_ACTIONS="true",
        ACTIONS_ID_TOKEN_REQUEST_URL=oidc_issuer.request_url,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN=oidc_issuer.request_token,
        **extra,
    )


def main_only_policy() -> str:
    made = ecr_ci("trust-policy", "--ci", "github", "--repo", "octo-org/octo-repo", "--branch", "main",
                  "--account", MOTO_ACCOUNT, "--format", "json")  # fmt: skip
    assert made.returncode == 0, made.stderr
    return made.stdout


def test_live_doctor_asks_sts_and_reads_the_policy_with_the_assumed_role(moto_server, oidc_issuer):
    create_role(moto_server, main_only_policy())
    proc = ecr_ci("doctor", "--registry", f"{MOTO_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com", "--role-arn", MOTO_ROLE,
                  env=github_job(oidc_issuer))  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (
        "identity      ok    github: token from ACTIONS_ID_TOKEN_REQUEST_URL (audience sts.amazonaws.com" in proc.stdout
    )
    assert f"sts           ok    sts:AssumeRoleWithWebIdentity accepted this token for {MOTO_ROLE}" in proc.stdout
    assert "iam:GetRole with the assumed role's credentials) allows this token" in proc.stdout
    assert moto_server.count("sts", "AssumeRoleWithWebIdentity") == 1
    assert moto_server.count("iam", "GetRole") == 1
    assert oidc_issuer.audiences == ["sts.amazonaws.com"]
    assert_no_token(proc, oidc_issuer.tokens[-1])


def test_live_doctor_refused_by_sts_names_the_failing_condition_from_the_role_policy(
    moto_server, oidc_issuer, fake_aws
):
    create_role(moto_server, main_only_policy())
    oidc_issuer.claims.update(sub="repo:octo-org/octo-repo:ref:refs/heads/dev", ref="refs/heads/dev")
    fake_aws.sts.push("AccessDenied")
    env = github_job(
        oidc_issuer, AWS_ENDPOINT_URL_STS=fake_aws.url, AWS_ACCESS_KEY_ID="AKIATESTING", AWS_SECRET_ACCESS_KEY="testing"
    )  # fmt: skip  (ambient credentials may read the role)
    proc = ecr_ci("doctor", "--registry", f"{MOTO_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com", "--role-arn", MOTO_ROLE,
                  env=env)  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "sts           FAIL  sts:AssumeRoleWithWebIdentity: AccessDenied" in proc.stdout
    line = next(x for x in proc.stdout.splitlines() if x.startswith("trust policy"))
    assert "FAIL" in line and "(iam:GetRole with the AWS credential chain)" in line
    assert f"condition StringEquals {GH}:sub expects 'repo:octo-org/octo-repo:ref:refs/heads/main'" in line
    assert "the token has 'repo:octo-org/octo-repo:ref:refs/heads/dev'" in line
    assert fake_aws.count("sts", "AssumeRoleWithWebIdentity") == 1
    assert "Result: 2 problems found: sts, trust policy" in proc.stdout
    assert_no_token(proc, oidc_issuer.tokens[-1])


def test_live_doctor_without_permission_to_read_the_role_says_what_it_did_not_check(moto_server, oidc_issuer):
    proc = ecr_ci(
        "doctor",
        "--registry",
        f"{MOTO_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com",
        "--role-arn",
        MOTO_ROLE,
        env=github_job(oidc_issuer),
    )  # fmt: skip  (the role does not exist in moto: GetRole fails)
    assert proc.returncode == 0, proc.stdout  # STS accepted the token: nothing failed
    assert "trust policy  skip  iam:GetRole ci-push failed, so the trust policy was not read" in proc.stdout
    assert "NoSuchEntity" in proc.stdout
    assert "give it with --trust-policy FILE" in proc.stdout


@pytest.mark.parametrize(
    ("ci_env", "first", "hint"),
    [
        (
            {"GITLAB_CI": "true"},
            "gitlab: the ID token variable AWS_ID_TOKEN is not set",
            "GitLab creates $AWS_ID_TOKEN",
        ),
        ({"JENKINS_URL": JENKINS + "/"}, "jenkins: no identity token is bound", "'OpenID Connect id token as file'"),
        ({"GITHUB_ACTIONS": "true"}, "github: cannot request an OIDC token", "GitHub sets ACTIONS_ID_TOKEN_REQUEST"),
    ],
)
def test_identity_errors_keep_one_line_and_carry_their_remedy(ci_env, first, hint):
    for command in ("login", "doctor"):
        proc = ecr_ci(command, "--registry", REGISTRY["aws"], "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/ci",
                      env=env_with(**ci_env))  # fmt: skip
        assert proc.returncode == 1
        out = proc.stderr if command == "login" else proc.stdout
        lines = out.splitlines()
        head = lines[0] if command == "login" else next(x for x in lines if x.startswith("identity"))
        assert first in head and hint not in head  # the message stays one line, the remedy follows it
        assert hint in out
