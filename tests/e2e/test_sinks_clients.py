"""Real clients against the real local registry, reading what ecr-ci wrote (or asking its credential helper).

The registry (Debian's ``docker-registry``) serves TLS on ``<ECR host>:443`` at a private loopback address; each
client runs in a mount namespace whose ``/etc/hosts`` maps the ECR host name there (``run_with_hosts``), so it
uses exactly the key ecr-ci wrote. AWS is the test bed's fake (a real ``expiresAt``, so tokens are cached), with
every call counted; the registry's htpasswd holds the password the fake hands out.

* skopeo pulling through ``credHelpers`` → ``docker-credential-ecr-ci``: the first ``get`` fetches, the next ones
  come from the cache with no request at the emulator;
* skopeo with ``REGISTRY_AUTH_FILE`` / ``--authfile`` / the XDG default written by ``ecr-ci login --write podman``;
* helm's registry config written by ``--write helm`` (the helm binary is not installed here: the file's format is
  checked, and skopeo reads it, since it is Docker's format);
* the docker CLI with the helper configured (``docker manifest inspect``, no engine needed);
* curl on the registry HTTP API with ``ecr-ci token`` (``Authorization: Basic``), the header kept off argv.
"""

from __future__ import annotations

import base64
import json
import random
import secrets as pysecrets
import stat
import sys
from pathlib import Path

import pytest

from tests.e2e.test_credhelper import GET, HOST, WEB_IDENTITY, helper_bin, helper_env  # noqa: F401 - fixture
from tests.testbed import LEDGER, Registry, make_oci_layout, run, run_with_hosts
from tests.testbed.registry import write_docker_config

PASSWORD = "eyJwYXlsb2FkIjoi" + pysecrets.token_urlsafe(1900)  # shaped like an ECR password (~2.5 KB)
LEDGER.add_password(PASSWORD, "test_sinks_clients")
ADDRESS = f"127.{random.randint(20, 250)}.{random.randint(1, 250)}.{random.randint(2, 250)}"
MAP = {HOST: ADDRESS}
NEEDS = pytest.mark.requires("skopeo", "docker-registry", "hosts")


@pytest.fixture(scope="module")
def ecr_registry(tmp_path_factory):
    """The registry as ``HOST``, holding ``app:1`` (pushed with a plain auth file, independent of ecr-ci)."""
    from tests.conftest import _missing, _skip

    for need in ("skopeo", "docker-registry", "hosts"):
        reason = _missing(need)
        if reason:
            _skip(reason)  # fails instead under TESTBED_STRICT=1 (CI)
    with Registry({"AWS": PASSWORD}, tls=True, hostnames=[HOST], address=ADDRESS, port=443) as reg:
        tmp = tmp_path_factory.mktemp("seed")
        layout = tmp / "layout"
        make_oci_layout(layout)
        auth = write_docker_config(tmp / "auth", {HOST: ("AWS", PASSWORD)})
        push = run_with_hosts(
            [
                "skopeo",
                "copy",
                "--dest-cert-dir",
                str(reg.cert_dir),
                "--authfile",
                str(auth),
                f"oci:{layout}:latest",
                f"docker://{HOST}/app:1",
            ],
            MAP,
        )
        assert push.returncode == 0, LEDGER.redact(push.stderr)
        yield reg


@pytest.fixture
def env(clean_env, fake_aws, oidc_issuer, helper_bin, ecr_registry) -> dict[str, str]:  # noqa: F811
    """A GitLab job whose role gets the registry's password from the fake."""
    fake_aws.ecr.password = PASSWORD
    return helper_env(clean_env, fake_aws, oidc_issuer, helper_bin)


def ecr_ci(env: dict[str, str], *args: str, secret_stdout: bool = False):
    return run(
        [sys.executable, "-m", "ecr_ci", *args],
        env=env,
        allow_secret_stdout={"password", "docker-auth"} if secret_stdout else False,
    )


def skopeo(env: dict[str, str], reg: Registry, *args: str, ref: str = f"docker://{HOST}/app:1"):
    return run_with_hosts(["skopeo", "inspect", "--cert-dir", str(reg.cert_dir), *args, ref], MAP, env=env)


def auth_of(path: Path) -> str:
    data = json.loads(path.read_text())
    return data["auths"][HOST]["auth"]


EXPECTED_AUTH = base64.b64encode(f"AWS:{PASSWORD}".encode()).decode()


