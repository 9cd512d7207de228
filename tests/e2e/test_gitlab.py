"""The GitLab CI/CD component, run for real by a local GitLab pipeline runner (gitlab-ci-local).

Each test writes a project (a temporary git repository) whose ``.gitlab-ci.yml`` includes
``gitlab/templates/ecr-login.yml`` with ``include: local: … inputs:``, and runs it with gitlab-ci-local (pinned in
the Makefile, installed into ``.tools/``) in its shell executor. The job logs in against the moto server with a
GitLab-shaped ID token from the test bed's issuer, then pushes with skopeo to a real registry listening on
``<ECR host>:443`` at a random loopback address: gitlab-ci-local runs under ``run_with_hosts``, so the job resolves
the ECR host name there and uses exactly the config key ecr-ci wrote.

The ID token is a secret: it reaches the job as a project variable in ``.gitlab-ci-local-variables.yml`` (0600),
never on a command line. gitlab-ci-local reads every ``GCL*`` variable as an option and sets ``GITLAB_CI=false``,
so it runs with a clean environment and ``GITLAB_CI`` comes from that file too. Every job log it writes, and its
own output, goes to the secret ledger.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.testbed import LEDGER, Registry, make_oci_layout, moto_ecr_password, run_with_hosts

ROOT = Path(__file__).resolve().parents[2]
GCL = ROOT / ".tools" / "node_modules" / ".bin" / "gitlab-ci-local"
TEMPLATE = ROOT / "gitlab" / "templates" / "ecr-login.yml"
ACCOUNT = "123456789012"
HOST = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com"
ADDRESS = f"127.{random.randint(20, 250)}.{random.randint(1, 250)}.{random.randint(2, 250)}"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/gitlab-ecr"
ISSUER = "https://gitlab.example.com"
PROJECT = "my-group/my-app"
# The machine's uv cache, read before the fixtures give each test its own HOME: the install test's bootstrap
# (which uses uv when it is on PATH) then downloads nothing it has seen before.
UV_CACHE = os.environ.get("UV_CACHE_DIR") or str(
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "uv"
)

pytestmark = [pytest.mark.slow, pytest.mark.requires("git", "rsync", "node", "skopeo", "docker-registry", "hosts")]


def gitlab_claims(pipeline: str = "1001", job: str = "851729") -> dict[str, object]:
    """Claims like a GitLab job's ``id_tokens`` token on ``main`` of :data:`PROJECT`."""
    return {
        "iss": ISSUER,
        "aud": "sts.amazonaws.com",
        "sub": f"project_path:{PROJECT}:ref_type:branch:ref:main",
        "namespace_id": "42",
        "namespace_path": PROJECT.split("/")[0],
        "project_id": "1217",
        "project_path": PROJECT,
        "user_id": "7",
        "user_login": "bob",
        "pipeline_id": pipeline,
        "pipeline_source": "push",
        "job_id": job,
        "ref": "main",
        "ref_type": "branch",
        "ref_protected": "true",
        "runner_id": 1,
        "runner_environment": "self-hosted",
    }


@pytest.fixture(scope="module")
def gcl() -> Path:
    from tests.conftest import _skip

    if not GCL.exists():
        _skip(f"gitlab-ci-local is not installed in .tools/ (make tools): {GCL}")
    return GCL


@pytest.fixture(scope="module")
def ecr_registry():
    """The real registry as :data:`HOST` on 443, user ``AWS`` with moto's ECR password for :data:`ACCOUNT`."""
    from tests.conftest import _missing, _skip

    for need in ("skopeo", "docker-registry", "hosts"):
        reason = _missing(need)
        if reason:
            _skip(reason)
    with Registry({"AWS": moto_ecr_password(ACCOUNT)}, tls=True, hostnames=[HOST], address=ADDRESS, port=443) as reg:
        yield reg


