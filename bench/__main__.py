"""`make bench`: what ecr-ci costs a CI job, measured side by side in one run.

1. A fresh `ecr-ci login` process (OIDC → STS → ECR → docker config) against local moto and a local OIDC issuer,
   against a minimal boto3 script doing the same work (tests/bench_baseline.py), alternating, ≥ 10 runs each:
   medians, their ratio (target ≤ 1.0×, stretch 0.8×) and peak RSS of each.
2. `docker-credential-ecr-ci get` on a cache hit, beside a bare interpreter start (target ≤ 3×), when the
   credential helper is there.
Timings are wall clock on a noisy 2-core machine: only the ratios mean much.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.testbed.moto import MotoServer  # noqa: E402
from tests.testbed.oidc import OidcIssuer  # noqa: E402

HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
ROLE = "arn:aws:iam::123456789012:role/ci-push"


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"bench: {cmd[:3]} failed ({proc.returncode}): {err[-500:]}")
    return elapsed, usage.ru_maxrss


def ecr_ci_command() -> list[str]:
    script = Path(sys.executable).with_name("ecr-ci")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ecr_ci"]


def bench_login(runs: int = 12) -> float:
    with MotoServer(process=True) as moto, OidcIssuer() as issuer, tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GITHUB_", "ACTIONS_", "ECR_CI_"))}
        env |= {
            "HOME": tmp,
            "DOCKER_CONFIG": tmp,
            "AWS_ENDPOINT_URL": moto.url,
            "GITHUB_ACTIONS": "true",
            "ACTIONS_ID_TOKEN_REQUEST_URL": issuer.request_url,
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": issuer.request_token,
            "GITHUB_RUN_ID": "1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        ours = [*ecr_ci_command(), "login", "--registry", HOST, "--role-arn", ROLE, "--oidc", "github"]
        theirs = [sys.executable, str(ROOT / "bench" / "baseline.py"), HOST, ROLE]
        for cmd in (ours, theirs):  # warm the page cache and moto
            timed(cmd, env)
        moto.reset()
        a: list[tuple[float, int]] = []
        b: list[tuple[float, int]] = []
        for _ in range(runs):
            a.append(timed(ours, env))
            b.append(timed(theirs, env))
        calls = moto.count("sts", "AssumeRoleWithWebIdentity"), moto.count("ecr", "GetAuthorizationToken")
    ma, mb = statistics.median(t for t, _ in a), statistics.median(t for t, _ in b)
    print(f"login, {runs} fresh processes each (alternating), local moto + OIDC issuer:")
    print(f"  ecr-ci login        median {ma * 1000:7.1f} ms   peak RSS {max(r for _, r in a) / 1024:6.1f} MiB")
    print(f"  minimal boto3 script median {mb * 1000:6.1f} ms   peak RSS {max(r for _, r in b) / 1024:6.1f} MiB")
    print(f"  ratio ecr-ci / boto3 script: {ma / mb:.2f}x (target <= 1.0x, stretch 0.8x)")
    print(f"  emulator saw {calls[0]} STS and {calls[1]} ECR calls for {2 * runs} logins")
    return ma / mb


def main() -> int:
    bench_login()
    if shutil.which("docker-credential-ecr-ci") or Path(sys.executable).with_name("docker-credential-ecr-ci").exists():
        try:
            from bench.helper import main as helper_main
        except ImportError:
            helper_main = None
        if helper_main is not None:
            helper_main()
    from bench.gha import gha_lines
    from bench.setup import setup_lines

    print("\n".join(setup_lines()))
    print("\n".join(gha_lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
