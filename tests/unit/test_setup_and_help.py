"""A new user's first hour: the CI script installs what the tests use, skips name the right package, and the
credential helper answers --help."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _fake_bin(tmp_path: Path, *, with_docker: bool) -> Path:
    """A PATH with only what .ci/run calls: root's `id`, a logging `apt-get` and `make`, and maybe `docker`."""
    bin_ = tmp_path / ("bin-docker" if with_docker else "bin")
    bin_.mkdir()
    log = tmp_path / "calls.log"
    scripts = {
        "id": "echo 0",
        "apt-get": f'echo "apt-get $*" >> {log}',
        "make": f'echo "make $* TESTBED_STRICT=$TESTBED_STRICT" >> {log}',
    }
    if with_docker:
        scripts["docker"] = "exit 0"
    for name, body in scripts.items():
        (bin_ / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_ / name).chmod(0o755)
    (bin_ / "dirname").symlink_to("/usr/bin/dirname")
    return bin_


@pytest.mark.parametrize("with_docker", [False, True])
def test_ci_run_installs_the_docker_cli_only_when_missing(tmp_path, with_docker):
    bin_ = _fake_bin(tmp_path, with_docker=with_docker)
    done = subprocess.run(
        ["/bin/bash", str(ROOT / ".ci" / "run")], env={"PATH": str(bin_)}, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    installs = [c.split() for c in calls if c.startswith("apt-get") and " install " in c]
    installed = {
        word for c in installs for word in c if not word.startswith("-") and word not in ("apt-get", "install")
    }
    assert {"docker-registry", "skopeo", "apache2-utils"} <= installed
    assert ("docker.io" in installed) is not with_docker
    assert calls[-1] == "make test TESTBED_STRICT=1"


def test_a_skip_for_the_docker_cli_names_debians_package(monkeypatch, tmp_path):
    from tests import conftest

    monkeypatch.setenv("PATH", str(tmp_path))
    reason = conftest._missing("docker")
    assert reason is not None and "apt-get install docker.io" in reason
    assert "apt-get install apache2-utils" in (conftest._missing("htpasswd") or "")


@pytest.mark.parametrize("flag", ["--help", "-h", "help"])
def test_the_credential_helper_prints_usage_for_help(flag):
    done = subprocess.run(
        [sys.executable, "-m", "ecr_ci.credhelper", flag],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith("Usage: docker-credential-ecr-ci <store|get|erase|list|version>")
    for action in ("get", "list", "erase", "store", "version"):
        assert f"\n  {action} " in done.stdout
    assert "configure-helper" in done.stdout


def test_an_unknown_action_is_still_the_protocols_failure():
    from io import StringIO

    from ecr_ci import credhelper

    out, err = StringIO(), StringIO()
    assert credhelper.main(["--version"], {}, StringIO(""), out, err) == 1
    assert out.getvalue() == "Unknown credential action `--version`\n"