class Pipeline:
    """A project directory, its variables, and gitlab-ci-local's runs of it."""

    def __init__(
        self, root: Path, ci: str, env: tuple[dict[str, str], dict[str, str]], template: str | None = None
    ) -> None:
        variables, self.runner_env = env
        self.root = root
        root.mkdir(parents=True)
        (root / "templates").mkdir()
        (root / "templates" / "ecr-login.yml").write_text(TEMPLATE.read_text() if template is None else template)
        (root / ".gitlab-ci.yml").write_text(ci)
        git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com"]
        subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
        for key, value in (("user.name", "t"), ("user.email", "t@example.com")):
            subprocess.run([*git, "config", key, value], check=True)
        # gitlab-ci-local derives CI_SERVER_HOST and CI_PROJECT_PATH from the remote (never contacted).
        subprocess.run([*git, "remote", "add", "origin", f"{ISSUER}/{PROJECT}.git"], check=True)
        subprocess.run([*git, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main"], check=True)
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-qm", "ci"], check=True)
        # Project CI/CD variables, the ID token among them: a file only we can read, never an argument.
        vars_file = root / ".gitlab-ci-local-variables.yml"
        vars_file.touch(0o600)
        vars_file.write_text(yaml.safe_dump(variables))

    def run(self, *jobs: str, schema: bool = False):
        """Run the pipeline (or ``jobs``). gitlab-ci-local's own JSON-schema pass costs about a second of CPU a run:
        it is on for the first pipeline only (check-jsonschema covers the files in tests/unit); spec:inputs
        validation always runs."""
        path = os.pathsep.join(
            [str(Path(sys.executable).parent), str(Path(shutil.which("node") or "/usr/bin/node").parent)]
            + ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        )
        env = {"PATH": path, "HOME": str(self.root.parent / "home"), "LANG": "C.UTF-8"} | self.runner_env
        Path(env["HOME"]).mkdir(exist_ok=True)
        start = time.monotonic()
        proc = run_with_hosts(
            [
                str(GCL),
                "--no-color",
                "--ignore-predefined-vars",
                "GITLAB_CI",
                *([] if schema else ["--no-json-schema-validation"]),
                *jobs,
            ],  # fmt: skip
            {HOST: ADDRESS},
            env=env,
            cwd=self.root,
            timeout=240,
            label=f"gitlab-ci-local {self.root.name}",
        )
        self.seconds = time.monotonic() - start
        self.logs = {}
        for log in sorted((self.root / ".gitlab-ci-local" / "output").glob("*.log")):
            self.logs[log.stem] = log.read_text(errors="replace")
        # Every file gitlab-ci-local wrote (job logs, generated scripts, the expanded pipeline, its state) and
        # the job's temporary directory go to the secret ledger, which the session's end scans.
        state = [*(self.root / ".gitlab-ci-local").rglob("*"), *Path(f"{self.root}.tmp").rglob("*")]
        for path in sorted(p for p in state if p.is_file() and "config.json" not in p.name and p.suffix != ".lock"):
            LEDGER.record(f"gitlab-ci-local {path.relative_to(self.root.parent)}", path.read_bytes())
        return proc


def job_env(moto_server, oidc_issuer, ecr_registry, layout: Path, **claims: object) -> tuple[dict, dict]:
    """``(project variables, runner environment)`` of a job.

    The project variables hold the ID token GitLab would mint for ``id_tokens``. gitlab-ci-local turns a project
    variable whose value is an existing path into a file variable (it copies the file), so paths and the
    infrastructure travel in the runner's environment instead, which its shell executor hands to every job.
    """
    token = oidc_issuer.mint(base=gitlab_claims() | claims)
    runner = {
        "AWS_ENDPOINT_URL": moto_server.url,
        "AWS_EC2_METADATA_DISABLED": "true",
        "PYTHONPATH": str(ROOT),
        "CERT_DIR": str(ecr_registry.cert_dir),
        "LAYOUT": str(layout),
        "ECR_HOST": HOST,
    }
    return {"AWS_ID_TOKEN": token, "GITLAB_CI": "true"}, runner


def include(**inputs: object) -> str:
    return yaml.safe_dump({"include": [{"local": "templates/ecr-login.yml", "inputs": inputs}]}, sort_keys=False)


PUSH = [
    'grep -q ""$ECR_HOST"" "$DOCKER_CONFIG/config.json"',
    'skopeo copy --quiet --dest-cert-dir "$CERT_DIR" "oci:$LAYOUT:latest" "docker://$ECR_HOST/app:$CI_JOB_NAME"',
    'skopeo inspect --cert-dir "$CERT_DIR" "docker://$ECR_HOST/app:$CI_JOB_NAME" >/dev/null',
    'test "$(stat -c %a "$DOCKER_CONFIG")" = 700',
    'echo "pushed with DOCKER_CONFIG=$DOCKER_CONFIG"',
]


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    make_oci_layout(tmp_path / "layout")
    return tmp_path / "layout"


def test_extends_logs_in_with_the_id_token_and_pushes_to_the_ecr_host(
    gcl, tmp_path, moto_server, oidc_issuer, ecr_registry, layout
):
    ci = include(registries=HOST, **{"role-arn": ROLE}) + yaml.safe_dump(
        {"push": {"extends": ".ecr-login", "script": PUSH}}
    )
    pipeline = Pipeline(tmp_path / "extends", ci, job_env(moto_server, oidc_issuer, ecr_registry, layout))
    proc = pipeline.run(schema=True)
    log = pipeline.logs.get("push", "")
    assert proc.returncode == 0, LEDGER.redact(proc.stdout + proc.stderr)[-4000:]
    assert "PUT /v2/app/manifests/push" in ecr_registry.log()
    # The exchange used the job's token and the default session name from the pipeline and job ids.
    (call,) = [c for c in moto_server.calls() if c.action == "AssumeRoleWithWebIdentity"]
    assert call.params["RoleArn"] == ROLE
    assert call.token_claims["sub"] == f"project_path:{PROJECT}:ref_type:branch:ref:main"
    session = call.params["RoleSessionName"]
    # A per-job docker config under the job's temporary directory; the runner's own is untouched.
    (dc,) = [line.split("DOCKER_CONFIG=", 1)[1] for line in log.splitlines() if line.startswith("pushed with")]
    assert Path(dc).is_relative_to(Path(str(pipeline.root) + ".tmp")), dc
    job_id = Path(dc).parent.name.split("-")[2]  # ecr-ci-<CI_JOB_ID>-<random>
    assert re.fullmatch(rf"gitlab-\d+-{job_id}", session), session
    assert not Path(dc).parent.exists(), "after_script removes the job's credential directory"
    assert not (tmp_path / "home" / ".docker" / "config.json").exists()
    assert "ecr_ci_login" in log  # the login's log section (gitlab-ci-local shows section_start as <name>_started)


def test_reference_form_keeps_the_jobs_own_before_script(gcl, tmp_path, moto_server, oidc_issuer, ecr_registry, layout):
    job = {
        "extends": ".ecr",
        "before_script": ["!reference-placeholder", 'echo "own before_script after the login: ${DOCKER_CONFIG:+set}"'],
        "script": PUSH,
    }
    ci = include(registries=HOST, **{"role-arn": ROLE, "job-prefix": "ecr"}) + yaml.safe_dump(
        {"ref-push": job}, sort_keys=False
    ).replace("- '!reference-placeholder'", "- !reference [.ecr, before_script]")
    assert "- !reference [.ecr, before_script]" in ci
    pipeline = Pipeline(tmp_path / "reference", ci, job_env(moto_server, oidc_issuer, ecr_registry, layout))
    proc = pipeline.run()
    assert proc.returncode == 0, LEDGER.redact(proc.stdout + proc.stderr)[-4000:]
    assert "own before_script after the login: set" in pipeline.logs["ref-push"]
    assert "/v2/app/manifests/ref-push" in ecr_registry.log()


PAYLOADS = ['x"; touch {marker}; echo "', "$(touch {marker})", "`touch {marker}`", "'; touch {marker}; echo '", "$(id)"]


def test_injection_in_every_string_input_stays_text(gcl, tmp_path, moto_server, oidc_issuer, ecr_registry, layout):
    from concurrent.futures import ThreadPoolExecutor

    spec = next(yaml.safe_load_all(TEMPLATE.read_text()))["spec"]["inputs"]
    strings = [n for n, d in spec.items() if d["type"] == "string" and "options" not in d]
    marker = tmp_path / "pwned"
    runs = []
    for i, payload in enumerate(p.format(marker=marker) for p in PAYLOADS):
        admitted = {n: payload for n in strings if re.search(spec[n].get("regex", ""), payload)}
        refused = [n for n in strings if n not in admitted]
        assert "registries" in admitted and "install-cache-dir" in admitted and "role-arn" in refused
        # Every input whose regex admits the payload carries it into jobs that run (registries only in its own
        # job, so the others get past it): the login, the install branch of the script, and registries.
        inputs = {"role-arn": ROLE} | admitted | {"registries": HOST}
        jobs = {
            "inj-login": {"extends": ".ecr-login", "stage": "test", "script": ["echo script ran"]},
            # Offline: the bootstrap gets the payloads and fails at once instead of asking the index for ecr-ci.
            "inj-install": {"extends": ".ecr-login", "stage": "test", "script": ["echo script ran"],
                            "variables": {"ECR_CI_INPUT_INSTALL": "always", "UV_OFFLINE": "1", "PIP_NO_INDEX": "1"}},
            "inj-registries": {"extends": ".ecr-login", "stage": "test",
                               "variables": {"ECR_CI_INPUT_REGISTRIES": payload}, "script": ["echo script ran"]},
        }  # fmt: skip
        ci = include(**inputs) + yaml.safe_dump(jobs)
        ran = Pipeline(tmp_path / f"inj{i}", ci, job_env(moto_server, oidc_issuer, ecr_registry, layout))
        # The string inputs whose regex refuses it stop the pipeline before any job runs.
        ci = include(**({"registries": HOST, "role-arn": ROLE} | dict.fromkeys(refused, payload)))
        rejected = Pipeline(tmp_path / f"rej{i}", ci + yaml.safe_dump({"inj": jobs["inj-login"]}), ({}, {}))
        runs.append((payload, refused, ran, rejected))
    pipelines = [p for run in runs for p in run[2:]]
    with ThreadPoolExecutor(max_workers=4) as pool:  # independent projects: run them side by side
        procs = dict(zip(map(id, pipelines), pool.map(Pipeline.run, pipelines), strict=True))
    assert not marker.exists(), "a payload ran a command"
    for payload, refused, ran, rejected in runs:
        proc = procs[id(ran)]
        out = proc.stdout + proc.stderr + "".join(ran.logs.values())
        assert set(ran.logs) == {"inj-login", "inj-install", "inj-registries"}, out[-3000:]
        assert "uid=" not in out
        assert "registries (component input registries): " + repr(payload) in ran.logs["inj-registries"], (
            "the bad value, shown as text"
        )
        assert "ecr_ci_install" in ran.logs["inj-install"]  # the install branch ran with the payloads
        proc = procs[id(rejected)]
        assert proc.returncode != 0 and not rejected.logs
        names = "|".join(map(re.escape, refused))
        assert re.search(rf"`({names})` input: ", proc.stdout + proc.stderr)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"role-arn": "arn:aws:iam::12345:role/x"}, "`role-arn` input: `arn:aws:iam::12345:role/x` does not match"),
        ({"install": "sometimes"}, "`install` input: `sometimes` cannot be used because it is not in the list"),
        ({"duration": "an hour"}, "`duration` input: provided value is not a number"),
    ],
)
def test_bad_inputs_are_refused_by_spec_inputs(gcl, tmp_path, inputs, message):
    ci = include(**({"registries": HOST, "role-arn": ROLE} | inputs)) + yaml.safe_dump(
        {"push": {"extends": ".ecr-login", "script": ["echo script ran"]}}
    )
    pipeline = Pipeline(tmp_path / "bad", ci, ({"GITLAB_CI": "true"}, {}))
    proc = pipeline.run()
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert not pipeline.logs, "no job may start"


