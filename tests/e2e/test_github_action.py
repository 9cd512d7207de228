"""actions/ecr-login end to end: action.yml run the way the runner runs it (tests/e2e/gha_runner.py), the local OIDC
issuer behind ACTIONS_ID_TOKEN_REQUEST_*, moto for STS and ECR, and following steps of the job that use only what
the action exported. The emulator fails a test on any unmasked secret and on any mask registered too late."""

from __future__ import annotations

import json
import os
import random
import shlex
import stat
import sys
from pathlib import Path

import pytest

from tests.e2e.gha_checkout import checkout
from tests.e2e.gha_runner import Job
from tests.testbed import hosts
from tests.testbed.moto import moto_ecr_auth, moto_ecr_password
from tests.testbed.registry import Registry, make_oci_layout

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ci-push"
HOST = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
SECRET_OUTPUTS = {"docker-password": {"password"}}
SECRET_ENV = {"AWS_SECRET_ACCESS_KEY": {"aws-secret-key"}, "AWS_SESSION_TOKEN": {"aws-session-token"}}


@pytest.fixture(scope="session")
def bootstrap_cache(tmp_path_factory) -> Path:
    """One tool cache for the session's jobs, as on a runner that has run the action before."""
    return tmp_path_factory.mktemp("bootstrap-cache")


@pytest.fixture(scope="session")
def action_dir(tmp_path_factory) -> Path:
    """actions/ecr-login as a job checks it out (tests/e2e/gha_checkout.py)."""
    return checkout(tmp_path_factory.mktemp("checkout"))


def new_job(path: Path, cache: Path, **options) -> Job:
    """A job on an emulated runner whose environment is this test's (see clean_env) plus the shared tool cache."""
    env = {**os.environ, "ECR_CI_BOOTSTRAP_CACHE_DIR": str(cache)}
    return Job(path, env=env, allow_outputs=SECRET_OUTPUTS, allow_env=SECRET_ENV, **options)


@pytest.fixture
def job(tmp_path, oidc_issuer, bootstrap_cache):
    """A push job with `id-token: write`; its DOCKER_CONFIG is the user's (HOME/.docker)."""
    return new_job(tmp_path / "job", bootstrap_cache, oidc=oidc_issuer)


def login(job: Job, action_dir: Path, **inputs: str):
    return job.uses(action_dir, {"role-to-assume": ROLE, "registries": HOST, **inputs}, id="ecr")


def user_config() -> Path:
    return Path(os.environ["DOCKER_CONFIG"]) / "config.json"


def assert_nothing_written(job: Job, result) -> None:
    assert result.failed
    login_step = next(s for s in result.steps if s.id == "login")
    assert login_step.failed and login_step.outputs == {} and login_step.env_set == {}
    assert set(result.outputs.values()) == {""}
    assert "DOCKER_CONFIG" not in job.env and not list(job.temp.glob("ecr-ci-*"))


def the_error(result) -> str:
    (message,) = [m for m in result.errors() if not m.startswith("Process completed")]
    return message


