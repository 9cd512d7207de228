"""Every generated trust policy admits the identity it was made for and refuses its neighbours, as judged by the
evaluator; bad options fail with a message naming the option and the value."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ecr_ci.diagnostics.claims import condition_keys
from ecr_ci.diagnostics.trust import evaluate
from ecr_ci.diagnostics.trustgen import (
    audience,
    from_options,
    policy_for_claims,
    provider_url,
    render,
    trust_policy,
    trust_setup,
)
from ecr_ci.errors import ConfigError

ACCOUNT = "012345678901"  # leading zero on purpose


def github_claims(
    sub_tail: str,
    *,
    repo: str = "octo-org/octo-repo",
    iss: str = "https://token.actions.githubusercontent.com",
    aud: str = "sts.amazonaws.com",
    prefix: str | None = None,
) -> dict[str, Any]:
    return {"iss": iss, "aud": aud, "sub": f"{prefix or 'repo:' + repo}:{sub_tail}", "repository": repo}


def gitlab_claims(
    project: str, ref_type: str, ref: str, *, host: str = "gitlab.com", aud: str = "sts.amazonaws.com"
) -> dict:
    return {
        "iss": f"https://{host}",
        "aud": aud,
        "sub": f"project_path:{project}:ref_type:{ref_type}:ref:{ref}",
        "project_path": project,
        "namespace_path": project.rsplit("/", 1)[0],
        "ref": ref,
        "ref_type": ref_type,
        "pipeline_source": "push",
    }


def jenkins_claims(job: str, *, issuer: str = "https://jenkins.example.com/oidc") -> dict[str, Any]:
    return {"iss": issuer, "aud": "sts.amazonaws.com", "sub": job, "build_number": 7}


# (id, ci, options, claims that must be allowed, neighbours that must be refused at <provider>:<key>)
GRID: list[tuple[str, str, dict[str, Any], dict[str, Any], list[tuple[dict[str, Any], str]]]] = [
    (
        "gh-branch",
        "github",
        {"repo": "octo-org/octo-repo", "branch": "main"},
        github_claims("ref:refs/heads/main"),
        [
            (github_claims("ref:refs/heads/main2"), "sub"),
            (github_claims("ref:refs/heads/main", repo="octo-org/octo-repo-fork"), "sub"),
            (github_claims("ref:refs/heads/main", repo="evil-org/octo-repo"), "sub"),
            (github_claims("ref:refs/tags/main"), "sub"),
            (github_claims("pull_request"), "sub"),
            (github_claims("environment:main"), "sub"),
            (github_claims("ref:refs/heads/main", aud="https://github.com/octo-org"), "aud"),
        ],
    ),
    (
        "gh-branch-pattern",
        "github",
        {"repo": "octo-org/octo-repo", "branch": "release/*"},
        github_claims("ref:refs/heads/release/1.2"),
        [(github_claims("ref:refs/heads/main"), "sub"), (github_claims("ref:refs/tags/release/1.2"), "sub")],
    ),
    (
        "gh-branches-list",
        "github",
        {"repo": "octo-org/octo-repo", "branch": ["main", "develop"]},
        github_claims("ref:refs/heads/develop"),
        [(github_claims("ref:refs/heads/feature"), "sub")],
    ),
    (
        "gh-tag",
        "github",
        {"repo": "octo-org/octo-repo", "tag": "v1.2.3"},
        github_claims("ref:refs/tags/v1.2.3"),
        [(github_claims("ref:refs/tags/v1.2.4"), "sub"), (github_claims("ref:refs/heads/v1.2.3"), "sub")],
    ),
    (
        "gh-tag-pattern",
        "github",
        {"repo": "octo-org/octo-repo", "tag": "v*"},
        github_claims("ref:refs/tags/v2.0.0"),
        [(github_claims("ref:refs/tags/release-2"), "sub"), (github_claims("ref:refs/heads/v2"), "sub")],
    ),
    (
        "gh-environment",
        "github",
        {"repo": "octo-org/octo-repo", "environment": "prod"},
        github_claims("environment:prod"),
        [(github_claims("environment:production"), "sub"), (github_claims("ref:refs/heads/main"), "sub")],
    ),
    (
        "gh-environment-with-colon",
        "github",
        {"repo": "octo-org/octo-repo", "environment": "Production:V1"},
        github_claims("environment:Production%3AV1"),
        [(github_claims("environment:Production%3AV2"), "sub")],
    ),
    (
        "gh-pull-request",
        "github",
        {"repo": "octo-org/octo-repo", "pull_request": True},
        github_claims("pull_request"),
        [(github_claims("pull_request", repo="octo-org/other"), "sub"), (github_claims("ref:refs/heads/main"), "sub")],
    ),
    (
        "gh-ref",
        "github",
        {"repo": "octo-org/octo-repo", "ref": "refs/heads/main"},
        github_claims("ref:refs/heads/main"),
        [(github_claims("ref:refs/heads/mainline"), "sub")],
    ),
    (
        "gh-any-ref",
        "github",
        {"repo": "octo-org/octo-repo", "any_ref": True},
        github_claims("environment:prod"),
        [
            (github_claims("ref:refs/heads/main", repo="octo-org/octo-repo-fork"), "sub"),
            (github_claims("ref:refs/heads/main", repo="octo-org/octo"), "sub"),
        ],
    ),
    (
        "gh-organisation-wide",
        "github",
        {"repo": "octo-org/*", "branch": "main"},
        github_claims("ref:refs/heads/main", repo="octo-org/anything"),
        [(github_claims("ref:refs/heads/main", repo="octo-org-evil/anything"), "sub")],
    ),
    (
        "gh-immutable",
        "github",
        {"repo": "octo-org/octo-repo", "branch": "main", "owner_id": "123456", "repo_id": 456789},
        github_claims("ref:refs/heads/main", prefix="repo:octo-org@123456/octo-repo@456789"),
        [
            (github_claims("ref:refs/heads/main", prefix="repo:octo-org@999999/octo-repo@456789"), "sub"),
            (github_claims("ref:refs/heads/main"), "sub"),
        ],
    ),
    (
        "gh-enterprise-issuer",
        "github",
        {"repo": "octo-org/octo-repo", "branch": "main", "enterprise": "octocat-inc"},
        github_claims("ref:refs/heads/main", iss="https://token.actions.githubusercontent.com/octocat-inc"),
        [
            (github_claims("ref:refs/heads/dev", iss="https://token.actions.githubusercontent.com/octocat-inc"), "sub"),
            (github_claims("ref:refs/heads/main"), "principal"),
        ],
    ),
    (
        "gh-enterprise-server",
        "github",
        {"repo": "octo-org/octo-repo", "tag": "v1", "host": "ghe.example.com"},
        github_claims("ref:refs/tags/v1", iss="https://ghe.example.com/_services/token"),
        [(github_claims("ref:refs/tags/v2", iss="https://ghe.example.com/_services/token"), "sub")],
    ),
    (
        "gh-china",
        "github",
        {"repo": "octo-org/octo-repo", "branch": "main", "partition": "aws-cn"},
        github_claims("ref:refs/heads/main", aud="sts.amazonaws.com.cn"),
        [
            (github_claims("ref:refs/heads/main"), "aud"),
            (github_claims("ref:refs/heads/x", aud="sts.amazonaws.com.cn"), "sub"),
        ],
    ),
    (
        "gh-govcloud",
        "github",
        {"repo": "octo-org/octo-repo", "branch": "main", "partition": "aws-us-gov"},
        github_claims("ref:refs/heads/main"),
        [(github_claims("ref:refs/heads/x"), "sub")],
    ),
    (
        "gl-branch",
        "gitlab",
        {"project": "mygroup/myproject", "ref": "main"},
        gitlab_claims("mygroup/myproject", "branch", "main"),
        [
            (gitlab_claims("mygroup/myproject2", "branch", "main"), "sub"),
            (gitlab_claims("mygroup/myproject-fork", "branch", "main"), "sub"),
            (gitlab_claims("othergroup/myproject", "branch", "main"), "sub"),
            (gitlab_claims("mygroup/myproject", "branch", "main2"), "sub"),
            (gitlab_claims("mygroup/myproject", "tag", "main"), "sub"),
            (gitlab_claims("mygroup/myproject", "branch", "main", aud="https://gitlab.com"), "aud"),
        ],
    ),
    (
        "gl-tag",
        "gitlab",
        {"project": "mygroup/myproject", "ref": "v1.0.0", "ref_type": "tag"},
        gitlab_claims("mygroup/myproject", "tag", "v1.0.0"),
        [
            (gitlab_claims("mygroup/myproject", "tag", "v1.0.1"), "sub"),
            (gitlab_claims("mygroup/myproject", "branch", "v1.0.0"), "sub"),
        ],
    ),
    (
        "gl-ref-pattern-subgroup",
        "gitlab",
        {"project": "mygroup/sub/myproject", "ref": "release/*"},
        gitlab_claims("mygroup/sub/myproject", "branch", "release/2024"),
        [
            (gitlab_claims("mygroup/sub/myproject", "branch", "main"), "sub"),
            (gitlab_claims("mygroup/sub/other", "branch", "release/1"), "sub"),
        ],
    ),
    (
        "gl-any-ref",
        "gitlab",
        {"project": "mygroup/myproject", "any_ref": True},
        gitlab_claims("mygroup/myproject", "tag", "v9"),
        [(gitlab_claims("mygroup/myproject-fork", "branch", "main"), "sub")],
    ),
    (
        "gl-any-tag",
        "gitlab",
        {"project": "mygroup/myproject", "any_ref": True, "ref_type": "tag"},
        gitlab_claims("mygroup/myproject", "tag", "v9"),
        [(gitlab_claims("mygroup/myproject", "branch", "v9"), "sub")],
    ),
    (
        "gl-self-managed",
        "gitlab",
        {"project": "mygroup/myproject", "ref": "main", "host": "https://gitlab.example.com/"},
        gitlab_claims("mygroup/myproject", "branch", "main", host="gitlab.example.com"),
        [
            (gitlab_claims("mygroup/myproject", "branch", "dev", host="gitlab.example.com"), "sub"),
            (gitlab_claims("mygroup/myproject", "branch", "main"), "principal"),
        ],
    ),
    (
        "gl-custom-issuer",
        "gitlab",
        {"project": "g/p", "ref": "main", "issuer": "https://oidc-bucket.s3.eu-north-1.amazonaws.com"},
        gitlab_claims("g/p", "branch", "main", host="oidc-bucket.s3.eu-north-1.amazonaws.com"),
        [(gitlab_claims("g/p", "branch", "feature", host="oidc-bucket.s3.eu-north-1.amazonaws.com"), "sub")],
    ),
    (
        "jk-job",
        "jenkins",
        {"issuer": "https://jenkins.example.com/oidc", "job": "https://jenkins.example.com/job/app"},
        jenkins_claims("https://jenkins.example.com/job/app/"),
        [
            (jenkins_claims("https://jenkins.example.com/job/app2/"), "sub"),
            (jenkins_claims("https://jenkins.example.com/job/app/job/main/"), "sub"),
            (
                jenkins_claims("https://jenkins.example.com/job/app/", issuer="https://other.example.com/oidc"),
                "principal",
            ),
        ],
    ),
    (
        "jk-multibranch-pattern",
        "jenkins",
        {"issuer": "https://jenkins.example.com/oidc", "job": "https://jenkins.example.com/job/app/job/*"},
        jenkins_claims("https://jenkins.example.com/job/app/job/main/"),
        [(jenkins_claims("https://jenkins.example.com/job/other/job/main/"), "sub")],
    ),
    (
        "jk-folder-issuer",
        "jenkins",
        {"issuer": "https://jenkins.example.com/oidc/job/team", "job": "https://jenkins.example.com/job/team/job/app/"},
        jenkins_claims(
            "https://jenkins.example.com/job/team/job/app/", issuer="https://jenkins.example.com/oidc/job/team"
        ),
        [(jenkins_claims("https://jenkins.example.com/job/team/job/app/"), "principal")],
    ),
]


@pytest.mark.parametrize(("ci", "options", "claims", "neighbours"), [g[1:] for g in GRID], ids=[g[0] for g in GRID])
def test_generated_policy_admits_its_identity_and_refuses_neighbours(
    ci: str, options: dict[str, Any], claims: dict[str, Any], neighbours: list[tuple[dict[str, Any], str]]
) -> None:
    setup = trust_setup(ci, account=ACCOUNT, **options)
    partition = options.get("partition", "aws")
    role = f"arn:{partition}:iam::{ACCOUNT}:role/ci"
    assert setup.provider_arn.startswith(f"arn:{partition}:iam::{ACCOUNT}:oidc-provider/")
    assert setup.audience == claims["aud"]

    verdict = evaluate(setup.policy, claims, role_arn=role)
    assert verdict.allowed, verdict.explain()
    if "*" in options.get("repo", ""):
        assert any("every repository of 'octo-org'" in w for w in verdict.warnings)  # intended, but said
    else:
        assert verdict.warnings == [], verdict.warnings
    # The keys the policy uses are exactly the keys these claims are matched as.
    used = {k.lower() for block in setup.policy["Statement"][0]["Condition"].values() for k in block}
    assert used <= {k.lower() for k in condition_keys(claims)}

    for neighbour, what in neighbours:
        refused = evaluate(setup.policy, neighbour, role_arn=role)
        assert not refused.allowed and refused.decision == "implicit deny", (neighbour, refused.explain())
        failure = refused.failed[0]
        if what == "principal":
            assert failure.element == "principal"
        else:
            assert failure.element == "condition"
            assert failure.key == f"{setup.provider}:{what}"
            assert failure.seen == neighbour[what]
            assert repr(neighbour[what]) in refused.explain()


def test_stringequals_for_exact_and_stringlike_only_with_wildcards() -> None:
    exact = trust_policy("github", account=ACCOUNT, repo="o/r", branch="main")["Statement"][0]["Condition"]
    assert set(exact) == {"StringEquals"}
    pattern = trust_policy("github", account=ACCOUNT, repo="o/r", branch="release/*")["Statement"][0]["Condition"]
    assert pattern == {
        "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
        "StringLike": {"token.actions.githubusercontent.com:sub": "repo:o/r:ref:refs/heads/release/*"},
    }
    mixed = trust_policy("gitlab", account=ACCOUNT, project="g/p", ref=["main", "release/*"])["Statement"][0]
    assert mixed["Condition"]["StringEquals"]["gitlab.com:sub"] == "project_path:g/p:ref_type:branch:ref:main"
    assert mixed["Condition"]["StringLike"]["gitlab.com:sub"] == "project_path:g/p:ref_type:branch:ref:release/*"
    assert mixed["Principal"] == {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/gitlab.com"}
    assert mixed["Action"] == "sts:AssumeRoleWithWebIdentity"


def test_provider_url_and_audience() -> None:
    assert provider_url("github") == "https://token.actions.githubusercontent.com"
    assert provider_url("github", enterprise="octocat-inc") == "https://token.actions.githubusercontent.com/octocat-inc"
    assert provider_url("github", host="ghe.example.com") == "https://ghe.example.com/_services/token"
    assert provider_url("gitlab") == "https://gitlab.com"
    assert provider_url("gitlab", host="gitlab.example.com") == "https://gitlab.example.com"
    assert provider_url("jenkins", issuer="https://jenkins.example.com/oidc") == "https://jenkins.example.com/oidc"
    assert audience() == "sts.amazonaws.com"
    assert audience("aws-cn") == "sts.amazonaws.com.cn"
    assert audience("aws-us-gov") == "sts.amazonaws.com"


def test_render_text_and_json() -> None:
    setup = trust_setup("gitlab", account=ACCOUNT, project="g/p", ref="main")
    text = render(setup)
    assert "Provider URL: https://gitlab.com" in text
    assert "Audience:     sts.amazonaws.com" in text
    assert f"arn:aws:iam::{ACCOUNT}:oidc-provider/gitlab.com" in text
    assert "id_tokens: AWS_ID_TOKEN: aud: sts.amazonaws.com" in text
    assert json.loads(render(setup, fmt="json")) == setup.policy
    with pytest.raises(ConfigError, match="format"):
        render(setup, fmt="yaml")


def test_from_options_takes_command_line_strings() -> None:
    setup = from_options("github", account=ACCOUNT, repo="o/r", pull_request="true", branch="")
    assert setup.policy["Statement"][0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] == (
        "repo:o/r:pull_request"
    )
    listed = from_options("github", account=ACCOUNT, repo="o/r", **{"branch": "main, develop", "any-ref": None})
    assert listed.policy["Statement"][0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] == [
        "repo:o/r:ref:refs/heads/main",
        "repo:o/r:ref:refs/heads/develop",
    ]


def test_policy_for_claims_accepts_exactly_that_token() -> None:
    claims = github_claims(
        "job_workflow_ref:o/a/.github/workflows/x.yml@refs/heads/main", prefix="repo:o/r:environment:p"
    )
    policy = policy_for_claims(claims, account=ACCOUNT)
    assert evaluate(policy, claims).allowed
    assert not evaluate(policy, dict(claims, sub=claims["sub"] + "x")).allowed
    # A sub with '*' in it is matched literally, not as a pattern.
    starry = dict(claims, sub="repo:o/r:*")
    assert not evaluate(policy_for_claims(starry, account=ACCOUNT), claims).allowed


@pytest.mark.parametrize(
    ("ci", "options", "message"),
    [
        ("github", {"repo": "octo-org", "branch": "main"}, "repo 'octo-org' is not OWNER/NAME"),
        ("github", {"repo": "a/b/c", "branch": "main"}, "not OWNER/NAME"),
        ("github", {"repo": "", "branch": "main"}, "not OWNER/NAME"),
        ("github", {"repo": "-bad/name", "branch": "main"}, "not OWNER/NAME"),
        ("github", {"repo": "o/r", "branch": "main", "tag": "v1"}, "exactly one of .* \\(got branch and tag\\)"),
        ("github", {"repo": "o/r"}, "exactly one of .* \\(got none\\)"),
        ("github", {"repo": "o/r", "ref": "main"}, "full ref"),
        ("github", {"repo": "o/r", "branch": "my branch"}, "whitespace"),
        ("github", {"repo": "o/r", "branch": "main", "owner_id": "1"}, "owner_id and repo_id go together"),
        ("github", {"repo": "o/r", "branch": "main", "owner_id": "x", "repo_id": "2"}, "numeric"),
        ("github", {"repo": "o/r", "branch": "main", "host": "ghe.example.com", "enterprise": "e"}, "exclusive"),
        ("github", {"repo": "o/r", "branch": "main", "project": "g/p"}, "project does not apply to github"),
        ("github", {"repo": "o/r", "branch": "main", "issuer": "http://insecure.example.com"}, "https"),
        ("github", {"repo": "o/r", "branch": "main", "partition": "aws-mars"}, "partition 'aws-mars'"),
        ("gitlab", {"project": "justone", "ref": "main"}, "not GROUP/NAME"),
        ("gitlab", {"project": "g/p"}, "needs ref"),
        ("gitlab", {"project": "g/p", "ref": "refs/heads/main"}, "plain branch or tag name"),
        ("gitlab", {"project": "g/p", "ref": "main", "ref_type": "commit"}, "ref_type 'commit'"),
        ("gitlab", {"project": "g/p", "ref": "main", "any_ref": True}, "exclusive"),
        ("gitlab", {"project": "g/p", "branch": "main"}, "branch does not apply to gitlab"),
        ("jenkins", {"job": "https://j.example.com/job/a/"}, "jenkins needs issuer"),
        ("jenkins", {"issuer": "https://j.example.com/oidc"}, "jenkins needs job"),
        ("jenkins", {"issuer": "https://j.example.com/oidc", "job": "app"}, "not a Jenkins job URL"),
        ("circleci", {}, "ci 'circleci' must be one of github, gitlab, jenkins"),
    ],
)
def test_bad_options_are_refused_clearly(ci: str, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        trust_setup(ci, account=ACCOUNT, **options)


@pytest.mark.parametrize(
    ("account", "message"),
    [
        ("12345", "not a 12-digit"),
        ("12345678901a", "not a 12-digit"),
        (12345678901, "12-digit string"),
        ("", "account is required"),
    ],
)
def test_account_must_be_twelve_digit_string(account: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_options("github", account=account, repo="o/r", branch="main")


def test_from_options_rejects_unknown_options_and_loose_booleans() -> None:
    with pytest.raises(ConfigError, match="unknown option 'brnach'"):
        from_options("github", account=ACCOUNT, repo="o/r", brnach="main")
    with pytest.raises(ConfigError, match="pull_request 'yes' must be true or false"):
        from_options("github", account=ACCOUNT, repo="o/r", pull_request="yes")
