"""The Jenkins ``ecrLogin`` step, run for real: Groovy loads ``jenkins/vars/ecrLogin.groovy`` with the pipeline steps
as closures (``tests/e2e/jenkins/harness.groovy``), its ``sh`` runs the real ``ecr-ci adapter jenkins`` against moto
with an id token file minted by the test bed's issuer (Jenkins-shaped: ``iss`` = ``<JENKINS_URL>oidc``, ``sub`` =
the job URL), and the block pushes with skopeo to a real registry answering as an ECR host on 443 (the harness runs
in a mount namespace whose ``/etc/hosts`` maps that host to a random loopback address).

All cases (``tests/e2e/jenkins/cases.groovy``) run in one JVM; this module runs it once and checks what it
recorded: every step argument, ``withEnv`` list, ``sh`` result and console line goes to the secret ledger and is
scanned here (and again at the end of the session). A control case prints the block's config on purpose, proving
the scan sees what the block prints. npm-groovy-lint checks ``vars/``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ecr_ci.adapters import base
from tests.conftest import CI_NAMES, CI_PREFIXES, ROOT
from tests.testbed import (
    LEDGER,
    MotoServer,
    OidcIssuer,
    Registry,
    make_oci_layout,
    moto_ecr_password,
    run,
    run_with_hosts,
)
from tests.testbed.registry import write_docker_config

HARNESS = ROOT / "tests" / "e2e" / "jenkins" / "harness.groovy"
LIBRARY = ROOT / "jenkins"
ACCOUNT = "123456789012"
HOST = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
ADDRESS = f"127.{random.randint(20, 250)}.{random.randint(1, 250)}.{random.randint(2, 250)}"
JENKINS_URL = "https://jenkins.example.com/"
JOB_URL = f"{JENKINS_URL}job/team/job/app/"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ci-push"
LEAK_CONTROL = "leak control"
NEEDS = pytest.mark.requires("groovy", "java", "skopeo", "docker-registry", "hosts")


def _agent_path() -> str:
    """This machine's PATH without any directory holding an ecr-ci (the cases choose where ecr-ci comes from)."""
    dirs = os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)
    return os.pathsep.join(d for d in dirs if d and not (Path(d) / "ecr-ci").exists())


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory, moto_server: MotoServer, oidc_issuer: OidcIssuer) -> dict:
    """Runs every case once; returns the harness's record, its exit code and output, and what moto answered."""
    from tests.conftest import _missing, _skip

    for need in ("groovy", "java", "skopeo", "docker-registry", "hosts"):
        reason = _missing(need)
        if reason:
            _skip(reason)
    tmp = tmp_path_factory.mktemp("jenkins")
    home = tmp / "home"
    user_docker = home / ".docker"
    (user_docker / "cli-plugins").mkdir(parents=True)
    # The user's own config: a stale entry for the target host (must not reach the block), another registry's
    # entry and a credsStore (both carried over / dropped as docker.withRegistry does).
    write_docker_config(user_docker, {HOST: ("AWS", "stale-password"), "other.example.com": ("me", "not-secret")})
    config = json.loads((user_docker / "config.json").read_text())
    config["credsStore"] = "desktop"
    (user_docker / "config.json").write_text(json.dumps(config))
    user_config_before = (user_docker / "config.json").read_text()
    layout = make_oci_layout(tmp / "layout")
    inspect = tmp / "inspect_config.py"
    inspect.write_text(
        "import json, os\n"
        "c = json.load(open(os.path.join(os.environ['DOCKER_CONFIG'], 'config.json')))\n"
        "print(json.dumps({'auths': sorted(c.get('auths', {})), 'credsStore': 'credsStore' in c,\n"
        "                  'plugins': c.get('cliPluginsExtraDirs', [])}))\n"
    )
    token = oidc_issuer.mint(
        base={}, iss=f"{JENKINS_URL}oidc", sub=JOB_URL, aud="sts.amazonaws.com", build_number=42
    )  # registered in the ledger by mint()
    token_file = tmp / "id-token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    agent_env = {k: v for k, v in os.environ.items() if not (k.startswith(CI_PREFIXES) or k in CI_NAMES)}
    agent_env.update(
        PATH=_agent_path(),
        HOME=str(home),
        DOCKER_CONFIG=str(user_docker),
        XDG_RUNTIME_DIR=str(tmp / "run"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        AWS_ENDPOINT_URL=moto_server.url,
        AWS_EC2_METADATA_DISABLED="true",
        ECR_TEST_HOST=HOST,
        ECR_TEST_CERT_DIR="",  # set below, once the registry has its certificates
        ECR_TEST_LAYOUT=str(layout),
        ECR_TEST_PYTHON=sys.executable,
        ECR_TEST_INSPECT=str(inspect),
        ECR_TEST_ECHO=shutil.which("echo") or "/bin/echo",
        ECR_TEST_SKOPEO=shutil.which("skopeo") or "skopeo",
    )
    (tmp / "run").mkdir(mode=0o700)
    with Registry({"AWS": moto_ecr_password(ACCOUNT)}, tls=True, hostnames=[HOST], address=ADDRESS, port=443) as reg:
        agent_env["ECR_TEST_CERT_DIR"] = str(reg.cert_dir)
        records = tmp / "records.json"
        cfg = {
            "library": str(LIBRARY),
            "cases": str(HARNESS.parent / "cases.groovy"),
            "work": str(tmp / "agent"),
            "echo": False,  # console lines only in the record, where each case's are scanned on their own
            "records": str(records),
            "env": agent_env,
            "build": {
                "JENKINS_URL": JENKINS_URL,
                "JOB_NAME": "team/app",
                "BUILD_NUMBER": "42",
                "BUILD_TAG": "jenkins-team-app-42",
                "JOB_URL": JOB_URL,
                "BUILD_URL": f"{JOB_URL}42/",
            },
            "credentials": {"aws-oidc": {"type": "file", "path": str(token_file), "fileName": "id-token"}},
            "credentialId": "aws-oidc",
            "host": HOST,
            "roleArn": ROLE,
            "ecrCi": str(Path(sys.executable).parent / "ecr-ci"),
            "venvBin": str(Path(sys.executable).parent),
            "userPlugins": str(user_docker / "cli-plugins"),
            "bootstrap": (LIBRARY / "resources" / "ecr-ci" / "bootstrap.sh").is_file(),
            "installFrom": str(ROOT),
            "inputVariables": {
                n: base.input_variable(n) for n in [*base.setting_inputs("jenkins"), *base.own_inputs("jenkins")]
            },
        }
        cfg_file = tmp / "harness.json"
        cfg_file.write_text(json.dumps(cfg))
        jvm_env = {k: v for k, v in agent_env.items() if not k.startswith("ECR_TEST_")}
        moto_server.reset()
        started = time.monotonic()
        proc = run_with_hosts(["groovy", str(HARNESS), str(cfg_file)], {HOST: ADDRESS}, env=jvm_env, timeout=600)
        seconds = time.monotonic() - started
        calls = moto_server.calls()
    data = json.loads(records.read_text()) if records.exists() else {"results": [], "steps": [], "console": []}
    for step in data["steps"]:
        LEDGER.record(
            f"jenkins harness [{step['case']}] {step['step']}",
            json.dumps(step),
            allow=step["case"] == LEAK_CONTROL,
        )
    for line in data["console"]:
        LEDGER.record(f"jenkins harness [{line['case']}] console", line["line"], allow=line["case"] == LEAK_CONTROL)
    return {
        "proc": proc,
        "data": data,
        "seconds": seconds,
        "calls": calls,
        "user_config": (user_docker / "config.json").read_text(),
        "user_config_before": user_config_before,
        "workspace": tmp / "agent" / "workspace",
    }


def _case_text(data: dict[str, Any], case: str) -> str:
    steps = [json.dumps(s) for s in data["steps"] if s["case"] == case]
    return "\n".join(steps + [c["line"] for c in data["console"] if c["case"] == case])


@NEEDS
def test_every_case_passes_and_the_run_ends_with_the_closing_line(harness):
    proc, data = harness["proc"], harness["data"]
    results = data["results"]
    failed_names = {r["name"] for r in results if r["outcome"] != "passed"}
    console = "\n".join(c["line"] for c in data["console"] if c["case"] in failed_names)
    out = LEDGER.redact(
        proc.stdout[-6000:] + proc.stderr[-3000:] + "\nconsole of the failed cases:\n" + console[-8000:]
    )
    assert proc.returncode == 0, out
    failed = [r for r in results if r["outcome"] != "passed"]
    assert not failed, out
    assert proc.stdout.rstrip().splitlines()[-1] == f"{len(results)} passed, 0 failed"
    names = {r["name"] for r in results}
    for expected in (
        "id token",
        "carried over",
        "podman and helm",
        "block fails",
        "abort",
        "parallel",
        "Windows",
        "missing credential",
        "bad role ARN",
        "no registries",
        "ambient",
        "on PATH is used",
        "not ecr-ci",
        "unknown argument",
        "maps to the variable",
        "source:",
        "harness:",
        LEAK_CONTROL,
    ):
        assert any(expected in n for n in names), f"no case about {expected!r} ran"
    print(f"jenkins harness: {len(results)} cases in one JVM, {harness['seconds']:.1f} s (groovy start-up included)")


@NEEDS
def test_no_recorded_step_argument_env_list_or_console_line_holds_a_secret(harness):
    data = harness["data"]
    assert data["steps"] and data["console"]
    assert LEDGER.kinds().get("jwt") and LEDGER.kinds().get("password"), "the ledger knows the token and password"
    for case in {s["case"] for s in data["steps"]} - {LEAK_CONTROL}:
        hits = LEDGER.scan(_case_text(data, case), case)
        assert not hits, [str(h) for h in hits]
    assert not LEDGER.scan(harness["proc"].stdout + harness["proc"].stderr, "harness output")


@NEEDS
def test_the_scan_sees_what_a_block_prints(harness):
    # Negative control: the leak-control block cats its docker config; the recorded console must show the auth.
    kinds = {h.kind for h in LEDGER.scan(_case_text(harness["data"], LEAK_CONTROL), LEAK_CONTROL)}
    assert kinds & {"docker-auth", "password"}, kinds


@NEEDS
def test_aws_saw_the_jenkins_token_and_a_session_name_from_the_build(harness):
    web = [c for c in harness["calls"] if (c.service, c.action) == ("sts", "AssumeRoleWithWebIdentity")]
    assert web, [(c.service, c.action) for c in harness["calls"]]
    for call in web:
        assert call.token_claims["iss"] == f"{JENKINS_URL}oidc" and call.token_claims["sub"] == JOB_URL
        assert call.params["RoleArn"] == ROLE
        assert call.params["RoleSessionName"] == "jenkins-team-app-42"
    ambient = [c for c in harness["calls"] if (c.service, c.action) == ("sts", "AssumeRole")]
    assert ambient and all(c.params["RoleSessionName"] == "jenkins-team-app-42" for c in ambient)


@NEEDS
def test_the_users_config_is_left_as_it_was_and_no_block_directory_remains(harness):
    assert harness["user_config"] == harness["user_config_before"]
    left = [p for p in harness["workspace"].glob("*@tmp/ecr-ci-block-*")]
    assert not left, left


@pytest.mark.requires("groovy")
def test_groovy_lint_passes_on_vars(tmp_path):
    lint = ROOT / ".tools" / "node_modules" / ".bin" / "npm-groovy-lint"
    if not lint.exists():
        from tests.conftest import _skip

        _skip("npm-groovy-lint is not installed in .tools (make tools)")
    # --noserver: no CodeNarc server on its fixed port 7484 (tests never bind fixed ports).
    cmd = [str(lint), "--noserver", "--failon", "info", "--path", "jenkins/vars", "--files", "**/*.groovy"]
    proc = run(cmd, cwd=ROOT, timeout=300, label="npm-groovy-lint jenkins/vars")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_adapter_in_process_answers_ok_with_a_private_block_directory(tmp_path, capsys, oidc_issuer, clean_env):
    """The adapter on its own (no JVM): one ``ok <dir>`` line, a 0700 directory with the block's files."""
    from ecr_ci.adapters import jenkins as adapter

    token = tmp_path / "token"
    token.write_text(oidc_issuer.mint(base={}, iss=f"{JENKINS_URL}oidc", sub=JOB_URL, aud="sts.amazonaws.com"))
    env = dict(os.environ)
    inputs = {"roleArn": ROLE, "registries": HOST, "idTokenCredentialsId": "aws-oidc", "write": "docker,podman"}
    env.update({base.input_variable(k): v for k, v in inputs.items()})
    env.update(
        ECR_CI_JENKINS_TMP=str(tmp_path / "ws@tmp"),
        ECR_CI_TOKEN_FILE=str(token),
        JENKINS_URL=JENKINS_URL,
        JOB_NAME="team/app",
        BUILD_NUMBER="7",
    )
    assert adapter.main(env) == 0
    out, err = capsys.readouterr()
    LEDGER.record("adapter jenkins stdout", out)
    LEDGER.record("adapter jenkins stderr", err)
    assert not LEDGER.scan(out + err)
    lines = out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ok ")
    block = Path(lines[0][3:])
    assert block.parent == tmp_path / "ws@tmp" and block.name.startswith("ecr-ci-block-")
    assert (block.stat().st_mode & 0o777) == 0o700
    assert (block / "env").read_text().splitlines() == [
        f"DOCKER_CONFIG={block / 'docker'}",
        f"REGISTRY_AUTH_FILE={block / 'containers' / 'auth.json'}",
    ]
    docker = json.loads((block / "docker" / "config.json").read_text())
    podman = json.loads((block / "containers" / "auth.json").read_text())
    assert list(docker["auths"]) == [HOST] and list(podman["auths"]) == [HOST]
    assert ((block / "docker" / "config.json").stat().st_mode & 0o777) == 0o600
    assert "session jenkins-team-app-7" in err


@pytest.mark.requires("groovy", "java")
def test_the_harness_itself_fails_when_a_case_fails(tmp_path):
    """The runner's contract: a failing case makes the closing line count it and the exit code non-zero."""
    cases = tmp_path / "cases.groovy"
    cases.write_text(
        "test('passes') { assert sh(returnStdout: true, script: 'echo hi').trim() == 'hi' }\n"
        "test('fails') { sh 'exit 3' }\n"
    )
    cfg = {
        "library": str(LIBRARY),
        "cases": str(cases),
        "work": str(tmp_path / "agent"),
        "records": str(tmp_path / "records.json"),
        "env": {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)},
        "credentials": {},
    }
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    proc = run(["groovy", str(HARNESS), str(tmp_path / "cfg.json")], timeout=300)
    assert proc.returncode == 1
    assert proc.stdout.rstrip().splitlines()[-1] == "1 passed, 1 failed"
    results = json.loads((tmp_path / "records.json").read_text())["results"]
    assert [(r["name"], r["outcome"]) for r in results] == [("passes", "passed"), ("fails", "failed")]
    assert "script returned exit code 3" in results[1]["message"]
