"""The set-up line of `make bench`: what getting ecr-ci onto a runner costs, side by side in one run.

Everything installs from one local wheelhouse (the locked dependencies and the ecr-ci wheel, built first and not
timed), so the network does not blur the numbers:

- bootstrap cold: bootstrap/bootstrap.sh into an empty cache, with uv's own cache empty too (a fresh hosted runner);
- bootstrap cold, uv cache warm: an empty bootstrap cache on a machine whose uv has unpacked these wheels before;
- bootstrap cold without uv: the `python -m venv` + pip path;
- bootstrap warm: the environment is there (the shell answers alone);
- the baseline: `python3 -m venv` + `pip install` of the same wheel (dependencies from the same wheelhouse).

Runs alternate between the variants; medians and ratios to the baseline are reported. Wall clock on a noisy
2-core machine: the ratios mean more than the milliseconds. ``setup_lines()`` returns the lines to print.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOTSTRAP = ROOT / "bootstrap" / "bootstrap.sh"
LOCK = ROOT / "bootstrap" / "requirements.lock"
BASE_PYTHON = os.path.realpath(getattr(sys, "_base_executable", sys.executable))


def _uv() -> str:
    beside = Path(sys.executable).parent / "uv"
    found = str(beside) if beside.exists() else shutil.which("uv")
    if not found:
        raise SystemExit("bench: uv is in the test extra: run make venv")
    return found


def _wheelhouse(dest: Path) -> None:
    uv = _uv()
    subprocess.run([uv, "build", "-q", "--native-tls", "--wheel", "-o", str(dest), str(ROOT)], check=True)
    pip_venv = dest.parent / "pip-venv"
    subprocess.run([uv, "venv", "-q", "--seed", "--python", BASE_PYTHON, str(pip_venv)], check=True)
    subprocess.run(
        [str(pip_venv / "bin" / "python"), "-m", "pip", "download", "-q", "--disable-pip-version-check",
         "--only-binary", ":all:", "--require-hashes", "-r", str(LOCK), "-d", str(dest)],
        check=True,
    )  # fmt: skip


def _path(tmp: Path, name: str, *, uv: bool) -> str:
    """A PATH whose python3 is the machine's interpreter and whose uv is the dev venv's (or none)."""
    bindir = tmp / name
    bindir.mkdir()
    (bindir / "python3").symlink_to(BASE_PYTHON)
    if uv:
        (bindir / "uv").symlink_to(_uv())
    return os.pathsep.join([str(bindir), "/usr/bin", "/bin"])


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd[:4])} failed ({proc.returncode}): {proc.stderr[-500:]}")
    return elapsed


def setup_lines(runs: int = 3, warm_runs: int = 20, pip_runs: int = 2) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="bench-setup-") as tmp_name:
        tmp = Path(tmp_name)
        wheelhouse = tmp / "wheelhouse"
        _wheelhouse(wheelhouse)
        [wheel] = wheelhouse.glob("ecr_ci-*.whl")
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "PYTHON", "ECR_CI_"))}
        base.pop("VIRTUAL_ENV", None)
        with_uv = base | {"PATH": _path(tmp, "bin-uv", uv=True)}
        without_uv = base | {"PATH": _path(tmp, "bin-pip", uv=False)}
        counter = iter(range(10_000))

        def fresh(kind: str) -> Path:
            return tmp / f"{kind}-{next(counter)}"

        shell = shutil.which("sh") or "/bin/sh"

        def boot(cache: Path) -> list[str]:
            return [shell, str(BOOTSTRAP), "--cache-dir", str(cache), "--from", str(wheelhouse)]

        warm_uv_cache = tmp / "uv-cache-warm"

        def cold_empty() -> float:
            return _timed(boot(fresh("cold")), with_uv | {"UV_CACHE_DIR": str(fresh("uvcache"))})

        def cold_uv_warm() -> float:
            return _timed(boot(fresh("coldw")), with_uv | {"UV_CACHE_DIR": str(warm_uv_cache)})

        def cold_pip() -> float:
            return _timed(boot(fresh("coldpip")), without_uv)

        def baseline() -> float:
            venv = fresh("venv")
            start = time.perf_counter()
            subprocess.run([BASE_PYTHON, "-m", "venv", str(venv)], check=True, env=base)
            subprocess.run(
                [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                 "--no-index", "--find-links", str(wheelhouse), str(wheel)],
                check=True, env=base,
            )  # fmt: skip
            return time.perf_counter() - start

        # Warm-ups (not counted): the page cache, and uv's cache for the "uv cache warm" variant.
        cold_uv_warm()
        baseline()
        results: dict[str, list[float]] = {"cold": [], "coldw": [], "pip": [], "base": []}
        plan: list[tuple[str, Callable[[], float]]] = [
            ("cold", cold_empty),
            ("coldw", cold_uv_warm),
            ("base", baseline),
        ]
        for i in range(runs):
            for name, fn in plan:
                results[name].append(fn())
            if i < pip_runs:
                results["pip"].append(cold_pip())
        hit_cache = tmp / "hit"
        _timed(boot(hit_cache), with_uv | {"UV_CACHE_DIR": str(warm_uv_cache)})
        # The hit with no Python and no uv on PATH (only sha256sum): the shell answers alone.
        tools = tmp / "bin-tools"
        tools.mkdir()
        (tools / "sha256sum").symlink_to(shutil.which("sha256sum") or "/usr/bin/sha256sum")
        hit_env = base | {"PATH": str(tools)}
        warm = [_timed(boot(hit_cache), hit_env) for _ in range(warm_runs)]

    med = {name: statistics.median(values) for name, values in results.items()}
    warm_med = statistics.median(warm)
    b = med["base"]
    return [
        f"set-up: ecr-ci onto a runner, local wheelhouse (medians of {runs}; pip path {pip_runs}; warm {warm_runs})",
        f"  bootstrap cold, empty caches (uv)     {med['cold'] * 1000:8.0f} ms   {med['cold'] / b:5.2f}x baseline"
        "   (target <= 2 s)",
        f"  bootstrap cold, uv cache warm         {med['coldw'] * 1000:8.0f} ms   {med['coldw'] / b:5.2f}x baseline",
        f"  bootstrap cold, no uv (venv + pip)    {med['pip'] * 1000:8.0f} ms   {med['pip'] / b:5.2f}x baseline",
        f"  bootstrap warm (complete env, hit)    {warm_med * 1000:8.1f} ms   {warm_med / b:5.3f}x baseline"
        "   (target <= 100 ms)",
        f"  baseline: python3 -m venv + pip install of the wheel  {b * 1000:8.0f} ms",
    ]


if __name__ == "__main__":
    print("\n".join(setup_lines()))
