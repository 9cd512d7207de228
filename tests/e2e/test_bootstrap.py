"""bootstrap/bootstrap.sh end to end: real venvs, real uv and pip, a real wheelhouse, no network where it says so.

Every test starts from an empty cache directory. The interpreter the bootstrap finds is put on a PATH of the
test's own making (a directory of symlinks), so each test decides exactly which Python, uv and tools exist.
``unshare --net`` (root) runs a command in a network namespace with no interface but a downed loopback: any
index access there fails at once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ecr_ci import __version__
from tests.testbed import LEDGER, run

ROOT = Path(__file__).resolve().parents[2]
# uv's cache as the user has it, read at import, before the per-test HOME: tests share its downloads (uv locks it),
# while every bootstrap cache they use is new.
UV_CACHE = os.environ.get("UV_CACHE_DIR") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "uv"
)
BOOTSTRAP = ROOT / "bootstrap" / "bootstrap.sh"
LOCK = ROOT / "bootstrap" / "requirements.lock"
# The machine's interpreter behind the test venv: the one a runner would have.
BASE_PYTHON = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
SHELLS = [s for s in ("dash", "bash") if shutil.which(s)]

pytestmark = [pytest.mark.slow, pytest.mark.requires("unshare")]


def _uv() -> str:
    beside = Path(sys.executable).parent / "uv"  # the test extra installs uv into the venv
    found = str(beside) if beside.exists() else shutil.which("uv")
    assert found, "uv is in the test extra: run make venv"
    return found


def _offline_ok() -> bool:
    return subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode == 0


def make_path(tmp: Path, *, python: str | None = BASE_PYTHON, uv: bool = True, system: bool = True) -> str:
    """A PATH holding ``python3`` (when given), ``uv`` (when asked) and, with ``system``, /usr/bin and /bin."""
    bindir = tmp / "bin"
    bindir.mkdir(parents=True, exist_ok=True)
    if python:
        (bindir / "python3").symlink_to(python)
    if uv:
        (bindir / "uv").symlink_to(_uv())
    # The one tool the shell front end itself needs besides builtins.
    (bindir / "sha256sum").symlink_to(shutil.which("sha256sum") or "/usr/bin/sha256sum")
    return os.pathsep.join([str(bindir)] + (["/usr/bin", "/bin"] if system else []))


def bootstrap_env(path: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECR_CI_BOOTSTRAP_", "PYTHON", "VIRTUAL_ENV"))}
    env.pop("RUNNER_TOOL_CACHE", None)
    env["PATH"] = path
    env["UV_CACHE_DIR"] = UV_CACHE
    env.update(extra)
    return env


def bootstrap(cache: Path, source: str | Path | None, env: dict[str, str], *, shell: str = "sh", offline: bool = False):
    cmd = [shell, str(BOOTSTRAP), "--cache-dir", str(cache)]
    if source is not None:
        cmd += ["--from", str(source)]
    if offline:
        if not _offline_ok():
            pytest.skip("unshare --net needs root")
        cmd = [shutil.which("unshare") or "unshare", "--net", *cmd]
    # The shell's own name must be found even on a PATH without /bin.
    cmd[cmd.index(shell)] = shutil.which(shell) or shell
    return run(cmd, env=env, timeout=180)


def published(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / "envs").iterdir()) if (cache / "envs").exists() else []


def assert_env_works(proc: subprocess.CompletedProcess[str], cache: Path) -> Path:
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, f"stdout must be only the path: {proc.stdout!r}"
    exe = Path(lines[0])
    assert exe.is_absolute() and exe.name == "ecr-ci" and exe.is_relative_to(cache)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}  # no checkout on sys.path
    version = run([str(exe), "--version"], env=clean)
    assert version.stdout.split() == ["ecr-ci", __version__], version.stdout + version.stderr
    # The installed package, not the checkout: its files live in the environment.
    where = run([str(exe.parent / "python"), "-c", "import ecr_ci; print(ecr_ci.__file__)"], env=clean, cwd=cache)
    assert Path(where.stdout.strip()).is_relative_to(cache)
    return exe


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The locked dependencies for this Python and platform plus the ecr-ci wheel, as an air-gapped runner has them."""
    wh = tmp_path_factory.mktemp("wheelhouse")
    uv = _uv()
    env = os.environ | {"UV_CACHE_DIR": UV_CACHE}
    subprocess.run([uv, "build", "-q", "--native-tls", "--wheel", "-o", str(wh), str(ROOT)], check=True, env=env)
    # pip download keeps the exact files the lock's hashes name; a throwaway venv holds that pip.
    tool = tmp_path_factory.mktemp("pip-venv")
    subprocess.run([uv, "venv", "-q", "--seed", "--python", BASE_PYTHON, str(tool)], check=True, env=env)
    subprocess.run(
        [str(tool / "bin" / "python"), "-m", "pip", "download", "-q", "--disable-pip-version-check",
         "--only-binary", ":all:", "--require-hashes", "-r", str(LOCK), "-d", str(wh)],
        check=True,
        env=env,
    )  # fmt: skip
    return wh


