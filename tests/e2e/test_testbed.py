"""The test bed works for real: each service is exercised over the wire with boto3, urllib, skopeo or docker."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.testbed import (
    LEDGER,
    FakeAWS,
    MotoServer,
    OidcIssuer,
    Registry,
    decode,
    make_oci_layout,
    moto_ecr_password,
    oci_manifest_digest,
    run,
    run_with_hosts,
    write_docker_config,
)
from tests.testbed.secrets import Ledger

ROOT = Path(__file__).resolve().parents[2]
ECR_HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _keys(creds: dict[str, str]) -> dict[str, str]:
    return {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }


# -- moto -----------------------------------------------------------------------------------------------------
def test_moto_counts_calls_per_action_and_region(moto_server: MotoServer, oidc_issuer: OidcIssuer) -> None:
    # No endpoint_url: boto3 must find moto through AWS_ENDPOINT_URL, as ecr-ci will.
    sts = boto3.client("sts", region_name="us-east-1")
    resp = sts.assume_role_with_web_identity(
        RoleArn="arn:aws:iam::210987654321:role/ci",
        RoleSessionName="testbed",
        WebIdentityToken=oidc_issuer.mint(aud="sts.amazonaws.com"),
    )
    creds = resp["Credentials"]
    tokens = {}
    for region in ("us-east-1", "eu-west-1", "eu-west-1"):
        data = boto3.client("ecr", region_name=region, **_keys(creds)).get_authorization_token()["authorizationData"]
        tokens[region] = data[0]

    assert moto_server.counts() == {("sts", "AssumeRoleWithWebIdentity"): 1, ("ecr", "GetAuthorizationToken"): 3}
    assert moto_server.count("ecr", "GetAuthorizationToken", region="us-east-1") == 1
    assert moto_server.count("ecr", "GetAuthorizationToken", region="eu-west-1") == 2
    assert moto_server.counts(by_region=True)[("sts", "AssumeRoleWithWebIdentity", None)] == 1
    sts_call, *ecr_calls = moto_server.calls()
    assert sts_call.params["RoleArn"] == "arn:aws:iam::210987654321:role/ci"
    assert sts_call.params["WebIdentityToken"] == "<redacted>"
    assert sts_call.token_claims is not None and sts_call.token_claims["aud"] == "sts.amazonaws.com"
    assert {c.access_key for c in ecr_calls} == {creds["AccessKeyId"]}

    # moto's password is "<account of the assumed role>-auth-token"; the region changes only proxyEndpoint.
    for region, data in tokens.items():
        assert base64.b64decode(data["authorizationToken"]).decode() == f"AWS:{moto_ecr_password('210987654321')}"
        assert data["proxyEndpoint"] == f"https://210987654321.dkr.ecr.{region}.amazonaws.com"
    # What moto issued is in the ledger.
    assert [h.kind for h in LEDGER.scan(creds["SecretAccessKey"])] == ["aws-secret-key"]
    assert [h.kind for h in LEDGER.scan(tokens["us-east-1"]["authorizationToken"])] == ["docker-auth"]

    moto_server.reset()
    assert moto_server.counts() == {}


def test_moto_in_a_child_process_counts_too() -> None:
    with MotoServer(process=True) as server:
        ecr = boto3.client("ecr", region_name="ap-south-1", endpoint_url=server.url,
                           aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x" * 40)  # fmt: skip
        ecr.get_authorization_token()
        assert server.count("ecr", "GetAuthorizationToken", region="ap-south-1") == 1
        server.reset()
        assert server.calls() == []


# -- OIDC issuer ----------------------------------------------------------------------------------------------
def test_issuer_wants_the_request_token(oidc_issuer: OidcIssuer) -> None:
    url = oidc_issuer.request_url + "&audience=sts.amazonaws.com"
    assert "?api-version=2.0" in oidc_issuer.request_url
    assert _get(url)[0] == 401
    assert _get(url, {"Authorization": "bearer wrong"})[0] == 403
    assert oidc_issuer.audiences == []


def test_issuer_serves_a_verifiable_token_for_the_audience(oidc_issuer: OidcIssuer) -> None:
    oidc_issuer.claims["environment"] = "production"
    auth = {"Authorization": f"bearer {oidc_issuer.request_token}"}
    status, body = _get(oidc_issuer.request_url + "&audience=sts.amazonaws.com", auth)
    assert status == 200
    reply = json.loads(body)
    assert reply["count"] == 1
    header, claims = decode(reply["value"])
    assert claims["aud"] == "sts.amazonaws.com"
    assert claims["sub"] == "repo:octo-org/octo-repo:ref:refs/heads/main"
    assert claims["environment"] == "production"
    assert claims["iat"] <= claims["nbf"] < claims["exp"]

    # Verify the signature the way a relying party would: discovery document, then JWKS.
    config = json.loads(_get(oidc_issuer.url + "/.well-known/openid-configuration")[1])
    assert config["issuer"] == claims["iss"] == "https://token.actions.githubusercontent.com"
    (jwk,) = json.loads(_get(config["jwks_uri"])[1])["keys"]
    assert jwk["kid"] == header["kid"]

    def num(v: str) -> int:
        return int.from_bytes(base64.urlsafe_b64decode(v + "=" * (-len(v) % 4)), "big")

    key = rsa.RSAPublicNumbers(num(jwk["e"]), num(jwk["n"])).public_key()
    signing_input, _, signature = reply["value"].rpartition(".")
    key.verify(num(signature).to_bytes(256, "big"), signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())

    # Without an audience GitHub uses the owner's URL; every request is recorded.
    _, body = _get(oidc_issuer.request_url, auth)
    assert decode(json.loads(body)["value"])[1]["aud"] == "https://github.com/octo-org"
    assert oidc_issuer.audiences == ["sts.amazonaws.com", None]
    assert [h.kind for h in LEDGER.scan(reply["value"])] == ["jwt"]
    assert [h.kind for h in LEDGER.scan("sig=" + signature)] == ["jwt-signature"]


def test_mint_makes_gitlab_style_tokens(oidc_issuer: OidcIssuer) -> None:
    token = oidc_issuer.mint(base={}, iss="https://gitlab.example.com", aud="sts.amazonaws.com", sub="project_path:g/p")
    assert set(decode(token)[1]) == {"iss", "aud", "sub", "iat", "nbf", "exp", "jti"}
    assert "environment" not in decode(oidc_issuer.mint(environment=None))[1]


# -- registry, skopeo, docker ---------------------------------------------------------------------------------
def test_registry_checks_the_bcrypt_password(registry: Registry) -> None:
    assert _get(registry.url + "/v2/")[0] == 401
    assert _get(registry.url + "/v2/", _basic("AWS", "wrong"))[0] == 401
    assert _get(registry.url + "/v2/", _basic("AWS", moto_ecr_password()))[0] == 200


@pytest.mark.requires("skopeo")
def test_skopeo_pushes_with_only_a_docker_config(registry: Registry, oci_layout: Path, clean_env: Path) -> None:
    docker_config = Path(os.environ["DOCKER_CONFIG"])
    push = ["skopeo", "copy", "--dest-tls-verify=false", f"oci:{oci_layout}:latest", f"docker://{registry.host}/demo:1"]

    write_docker_config(docker_config, {registry.host: ("AWS", "wrong")})
    assert run(push).returncode == 1

    write_docker_config(docker_config, {registry.host: ("AWS", moto_ecr_password())})
    assert stat.S_IMODE((docker_config / "config.json").stat().st_mode) == 0o600
    pushed = run(push)
    assert pushed.returncode == 0, LEDGER.redact(pushed.stderr)
    inspect = run(["skopeo", "inspect", "--tls-verify=false", f"docker://{registry.host}/demo:1"], check=True)
    assert json.loads(inspect.stdout)["Digest"] == oci_manifest_digest(oci_layout)
    assert oci_manifest_digest(make_oci_layout(clean_env / "again")) == oci_manifest_digest(oci_layout)


@pytest.mark.requires("hosts", "skopeo", "docker-registry", "openssl")
def test_push_to_an_ecr_hostname_through_the_hosts_recipe(oci_layout: Path, clean_env: Path) -> None:
    machine_hosts = Path("/etc/hosts").read_text()
    docker_config = Path(os.environ["DOCKER_CONFIG"])
    write_docker_config(docker_config, {ECR_HOST: ("AWS", moto_ecr_password())})
    env = {**os.environ, "INPUT_ROLE-TO-ASSUME": "kept"}
    with Registry(tls=True, hostnames=[ECR_HOST], port=443) as reg:
        push = ["skopeo", "copy", "--dest-cert-dir", str(reg.cert_dir), f"oci:{oci_layout}:latest",
                f"docker://{ECR_HOST}/demo:1"]  # fmt: skip
        pushed = run_with_hosts(push, {ECR_HOST: "127.0.0.1"}, env=env)
        assert pushed.returncode == 0, LEDGER.redact(pushed.stderr)
        # Go clients also trust a CA given by SSL_CERT_FILE; docker logs in client-side, without an engine.
        tls_env = {**env, "SSL_CERT_FILE": str(reg.ca_cert), "DOCKER_CONFIG": str(clean_env / "login")}
        login = ["docker", "login", "--username", "AWS", "--password-stdin", ECR_HOST]
        if shutil.which("docker"):
            done = run_with_hosts(login, {ECR_HOST: "127.0.0.1"}, env=tls_env, input=moto_ecr_password())
            assert done.returncode == 0, LEDGER.redact(done.stderr)
            assert list(json.loads((clean_env / "login" / "config.json").read_text())["auths"]) == [ECR_HOST]
        seen = run_with_hosts(["env"], {ECR_HOST: "127.0.0.1"}, env=env)
        assert "INPUT_ROLE-TO-ASSUME=kept" in seen.stdout.splitlines()
    assert Path("/etc/hosts").read_text() == machine_hosts


# -- fake AWS -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reply", "exception", "code", "status"),
    [
        ("InvalidIdentityToken", "InvalidIdentityTokenException", "InvalidIdentityToken", 400),
        ("ExpiredTokenException", "ExpiredTokenException", "ExpiredTokenException", 400),
        ("IDPCommunicationError", "IDPCommunicationErrorException", "IDPCommunicationError", 400),
        ("IDPRejectedClaim", "IDPRejectedClaimException", "IDPRejectedClaim", 403),
        ("AccessDenied", "ClientError", "AccessDenied", 403),
        ("Throttling", "ClientError", "Throttling", 400),
        (500, "ClientError", "InternalFailure", 500),
        (503, "ClientError", "ServiceUnavailable", 503),
    ],
)
def test_fake_sts_errors_parse_as_botocore_expects(
    fake_aws: FakeAWS, oidc_issuer: OidcIssuer, reply: str | int, exception: str, code: str, status: int
) -> None:
    sts = boto3.client("sts", region_name="eu-west-1", endpoint_url=fake_aws.url, config=NO_RETRY)
    fake_aws.sts.push(reply)
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        sts.assume_role_with_web_identity(
            RoleArn="arn:aws:iam::123456789012:role/ci", RoleSessionName="testbed", WebIdentityToken=oidc_issuer.mint()
        )
    assert type(caught.value).__name__ == exception
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    if exception != "ClientError":
        assert isinstance(caught.value, getattr(sts.exceptions, exception))


def test_fake_sts_then_ecr_with_throttling_and_expiry(fake_aws: FakeAWS, oidc_issuer: OidcIssuer) -> None:
    session_end = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=20)
    fake_aws.sts.expiration = session_end
    sts = boto3.client("sts", region_name="eu-west-1", endpoint_url=fake_aws.url)
    resp = sts.assume_role_with_web_identity(
        RoleArn="arn:aws:iam::210987654321:role/ci",
        RoleSessionName="testbed",
        WebIdentityToken=oidc_issuer.mint(aud="sts.amazonaws.com"),
    )
    assert resp["Credentials"]["Expiration"] == session_end
    assert resp["AssumedRoleUser"]["Arn"] == "arn:aws:sts::210987654321:assumed-role/ci/testbed"
    assert resp["SubjectFromWebIdentityToken"] == "repo:octo-org/octo-repo:ref:refs/heads/main"

    expires = datetime(2030, 1, 1, tzinfo=timezone.utc)
    fake_aws.ecr.expires_at = expires
    fake_aws.ecr.push("ThrottlingException")  # botocore retries it by itself
    ecr = boto3.client("ecr", region_name="eu-west-1", endpoint_url=fake_aws.url, **_keys(resp["Credentials"]))
    (data,) = ecr.get_authorization_token()["authorizationData"]
    assert data["expiresAt"] == expires
    assert data["proxyEndpoint"] == "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    ((region, password),) = fake_aws.ecr.issued
    assert region == "eu-west-1" and len(password) == 2400
    assert base64.b64decode(data["authorizationToken"]).decode() == f"AWS:{password}"
    assert [c.status for c in fake_aws.calls() if c.service == "ecr"] == [400, 200]
    assert fake_aws.count("ecr", "GetAuthorizationToken", region="eu-west-1") == 2

    fake_aws.ecr.push(503)
    with pytest.raises(botocore.exceptions.ClientError, match="ServiceUnavailableException"):
        boto3.client("ecr", region_name="eu-west-1", endpoint_url=fake_aws.url, config=NO_RETRY,
                     **_keys(resp["Credentials"])).get_authorization_token()  # fmt: skip


def test_fake_ecr_public_through_boto3(fake_aws: FakeAWS) -> None:
    fake_aws.ecr_public.password = "public-" + uuid.uuid4().hex
    client = boto3.client("ecr-public", region_name="us-east-1", endpoint_url=fake_aws.url,
                          aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x" * 40)  # fmt: skip
    data = client.get_authorization_token()["authorizationData"]
    assert base64.b64decode(data["authorizationToken"]).decode() == f"AWS:{fake_aws.ecr_public.password}"
    assert data["expiresAt"] > datetime.now(timezone.utc) + timedelta(hours=11)
    assert fake_aws.counts(by_region=True) == {("ecr-public", "GetAuthorizationToken", "us-east-1"): 1}


# -- the secret ledger ----------------------------------------------------------------------------------------
def test_ledger_scan_names_kind_and_place_never_the_secret() -> None:
    ledger = Ledger()
    ledger.add_password("p4ssw0rd-" + "z" * 30, "test")
    ledger.add("jwt-ish.payload.s1gnature-value", "jwt", "test")
    auth = base64.b64encode(("AWS:p4ssw0rd-" + "z" * 30).encode()).decode()
    ledger.record("allowed stdout", f"p4ssw0rd-{'z' * 30}\n", allow={"password"})
    ledger.record("leaky stderr", f"oops {auth}\n")
    ledger.record("allowed but wrong kind", "jwt-ish.payload.s1gnature-value", allow={"password"})
    hits = ledger.findings()
    assert [(h.where, h.kind, h.offset) for h in hits] == [
        ("leaky stderr", "docker-auth", 5),
        ("allowed but wrong kind", "jwt", 0),
    ]
    assert "p4ssw0rd" not in " ".join(map(str, hits)) and auth not in " ".join(map(str, hits))
    assert ledger.redact(f"x {auth} y") == "x <docker-auth> y"
    unknown = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl"
    assert [h.kind for h in ledger.scan(f"token={unknown}")] == ["jwt-shaped"]


def test_session_scan_fails_a_session_that_leaked_a_planted_secret(tmp_path: Path) -> None:
    """Negative control: an inner pytest session with this conftest as a plugin must fail on a planted secret."""
    planted = "planted-" + uuid.uuid4().hex
    (tmp_path / "test_inner.py").write_text(
        textwrap.dedent(
            """
            import os
            from tests.testbed import LEDGER, run

            def test_leaks():
                planted = os.environ["TESTBED_PLANTED"]
                LEDGER.add(planted, "planted", "negative-control")
                print("captured", planted)
                run(["echo", planted], label="echo leak")
                run(["echo", planted], label="echo allowed", allow_secret_stdout={"planted"})
            """
        )
    )
    env = {**os.environ, "TESTBED_PLANTED": planted, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest", "test_inner.py"]
    inner = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert inner.returncode == 1, inner.stdout[-3000:]
    assert "1 passed" in inner.stdout
    assert "secret scan: 2 issued secret(s)" in inner.stdout
    assert "test_inner.py::test_leaks [Captured stdout call]: planted issued by negative-control" in inner.stdout
    assert "echo leak [stdout]: planted" in inner.stdout
    assert "echo allowed" not in inner.stdout
    assert planted not in inner.stdout + inner.stderr