def test_bad_values_that_bypass_spec_inputs_are_refused_by_the_adapter_naming_the_input(
    gcl, tmp_path, moto_server, oidc_issuer, ecr_registry, layout
):
    # A job's own variables override the hidden job's, so GitLab's checks can be bypassed: the adapter checks again.
    bad = {
        "arn": ("ECR_CI_INPUT_ROLE_ARN", "arn:aws:iam::12345:role/x", "component input role-arn = 'arn:aws:iam::12345"),
        "option": ("ECR_CI_INPUT_INSTALL", "sometimes", "component input install = 'sometimes'"),
        "type": ("ECR_CI_INPUT_DURATION", "an hour", "component input duration = 'an hour'"),
        "range": ("ECR_CI_INPUT_DURATION", "60", "component input duration = 60 is invalid"),
        "item": ("ECR_CI_INPUT_WRITE", "docker,bogus", "component input write = 'bogus'"),
    }
    jobs = {
        f"bad-{k}": {"extends": ".ecr-login", "variables": {var: value}, "script": ["echo script ran"]}
        for k, (var, value, _) in bad.items()
    }
    ci = include(registries=HOST, **{"role-arn": ROLE}) + yaml.safe_dump(jobs)
    pipeline = Pipeline(tmp_path / "adapter", ci, job_env(moto_server, oidc_issuer, ecr_registry, layout))
    proc = pipeline.run()
    assert proc.returncode != 0
    for key, (_, _, says) in bad.items():
        log = pipeline.logs[f"bad-{key}"]
        assert "\nscript ran" not in log, f"bad-{key}: the script ran"
        errors = [line for line in log.splitlines() if line.startswith("ecr-login: error:")]
        assert len(errors) == 1 and says in errors[0], log[-2000:]
    assert moto_server.count("sts", "AssumeRoleWithWebIdentity") == 0, "bad input fails before any network call"


