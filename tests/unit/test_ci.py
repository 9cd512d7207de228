"""Per-CI knowledge: token sources, session names, and the causes they name (fork PRs, Dependabot, China)."""

from __future__ import annotations

import json

import pytest

from ecr_ci import ci
from ecr_ci.ci import github, gitlab, jenkins
from ecr_ci.errors import ConfigError, IdentityTokenError
from ecr_ci.settings import resolve

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl"


def test_not_this_ci_is_none():
    assert github.token_source({}) is None and gitlab.token_source({}) is None and jenkins.token_source({}) is None


def test_github_without_permission_names_the_permission():
    source = github.token_source({"GITHUB_ACTIONS": "true"})
    with pytest.raises(IdentityTokenError, match="id-token: write") as e:
        source.fetch("sts.amazonaws.com", 5)
    assert e.value.code == "github.no-id-token-permission"


def test_github_fork_pull_request_is_named(tmp_path):
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {"pull_request": {"head": {"repo": {"full_name": "fork/app"}}, "base": {"repo": {"full_name": "org/app"}}}}
        )
    )
    env = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(event)}
    with pytest.raises(IdentityTokenError, match="pull requests from forks") as e:
        github.token_source(env).fetch("sts.amazonaws.com", 5)
    assert e.value.code == "github.fork-pr"


def test_github_same_repository_pull_request_is_a_permission_problem(tmp_path):
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {"pull_request": {"head": {"repo": {"full_name": "org/app"}}, "base": {"repo": {"full_name": "org/app"}}}}
        )
    )
    env = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(event)}
    with pytest.raises(IdentityTokenError) as e:
        github.token_source(env).fetch("sts.amazonaws.com", 5)
    assert e.value.code == "github.no-id-token-permission"


def test_github_dependabot_is_named():
    env = {"GITHUB_ACTIONS": "true", "GITHUB_ACTOR": "dependabot[bot]", "GITHUB_EVENT_NAME": "push"}
    with pytest.raises(IdentityTokenError, match="Dependabot") as e:
        github.token_source(env).fetch("sts.amazonaws.com", 5)
    assert e.value.code == "github.dependabot"


def test_github_scope_is_local_and_per_job():
    a = github.token_source(
        {"ACTIONS_ID_TOKEN_REQUEST_URL": "http://x/?a=1", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "job-a"}
    )
    b = github.token_source(
        {"ACTIONS_ID_TOKEN_REQUEST_URL": "http://x/?a=1", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "job-b"}
    )
    assert a.scope and b.scope and a.scope != b.scope and "job-a" not in a.scope


@pytest.mark.parametrize("audience", ["sts.amazonaws.com", "sts.amazonaws.com.cn"])
def test_gitlab_hint_names_the_audience_of_the_login(audience):
    with pytest.raises(IdentityTokenError) as e:
        gitlab.token_source({"GITLAB_CI": "true"}).fetch(audience, 5)
    d = e.value.diagnostics()
    assert e.value.code == "gitlab.no-id-token" and f"aud: {audience}" in str(e.value)
    assert f"aud: {audience}" in d.hints[0]


@pytest.mark.parametrize("audience", ["sts.amazonaws.com", "sts.amazonaws.com.cn"])
def test_jenkins_hint_names_the_audience_and_a_variable_that_is_read(audience):
    with pytest.raises(IdentityTokenError) as e:
        jenkins.token_source({"JENKINS_URL": "https://ci/"}).fetch(audience, 5)
    hint = e.value.diagnostics().hints[0]
    assert e.value.code == "jenkins.no-id-token" and audience in hint
    assert "AWS_WEB_IDENTITY_TOKEN_FILE" in hint and "AWS_ID_TOKEN_FILE" not in hint


def test_jenkins_token_file(tmp_path):
    (tmp_path / "t").write_text(JWT + "\n")
    token = jenkins.token_source({"JENKINS_URL": "https://ci/"}, str(tmp_path / "t")).fetch("aud", 5)
    assert token.token == JWT and token.source == "jenkins"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"GITHUB_RUN_ID": "42", "GITHUB_RUN_ATTEMPT": "2"}, "gha-42-2"),
        (
            {"GITHUB_REPOSITORY": "octo-org/app", "GITHUB_RUN_ID": "42", "GITHUB_RUN_ATTEMPT": "2"},
            "gha-octo-org-app-42-2",
        ),
        (
            {"GITHUB_REPOSITORY": "o" * 39 + "/" + "r" * 100, "GITHUB_RUN_ID": "9876543210", "GITHUB_RUN_ATTEMPT": "3"},
            "gha-" + "o" * 16 + "-" + "r" * 30 + "-9876543210-3",
        ),
        ({"CI_PIPELINE_ID": "7", "CI_JOB_ID": "9"}, "gitlab-7-9"),
        ({"JOB_NAME": "team/app build", "BUILD_NUMBER": "12"}, "jenkins-team-app-build-12"),
        ({}, None),
    ],
)
def test_session_names(env, expected):
    assert ci.session_name(env) == expected


def test_select_auto_lets_the_first_ci_decide():
    s = resolve({}, {})
    source = ci.select(s, {"GITHUB_ACTIONS": "true", "GITLAB_CI": "true", "AWS_ID_TOKEN": JWT})
    assert source is not None and source.name == "github"
    assert ci.select(s, {}) is None


def test_select_by_name_outside_that_ci_is_bad_input():
    with pytest.raises(ConfigError, match="not a GitLab CI/CD job"):
        ci.select(resolve({"oidc": "gitlab"}, {}), {})