# -- success --------------------------------------------------------------------------------------------------
@pytest.mark.requires("skopeo", "docker-registry", "hosts")
def test_one_step_then_skopeo_pushes_with_only_the_exported_docker_config(job, action_dir, oidc_issuer, tmp_path):
    address = f"127.{random.randint(20, 250)}.{random.randint(1, 250)}.{random.randint(2, 250)}"
    with Registry({"AWS": moto_ecr_password(ACCOUNT)}, tls=True, hostnames=[HOST], address=address, port=443) as reg:
        result = login(job, action_dir)
        assert result.outcome == "success", job.text()
        assert [s.outcome for s in result.steps] == ["success", "skipped", "success"]  # the Windows set-up skipped
        out = result.outputs
        assert out["registry"] == HOST and out["registries"] == HOST and out["docker-username"] == "AWS"
        assert out["docker-password"] == moto_ecr_password(ACCOUNT)
        assert out["expires-at"].endswith("Z") and out["docker-config"] == job.env["DOCKER_CONFIG"]
        docker_config = Path(job.env["DOCKER_CONFIG"])
        assert docker_config.parent.parent == job.temp  # per job, under RUNNER_TEMP
        assert stat.S_IMODE(docker_config.stat().st_mode) == 0o700
        assert stat.S_IMODE((docker_config / "config.json").stat().st_mode) == 0o600
        assert json.loads((docker_config / "config.json").read_text())["auths"][HOST]["auth"] == moto_ecr_auth(ACCOUNT)
        # Masked before anything printed (the emulator would have failed the step otherwise), and all three.
        assert job.is_masked(moto_ecr_password(ACCOUNT)) and job.is_masked(moto_ecr_auth(ACCOUNT))
        assert oidc_issuer.tokens and job.is_masked(oidc_issuer.tokens[-1])
        assert oidc_issuer.audiences[-1] == "sts.amazonaws.com"
        assert any(line.group == "ecr-ci: log in to Amazon ECR" for line in job.log)
        summary = job.summaries[-1]
        assert HOST in summary and ROLE in summary and "gha-octo-org-octo-repo-4242-1" in summary
        assert not user_config().exists()  # the user's own config untouched

        layout = make_oci_layout(tmp_path / "image")
        hosts_file = tmp_path / "hosts"
        hosts_file.write_text(hosts.hosts_text({HOST: address}))
        shell = shlex.join(hosts.wrap(["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"], hosts_file))
        push = f'skopeo copy --dest-cert-dir "{reg.cert_dir}" "oci:{layout}:latest" "docker://{HOST}/app:1"'
        assert job.run(push, shell=shell).outcome == "success", job.text()
        # Negative control: without the exported DOCKER_CONFIG the same push is refused.
        refused = job.run(f"unset DOCKER_CONFIG; {push.replace('app:1', 'app:2')}", shell=shell, continue_on_error=True)
        assert refused.outcome == "failure"