def test_a_job_without_id_tokens_says_so_with_the_fix(gcl, tmp_path, moto_server, oidc_issuer, ecr_registry, layout):
    ci = include(registries=HOST, **{"role-arn": ROLE}) + yaml.safe_dump(
        {"no-token": {"extends": ".ecr-login", "script": ["echo script ran"]}}
    )
    variables, runner = job_env(moto_server, oidc_issuer, ecr_registry, layout)
    del variables["AWS_ID_TOKEN"]
    pipeline = Pipeline(tmp_path / "notoken", ci, (variables, runner))
    proc = pipeline.run()
    assert proc.returncode != 0
    assert "AWS_ID_TOKEN" in pipeline.logs["no-token"] and "id_tokens" in pipeline.logs["no-token"]


def test_without_ecr_ci_on_path_the_job_installs_it_with_the_embedded_bootstrap(
    gcl, tmp_path, moto_server, oidc_issuer, ecr_registry, layout
):
    """``install: always``: the template's install branch writes the embedded bootstrap and runs it (from this
    checkout, the dependencies from the lock with hashes), then logs in with the ecr-ci it printed."""
    from ecr_ci import gen_gitlab

    if not (gen_gitlab.BOOTSTRAP_DIR / "bootstrap.sh").is_file():
        pytest.skip("bootstrap/ (the shared bootstrap) is not in this checkout yet")
    install_pipeline(tmp_path, moto_server, oidc_issuer, ecr_registry, layout, gen_gitlab.BOOTSTRAP_DIR)


