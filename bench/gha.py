"""Benchmark: the GitHub Action's whole step against the same login by the CLI alone, side by side in one run.

The action's step is ``actions/ecr-login/action.yml`` run by the runner emulator (tests/e2e/gha_runner.py): the
set-up step on a warm tool cache (the shared bootstrap's hit; its stand-in until the bootstrap is in the tree) and
the login step (``ecr-ci adapter github``), with the emulator's own file and log handling. The CLI is one
``ecr-ci login`` process doing the same exchange. Both run against local moto (in a child process) and a local
OIDC issuer, alternating, after one warm-up each. Timings are wall clock on a noisy machine: the ratio is what
means something. Aim: the warm step within 1.3x the CLI login (the Node actions' chain pays no set-up).

``python -m bench.gha`` prints the lines; ``gha_lines()`` returns them (for ``make bench``).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.e2e.gha_checkout import checkout, real_bootstrap  # noqa: E402
from tests.e2e.gha_runner import Job  # noqa: E402
from tests.testbed.moto import MotoServer  # noqa: E402
from tests.testbed.oidc import OidcIssuer  # noqa: E402

HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
ROLE = "arn:aws:iam::123456789012:role/ci-push"
CLEAN = ("AWS_", "GITHUB_", "ACTIONS_", "ECR_CI_", "RUNNER_", "DOCKER_")


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def gha_lines(runs: int = 10) -> list[str]:
    with (
        MotoServer(process=True) as moto,
        OidcIssuer() as issuer,
        tempfile.TemporaryDirectory(prefix="bench-gha-") as tmp,
    ):
        root = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith(CLEAN)}
        env |= {
            "HOME": str(root / "home"),
            "AWS_ENDPOINT_URL": moto.url,
            "AWS_EC2_METADATA_DISABLED": "true",
            "ECR_CI_BOOTSTRAP_CACHE_DIR": str(root / "tool-cache"),  # shared by every job: the warm case
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        (root / "home").mkdir()
        action = checkout(root / "checkout")
        cli_env = env | {
            "DOCKER_CONFIG": str(root / "cli-docker"),
            "GITHUB_ACTIONS": "true",
            "GITHUB_RUN_ID": "1",
            "ACTIONS_ID_TOKEN_REQUEST_URL": issuer.request_url,
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": issuer.request_token,
        }
        ecr_ci = Path(sys.executable).with_name("ecr-ci")
        cli = [str(ecr_ci), "login", "--registry", HOST, "--role-arn", ROLE, "--oidc", "github"]

        def step(n: int) -> float:
            job = Job(root / f"job-{n}", env=env, oidc=issuer, allow_outputs={"docker-password": {"password"}})
            start = time.perf_counter()
            result = job.uses(action, {"role-to-assume": ROLE, "registries": HOST})
            elapsed = time.perf_counter() - start
            if result.failed:
                raise SystemExit(f"bench: the action failed:\n{job.text()[-2000:]}")
            return elapsed

        def login() -> float:
            start = time.perf_counter()
            proc = subprocess.run(cli, env=cli_env, capture_output=True, text=True)
            elapsed = time.perf_counter() - start
            if proc.returncode != 0:
                raise SystemExit(f"bench: ecr-ci login failed: {proc.stderr[-1000:]}")
            return elapsed

        step(0), login()  # warm the tool cache (a first bootstrap builds the environment), page cache and moto
        moto.reset()
        action_times: list[float] = []
        cli_times: list[float] = []
        for n in range(1, runs + 1):
            action_times.append(step(n))
            cli_times.append(login())
        calls = moto.count("sts", "AssumeRoleWithWebIdentity"), moto.count("ecr", "GetAuthorizationToken")
    a, c = _median_ms(action_times), _median_ms(cli_times)
    setup = "shared bootstrap, warm tool cache" if real_bootstrap() else "bootstrap stand-in (dev environment)"
    return [
        f"GitHub Action step vs CLI login, {runs} runs each (alternating), local moto + OIDC issuer:",
        f"  action.yml step ({setup} + adapter)  median {a:7.1f} ms",
        f"  ecr-ci login (CLI alone)                 median {c:7.1f} ms",
        f"  ratio action / CLI: {a / c:.2f}x (aim <= 1.3x)",
        f"  emulator saw {calls[0]} STS and {calls[1]} ECR calls for {2 * runs} logins",
    ]


if __name__ == "__main__":
    print("\n".join(gha_lines()))