def test_several_regions_and_accounts_in_one_step(job, action_dir, moto_server):
    others = [f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com", "210987654321.dkr.ecr.eu-west-1.amazonaws.com"]
    result = login(job, action_dir, registries="\n".join([HOST, *others]))
    assert result.outcome == "success", job.text()
    assert result.outputs["registries"].split(",") == [HOST, *others]
    assert result.outputs["registry"] == result.outputs["docker-password"] == result.outputs["docker-username"] == ""
    assert moto_server.count("sts", "AssumeRoleWithWebIdentity") == 1
    assert moto_server.count("ecr", "GetAuthorizationToken") == 2
    auths = json.loads((Path(job.env["DOCKER_CONFIG"]) / "config.json").read_text())["auths"]
    assert set(auths) == {HOST, *others}


def test_the_users_config_is_carried_over_without_creds_store_or_stale_entries(job, action_dir):
    user_config().parent.mkdir(parents=True, exist_ok=True)
    before = {"auths": {"ghcr.io": {"auth": "eDp5"}, HOST: {"auth": "c3RhbGU="}}, "credsStore": "desktop"}
    user_config().write_text(json.dumps(before))
    (user_config().parent / "cli-plugins").mkdir()
    result = login(job, action_dir)
    assert result.outcome == "success", job.text()
    data = json.loads((Path(job.env["DOCKER_CONFIG"]) / "config.json").read_text())
    assert data["auths"] == {"ghcr.io": {"auth": "eDp5"}, HOST: {"auth": moto_ecr_auth(ACCOUNT)}}
    assert "credsStore" not in data and data["cliPluginsExtraDirs"] == [str(user_config().parent / "cli-plugins")]
    assert json.loads(user_config().read_text()) == before


def test_isolation_off_writes_the_default_config_and_exports_nothing(job, action_dir):
    result = login(job, action_dir, **{"isolate-docker-config": "false", "skip-logout": "true"})
    assert result.outcome == "success", job.text()
    assert "DOCKER_CONFIG" not in job.env and result.outputs["docker-config"] == str(user_config().parent)
    assert json.loads(user_config().read_text())["auths"][HOST]["auth"] == moto_ecr_auth(ACCOUNT)


def test_podman_and_helm_files_per_job(job, action_dir):
    result = login(job, action_dir, write="docker,podman,helm")
    assert result.outcome == "success", job.text()
    for variable in ("REGISTRY_AUTH_FILE", "HELM_REGISTRY_CONFIG"):
        path = Path(job.env[variable])
        assert path.parent.parent == job.temp and stat.S_IMODE(path.stat().st_mode) == 0o600
        assert json.loads(path.read_text())["auths"][HOST]["auth"] == moto_ecr_auth(ACCOUNT)


def test_exported_aws_credentials_work_in_a_later_step_and_are_masked(job, action_dir, moto_server):
    result = login(job, action_dir, **{"export-aws-credentials": "true", "aws-region": "eu-west-1"})
    assert result.outcome == "success", job.text()
    assert job.is_masked(job.env["AWS_SECRET_ACCESS_KEY"]) and job.is_masked(job.env["AWS_SESSION_TOKEN"])
    assert job.env["AWS_REGION"] == job.env["AWS_DEFAULT_REGION"] == "eu-west-1"
    who = f'{shlex.quote(sys.executable)} -c \'import boto3; print(boto3.client("sts").get_caller_identity()["Arn"])\''
    later = job.run(who)
    assert later.outcome == "success", job.text()
    assert later.log[-1] == f"arn:aws:sts::{ACCOUNT}:assumed-role/ci-push/gha-octo-org-octo-repo-4242-1"
    later = job.run('echo "$AWS_SECRET_ACCESS_KEY"')  # printed by a careless step: masked
    assert later.log[-1] == "***"


def test_ecr_public_through_us_east_1(job, action_dir, fake_aws):
    job.base_env["AWS_ENDPOINT_URL_ECR_PUBLIC"] = fake_aws.url
    result = job.uses(action_dir, {"role-to-assume": ROLE, "registry-type": "public", "aws-region": "eu-west-1"})
    assert result.outcome == "success", job.text()
    assert result.outputs["registry"] == "public.ecr.aws"
    assert fake_aws.count("ecr-public", "GetAuthorizationToken", region="us-east-1") == 1
    assert job.is_masked(fake_aws.ecr_public.issued[-1][1])


def test_mask_password_false_still_never_prints_it_and_masks_the_token(job, action_dir, oidc_issuer):
    result = login(job, action_dir, **{"mask-password": "false"})
    assert result.outcome == "success", job.text()
    assert not job.is_masked(moto_ecr_password(ACCOUNT)) and job.is_masked(oidc_issuer.tokens[-1])
    assert moto_ecr_password(ACCOUNT) not in job.text()


def test_debug_logging_overrides_mask_password_false(tmp_path, oidc_issuer, action_dir, bootstrap_cache):
    """The runner's debug log prints every output: the password is masked after all, and the step says so."""
    job = new_job(tmp_path / "job", bootstrap_cache, oidc=oidc_issuer, debug=True)
    result = login(job, action_dir, **{"mask-password": "false"})
    assert result.outcome == "success", job.text()
    assert job.is_masked(moto_ecr_password(ACCOUNT)) and "Set output docker-password = ***" in job.text()
    assert any("mask-password: false is ignored" in a.message for a in result.annotations if a.kind == "warning")


def test_runner_debug_turns_on_the_verbose_log(tmp_path, oidc_issuer, action_dir, bootstrap_cache):
    job = new_job(tmp_path / "job", bootstrap_cache, oidc=oidc_issuer, debug=True)
    result = login(job, action_dir)
    assert result.outcome == "success", job.text()
    assert any(line.text.startswith("ecr-ci: debug:") for line in job.log)


def test_two_logins_in_one_job_accumulate(job, action_dir):
    other = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com"
    assert login(job, action_dir).outcome == "success"
    assert job.uses(action_dir, {"role-to-assume": ROLE, "registries": other}).outcome == "success"
    auths = json.loads((Path(job.env["DOCKER_CONFIG"]) / "config.json").read_text())["auths"]
    assert set(auths) == {HOST, other}


# -- failures: one ::error:: with the cause, a failed step, nothing written -----------------------------------
def test_no_id_token_permission(tmp_path, oidc_issuer, action_dir, bootstrap_cache):
    job = new_job(tmp_path / "job", bootstrap_cache, oidc=oidc_issuer, id_token=False)
    result = login(job, action_dir)
    assert_nothing_written(job, result)
    message = the_error(result)
    assert "(cause: github.no-id-token-permission)" in message and "id-token: write" in message
    assert "github.no-id-token-permission" in job.summaries[-1]


def test_fork_pull_request(tmp_path, oidc_issuer, action_dir, bootstrap_cache):
    event = {
        "pull_request": {
            "head": {"repo": {"full_name": "fork/octo-repo"}},
            "base": {"repo": {"full_name": "octo-org/octo-repo"}},
        }
    }
    job = new_job(
        tmp_path / "job", bootstrap_cache, oidc=oidc_issuer, id_token=False, event_name="pull_request", event=event
    )
    result = login(job, action_dir)
    assert_nothing_written(job, result)
    assert "(cause: github.fork-pr)" in the_error(result) and "forks" in the_error(result)


def test_dependabot(tmp_path, oidc_issuer, action_dir, bootstrap_cache):
    job = new_job(tmp_path / "job", bootstrap_cache, oidc=oidc_issuer, id_token=False, actor="dependabot[bot]")
    result = login(job, action_dir)
    assert_nothing_written(job, result)
    assert "(cause: github.dependabot)" in the_error(result)


@pytest.mark.parametrize(
    ("inputs", "named", "value"),
    [
        ({"role-to-assume": "ci-push"}, "role-to-assume", "ci-push"),
        ({"registries": f"{HOST}.evil.example"}, "registries", f"{HOST}.evil.example"),
        ({"role-duration-seconds": "100"}, "role-duration-seconds", "100"),
        ({"mask-password": "yes"}, "mask-password", "yes"),
        ({"write": "docker,floppy"}, "write", "floppy"),
    ],
    ids=["malformed role ARN", "lookalike host", "duration", "strict boolean", "unknown write target"],
)
def test_bad_input_names_the_action_input(job, action_dir, moto_server, oidc_issuer, inputs, named, value):
    result = login(job, action_dir, **inputs)
    assert_nothing_written(job, result)
    message = the_error(result)
    assert named in message and value in message and "(cause: input." in message, message
    assert "--" not in message.split("(cause")[0]  # an action input, not a CLI flag
    assert moto_server.count("sts", "AssumeRoleWithWebIdentity") == 0 and oidc_issuer.audiences == []


def test_sts_refusal_shows_claims_and_a_matching_trust_policy(job, action_dir, fake_aws):
    job.base_env["AWS_ENDPOINT_URL_STS"] = fake_aws.url
    fake_aws.sts.push("AccessDenied")
    result = login(job, action_dir)
    assert_nothing_written(job, result)
    assert "(cause: sts." in the_error(result)
    summary = job.summaries[-1]
    assert "repo:octo-org/octo-repo:ref:refs/heads/main" in summary  # the decoded sub claim
    assert "token.actions.githubusercontent.com:sub" in summary  # the condition keys they are matched as
    # and the trust policy that would have matched (JSON, in the summary's details)
    assert '"token.actions.githubusercontent.com:sub": "repo:octo-org/octo-repo:ref:refs/heads/main"' in summary


# -- injection ------------------------------------------------------------------------------------------------
def string_inputs(action_dir: Path) -> list[str]:
    import yaml

    return list(yaml.safe_load((action_dir / "action.yml").read_text())["inputs"])


def test_hostile_values_in_every_input_stay_inert(job, action_dir, tmp_path):
    markers = [tmp_path / f"pwned-{i}" for i in range(3)]
    payload = f'x"; touch {markers[0]}; echo "$(touch {markers[1]})`touch {markers[2]}`'
    for name in string_inputs(action_dir):
        inputs = {"role-to-assume": ROLE, "registries": HOST, name: payload}
        result = job.uses(action_dir, inputs)
        assert not any(m.exists() for m in markers), f"input {name} ran a command"
        if result.failed:  # refused as bad input, quoting the value as it was, naming the input
            message = the_error(result)
            assert name in message or "(cause: input." in message, message
        job.env.pop("DOCKER_CONFIG", None)
    assert not any(m.exists() for m in markers)


def test_empty_inputs_fall_back_to_the_environment(job, action_dir):
    """A job-level `env:` can set defaults for every step: the env twin, then the standard variable."""
    job.base_env |= {"AWS_ROLE_ARN": ROLE, "ECR_CI_REGISTRIES": ACCOUNT, "AWS_REGION": "eu-west-1"}
    result = job.uses(action_dir, {})
    assert result.outcome == "success", job.text()
    assert result.outputs["registry"] == f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com"
    assert ROLE in job.summaries[-1]
