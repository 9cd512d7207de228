"""`make demo`: the real login flow, end to end, on local stand-ins.

A GitHub-Actions-style job: a local OIDC issuer plays the runner's token endpoint, moto's server plays STS and
ECR, Debian's docker-registry plays the ECR registry (served under its real ECR host name inside a private mount
namespace when this machine allows it). `ecr-ci login` does OIDC → STS → ECR → docker config, then skopeo pushes
an image using only that config. Prints what happened; never a secret.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.testbed import hosts  # noqa: E402
from tests.testbed.ecr_expiry import EcrExpiryProxy  # noqa: E402
from tests.testbed.moto import MotoServer, moto_ecr_password  # noqa: E402
from tests.testbed.oidc import OidcIssuer, decode  # noqa: E402
from tests.testbed.registry import Registry, make_oci_layout  # noqa: E402

ACCOUNT = "123456789012"
HOST = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/demo-ci-push"


def step(text: str) -> None:
    print(f"demo: {text}", flush=True)


def main() -> int:
    for binary in ("docker-registry", "skopeo"):
        if shutil.which(binary) is None:
            step(f"{binary} is missing: run `make demo` (it installs it) or apt-get install {binary}")
            return 1
    use_hosts = hosts.available()
    with (
        tempfile.TemporaryDirectory() as tmp,
        MotoServer(process=True) as moto,
        EcrExpiryProxy(moto.url) as ecr,  # moto's tokens expired in 2015; real ECR's last 12 hours
        OidcIssuer() as issuer,
    ):
        registry = Registry(
            {"AWS": moto_ecr_password(ACCOUNT)}, tls=use_hosts, hostnames=[HOST], port=443 if use_hosts else None
        )
        with registry:
            env = {
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("AWS_", "GITHUB_", "ACTIONS_", "ECR_CI_", "DOCKER_", "GITLAB_", "CI_"))
            }
            env |= {
                "HOME": tmp,
                "DOCKER_CONFIG": f"{tmp}/docker",
                "AWS_ENDPOINT_URL": moto.url,
                "AWS_ENDPOINT_URL_ECR": ecr.url,
                "AWS_EC2_METADATA_DISABLED": "true",
                "GITHUB_ACTIONS": "true",
                "GITHUB_RUN_ID": "1001",
                "GITHUB_RUN_ATTEMPT": "1",
                "ACTIONS_ID_TOKEN_REQUEST_URL": issuer.request_url,
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN": issuer.request_token,
            }
            step(
                f"stand-ins up: moto (STS, ECR) at {moto.url} (ECR through {ecr.url}, which gives tokens ECR's "
                f"12-hour life), OIDC issuer at {issuer.url}, "
                f"registry {'as ' + HOST if use_hosts else 'at ' + registry.host}"
            )
            step(f"$ ecr-ci login --registry {HOST} --role-arn {ROLE} --json")
            login = subprocess.run(
                [sys.executable, "-m", "ecr_ci", "login", "--registry", HOST, "--role-arn", ROLE, "--json"],
                env=env,
                capture_output=True,
                text=True,
            )
            for line in login.stderr.splitlines():
                print(f"      {line}")
            if login.returncode != 0:
                return login.returncode
            report = json.loads(login.stdout)
            claims = decode(issuer.tokens[-1])[1]
            step(f"identity token: iss={claims['iss']} sub={claims['sub']} aud={issuer.audiences[-1]}")
            step(
                f"emulator saw {moto.count('sts', 'AssumeRoleWithWebIdentity')} AssumeRoleWithWebIdentity and "
                f"{moto.count('ecr', 'GetAuthorizationToken')} GetAuthorizationToken call(s)"
            )
            config = Path(env["DOCKER_CONFIG"]) / "config.json"
            step(
                f"{config} (mode {oct(config.stat().st_mode & 0o777)}) now has auths for: "
                + ", ".join(json.loads(config.read_text())["auths"])
            )
            layout = make_oci_layout(f"{tmp}/image")
            if use_hosts:
                cmd = [
                    "skopeo",
                    "copy",
                    "--dest-cert-dir",
                    str(registry.cert_dir),
                    f"oci:{layout}",
                    f"docker://{HOST}/demo/app:1",
                ]
                step(f"$ {' '.join(cmd[:2])} oci:image docker://{HOST}/demo/app:1   (auth from the docker config)")
                push = hosts.run_with_hosts(cmd, {HOST: "127.0.0.1"}, env=env)
            else:
                auth = json.loads(config.read_text())["auths"][HOST]["auth"]
                authfile = Path(tmp) / "auth.json"
                authfile.write_text(json.dumps({"auths": {registry.host: {"auth": auth}}}))
                step("no mount namespaces here: pushing to the registry's local address with the same auth")
                push = subprocess.run(
                    [
                        "skopeo",
                        "copy",
                        "--dest-tls-verify=false",
                        "--authfile",
                        str(authfile),
                        f"oci:{layout}",
                        f"docker://{registry.host}/demo/app:1",
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                )
            if push.returncode != 0:
                step(f"push failed: {push.stderr.strip()[-300:]}")
                return 1
            step(f"pushed demo/app:1; the registry accepted the credentials (valid until {report['expires_at']})")
            out = subprocess.run([sys.executable, "-m", "ecr_ci", "logout"], env=env, capture_output=True, text=True)
            step(f"$ ecr-ci logout → {out.stderr.strip().removeprefix('ecr-ci: ')}")
    step("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
