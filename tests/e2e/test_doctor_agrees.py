"""``ecr-ci doctor`` fails (exit 1) whenever ``ecr-ci login`` fails in the same environment, and says why.

Each case is an environment a new user can be in: no CI and no AWS credentials, a GitHub job without a role or
without ``id-token: write``, a broken or hostile docker config, a damaged state record, an unusable podman auth
file, no registry at all, a login-only setting login would refuse, a misspelt variable, a missing token file, a
pseudo-region, a role in the wrong partition; and the environments where both succeed. Both commands run as real
processes with the same flags and environment; the doctor's report must name what login trips on.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.hostile import ACCOUNT, HOST, ROLE, cli, github_env

Setup = Callable[[Path, dict[str, str]], None]


def _config(home: Path) -> Path:
    return Path(os.environ["DOCKER_CONFIG"]) / "config.json"


def _write_config(text: str) -> Setup:
    def setup(home: Path, env: dict[str, str]) -> None:
        _config(home).write_text(text)

    return setup


def _fifo_config(home: Path, env: dict[str, str]) -> None:
    os.mkfifo(_config(home))


def _bad_record(home: Path, env: dict[str, str]) -> None:
    _config(home).with_name(".config.json.ecr-ci").write_text('{"entries": []}')


def _podman_dir(home: Path, env: dict[str, str]) -> None:
    (home / "auth-dir").mkdir()
    env |= {"ECR_CI_WRITE": "docker,podman", "REGISTRY_AUTH_FILE": str(home / "auth-dir")}


def _aws_keys(home: Path, env: dict[str, str]) -> None:
    env |= {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLEKEY000001", "AWS_SECRET_ACCESS_KEY": "x" * 40}
    env["AWS_DEFAULT_REGION"] = "us-east-1"


def _vars(**variables: str) -> Setup:
    def setup(home: Path, env: dict[str, str]) -> None:
        env |= variables

    return setup


def _nothing(home: Path, env: dict[str, str]) -> None:
    pass


REGISTRY = ["--registry", HOST]
WITH_ROLE = [*REGISTRY, "--role-arn", ROLE]
# id: (in a GitHub job?, setup, flags, does login succeed?, what doctor must name when it fails)
CASES: dict[str, tuple[bool, Setup, list[str], bool, str]] = {
    "github-job-with-role": (True, _nothing, WITH_ROLE, True, ""),
    "aws-keys-no-ci": (False, _aws_keys, REGISTRY, True, ""),
    "no-ci-no-credentials": (False, _nothing, REGISTRY, False, "credential chain"),
    "oidc-none-no-credentials": (False, _nothing, [*REGISTRY, "--oidc", "none"], False, "credential chain"),
    "github-job-without-role": (True, _nothing, REGISTRY, False, "role_arn"),
    "github-job-without-id-token-permission": (
        True,
        _vars(ACTIONS_ID_TOKEN_REQUEST_URL=""),
        WITH_ROLE,
        False,
        "id-token",
    ),  # fmt: skip
    "malformed-docker-config": (True, _write_config('{"auths": {'), WITH_ROLE, False, "not valid JSON"),
    "docker-config-with-NaN": (True, _write_config('{"auths": {}, "x": NaN}'), WITH_ROLE, False, "NaN"),
    "docker-config-is-a-fifo": (True, _fifo_config, WITH_ROLE, False, "FIFO"),
    "damaged-state-record": (True, _bad_record, WITH_ROLE, False, "record of what it wrote"),
    "podman-auth-file-is-a-directory": (True, _podman_dir, WITH_ROLE, False, "is a directory"),
    "no-registry": (True, _nothing, ["--role-arn", ROLE], False, "none given"),
    "misspelt-registries-variable": (
        True,
        _vars(ECR_CI_REGISTRY=HOST),
        ["--role-arn", ROLE],
        False,
        "did you mean ECR_CI_REGISTRIES?",
    ),  # fmt: skip
    "login-only-setting-refused": (True, _vars(ECR_CI_DURATION="5"), WITH_ROLE, False, "ECR_CI_DURATION"),
    "token-file-missing": (
        False,
        _nothing,
        [*WITH_ROLE, "--oidc", "file", "--token-file", "/nonexistent/token"],
        False,
        "/nonexistent/token",
    ),  # fmt: skip
    "pseudo-region-host": (
        True,
        _nothing,
        ["--registry", f"{ACCOUNT}.dkr.ecr.aws-global.amazonaws.com", "--role-arn", ROLE],
        False,
        "aws-global",
    ),  # fmt: skip
    "role-in-another-partition": (
        True,
        _nothing,
        [*REGISTRY, "--role-arn", f"arn:aws-cn:iam::{ACCOUNT}:role/ci"],
        False,
        "partition",
    ),  # fmt: skip
}


@pytest.mark.parametrize("case", list(CASES))
def test_doctor_fails_exactly_when_login_fails_and_says_why(case, clean_env, oidc_issuer, moto_server):
    in_github, setup, flags, login_works, reason = CASES[case]
    env = github_env(oidc_issuer) if in_github else dict(os.environ)
    setup(clean_env, env)
    env = {k: v for k, v in env.items() if v != ""}  # an empty variable is an unset one, as on a runner

    doctor = cli("doctor", *flags, env=env, process=True, hang=60)
    login = cli("login", *flags, env=env, process=True, hang=60)

    said = doctor.out + doctor.err
    assert (login.code == 0) is login_works, login.err
    assert (doctor.code == 0) is login_works, (
        f"login exit {login.code}: {login.err}\ndoctor exit {doctor.code}:\n{said}"
    )
    assert "Traceback" not in said and "unexpected" not in said
    if not login_works:
        assert reason in said, said
