"""`ecr-ci login` / `password` / `token` / `logout` end to end: real processes, moto over HTTP, a real OCI registry
and real clients (skopeo, the docker CLI), with every output recorded for the suite-wide secret scan."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.testbed import hosts
from tests.testbed.moto import moto_ecr_password
from tests.testbed.registry import Registry, make_oci_layout
from tests.testbed.secrets import record, run

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ci-push"
HOST = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"


def ecr_ci(
    *args: str, env: dict[str, str] | None = None, secret_stdout: bool = False, stdin: str | None = None, hang=120
):
    return run(
        [sys.executable, "-m", "ecr_ci", *args],
        env=env,
        input=stdin,
        timeout=hang,  # a hang guard, not a performance threshold
        allow_secret_stdout={"password", "docker-auth"} if secret_stdout else False,
    )


@pytest.fixture
def github(oidc_issuer, monkeypatch):
    """This process's environment as a GitHub Actions job with `id-token: write`."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_RUN_ID", "4242")
    monkeypatch.setenv("GITHUB_RUN_ATTEMPT", "2")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", oidc_issuer.request_url)
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", oidc_issuer.request_token)
    return oidc_issuer


def config_path() -> Path:
    return Path(os.environ["DOCKER_CONFIG"]) / "config.json"


def test_one_sts_call_and_one_ecr_call_per_region_whatever_the_registries(github, moto_server):
    moto_server.reset()
    registries = [
        f"{acct}.dkr.ecr.{region}.amazonaws.com"
        for acct in (ACCOUNT, "210987654321", "000011112222")
        for region in ("us-east-1", "eu-west-1", "ap-southeast-2")
    ]
    proc = ecr_ci("login", "--registry", ",".join(registries), "--role-arn", ROLE, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert sorted(r["host"] for r in report["registries"]) == sorted(registries)
    assert report["session_name"] == "gha-4242-2" and report["identity_source"] == "github"
    assert moto_server.count("sts", "AssumeRoleWithWebIdentity") == 1
    assert moto_server.count("ecr", "GetAuthorizationToken") == 3
    for region in ("us-east-1", "eu-west-1", "ap-southeast-2"):
        assert moto_server.count("ecr", "GetAuthorizationToken", region=region) == 1
    assert github.audiences[-1] == "sts.amazonaws.com"
    data = json.loads(config_path().read_text())
    expected = base64.b64encode(f"AWS:{moto_ecr_password(ACCOUNT)}".encode()).decode()
    assert {h: e["auth"] for h, e in data["auths"].items()} == dict.fromkeys(registries, expected)
    assert stat.S_IMODE(config_path().stat().st_mode) == 0o600


def test_china_registries_ask_for_the_china_audience(github):
    proc = ecr_ci(
        "login",
        "--registry",
        f"{ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn",
        "--role-arn",
        f"arn:aws-cn:iam::{ACCOUNT}:role/ci",
        "--write",
        "none",
    )
    assert proc.returncode == 0, proc.stderr
    assert github.audiences[-1] == "sts.amazonaws.com.cn"


def test_twenty_concurrent_logins_lose_no_entry(github):
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text(json.dumps({"auths": {"ghcr.io": {"auth": "eDp5"}}, "detachKeys": "ctrl-x"}))
    hosts_ = [f"{i:012d}.dkr.ecr.us-east-1.amazonaws.com" for i in range(1, 21)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "ecr_ci", "login", "--registry", h, "--role-arn", ROLE],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for h in hosts_
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        record("concurrent login [stdout]", out)
        record("concurrent login [stderr]", err)
        assert p.returncode == 0, err
    data = json.loads(config_path().read_text())
    assert set(data["auths"]) == {"ghcr.io", *hosts_}
    assert data["detachKeys"] == "ctrl-x"
    assert stat.S_IMODE(config_path().stat().st_mode) == 0o600
    assert ecr_ci("logout").returncode == 0
    assert json.loads(config_path().read_text())["auths"] == {"ghcr.io": {"auth": "eDp5"}}


BAD = [
    ("bad ARN", ["--role-arn", "ci-push"], 2, "settings: --role-arn = 'ci-push' is invalid"),
    ("ARN of another partition", ["--role-arn", f"arn:aws-cn:iam::{ACCOUNT}:role/x"], 2, "is in partition aws-cn"),
    ("unknown region", ["--registry", ACCOUNT, "--region", "xx-east-9"], 2, "region: 'xx-east-9' is not an AWS region"),
    ("lookalike host", ["--registry", f"{HOST}.evil.example"], 2, "is not an Amazon ECR registry host"),
    ("duration 100", ["--duration", "100"], 2, "--duration = 100 is invalid (must be between 900 and 43200"),
    ("strict boolean", ["--json"], 0, None),
]


@pytest.mark.parametrize(("why", "args", "code", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_one_line_and_config_unchanged(github, why, args, code, message):
    config_path().parent.mkdir(parents=True, exist_ok=True)
    before = json.dumps({"auths": {"ghcr.io": {"auth": "eDp5"}}})
    config_path().write_text(before)
    base = {"--registry": HOST, "--role-arn": ROLE}
    flags = [x for k, v in base.items() if k not in args for x in (k, v)] + args
    proc = ecr_ci("login", *flags)
    assert proc.returncode == code, proc.stderr
    if message:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and message in lines[0], proc.stderr
        assert config_path().read_text() == before


def test_missing_github_permission_fails_at_once_naming_it(github, monkeypatch):
    monkeypatch.delenv("ACTIONS_ID_TOKEN_REQUEST_URL")
    monkeypatch.delenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    proc = ecr_ci("login", "--registry", HOST, "--role-arn", ROLE)
    assert proc.returncode == 1
    first = proc.stderr.splitlines()[0]  # the one-line error; an indented hint block may follow
    assert first.startswith("ecr-ci: error: github: cannot request an OIDC token")
    assert "permissions: id-token: write" in first and "ACTIONS_ID_TOKEN_REQUEST_URL" in first


@pytest.mark.parametrize("content", ["", "   \n", "not-a-jwt"])
def test_empty_or_garbage_token_file(tmp_path, content):
    token = tmp_path / "token"
    token.write_text(content)
    proc = ecr_ci("login", "--registry", HOST, "--role-arn", ROLE, "--oidc", "file", "--token-file", str(token))
    assert proc.returncode == 1 and not config_path().exists()
    assert f"token from file {token} is " in proc.stderr and proc.stderr.count("\n") == 1


def test_unreadable_token_file(tmp_path):
    token = tmp_path / "token-dir"
    token.mkdir()  # unreadable as a file, even for root
    proc = ecr_ci("login", "--registry", HOST, "--role-arn", ROLE, "--oidc", "file", "--token-file", str(token))
    assert proc.returncode == 1 and "cannot be read" in proc.stderr and not config_path().exists()


def test_malformed_existing_config_is_left_untouched(github, moto_server):
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text('{"auths": {')
    moto_server.reset()
    proc = ecr_ci("login", "--registry", HOST, "--role-arn", ROLE)
    assert proc.returncode == 2 and "is not valid JSON" in proc.stderr  # bad input
    assert config_path().read_text() == '{"auths": {'
    assert moto_server.count("sts", "AssumeRoleWithWebIdentity") == 0  # checked before any network call


def test_gitlab_token_variable_and_missing_declaration(oidc_issuer, monkeypatch):
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("CI_PIPELINE_ID", "77")
    monkeypatch.setenv("CI_JOB_ID", "88")
    proc = ecr_ci("login", "--registry", HOST, "--role-arn", ROLE)
    assert proc.returncode == 1 and "id_tokens" in proc.stderr and "AWS_ID_TOKEN" in proc.stderr
    monkeypatch.setenv("AWS_ID_TOKEN", oidc_issuer.mint(sub="project_path:g/p:ref_type:branch:ref:main"))
    proc = ecr_ci("login", "--registry", HOST, "--role-arn", ROLE, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["session_name"] == "gitlab-77-88"


def test_password_and_token_print_only_the_secret(github):
    proc = ecr_ci("password", "--registry", HOST, "--role-arn", ROLE, secret_stdout=True)
    assert proc.returncode == 0 and proc.stdout == moto_ecr_password(ACCOUNT) + "\n"
    proc = ecr_ci("token", "--registry", HOST, "--role-arn", ROLE, secret_stdout=True)
    assert base64.b64decode(proc.stdout.strip()).decode() == f"AWS:{moto_ecr_password(ACCOUNT)}"
    proc = ecr_ci("password", "--registry", f"{HOST},{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com", "--role-arn", ROLE)
    assert proc.returncode == 2 and proc.stdout == "" and "2 different tokens" in proc.stderr


@pytest.fixture(scope="module")
def local_registry():
    with Registry({"AWS": moto_ecr_password(ACCOUNT)}) as reg:
        yield reg


@pytest.mark.requires("skopeo", "docker-registry")
def test_skopeo_pushes_with_only_the_written_config(github, local_registry, tmp_path):
    """The registry is named by its local address here; the ECR-host-name variant is below."""
    layout = make_oci_layout(tmp_path / "image")
    # A registry that is not an ECR host cannot be logged in to by name: write the entry for the ECR host, then
    # show the bytes work against the real registry through skopeo's --authfile with that same auth.
    assert ecr_ci("login", "--registry", HOST, "--role-arn", ROLE).returncode == 0
    auth = json.loads(config_path().read_text())["auths"][HOST]["auth"]
    authfile = tmp_path / "auth.json"
    authfile.write_text(json.dumps({"auths": {local_registry.host: {"auth": auth}}}))
    push = run(
        [
            "skopeo",
            "copy",
            "--dest-tls-verify=false",
            "--authfile",
            str(authfile),
            f"oci:{layout}",
            f"docker://{local_registry.host}/app:1",
        ]
    )
    assert push.returncode == 0, push.stderr
    authfile.write_text(json.dumps({"auths": {local_registry.host: {"auth": base64.b64encode(b"AWS:wrong").decode()}}}))
    refused = run(
        [
            "skopeo",
            "copy",
            "--dest-tls-verify=false",
            "--authfile",
            str(authfile),
            f"oci:{layout}",
            f"docker://{local_registry.host}/app:2",
        ]
    )
    assert refused.returncode != 0  # negative control: a wrong password is refused


@pytest.mark.requires("docker", "docker-registry")
def test_password_stdin_into_docker_login(github, local_registry):
    password = ecr_ci("password", "--registry", HOST, "--role-arn", ROLE, secret_stdout=True).stdout
    ok = run(["docker", "login", "--username", "AWS", "--password-stdin", local_registry.host], input=password)
    assert ok.returncode == 0, ok.stderr
    bad = run(["docker", "login", "--username", "AWS", "--password-stdin", local_registry.host], input="wrong\n")
    assert bad.returncode != 0


@pytest.mark.requires("docker-registry")
def test_http_api_with_the_token(github, local_registry):
    token = ecr_ci("token", "--registry", HOST, "--role-arn", ROLE, secret_stdout=True).stdout.strip()
    request = urllib.request.Request(f"{local_registry.url}/v2/", headers={"Authorization": f"Basic {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    wrong = base64.b64encode(b"AWS:nope").decode()
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(
            urllib.request.Request(f"{local_registry.url}/v2/", headers={"Authorization": f"Basic {wrong}"}), timeout=10
        )
    assert e.value.code == 401


@pytest.mark.requires("skopeo", "docker-registry", "hosts")
def test_real_ecr_host_name_reaches_the_local_registry(github, tmp_path):
    with Registry({"AWS": moto_ecr_password(ACCOUNT)}, tls=True, hostnames=[HOST], port=443) as reg:
        assert ecr_ci("login", "--registry", f"https://{HOST}/", "--role-arn", ROLE).returncode == 0
        layout = make_oci_layout(tmp_path / "image")
        push = hosts.run_with_hosts(
            ["skopeo", "copy", "--dest-cert-dir", str(reg.cert_dir), f"oci:{layout}", f"docker://{HOST}/demo:1"],
            {HOST: "127.0.0.1"},
        )
        assert push.returncode == 0, push.stderr


@pytest.fixture
def fake_endpoints(fake_aws, monkeypatch):
    """STS, ECR and ECR Public all answered by the scripted fake (moto stays the default for anything else)."""
    for service in ("STS", "ECR", "ECR_PUBLIC"):
        monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service}", fake_aws.url)
    return fake_aws


def test_ecr_public_goes_through_us_east_1_whatever_the_region(github, fake_endpoints):
    proc = ecr_ci(
        "login", "--registry", f"public.ecr.aws,{ACCOUNT}", "--region", "eu-west-1", "--role-arn", ROLE, "--json"
    )
    assert proc.returncode == 0, proc.stderr
    assert fake_endpoints.count("ecr-public", "GetAuthorizationToken", region="us-east-1") == 1
    assert fake_endpoints.count("ecr-public", "GetAuthorizationToken") == 1
    assert fake_endpoints.count("ecr", "GetAuthorizationToken", region="eu-west-1") == 1
    public_password = fake_endpoints.ecr_public.issued[-1][1]
    auths = json.loads(config_path().read_text())["auths"]
    assert base64.b64decode(auths["public.ecr.aws"]["auth"]).decode() == f"AWS:{public_password}"
    assert f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com" in auths


def test_reported_expiry_is_the_earlier_of_token_and_role_session(github, fake_endpoints):
    from datetime import datetime, timedelta, timezone

    soon = (datetime.now(timezone.utc) + timedelta(minutes=20)).replace(microsecond=0)
    fake_endpoints.sts.expiration = soon
    fake_endpoints.ecr.expires_at = soon + timedelta(hours=11)
    report = json.loads(ecr_ci("login", "--registry", HOST, "--role-arn", ROLE, "--json").stdout)
    assert report["expires_at"] == soon.isoformat().replace("+00:00", "Z")
    fake_endpoints.sts.expiration = soon + timedelta(hours=11)
    fake_endpoints.ecr.expires_at = soon
    report = json.loads(ecr_ci("login", "--registry", HOST, "--role-arn", ROLE, "--json").stdout)
    assert report["registries"][0]["expires_at"] == soon.isoformat().replace("+00:00", "Z")


def test_throttled_token_calls_are_retried_then_succeed(github, fake_endpoints):
    fake_endpoints.ecr.push("ThrottlingException", 503)
    proc = ecr_ci("login", "--registry", HOST, "--role-arn", ROLE)
    assert proc.returncode == 0, proc.stderr
    assert fake_endpoints.count("ecr", "GetAuthorizationToken") == 3
    assert fake_endpoints.count("sts", "AssumeRoleWithWebIdentity") == 1


def test_persistent_throttling_gives_up_at_the_deadline(github, fake_endpoints):
    fake_endpoints.ecr.default = "ThrottlingException"
    # Without the deadline it would retry 12 times with pauses of up to 10 s: the guard would kill it.
    proc = ecr_ci("login", "--registry", HOST, "--role-arn", ROLE, "--deadline", "3", hang=30)
    assert proc.returncode == 1 and not config_path().exists()
    assert "ecr:GetAuthorizationToken in us-east-1: gave up after" in proc.stderr
    assert "ThrottlingException" in proc.stderr


def test_session_policies_and_name_reach_sts(github, fake_endpoints):
    policy = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*"}]}'
    )
    managed = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
    proc = ecr_ci(
        "login",
        "--registry",
        HOST,
        "--role-arn",
        ROLE,
        "--session-policy",
        policy,
        "--managed-session-policies",
        managed,
        "--duration",
        "1800",
        "--session-name",
        "release-42",
    )
    assert proc.returncode == 0, proc.stderr
    (call,) = [c for c in fake_endpoints.calls() if c.action == "AssumeRoleWithWebIdentity"]
    assert call.params["Policy"] == policy and call.params["PolicyArns.member.1.arn"] == managed
    assert call.params["DurationSeconds"] == "1800" and call.params["RoleSessionName"] == "release-42"
    assert call.params["WebIdentityToken"] == "<redacted>" and call.token_claims["aud"] == "sts.amazonaws.com"
    assert call.access_key is None  # AssumeRoleWithWebIdentity is sent unsigned


def test_jenkins_bound_token_file_and_missing_binding(oidc_issuer, monkeypatch, tmp_path):
    monkeypatch.setenv("JENKINS_URL", "https://jenkins.example.com/")
    monkeypatch.setenv("BUILD_TAG", "jenkins-team/app-17")
    proc = ecr_ci("login", "--registry", HOST, "--role-arn", ROLE)
    assert proc.returncode == 1 and "no identity token is bound" in proc.stderr.splitlines()[0]
    token = tmp_path / "oidc-token"
    token.write_text(
        oidc_issuer.mint(iss="https://jenkins.example.com/oidc", sub="https://jenkins.example.com/job/app/")
    )
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    proc = ecr_ci("login", "--registry", HOST, "--role-arn", ROLE, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert (report["identity_source"], report["session_name"]) == ("jenkins", "jenkins-team-app-17")


def test_auto_never_falls_through_past_a_misconfigured_ci(monkeypatch, tmp_path):
    """GitLab detected but its id_tokens variable missing: the error is GitLab's, even with a token file around."""
    token = tmp_path / "token"
    token.write_text("a.b.c")
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    proc = ecr_ci("login", "--registry", HOST, "--role-arn", ROLE)
    assert proc.returncode == 1 and proc.stderr.startswith("ecr-ci: error: gitlab: the ID token variable AWS_ID_TOKEN")


def test_oidc_none_uses_the_standard_credential_chain(moto_server, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    proc = ecr_ci("login", "--registry", HOST, "--oidc", "none", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["identity_source"] == "aws-credential-chain"
    assert moto_server.count("sts", "AssumeRoleWithWebIdentity") == 0
    proc = ecr_ci("login", "--registry", HOST, "--oidc", "none", "--role-arn", ROLE, "--json")
    assert proc.returncode == 0, proc.stderr
    assert moto_server.count("sts", "AssumeRole") == 1  # with a role: sts:AssumeRole from the chain's keys


def test_a_broken_credential_chain_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    proc = ecr_ci("login", "--registry", HOST, "--oidc", "none")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("ecr-ci: error: credentials: the AWS credential chain failed")
    assert "no-such-profile" in proc.stderr


def test_a_hung_endpoint_cannot_outlast_the_deadline(github, fake_aws, monkeypatch):
    """An endpoint that accepts the connection and never answers: one attempt must not outlive --deadline."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", fake_aws.url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_ECR", f"http://127.0.0.1:{silent.getsockname()[1]}")
        # botocore's read timeout is 30 s; capped by the 3 s deadline the guard never fires.
        proc = ecr_ci("login", "--registry", HOST, "--role-arn", ROLE, "--deadline", "3", hang=25)
    finally:
        silent.close()
    assert proc.returncode == 1 and "ecr:GetAuthorizationToken in us-east-1" in proc.stderr


def test_an_unloadable_ca_bundle_is_bad_input_not_a_network_error(github, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    proc = ecr_ci("login", "--registry", HOST, "--role-arn", ROLE, hang=30)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"ecr-ci: error: AWS_CA_BUNDLE: {tmp_path / 'missing.pem'} cannot be loaded")


def test_a_token_pasted_where_its_name_belongs_is_not_echoed(github, oidc_issuer):
    token = oidc_issuer.mint()
    for flags in (["--token-variable", token], ["--oidc", "file", "--token-file", token]):
        proc = ecr_ci("login", "--registry", HOST, "--role-arn", ROLE, *flags)
        assert proc.returncode in (1, 2) and "<redacted>" in proc.stderr
        assert token not in proc.stderr and token.split(".")[2] not in proc.stderr


def test_proxy_variables_are_honoured_by_every_call(github, moto_server, monkeypatch):
    """HTTPS_PROXY/HTTP_PROXY carry the OIDC, STS and ECR requests; NO_PROXY exempts hosts (users.md: ecr#313)."""
    from tests.testbed.proxy import HttpProxy

    with HttpProxy() as proxy:
        for var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        proc = ecr_ci("login", "--registry", HOST, "--role-arn", ROLE)
        assert proc.returncode == 0, proc.stderr
        oidc_host = github.url.removeprefix("http://")
        moto_host = moto_server.url.removeprefix("http://")
        assert ("GET", oidc_host) in proxy.seen  # the runner's token endpoint
        assert [m for m, h in proxy.seen if h == moto_host] == ["POST", "POST"]  # STS, then ECR
        proxy.reset()
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        proc = ecr_ci("login", "--registry", HOST, "--role-arn", ROLE)
        assert proc.returncode == 0, proc.stderr
        assert proxy.seen == []


def test_github_token_endpoint_5xx_is_retried_within_the_deadline_and_4xx_is_not(github):
    github.error = (503, "busy\n")
    try:
        proc = ecr_ci("login", "--registry", HOST, "--role-arn", ROLE, "--deadline", "2", hang=30)
        assert proc.returncode == 1 and not config_path().exists()
        first = proc.stderr.splitlines()[0]
        assert "github: the OIDC token endpoint did not answer: gave up after" in first and "HTTP 503" in first
        assert len(github.audiences) >= 2  # retried
        github.audiences.clear()
        github.error = (404, "no such thing\n")
        proc = ecr_ci("login", "--registry", HOST, "--role-arn", ROLE, "--deadline", "2", hang=30)
        assert proc.returncode == 1 and "refused the request (HTTP 404" in proc.stderr
        assert len(github.audiences) == 1  # not retried
    finally:
        github.error = None
