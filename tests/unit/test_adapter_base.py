"""The adapters' shared house: inputs named per surface, errors naming the input, the per-job docker config."""

from __future__ import annotations

import json
import stat

import pytest

from ecr_ci.adapters import base
from ecr_ci.errors import ConfigError

ROLE = "arn:aws:iam::123456789012:role/ci-push"


@pytest.mark.parametrize(
    ("name", "variable"),
    [
        ("role-to-assume", "ECR_CI_INPUT_ROLE_TO_ASSUME"),
        ("roleArn", "ECR_CI_INPUT_ROLEARN"),
        ("aws-region", "ECR_CI_INPUT_AWS_REGION"),
    ],
)
def test_input_variable(name, variable):
    assert base.input_variable(name) == variable


@pytest.mark.parametrize(
    ("surface", "name"), [("github", "role-to-assume"), ("gitlab", "role-arn"), ("jenkins", "roleArn")]
)
def test_settings_come_from_the_surface_inputs(surface, name):
    env = {base.input_variable(name): ROLE, base.input_variable("registries"): "123456789012"}
    s = base.settings(surface, env, cache=False)
    assert s.role_arn == ROLE and s.registries == ["123456789012"] and s.cache is False


@pytest.mark.parametrize(
    ("surface", "name", "cli"),
    [
        ("github", "role-to-assume", "--role-arn"),
        ("gitlab", "role-arn", "--role-arn"),
        ("jenkins", "roleArn", "--role-arn"),
    ],
)
def test_a_bad_input_is_named_as_the_user_wrote_it(surface, name, cli):
    with pytest.raises(ConfigError) as e:
        base.settings(surface, {base.input_variable(name): "notanarn"})
    message = str(e.value)
    assert name in message and "'notanarn'" in message and cli not in message
    assert e.value.code == "input.invalid" and e.value.fields["setting"] == "role_arn"
    assert "\n" not in message


def test_a_missing_role_names_the_input(tmp_path):
    from ecr_ci.core.flow import credentials, plan
    from ecr_ci.core.identity import IdentityToken

    s = base.settings("github", {base.input_variable("registries"): "123456789012.dkr.ecr.eu-west-1.amazonaws.com"})
    with pytest.raises(ConfigError, match="role-to-assume: not set.*set the action input role-to-assume"):
        credentials(s, {}, plan(s), 0.0, IdentityToken("github", "a.b.c", "x"), "session")


def test_isolated_config_carries_the_users_config_minus_the_target_hosts(tmp_path):
    user = tmp_path / "user"
    (user / "cli-plugins").mkdir(parents=True)
    host = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    (user / "config.json").write_text(
        json.dumps(
            {
                "auths": {
                    host: {"auth": "b2xk"},
                    "https://index.docker.io/v1/": {"auth": "aHViOnB3"},
                    f"https://{host}": {"auth": "eA=="},
                },
                "credHelpers": {host: "ecr-login", "gcr.io": "gcloud"},
                "credsStore": "desktop",
                "proxies": {"default": {"httpProxy": "http://proxy:3128"}},
            }
        )
    )
    job = base.isolated_docker_config(tmp_path / "job", user, [host])
    data = json.loads((job / "config.json").read_text())
    assert data["auths"] == {"https://index.docker.io/v1/": {"auth": "aHViOnB3"}}
    assert data["credHelpers"] == {"gcr.io": "gcloud"} and "credsStore" not in data
    assert data["proxies"] == {"default": {"httpProxy": "http://proxy:3128"}}
    assert data["cliPluginsExtraDirs"] == [str(user / "cli-plugins")]
    assert stat.S_IMODE(job.stat().st_mode) == 0o700 and stat.S_IMODE((job / "config.json").stat().st_mode) == 0o600
    assert json.loads((user / "config.json").read_text())["credsStore"] == "desktop"  # the user's file untouched


def test_isolated_config_without_a_user_config(tmp_path):
    job = base.isolated_docker_config(tmp_path / "job", tmp_path / "nothing-here", ["h"])
    assert json.loads((job / "config.json").read_text()) == {}


def test_a_malformed_user_config_is_an_error_and_stays(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    from ecr_ci.errors import SinkError

    with pytest.raises(SinkError, match="not valid JSON"):
        base.isolated_docker_config(tmp_path / "job", tmp_path, ["h"])
    assert (tmp_path / "config.json").read_text() == "{not json"


@pytest.mark.parametrize(
    ("surface", "registries_input", "region_input"),
    [("github", "registries", "aws-region"), ("gitlab", "registries", "region"), ("jenkins", "registries", "region")],
)
def test_plan_errors_name_the_surface_inputs(surface, registries_input, region_input):
    from ecr_ci.core.flow import plan

    with pytest.raises(ConfigError) as e:
        plan(base.settings(surface, {}))
    assert f"input {registries_input}" in str(e.value) or f"argument {registries_input}" in str(e.value)
    assert "--registry" not in str(e.value)
    with pytest.raises(ConfigError) as e:
        plan(base.settings(surface, {base.input_variable(registries_input): "123456789012"}))
    assert region_input in str(e.value) and "--region" not in str(e.value)
    bad_arn = {base.input_variable(registries_input): "123456789012.dkr.ecr.eu-west-1.amazonaws.com"}
    role = {"github": "role-to-assume", "gitlab": "role-arn", "jenkins": "roleArn"}[surface]
    bad_arn[base.input_variable(role)] = "arn:aws-cn:iam::123456789012:role/x"
    with pytest.raises(ConfigError, match=rf"^\w+ (input|argument) {role}: .*is in partition aws-cn"):
        plan(base.settings(surface, bad_arn))
