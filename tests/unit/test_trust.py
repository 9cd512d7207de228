"""Trust-policy evaluation, table-driven: policies from the AWS, GitHub, GitLab and Jenkins documentation plus the
mistakes people actually make, each with the verdict IAM gives and the element that decides it."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from ecr_ci.diagnostics.trust import evaluate, load_policy
from ecr_ci.errors import ConfigError

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ecr-push"
GH = "token.actions.githubusercontent.com"
GH_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{GH}"
GL = "gitlab.example.com"
GL_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{GL}"
JK = "jenkins.acme.com/oidc"
JK_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{JK}"
AUD = "sts.amazonaws.com"
MAIN = "repo:octo-org/octo-repo:ref:refs/heads/main"
PR = "repo:octo-org/octo-repo:pull_request"


def gh(sub: str = MAIN, **extra: Any) -> dict[str, Any]:
    """Claims shaped like GitHub's documented example token."""
    claims = {
        "iss": f"https://{GH}",
        "aud": AUD,
        "sub": sub,
        "repository": "octo-org/octo-repo",
        "repository_owner": "octo-org",
        "ref": "refs/heads/main",
        "ref_type": "branch",
        "event_name": "push",
        "actor": "octocat",
        "job_workflow_ref": "octo-org/octo-repo/.github/workflows/ci.yml@refs/heads/main",
    }
    claims.update(extra)
    return claims


def gl(ref: str = "main", ref_type: str = "branch", project: str = "mygroup/myproject", **extra: Any) -> dict[str, Any]:
    """Claims shaped like GitLab's documented example token."""
    claims = {
        "iss": f"https://{GL}",
        "aud": AUD,
        "sub": f"project_path:{project}:ref_type:{ref_type}:ref:{ref}",
        "project_path": project,
        "namespace_path": project.split("/")[0],
        "ref": ref,
        "ref_type": ref_type,
        "ref_protected": "true",
        "pipeline_source": "push",
    }
    claims.update(extra)
    return claims


def jk(job: str = "https://jenkins.acme.com/job/my-job/") -> dict[str, Any]:
    return {"iss": f"https://{JK}", "aud": AUD, "sub": job, "build_number": 42}


def st(condition: dict[str, Any] | None = None, *, principal: Any = None, effect: str = "Allow", **extra: Any) -> dict:
    statement: dict[str, Any] = {
        "Effect": effect,
        "Principal": {"Federated": GH_ARN} if principal is None else principal,
        "Action": "sts:AssumeRoleWithWebIdentity",
    }
    if condition is not None:
        statement["Condition"] = condition
    statement.update(extra)
    return statement