@NEEDS
def test_skopeo_pulls_through_cred_helpers_and_the_second_get_is_a_cache_hit(env, fake_aws, ecr_registry, tmp_path):
    configured = ecr_ci(env, "configure-helper", "--registry", HOST)
    assert configured.returncode == 0, configured.stderr
    config = Path(env["DOCKER_CONFIG"]) / "config.json"
    assert json.loads(config.read_text()) == {"credHelpers": {HOST: "ecr-ci"}}
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert fake_aws.calls() == []

    pull = run_with_hosts(
        [
            "skopeo",
            "copy",
            "--src-cert-dir",
            str(ecr_registry.cert_dir),
            f"docker://{HOST}/app:1",
            f"oci:{tmp_path / 'pulled'}:1",
        ],
        MAP,
        env=env,
    )
    assert pull.returncode == 0, LEDGER.redact(pull.stderr)
    assert (tmp_path / "pulled" / "index.json").exists()
    assert (fake_aws.count(*WEB_IDENTITY), fake_aws.count(*GET)) == (1, 1)  # the first get fetched

    for _ in range(2):
        again = skopeo(env, ecr_registry)
        assert again.returncode == 0, LEDGER.redact(again.stderr)
        assert json.loads(again.stdout)["Name"] == f"{HOST}/app"
    pull2 = run_with_hosts(
        [
            "skopeo",
            "copy",
            "--src-cert-dir",
            str(ecr_registry.cert_dir),
            f"docker://{HOST}/app:1",
            f"oci:{tmp_path / 'pulled2'}:1",
        ],
        MAP,
        env=env,
    )
    assert pull2.returncode == 0
    assert len(fake_aws.calls()) == 2  # every later get came from the cache: not one request at the emulator

    # Negative control: without the helper entry the same pull is refused.
    config.write_text("{}")
    refused = skopeo(env, ecr_registry)
    assert refused.returncode != 0 and "unauthorized" in refused.stderr.lower()


@NEEDS
def test_skopeo_reads_the_podman_auth_file_written_by_login(env, fake_aws, ecr_registry, tmp_path):
    authfile = tmp_path / "podman" / "auth.json"
    penv = {**env, "REGISTRY_AUTH_FILE": str(authfile)}
    login = ecr_ci(penv, "login", "--registry", HOST, "--write", "podman")
    assert login.returncode == 0, login.stderr
    assert json.loads(authfile.read_text()) == {"auths": {HOST: {"auth": EXPECTED_AUTH}}}
    assert stat.S_IMODE(authfile.stat().st_mode) == 0o600
    assert not (Path(env["DOCKER_CONFIG"]) / "config.json").exists()  # --write podman only

    via_variable = skopeo(penv, ecr_registry)
    assert via_variable.returncode == 0, LEDGER.redact(via_variable.stderr)
    via_flag = skopeo(env, ecr_registry, "--authfile", str(authfile))
    assert via_flag.returncode == 0, LEDGER.redact(via_flag.stderr)

    # The XDG default, which podman, buildah and skopeo share; a second login comes from the cache.
    login = ecr_ci(env, "login", "--registry", HOST, "--write", "podman")
    assert login.returncode == 0, login.stderr
    default = Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json"
    assert auth_of(default) == EXPECTED_AUTH and stat.S_IMODE(default.stat().st_mode) == 0o600
    assert skopeo(env, ecr_registry).returncode == 0
    assert (fake_aws.count(*WEB_IDENTITY), fake_aws.count(*GET)) == (1, 1)

    authfile.write_text(json.dumps({"auths": {HOST: {"auth": base64.b64encode(b"AWS:not-the-password").decode()}}}))
    assert skopeo(penv, ecr_registry).returncode != 0  # negative control


@NEEDS
def test_helm_registry_config_has_docker_format_and_works(env, ecr_registry, tmp_path):
    login = ecr_ci(env, "login", "--registry", HOST, "--write", "helm,docker")
    assert login.returncode == 0, login.stderr
    helm = Path(env["XDG_CONFIG_HOME"]) / "helm" / "registry" / "config.json"  # helm's default on Linux
    assert json.loads(helm.read_text()) == {"auths": {HOST: {"auth": EXPECTED_AUTH}}}
    assert stat.S_IMODE(helm.stat().st_mode) == 0o600
    assert auth_of(Path(env["DOCKER_CONFIG"]) / "config.json") == EXPECTED_AUTH
    # helm is not installed here; its registry client reads this file as Docker's format, as skopeo does.
    read = skopeo({**env, "DOCKER_CONFIG": str(tmp_path / "empty")}, ecr_registry, "--authfile", str(helm))
    assert read.returncode == 0, LEDGER.redact(read.stderr)

    explicit = tmp_path / "helm-registry.json"
    login = ecr_ci({**env, "HELM_REGISTRY_CONFIG": str(explicit)}, "login", "--registry", HOST, "--write", "helm")
    assert login.returncode == 0 and auth_of(explicit) == EXPECTED_AUTH