@pytest.mark.parametrize("shell", SHELLS)
def test_first_run_builds_and_the_second_is_a_hit_with_no_network_and_no_python(
    tmp_path: Path, wheelhouse: Path, shell: str
) -> None:
    cache = tmp_path / "cache"
    first = bootstrap(cache, wheelhouse, bootstrap_env(make_path(tmp_path)), shell=shell)
    exe = assert_env_works(first, cache)
    [env_dir] = published(cache)
    assert (env_dir / ".ecr-ci-complete").read_text().splitlines()[0] == BASE_PYTHON
    assert f"py{sys.version_info[0]}.{sys.version_info[1]}" in env_dir.name and __version__ in env_dir.name
    log = next(cache.glob("*.log"))
    assert log.stat().st_mode & 0o077 == 0
    before = {p: p.stat().st_mtime_ns for p in cache.rglob("*") if p.is_file() and "site-packages" not in p.parts}

    # The hit: no network at all, and a PATH with no Python and no uv, so nothing but the shell can have answered.
    tools_only = make_path(tmp_path / "hit", python=None, uv=False, system=False)
    second = bootstrap(cache, wheelhouse, bootstrap_env(tools_only), shell=shell, offline=True)
    assert second.returncode == 0, second.stderr
    assert second.stdout == f"{exe}\n" and second.stderr == ""
    after = {p: p.stat().st_mtime_ns for p in before}
    assert after == before, "a hit writes nothing"
    assert published(cache) == [env_dir]


def test_default_source_is_the_checkout_and_the_default_cache_the_runner_tool_cache(tmp_path: Path) -> None:
    tool_cache = tmp_path / "toolcache"
    env = bootstrap_env(make_path(tmp_path), RUNNER_TOOL_CACHE=str(tool_cache))
    proc = run([shutil.which("sh") or "sh", str(BOOTSTRAP)], env=env, timeout=180)
    exe = assert_env_works(proc, tool_cache / "ecr-ci")
    assert "-checkout-" in str(exe)


def test_two_concurrent_first_runs_both_succeed_with_one_environment(tmp_path: Path, wheelhouse: Path) -> None:
    cache = tmp_path / "cache"
    env = bootstrap_env(make_path(tmp_path))
    cmd = ["sh", str(BOOTSTRAP), "--cache-dir", str(cache), "--from", str(wheelhouse)]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in "ab"]
    outs = [p.communicate(timeout=180) for p in procs]
    for (out, err), p in zip(outs, procs):
        LEDGER.record("concurrent bootstrap", out + err)
        assert p.returncode == 0, err
    assert outs[0][0] == outs[1][0]
    [env_dir] = published(cache)
    assert (env_dir / ".ecr-ci-complete").exists()
    assert len(list(cache.glob("*.env"))) == 1


def test_air_gapped_wheelhouse_with_pip_when_uv_is_absent(tmp_path: Path, wheelhouse: Path) -> None:
    cache = tmp_path / "cache"
    env = bootstrap_env(make_path(tmp_path, uv=False))
    proc = bootstrap(cache, wheelhouse, env, offline=True)
    exe = assert_env_works(proc, cache)
    assert (exe.parent.parent / ".ecr-ci-complete").read_text().splitlines()[3] == "pip"
    assert (exe.parent / "pip").exists(), "built by python -m venv + pip, not uv"