def pol(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def eq(**keys: Any) -> dict[str, Any]:
    return {"StringEquals": {k.replace("__", ":"): v for k, v in keys.items()}}


GH_AUD = {f"{GH}:aud": AUD}
GH_BRANCH = {"StringEquals": {f"{GH}:aud": AUD, f"{GH}:sub": MAIN}}  # GitHub's AWS guide, first example
GH_ANY = {"StringLike": {f"{GH}:sub": "repo:octo-org/octo-repo:*"}, "StringEquals": GH_AUD}  # its wildcard example


# (id, policy, claims, evaluate kwargs, decision, (element, operator, key) of the first failure or None, seen)
CASES: list[tuple[str, Any, dict[str, Any], dict[str, Any], str, tuple[str, str | None, str | None] | None, Any]] = [
    ("github-doc-branch", pol(st(GH_BRANCH)), gh(), {}, "allowed", None, None),
    (
        "github-doc-branch-other-branch",
        pol(st(GH_BRANCH)),
        gh("repo:octo-org/octo-repo:ref:refs/heads/dev", ref="refs/heads/dev"),
        {},
        "implicit deny",
        ("condition", "StringEquals", f"{GH}:sub"),
        "repo:octo-org/octo-repo:ref:refs/heads/dev",
    ),
    (
        "github-doc-environment",
        pol(st({"StringEquals": {f"{GH}:aud": AUD, f"{GH}:sub": "repo:octo-org/octo-repo:environment:prod"}})),
        gh("repo:octo-org/octo-repo:environment:prod", environment="prod"),
        {},
        "allowed",
        None,
        None,
    ),
    (
        "github-environment-job-against-branch-policy",
        pol(st(GH_BRANCH)),
        gh("repo:octo-org/octo-repo:environment:prod", environment="prod"),
        {},
        "implicit deny",
        ("condition", "StringEquals", f"{GH}:sub"),
        "repo:octo-org/octo-repo:environment:prod",
    ),
    ("github-doc-stringlike-any-ref-pr", pol(st(GH_ANY)), gh(PR, event_name="pull_request"), {}, "allowed", None, None),
    (
        "github-stringlike-other-repository",
        pol(st(GH_ANY)),
        gh("repo:octo-org/other-repo:ref:refs/heads/main", repository="octo-org/other-repo"),
        {},
        "implicit deny",
        ("condition", "StringLike", f"{GH}:sub"),
        "repo:octo-org/other-repo:ref:refs/heads/main",
    ),
    (
        "github-stringlike-fork-named-prefix",
        pol(st(GH_ANY)),
        gh("repo:octo-org/octo-repo-fork:ref:refs/heads/main"),
        {},
        "implicit deny",
        ("condition", "StringLike", f"{GH}:sub"),
        "repo:octo-org/octo-repo-fork:ref:refs/heads/main",
    ),
    (
        "wildcard-under-stringequals",
        pol(st({"StringEquals": {f"{GH}:aud": AUD, f"{GH}:sub": "repo:octo-org/octo-repo:*"}})),
        gh(),
        {},
        "implicit deny",
        ("condition", "StringEquals", f"{GH}:sub"),
        MAIN,
    ),
    (
        "audience-github-default",
        pol(st(GH_BRANCH)),
        gh(aud="https://github.com/octo-org"),
        {},
        "implicit deny",
        ("condition", "StringEquals", f"{GH}:aud"),
        "https://github.com/octo-org",
    ),
    (
        "list-aud-without-qualifier-any-matches",
        pol(st(GH_BRANCH)),
        gh(aud=[AUD, "https://github.com/octo-org"]),
        {},
        "allowed",
        None,
        None,
    ),
    (
        "list-aud-forallvalues-needs-every-value",
        pol(st({"ForAllValues:StringEquals": GH_AUD, "StringEquals": {f"{GH}:sub": MAIN}})),
        gh(aud=[AUD, "https://github.com/octo-org"]),
        {},
        "implicit deny",
        ("condition", "ForAllValues:StringEquals", f"{GH}:aud"),
        [AUD, "https://github.com/octo-org"],
    ),
    (
        "list-aud-foranyvalue",
        pol(st({"ForAnyValue:StringEquals": GH_AUD, "StringEquals": {f"{GH}:sub": MAIN}})),
        gh(aud=["https://github.com/octo-org", AUD]),
        {},
        "allowed",
        None,
        None,
    ),
    (
        "forallvalues-missing-key-is-true",
        pol(
            st(
                {
                    "StringEquals": {f"{GH}:aud": AUD, f"{GH}:sub": MAIN},
                    "ForAllValues:StringEquals": {f"{GH}:environment": "prod"},
                }
            )
        ),
        gh(),
        {},
        "allowed",
        None,
        None,
    ),
    (
        "forallvalues-empty-list-is-true",
        pol(st({"ForAllValues:StringEquals": GH_AUD, "StringEquals": {f"{GH}:sub": MAIN}})),
        gh(aud=[]),
        {},
        "allowed",
        None,
        None,
    ),
    (
        "foranyvalue-missing-key-is-false",
        pol(st({"StringEquals": {f"{GH}:aud": AUD}, "ForAnyValue:StringEquals": {f"{GH}:environment": "prod"}})),
        gh(),
        {},
        "implicit deny",
        ("condition", "ForAnyValue:StringEquals", f"{GH}:environment"),
        "missing",
    ),
    (
        "ifexists-missing-key-passes",
        pol(
            st(
                {
                    "StringEquals": {f"{GH}:aud": AUD, f"{GH}:sub": MAIN},
                    "StringEqualsIfExists": {f"{GH}:environment": "prod"},
                }
            )
        ),
        gh(),
        {},
        "allowed",
        None,
        None,
    ),
    (
        "ifexists-present-key-must-match",
        pol(
            st(
                {
                    "StringLike": {f"{GH}:sub": "repo:octo-org/octo-repo:*"},
                    "StringEqualsIfExists": {f"{GH}:environment": "prod"},
                }
            )
        ),
        gh("repo:octo-org/octo-repo:environment:staging", environment="staging"),
        {},
        "implicit deny",
        ("condition", "StringEqualsIfExists", f"{GH}:environment"),
        "staging",
    ),
    (
        "stringnotequals-missing-key-is-true",
        pol(
            st({"StringEquals": {f"{GH}:aud": AUD, f"{GH}:sub": MAIN}, "StringNotEquals": {f"{GH}:environment": "dev"}})
        ),
        gh(),
        {},
        "allowed",
        None,
        None,
    ),
    (
        "explicit-deny-wins-over-allow",
        pol(
            st(GH_ANY, Sid="AnyRef"),
            st({"StringLike": {f"{GH}:sub": "*:pull_request"}}, effect="Deny", Sid="NoPullRequests"),
        ),
        gh(PR, event_name="pull_request"),
        {},
        "explicit deny",
        None,
        None,
    ),
    (
        "deny-not-applying-leaves-allow",
        pol(st(GH_ANY), st({"StringLike": {f"{GH}:sub": "*:pull_request"}}, effect="Deny")),
        gh(),
        {},
        "allowed",
        None,
        None,
    ),
    (
        "condition-keys-are-case-insensitive",
        pol(
            st(
                {
                    "StringEquals": {
                        "Token.Actions.GithubUserContent.com:AUD": AUD,
                        "TOKEN.actions.githubusercontent.com:Sub": MAIN,
                    }
                }
            )
        ),
        gh(),
        {},
        "allowed",
        None,
        None,
    ),
    (
        "condition-values-are-case-sensitive",
        pol(st({"StringEquals": {f"{GH}:aud": AUD, f"{GH}:sub": "repo:Octo-Org/octo-repo:ref:refs/heads/main"}})),
        gh(),
        {},
        "implicit deny",
        ("condition", "StringEquals", f"{GH}:sub"),
        MAIN,
    ),
    (
        "stringequalsignorecase",
        pol(
            st(
                {
                    "StringEquals": GH_AUD,
                    "StringEqualsIgnoreCase": {f"{GH}:sub": "repo:Octo-Org/Octo-Repo:ref:refs/heads/main"},
                }
            )
        ),
        gh(),
        {},
        "allowed",
        None,
        None,
    ),
    (
        "stringlike-is-case-sensitive",
        pol(st({"StringEquals": GH_AUD, "StringLike": {f"{GH}:sub": "repo:Octo-Org/*"}})),
        gh(),
        {},
        "implicit deny",
        ("condition", "StringLike", f"{GH}:sub"),
        MAIN,
    ),
    (
        "stringlike-question-mark-is-one-character",
        pol(st({"StringEquals": GH_AUD, "StringLike": {f"{GH}:sub": "repo:octo-org/octo-repo:ref:refs/tags/v?"}})),
        gh("repo:octo-org/octo-repo:ref:refs/tags/v10", ref="refs/tags/v10", ref_type="tag"),
        {},
        "implicit deny",
        ("condition", "StringLike", f"{GH}:sub"),
        "repo:octo-org/octo-repo:ref:refs/tags/v10",
    ),
    (
        "stringnotlike-in-allow-refuses-pull-requests",
        pol(st({"StringEquals": GH_AUD, "StringNotLike": {f"{GH}:sub": "*:pull_request"}})),
        gh(PR),
        {},
        "implicit deny",
        ("condition", "StringNotLike", f"{GH}:sub"),
        PR,
    ),
    (
        "notaction-that-excludes-something-else",
        pol(
            {
                "Effect": "Allow",
                "Principal": {"Federated": GH_ARN},
                "NotAction": "sts:AssumeRole",
                "Condition": GH_BRANCH,
            }
        ),
        gh(),
        {},
        "allowed",
        None,
        None,
    ),
    (
        "notaction-that-excludes-web-identity",
        pol(
            {
                "Effect": "Allow",
                "Principal": {"Federated": GH_ARN},
                "NotAction": "sts:AssumeRoleWith*",
                "Condition": GH_BRANCH,
            }
        ),
        gh(),
        {},
        "implicit deny",
        ("action", None, None),
        None,
    ),
    ("action-sts-star", pol(st(GH_BRANCH, Action="sts:*")), gh(), {}, "allowed", None, None),
    (
        "action-assumerolewith-star-any-case",
        pol(st(GH_BRANCH, Action=["STS:assumerolewith*"])),
        gh(),
        {},
        "allowed",
        None,
        None,
    ),
    (
        "action-assumerole-is-not-web-identity",
        pol(st(GH_BRANCH, Action="sts:AssumeRole")),
        gh(),
        {},
        "implicit deny",
        ("action", None, None),
        None,
    ),
    (
        "multiple-statements-second-allows",
        pol(
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
            st(GH_BRANCH, Sid="GitHub"),
        ),
        gh(),
        {},
        "allowed",
        None,
        None,
    ),
    (
        "single-statement-object",
        {"Version": "2012-10-17", "Statement": st(GH_BRANCH)},
        gh(),
        {},
        "allowed",
        None,
        None,
    ),
    (
        "wrong-federated-principal",
        pol(st(GH_BRANCH, principal={"Federated": GL_ARN})),
        gh(),
        {},
        "implicit deny",
        ("principal", None, None),
        None,
    ),
    (
        "wrong-partition",
        pol(st(GH_BRANCH, principal={"Federated": f"arn:aws-cn:iam::{ACCOUNT}:oidc-provider/{GH}"})),
        gh(),
        {"partition": "aws"},
        "implicit deny",
        ("principal", None, None),
        None,
    ),
    (
        "provider-in-another-account",
        pol(st(GH_BRANCH, principal={"Federated": f"arn:aws:iam::210987654321:oidc-provider/{GH}"})),
        gh(),
        {"role_arn": ROLE},
        "implicit deny",
        ("principal", None, None),
        None,
    ),
    (
        "enterprise-issuer-needs-its-own-provider",
        pol(st(GH_BRANCH)),
        gh(iss=f"https://{GH}/octocat-inc"),
        {},
        "implicit deny",
        ("principal", None, None),
        None,
    ),
    (
        "federated-list-one-matches",
        pol(st(GH_BRANCH, principal={"Federated": [GL_ARN, GH_ARN]})),
        gh(),
        {"role_arn": ROLE},
        "allowed",
        None,
        None,
    ),
    ("principal-star", pol(st(GH_BRANCH, principal="*")), gh(), {}, "allowed", None, None),
    (
        "condition-key-of-another-provider",
        pol(st({"StringEquals": {"gitlab.com:sub": MAIN, f"{GH}:aud": AUD}})),
        gh(),
        {},
        "implicit deny",
        ("condition", "StringEquals", "gitlab.com:sub"),
        "missing",
    ),
    (
        "github-repository-key-supported",
        pol(st({"StringEquals": {f"{GH}:aud": AUD, f"{GH}:repository": "octo-org/octo-repo", f"{GH}:sub": MAIN}})),
        gh(),
        {},
        "allowed",
        None,
        None,
    ),
    (
        "github-extra-key-not-exposed-by-aws",
        pol(st({"StringEquals": {f"{GH}:aud": AUD, f"{GH}:event_name": "push"}})),
        gh(),
        {},
        "implicit deny",
        ("condition", "StringEquals", f"{GH}:event_name"),
        "missing",
    ),
    (
        "null-true-when-absent",
        pol(st({"StringEquals": {f"{GH}:aud": AUD, f"{GH}:sub": MAIN}, "Null": {f"{GH}:environment": "true"}})),
        gh(),
        {},
        "allowed",
        None,
        None,
    ),
    (
        "null-true-but-present",
        pol(st({"StringLike": {f"{GH}:sub": "repo:octo-org/octo-repo:*"}, "Null": {f"{GH}:environment": "true"}})),
        gh("repo:octo-org/octo-repo:environment:prod", environment="prod"),
        {},
        "implicit deny",
        ("condition", "Null", f"{GH}:environment"),
        "prod",
    ),
    (
        "bool-from-extra-context",
        pol(st({"StringEquals": {f"{GH}:aud": AUD, f"{GH}:sub": MAIN}, "Bool": {"aws:SecureTransport": "true"}})),
        gh(),
        {"extra_context": {"aws:SecureTransport": True}},
        "allowed",
        None,
        None,
    ),
    (
        "immutable-subject-against-name-policy",
        pol(st(GH_BRANCH)),
        gh("repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main"),
        {},
        "implicit deny",
        ("condition", "StringEquals", f"{GH}:sub"),
        "repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main",
    ),
    (
        "colon-in-environment-is-escaped",
        pol(
            st({"StringEquals": {f"{GH}:aud": AUD, f"{GH}:sub": "repo:octo-org/octo-repo:environment:Production%3AV1"}})
        ),
        gh("repo:octo-org/octo-repo:environment:Production%3AV1", environment="Production:V1"),
        {},
        "allowed",
        None,
        None,
    ),
    (
        "ghes-provider-with-path",
        pol(
            st(
                {
                    "StringEquals": {
                        "ghe.example.com/_services/token:aud": AUD,
                        "ghe.example.com/_services/token:sub": MAIN,
                    }
                },
                principal={"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/ghe.example.com/_services/token"},
            )
        ),
        gh(iss="https://ghe.example.com/_services/token"),
        {},
        "allowed",
        None,
        None,
    ),
    (
        "gitlab-doc-main",
        pol(
            st(
                {"StringEquals": {f"{GL}:sub": "project_path:mygroup/myproject:ref_type:branch:ref:main"}},
                principal={"Federated": GL_ARN},
            )
        ),
        gl(),
        {},
        "allowed",
        None,
        None,
    ),
    (
        "gitlab-doc-other-branch",
        pol(
            st(
                {"StringEquals": {f"{GL}:sub": "project_path:mygroup/myproject:ref_type:branch:ref:main"}},
                principal={"Federated": GL_ARN},
            )
        ),
        gl("feature-branch-1"),
        {},
        "implicit deny",
        ("condition", "StringEquals", f"{GL}:sub"),
        "project_path:mygroup/myproject:ref_type:branch:ref:feature-branch-1",
    ),
    (
        "gitlab-tag-against-branch-pattern",
        pol(
            st(
                {"StringLike": {f"{GL}:sub": "project_path:mygroup/myproject:ref_type:branch:ref:*"}},
                principal={"Federated": GL_ARN},
            )
        ),
        gl("v1.0.0", "tag"),
        {},
        "implicit deny",
        ("condition", "StringLike", f"{GL}:sub"),
        "project_path:mygroup/myproject:ref_type:tag:ref:v1.0.0",
    ),
    (
        "gitlab-claim-not-exposed-by-aws",
        pol(
            st(
                {"StringEquals": {f"{GL}:aud": AUD, f"{GL}:project_path": "mygroup/myproject"}},
                principal={"Federated": GL_ARN},
            )
        ),
        gl(),
        {},
        "implicit deny",
        ("condition", "StringEquals", f"{GL}:project_path"),
        "missing",
    ),
    (
        "jenkins-readme-example",
        pol(
            st(
                {"StringEquals": {f"{JK}:aud": AUD, f"{JK}:sub": "https://jenkins.acme.com/job/my-job/"}},
                principal={"Federated": JK_ARN},
            )
        ),
        jk(),
        {},
        "allowed",
        None,
        None,
    ),
    (
        "jenkins-multibranch-pattern",
        pol(
            st(
                {"StringEquals": {f"{JK}:aud": AUD}, "StringLike": {f"{JK}:sub": "https://jenkins.acme.com/job/app/*"}},
                principal={"Federated": JK_ARN},
            )
        ),
        jk("https://jenkins.acme.com/job/app/job/feature%2Fx/"),
        {},
        "allowed",
        None,
        None,
    ),
    (
        "jenkins-job-without-trailing-slash",
        pol(
            st({"StringEquals": {f"{JK}:sub": "https://jenkins.acme.com/job/my-job"}}, principal={"Federated": JK_ARN})
        ),
        jk(),
        {},
        "implicit deny",
        ("condition", "StringEquals", f"{JK}:sub"),
        "https://jenkins.acme.com/job/my-job/",
    ),
    (
        "cognito-authenticated-amr",
        pol(
            st(
                {
                    "StringEquals": {"cognito-identity.amazonaws.com:aud": "us-east-2:identity-pool-id"},
                    "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"},
                },
                principal={"Federated": "cognito-identity.amazonaws.com"},
            )
        ),
        {
            "iss": "https://cognito-identity.amazonaws.com",
            "aud": "us-east-2:identity-pool-id",
            "sub": "us-east-2:1234",
            "amr": ["authenticated", "accounts.google.com"],
        },
        {},
        "allowed",
        None,
        None,
    ),
    (
        "cognito-unauthenticated-only",
        pol(
            st(
                {
                    "StringEquals": {"cognito-identity.amazonaws.com:aud": "us-east-2:identity-pool-id"},
                    "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "unauthenticated"},
                },
                principal={"Federated": "cognito-identity.amazonaws.com"},
            )
        ),
        {
            "iss": "https://cognito-identity.amazonaws.com",
            "aud": "us-east-2:identity-pool-id",
            "sub": "us-east-2:1234",
            "amr": ["authenticated", "accounts.google.com"],
        },
        {},
        "implicit deny",
        ("condition", "ForAnyValue:StringLike", "cognito-identity.amazonaws.com:amr"),
        ["authenticated", "accounts.google.com"],
    ),
    (
        "unknown-operator-not-evaluated",
        pol(st({"StringEquals": {f"{GH}:aud": AUD, f"{GH}:sub": MAIN}, "NumericLessThan": {f"{GH}:run_attempt": "3"}})),
        gh(),
        {},
        "not evaluated",
        None,
        None,
    ),
    (
        "unknown-global-key-not-evaluated",
        pol(st({"StringEquals": {f"{GH}:aud": AUD, f"{GH}:sub": MAIN, "aws:RequestedRegion": "us-east-1"}})),
        gh(),
        {},
        "not evaluated",
        None,
        None,
    ),
    (
        "definite-failure-beats-unknown-operator",
        pol(
            st({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}, "StringEquals": {f"{GH}:aud": AUD, f"{GH}:sub": MAIN}})
        ),
        gh(PR),
        {},
        "implicit deny",
        ("condition", "StringEquals", f"{GH}:sub"),
        PR,
    ),
    (
        "allow-with-unevaluable-deny",
        pol(st(GH_BRANCH), st({"DateGreaterThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}, effect="Deny")),
        gh(),
        {},
        "not evaluated",
        None,
        None,
    ),
    (
        "no-statement-applies",
        pol(),
        gh(),
        {},
        "implicit deny",
        None,
        None,
    ),
]


@pytest.mark.parametrize(
    ("policy", "claims", "kwargs", "decision", "failing", "seen"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_table(policy: Any, claims: dict, kwargs: dict, decision: str, failing: Any, seen: Any) -> None:
    verdict = evaluate(policy, claims, **kwargs)
    assert verdict.decision == decision, verdict.explain()
    assert verdict.allowed is (decision == "allowed")
    text = verdict.explain()
    if failing is None:
        if decision == "implicit deny" and policy.get("Statement"):
            assert verdict.failed
        return
    element, operator, key = failing
    first = verdict.failed[0]
    assert first.element == element, text
    if operator is not None:
        assert first.operator == operator
        assert first.key == key
        assert key in text and operator in text
    if seen == "missing":
        assert first.missing and first.seen is None and first.seen_text == "missing"
        assert "missing" in text
    elif seen is not None:
        assert first.seen == seen
        for value in seen if isinstance(seen, list) else [seen]:
            assert repr(value) in text


def test_table_is_big_enough() -> None:
    assert len(CASES) >= 30


def test_deciding_statement_is_named() -> None:
    verdict = evaluate(
        pol(st(GH_ANY, Sid="AnyRef"), st({"StringLike": {f"{GH}:sub": "*:pull_request"}}, effect="Deny", Sid="NoPR")),
        gh(PR),
    )
    assert verdict.statement is not None and verdict.statement.index == 1 and verdict.statement.sid == "NoPR"
    assert "denied explicitly by statement #1 (Sid 'NoPR')" in verdict.explain()
    allowed = evaluate(
        pol(
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
            st(GH_BRANCH, Sid="GitHub"),
        ),
        gh(),
    )
    assert str(allowed.statement) == "#1 (Sid 'GitHub')"


def test_failed_lists_relevant_allow_statements_only() -> None:
    verdict = evaluate(
        pol(
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
            st(GH_BRANCH),
            st({"StringEquals": {f"{GH}:sub": "repo:octo-org/octo-repo:environment:prod"}}),
        ),
        gh(PR),
    )
    assert [f.statement.index for f in verdict.failed] == [1, 2]
    assert all(f.key == f"{GH}:sub" and f.seen == PR for f in verdict.failed)


def test_not_evaluated_names_the_operator() -> None:
    verdict = evaluate(pol(st({"NumericLessThan": {f"{GH}:run_attempt": "3"}, "StringEquals": GH_AUD})), gh())
    assert not verdict.evaluated and not verdict.allowed
    assert "NumericLessThan" in verdict.explain()


# --- warnings ------------------------------------------------------------------------------------------------------


def warnings_of(policy: Any, claims: dict | None = None) -> str:
    return "\n".join(evaluate(policy, claims or gh()).warnings)


def test_warns_about_wildcard_under_stringequals() -> None:
    text = warnings_of(pol(st({"StringEquals": {f"{GH}:aud": AUD, f"{GH}:sub": "repo:octo-org/octo-repo:*"}})))
    assert "StringLike" in text and "repo:octo-org/octo-repo:*" in text


def test_warns_when_sub_is_not_constrained() -> None:
    text = warnings_of(pol(st({"StringEquals": GH_AUD})))
    assert f"{GH}:sub is not constrained" in text and "any repository on GitHub" in text


def test_warns_when_aud_is_not_checked() -> None:
    text = warnings_of(pol(st({"StringEquals": {f"{GH}:sub": MAIN}})))
    assert f"no condition on {GH}:aud" in text


def test_warns_about_pattern_without_colon() -> None:
    text = warnings_of(pol(st({"StringEquals": GH_AUD, "StringLike": {f"{GH}:sub": "repo:octo-org/octo-repo*"}})))
    assert "put ':' before the '*'" in text


def test_warns_about_organisation_wide_pattern() -> None:
    text = warnings_of(pol(st({"StringEquals": GH_AUD, "StringLike": {f"{GH}:sub": "repo:octo-org/*"}})))
    assert "every repository of 'octo-org'" in text


def test_warns_about_key_of_other_provider_and_unexposed_claims() -> None:
    text = warnings_of(
        pol(st({"StringEquals": {f"{GH}:aud": AUD, "gitlab.com:sub": MAIN, f"{GH}:event_name": "push"}}))
    )
    assert "names provider 'gitlab.com'" in text
    assert "does not expose 'event_name'" in text


def test_warns_about_ifexists_and_negation_on_sub() -> None:
    text = warnings_of(pol(st({"StringEquals": GH_AUD, "StringLikeIfExists": {f"{GH}:sub": "repo:octo-org/*"}})))
    assert "lets a token without sub through" in text
    text = warnings_of(pol(st({"StringEquals": GH_AUD, "StringNotLike": {f"{GH}:sub": "*:pull_request"}})))
    assert "admits every other sub" in text


def test_warns_about_multivalued_aud_without_qualifier() -> None:
    text = warnings_of(pol(st(GH_BRANCH)), gh(aud=[AUD, "x"]))
    assert "ForAnyValue" in text


def test_warns_about_resource_and_principal_star() -> None:
    text = warnings_of(pol(st(GH_BRANCH, principal="*", Resource="*")))
    assert "Resource" in text and 'Principal "*"' in text


def test_clean_policy_has_no_warnings() -> None:
    assert evaluate(pol(st(GH_BRANCH)), gh()).warnings == []


# --- loading -------------------------------------------------------------------------------------------------------


def test_duplicate_condition_operator_keeps_the_last_and_warns() -> None:
    # Two "StringEquals" blocks: JSON keeps one, so the sub check silently vanishes (a real-world bug).
    text = (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        f'"Principal": {{"Federated": "{GH_ARN}"}}, "Action": "sts:AssumeRoleWithWebIdentity", '
        f'"Condition": {{"StringEquals": {{"{GH}:sub": "{MAIN}"}}, "StringEquals": {{"{GH}:aud": "{AUD}"}}}}}}]}}'
    )
    verdict = evaluate(text, gh("repo:evil/repo:ref:refs/heads/main"))
    assert verdict.allowed
    joined = "\n".join(verdict.warnings)
    assert "'StringEquals' twice" in joined and "not constrained" in joined


def test_load_policy_accepts_url_encoded_getrole_document() -> None:
    encoded = quote(json.dumps(pol(st(GH_BRANCH))), safe="")
    assert evaluate(encoded, gh()).allowed
    wrapped = json.dumps({"Role": {"RoleName": "x", "AssumeRolePolicyDocument": encoded}})
    assert evaluate(wrapped, gh()).allowed
    assert evaluate({"Role": {"AssumeRolePolicyDocument": pol(st(GH_BRANCH))}}, gh()).allowed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"Version": "2012-10-17"}', "no Statement"),
        ("[]", "no Statement"),
        (b"\xff\xfe", "UTF-8"),
    ],
)
def test_load_policy_rejects_non_policies(text: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_policy(text)


def test_policy_variables_only_in_2012_version() -> None:
    condition = {"StringEquals": {f"{GH}:aud": AUD}, "StringLike": {f"{GH}:sub": "repo:${" + GH + ":repository}:*"}}
    assert evaluate(pol(st(condition)), gh()).allowed
    old = {"Version": "2008-10-17", "Statement": [st(condition)]}
    assert not evaluate(old, gh()).allowed  # no substitution: the literal text never matches
    literal_star = {"StringEquals": {f"{GH}:aud": AUD}, "StringLike": {f"{GH}:sub": "repo:octo-org/octo-repo:${*}"}}
    assert evaluate(pol(st(literal_star)), gh("repo:octo-org/octo-repo:*")).allowed
    assert not evaluate(pol(st(literal_star)), gh()).allowed