def install_pipeline(tmp_path, moto_server, oidc_issuer, ecr_registry, layout, source: Path) -> None:
    from ecr_ci import gen_gitlab

    template = gen_gitlab.render_template(TEMPLATE.read_text(), bootstrap_dir=source)
    inputs = {"registries": HOST, "role-arn": ROLE, "install": "always", "install-from": str(ROOT),
              "install-cache-dir": str(tmp_path / "tool-cache")}  # fmt: skip
    job = {"extends": ".ecr-login", "script": ['echo "ecr-ci was $ECR_CI_BIN"', *PUSH]}
    ci = include(**inputs) + yaml.safe_dump({"installed": job})
    variables, runner = job_env(moto_server, oidc_issuer, ecr_registry, layout)
    runner["UV_CACHE_DIR"] = UV_CACHE
    pipeline = Pipeline(tmp_path / "install", ci, (variables, runner), template)
    proc = pipeline.run()
    log = pipeline.logs.get("installed", "")
    assert proc.returncode == 0, LEDGER.redact(proc.stdout + proc.stderr)[-4000:]
    assert "ecr_ci_install" in log
    (used,) = [line.split(" was ", 1)[1] for line in log.splitlines() if line.startswith("ecr-ci was ")]
    assert Path(used).is_relative_to(tmp_path / "tool-cache"), used
    assert "/v2/app/manifests/installed" in ecr_registry.log()