@pytest.mark.parametrize("found", ["old", "none", "broken"])
def test_no_usable_python_is_one_clear_line(tmp_path: Path, wheelhouse: Path, found: str) -> None:
    shims = tmp_path / "shims"
    shims.mkdir()
    if found == "old":
        (shims / "python3").write_text("#!/bin/sh\necho '3.8 /opt/python3.8/bin/python3'\n")
    elif found == "broken":
        (shims / "python3").write_text("#!/bin/sh\nexit 127\n")
    for shim in shims.iterdir():
        shim.chmod(0o755)
    # No /usr/bin (nor /bin, often the same directory): it has a real python3. The shims are the only Pythons.
    path = os.pathsep.join([str(shims), make_path(tmp_path, python=None, uv=False, system=False)])
    proc = bootstrap(tmp_path / "cache", wheelhouse, bootstrap_env(path))
    assert proc.returncode == 1 and proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert "needs Python 3.10 or newer" in proc.stderr and "ECR_CI_BOOTSTRAP_PYTHON" in proc.stderr
    expected = {"old": "python3 is 3.8", "none": "none of: python3", "broken": "does not run"}[found]
    assert expected in proc.stderr
    assert not (tmp_path / "cache" / "envs").exists()


def test_too_old_explicit_python(tmp_path: Path, wheelhouse: Path) -> None:
    old = tmp_path / "python3.9"
    old.write_text("#!/bin/sh\necho '3.9 /usr/bin/python3.9'\n")
    old.chmod(0o755)
    env = bootstrap_env(make_path(tmp_path), ECR_CI_BOOTSTRAP_PYTHON=str(old))
    proc = bootstrap(tmp_path / "cache", wheelhouse, env)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("ecr-ci bootstrap: ECR_CI_BOOTSTRAP_PYTHON: needs Python 3.10 or newer")
    assert "is 3.9" in proc.stderr


def test_a_killed_build_is_never_published_and_the_next_run_clears_it(tmp_path: Path, wheelhouse: Path) -> None:
    cache = tmp_path / "cache"
    env = bootstrap_env(make_path(tmp_path))
    exe = assert_env_works(bootstrap(cache, wheelhouse, env), cache)
    env_dir = exe.parent.parent
    # Make it look half-built (no marker) and add a leftover of a build that died: the next run must rebuild.
    (env_dir / ".ecr-ci-complete").unlink()
    leftover = env_dir.with_name(env_dir.name[:-8] + "deadbeef")
    leftover.mkdir()
    again = assert_env_works(bootstrap(cache, wheelhouse, env), cache)
    assert again != exe
    assert published(cache) == [again.parent.parent]


def test_an_environment_whose_python_vanished_is_rebuilt(tmp_path: Path, wheelhouse: Path) -> None:
    cache = tmp_path / "cache"
    env = bootstrap_env(make_path(tmp_path))
    exe = assert_env_works(bootstrap(cache, wheelhouse, env), cache)
    marker = exe.parent.parent / ".ecr-ci-complete"
    marker.write_text(marker.read_text().replace(BASE_PYTHON, str(tmp_path / "gone" / "python3.11"), 1))
    again = assert_env_works(bootstrap(cache, wheelhouse, env), cache)
    assert again != exe and not exe.exists()


def test_wheelhouse_without_the_pinned_ecr_ci_wheel(tmp_path: Path, wheelhouse: Path) -> None:
    partial = tmp_path / "partial"
    shutil.copytree(wheelhouse, partial, ignore=shutil.ignore_patterns("ecr_ci-*"))
    proc = bootstrap(tmp_path / "cache", partial, bootstrap_env(make_path(tmp_path)), offline=True)
    assert proc.returncode == 1 and proc.stdout == ""
    assert f"holds no ecr_ci-{__version__} wheel" in proc.stderr and str(partial) in proc.stderr
    assert len(proc.stderr.splitlines()) == 1


def test_a_wheelhouse_missing_a_dependency_fails_offline_with_one_line(tmp_path: Path, wheelhouse: Path) -> None:
    partial = tmp_path / "partial"
    shutil.copytree(wheelhouse, partial, ignore=shutil.ignore_patterns("botocore-*"))
    cache = tmp_path / "cache"
    proc = bootstrap(cache, partial, bootstrap_env(make_path(tmp_path)), offline=True)
    assert proc.returncode == 1 and proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert "installing the locked dependencies with uv failed" in proc.stderr and "botocore" in proc.stderr
    assert not list(cache.glob("*.env")) and published(cache) == []