@NEEDS
@pytest.mark.requires("docker")
def test_docker_cli_with_the_helper_configured(env, fake_aws, ecr_registry):
    assert ecr_ci(env, "configure-helper", "--registry", HOST).returncode == 0
    cmd = ["docker", "manifest", "inspect", "--insecure", f"{HOST}/app:1"]
    first = run_with_hosts(cmd, MAP, env=env)
    assert first.returncode == 0, LEDGER.redact(first.stderr)
    assert json.loads(first.stdout)["schemaVersion"] == 2
    second = run_with_hosts(cmd, MAP, env=env)
    assert second.returncode == 0
    assert (fake_aws.count(*WEB_IDENTITY), fake_aws.count(*GET)) == (1, 1)

    # A helper that cannot get a token makes docker fail, showing the helper's real reason (not "anonymous").
    broken = {k: v for k, v in env.items() if k not in ("ECR_CI_ROLE_ARN", "GITLAB_CI", "AWS_ID_TOKEN")}
    broken |= {"ECR_CI_OIDC": "none", "ECR_CI_CACHE_DIR": env["ECR_CI_CACHE_DIR"] + "-empty"}
    failed = run_with_hosts(cmd, MAP, env=broken)
    assert failed.returncode != 0
    assert "none found in the AWS credential chain" in failed.stdout + failed.stderr


@NEEDS
@pytest.mark.requires("curl")
def test_http_api_with_ecr_ci_token_and_curl(env, ecr_registry):
    proc = ecr_ci(env, "token", "--registry", HOST, secret_stdout=True)
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.strip()
    assert token == EXPECTED_AUTH

    def curl(header: str | None):
        # `-H @-` reads the header from stdin: the token never appears on a command line.
        cmd = [
            "curl",
            "-sS",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
            "--cacert",
            str(ecr_registry.ca_cert),
            "--resolve",
            f"{HOST}:443:{ADDRESS}",
            *(["-H", "@-"] if header else []),
            f"https://{HOST}/v2/app/tags/list",
        ]
        out = run(cmd, input=header, env=env)
        body, _, code = out.stdout.rpartition("\n")
        return int(code), body

    code, body = curl(f"Authorization: Basic {token}\n")
    assert code == 200 and json.loads(body) == {"name": "app", "tags": ["1"]}
    assert curl("Authorization: Basic " + base64.b64encode(b"AWS:wrong-password").decode() + "\n")[0] == 401
    assert curl(None)[0] == 401


@NEEDS
@pytest.mark.requires("docker")
def test_docker_with_a_creds_store_gets_the_tokens_through_it(env, ecr_registry, tmp_path):
    """A credsStore serves every registry: login stores the tokens in it (as docker login does) and keeps it."""
    import os

    from tests.unit.test_sinks import STORE_HELPER

    bin_dir = tmp_path / "store-bin"
    bin_dir.mkdir()
    store = bin_dir / "docker-credential-teststore"
    store.write_text(STORE_HELPER.format(python=sys.executable))
    store.chmod(0o755)
    store_file = tmp_path / "store.json"
    senv = {**env, "PATH": f"{bin_dir}:{env.get('PATH', os.environ['PATH'])}", "TEST_STORE_FILE": str(store_file)}
    config = Path(env["DOCKER_CONFIG"]) / "config.json"
    config.write_text(json.dumps({"credsStore": "teststore"}))
    cmd = ["docker", "manifest", "inspect", "--insecure", f"{HOST}/app:1"]
    assert run_with_hosts(cmd, MAP, env=senv).returncode != 0  # negative control: nothing stored yet

    login = ecr_ci(senv, "login", "--registry", HOST)
    assert login.returncode == 0, login.stderr
    assert "also stored in docker-credential-teststore" in login.stderr
    assert json.loads(config.read_text())["credsStore"] == "teststore"
    inspect = run_with_hosts(cmd, MAP, env=senv)
    assert inspect.returncode == 0, LEDGER.redact(inspect.stderr)

    assert ecr_ci(senv, "logout").returncode == 0
    assert HOST not in json.loads(store_file.read_text())