# -- the adapter in-process (moto, no runner): the rules the pipelines above rely on ------------------------------
def adapter_env(tmp_path: Path, oidc_issuer, moto_server, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CI_", "GITLAB_", "ECR_CI_", "AWS_ID"))}
    env |= {
        "GITLAB_CI": "true",
        "CI_PIPELINE_ID": "77",
        "CI_JOB_ID": "4242",
        "CI_PROJECT_DIR": str(tmp_path / "project"),
        "AWS_ID_TOKEN": oidc_issuer.mint(base=gitlab_claims("77", "4242")),
        "AWS_ENDPOINT_URL": moto_server.url,
        "ECR_CI_INPUT_REGISTRIES": HOST,
        "ECR_CI_INPUT_ROLE_ARN": ROLE,
    }
    return env | extra


def run_adapter(env: dict[str, str], capsys) -> tuple[int, dict[str, str], str]:
    from ecr_ci.adapters import gitlab as adapter

    code = adapter.main(env)
    out, err = capsys.readouterr()
    LEDGER.record("gitlab adapter stdout", out)
    LEDGER.record("gitlab adapter stderr", err)
    exports = dict(line.split("=", 1) for line in out.splitlines())
    return code, exports, err


def test_adapter_session_name_job_dir_and_only_paths_on_stdout(tmp_path, oidc_issuer, moto_server, capsys):
    home_config = Path(os.environ["DOCKER_CONFIG"]) / "config.json"
    home_config.write_text(json.dumps({"auths": {HOST: {"auth": "b2xkOm9sZA=="}, "other.example": {"auth": "eDp5"}},
                                       "credsStore": "desktop"}))  # fmt: skip
    code, exports, err = run_adapter(adapter_env(tmp_path, oidc_issuer, moto_server), capsys)
    assert code == 0, err
    assert set(exports) == {"DOCKER_CONFIG"}
    config = Path(exports["DOCKER_CONFIG"])
    assert config.parent.parent == tmp_path / "project.tmp" and config.parent.name.startswith("ecr-ci-4242-")
    assert config.stat().st_mode & 0o777 == 0o700 and (config / "config.json").stat().st_mode & 0o777 == 0o600
    written = json.loads((config / "config.json").read_text())
    assert set(written["auths"]) == {HOST, "other.example"} and "credsStore" not in written
    assert json.loads(home_config.read_text())["auths"][HOST] == {"auth": "b2xkOm9sZA=="}, "runner's config untouched"
    (call,) = [c for c in moto_server.calls() if c.action == "AssumeRoleWithWebIdentity"]
    assert call.params["RoleSessionName"] == "gitlab-77-4242"
    assert moto_server.count("ecr", "GetAuthorizationToken") == 1


def test_adapter_writes_podman_and_helm_files_in_the_job_dir(tmp_path, oidc_issuer, moto_server, capsys):
    env = adapter_env(tmp_path, oidc_issuer, moto_server, ECR_CI_INPUT_WRITE="docker,podman,helm")
    env.pop("REGISTRY_AUTH_FILE", None)
    env.pop("HELM_REGISTRY_CONFIG", None)
    code, exports, err = run_adapter(env, capsys)
    assert code == 0, err
    assert set(exports) == {"DOCKER_CONFIG", "REGISTRY_AUTH_FILE", "HELM_REGISTRY_CONFIG"}
    job_dir = Path(exports["DOCKER_CONFIG"]).parent
    for name in ("REGISTRY_AUTH_FILE", "HELM_REGISTRY_CONFIG"):
        path = Path(exports[name])
        assert path.is_relative_to(job_dir) and HOST in json.loads(path.read_text())["auths"]


def test_adapter_falls_back_to_gitlabs_aws_role_arn_variable(tmp_path, oidc_issuer, moto_server, capsys):
    env = adapter_env(tmp_path, oidc_issuer, moto_server, ECR_CI_INPUT_ROLE_ARN="", AWS_ROLE_ARN=ROLE + "-var")
    code, _, err = run_adapter(env, capsys)
    assert code == 0, err
    (call,) = [c for c in moto_server.calls() if c.action == "AssumeRoleWithWebIdentity"]
    assert call.params["RoleArn"] == ROLE + "-var"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"GITLAB_CI": "false"}, "GITLAB_CI is not 'true'"),
        ({"ECR_CI_INPUT_REGISTRIES": ""}, "component input registries: not set"),
        ({"ECR_CI_INPUT_JOB_PREFIX": "has space"}, "component input job-prefix = 'has space'"),
        ({"ECR_CI_INPUT_INSTALL_PYTHON": "yes"}, "component input install-python"),
        ({"AWS_ID_TOKEN": ""}, "AWS_ID_TOKEN is not set"),
    ],
)
def test_adapter_errors_are_one_line_naming_the_input_and_leave_nothing(
    tmp_path, oidc_issuer, moto_server, capsys, change, says
):
    code, exports, err = run_adapter(adapter_env(tmp_path, oidc_issuer, moto_server, **change), capsys)
    assert code != 0 and not exports
    assert err.startswith("ecr-login: error: ") and says in err.splitlines()[0], err
    assert not any((tmp_path / "project.tmp").glob("ecr-ci-*")), "a failure leaves no credential directory"
    assert moto_server.count("sts", "AssumeRoleWithWebIdentity") == 0