def test_index_credentials_never_reach_the_error_line(tmp_path: Path) -> None:
    token = "s3cr3t-index-token-" + os.urandom(8).hex()
    LEDGER.add(token, "index-token", "test_bootstrap")
    # Nothing listens on port 9 of loopback: the install fails at once, naming the index.
    env = bootstrap_env(make_path(tmp_path), UV_INDEX_URL=f"https://ci:{token}@127.0.0.1:9/simple",
                        PIP_INDEX_URL=f"https://ci:{token}@127.0.0.1:9/simple", UV_HTTP_RETRIES="0")  # fmt: skip
    proc = bootstrap(tmp_path / "cache", "index", env)
    assert proc.returncode == 1 and proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert token not in proc.stderr
    log = next((tmp_path / "cache").glob("*.log"))
    assert log.stat().st_mode & 0o077 == 0  # the installer's own output may name the index: owner-only


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "/nonexistent/wheelhouse"], "--from: '/nonexistent/wheelhouse' does not exist"),
        (["--from", str(ROOT / "README.md")], "is not a wheel (.whl), a directory or 'index'"),
        (["--cache-dir"], "--cache-dir needs a directory"),
        (["--frm", "index"], "unknown argument '--frm'"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    proc = run(["sh", str(BOOTSTRAP), *args], env=bootstrap_env(make_path(tmp_path)))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("ecr-ci bootstrap: ") and message in proc.stderr
    assert len(proc.stderr.splitlines()) == 1


def test_from_environment_variable_is_named_in_its_error(tmp_path: Path) -> None:
    env = bootstrap_env(make_path(tmp_path), ECR_CI_BOOTSTRAP_FROM=str(tmp_path / "missing"))
    proc = run(["sh", str(BOOTSTRAP), "--cache-dir", str(tmp_path / "c")], env=env)
    assert proc.returncode == 2 and proc.stderr.startswith("ecr-ci bootstrap: ECR_CI_BOOTSTRAP_FROM: ")


def _local_index(wheelhouse: Path) -> dict[str, str]:
    """A uv configuration that makes a directory stand in for the package index (the network stays off), as a
    user's uv.toml would name a mirror."""
    config = wheelhouse.parent / "uv-local-index.toml"
    config.write_text(f"[pip]\nno-index = true\nfind-links = [{str(wheelhouse)!r}]\n")
    return {"UV_CONFIG_FILE": str(config)}


@pytest.mark.parametrize("kind", ["index", "wheel"])
def test_index_and_wheel_sources(tmp_path: Path, wheelhouse: Path, kind: str) -> None:
    [wheel] = wheelhouse.glob("ecr_ci-*.whl")
    cache = tmp_path / "cache"
    env = bootstrap_env(make_path(tmp_path), **_local_index(wheelhouse))
    exe = assert_env_works(bootstrap(cache, "index" if kind == "index" else wheel, env, offline=True), cache)
    assert f"-{kind}-" in exe.parent.parent.name
    target = f"ecr-ci=={__version__}" if kind == "index" else str(wheel)
    assert f"--no-deps {target}\n" in next(cache.glob("*.log")).read_text()


def test_a_source_of_another_version_is_refused(tmp_path: Path, wheelhouse: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, tree / name)
    shutil.copytree(ROOT / "ecr_ci", tree / "ecr_ci", ignore=shutil.ignore_patterns("__pycache__"))
    init = tree / "ecr_ci" / "__init__.py"
    init.write_text(init.read_text().replace(f'__version__ = "{__version__}"', '__version__ = "9.9.9"'))
    build_env = os.environ | {"UV_CACHE_DIR": UV_CACHE}
    subprocess.run(
        [_uv(), "build", "-q", "--native-tls", "--wheel", "-o", str(tmp_path), str(tree)], check=True, env=build_env
    )
    cache = tmp_path / "cache"
    env = bootstrap_env(make_path(tmp_path), **_local_index(wheelhouse))
    proc = bootstrap(cache, tmp_path / "ecr_ci-9.9.9-py3-none-any.whl", env, offline=True)
    assert proc.returncode == 1 and proc.stdout == ""
    assert f"holds ecr-ci 9.9.9 but this bootstrap pins {__version__}" in proc.stderr
    assert len(proc.stderr.splitlines()) == 1
    assert not list(cache.glob("*.env")) and published(cache) == []
