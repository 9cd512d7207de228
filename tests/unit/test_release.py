"""Release: one version everywhere, complete metadata, a lock that matches pyproject.toml, a wheel that installs.

The lock checks read ``bootstrap/requirements.lock`` against ``pyproject.toml``'s ``dependencies`` for every
supported Python and platform; the slow ones re-run the resolver (`make lock`), build the sdist and wheel
(`make dist`), check them with twine and install the wheel into a clean environment.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from ecr_ci import __version__
from tests.testbed import run

if sys.version_info >= (3, 11):
    import tomllib
else:  # the test extra brings tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
# uv's cache as the user has it, read at import, before the per-test HOME: tests share its downloads (uv locks it),
# while every bootstrap cache they use is new.
UV_CACHE = os.environ.get("UV_CACHE_DIR") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "uv"
)
LOCK = ROOT / "bootstrap" / "requirements.lock"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
SUPPORTED = ["3.10", "3.11", "3.12", "3.13"]
PLATFORMS = [("linux", "Linux", "x86_64"), ("linux", "Linux", "aarch64"), ("darwin", "Darwin", "arm64"),
             ("win32", "Windows", "AMD64")]  # fmt: skip


def uv() -> str:
    beside = Path(sys.executable).parent / "uv"
    found = str(beside) if beside.exists() else shutil.which("uv")
    assert found, "uv is in the test extra: run make venv"
    return found


def lock_entries() -> list[tuple[Requirement, list[str]]]:
    """(requirement, hashes) for every entry of the lock; continuation lines joined."""
    text = re.sub(r"\\\n", " ", LOCK.read_text())
    entries = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        hashes = re.findall(r"--hash=(sha256:[0-9a-f]{64})", line)
        entries.append((Requirement(line.split(" --hash")[0].strip()), hashes))
    return entries


def environment(python: str, platform: tuple[str, str, str]) -> dict[str, str]:
    sys_platform, system, machine = platform
    return {"python_version": python, "python_full_version": python + ".0", "sys_platform": sys_platform,
            "platform_system": system, "platform_machine": machine, "os_name": "nt" if system == "Windows" else "posix",
            "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}  # fmt: skip


def installed_set(python: str, platform: tuple[str, str, str]) -> dict[str, Version]:
    """What an install of the lock brings for one Python and platform: name -> pinned version (one each)."""
    chosen: dict[str, Version] = {}
    for req, _ in lock_entries():
        if req.marker is None or req.marker.evaluate(environment(python, platform)):
            name = canonicalize_name(req.name)
            assert name not in chosen, f"{name} is pinned twice for Python {python} on {platform[0]}"
            [spec] = req.specifier
            assert spec.operator == "==", f"{req} is not pinned"
            chosen[name] = Version(spec.version)
    return chosen


def closure(python: str, platform: tuple[str, str, str]) -> set[str]:
    """The names pyproject's dependencies need, following the lock's own `# via` graph backwards."""
    needs: dict[str, set[str]] = {}
    current = None
    for line in LOCK.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", line)
        if m:
            current = canonicalize_name(m.group(1))
        via = re.match(r"^\s+#\s+(?:via\s+)?([A-Za-z0-9][A-Za-z0-9._-]*)(?:\s|$)", line)
        if current and via and via.group(1) != "via":
            needs.setdefault(canonicalize_name(via.group(1)), set()).add(current)
    wanted = set()
    todo = [canonicalize_name(Requirement(d).name) for d in PROJECT["dependencies"]]
    installed = installed_set(python, platform)
    while todo:
        name = todo.pop()
        if name in wanted or name not in installed:
            continue
        wanted.add(name)
        todo.extend(needs.get(name, ()))
    return wanted


# -- one version --------------------------------------------------------------------------------------------------
def test_one_version_in_package_bootstraps_and_changelog() -> None:
    sh = re.search(r"^ECR_CI_VERSION=(\S+)$", (ROOT / "bootstrap" / "bootstrap.sh").read_text(), re.M)
    ps1 = re.search(r"^\$EcrCiVersion = '([^']+)'$", (ROOT / "bootstrap" / "bootstrap.ps1").read_text(), re.M)
    changelog = re.search(r"^## \[([^\]]+)\]", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert sh and ps1 and changelog
    assert {sh.group(1), ps1.group(1), changelog.group(1)} == {__version__}, "bump them together"
    Version(__version__)  # a valid PEP 440 version


def test_both_commands_print_the_version() -> None:
    bindir = Path(sys.executable).parent
    cli = run([str(bindir / "ecr-ci"), "--version"])
    helper = run([str(bindir / "docker-credential-ecr-ci"), "version"])
    assert cli.stdout.strip() == f"ecr-ci {__version__}"
    assert helper.stdout.strip() == f"docker-credential-ecr-ci (ecr-ci) {__version__}"


# -- metadata -----------------------------------------------------------------------------------------------------
def test_metadata_is_complete() -> None:
    assert PROJECT["requires-python"] == ">=3.10"
    pythons = sorted(c.rsplit(":: ", 1)[1] for c in PROJECT["classifiers"] if re.fullmatch(r".*Python :: 3\.\d+", c))
    assert pythons == SUPPORTED
    assert PROJECT["license"] == "Apache-2.0" and PROJECT["license-files"] == ["LICENSE"]
    assert {"Homepage", "Source", "Issues", "Changelog"} <= set(PROJECT["urls"])
    assert all(u.startswith("https://") for u in PROJECT["urls"].values())
    assert PROJECT["authors"] and len(PROJECT["keywords"]) >= 5
    assert set(PROJECT["scripts"]) == {"ecr-ci", "docker-credential-ecr-ci"}
    license_text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text


def test_readme_install_section_follows_the_quick_start() -> None:
    readme = (ROOT / "README.md").read_text()
    headings = re.findall(r"^## (.+)$", readme, re.M)
    assert headings[0] == "Install"
    section = readme.split("## Install", 1)[1].split("\n## ", 1)[0]
    for needle in ("pipx install", "uv tool install", "pip install", "git+", "docker-credential-ecr-ci",
                   "bootstrap/bootstrap.sh", "bootstrap.ps1", "unshare", "docker"):  # fmt: skip
        assert needle in section, needle
    assert PROJECT["urls"]["Source"] in section


# -- the lock -----------------------------------------------------------------------------------------------------
def test_lock_pins_every_entry_with_hashes() -> None:
    entries = lock_entries()
    assert entries
    for req, hashes in entries:
        assert hashes, f"{req} has no --hash"
        assert len(set(hashes)) == len(hashes)
    header = LOCK.read_text().splitlines()[1]
    for flag in ("--universal", "--generate-hashes", "--python-version 3.10", "pyproject.toml"):
        assert flag in header, f"the lock was not made by `make lock` ({flag} missing)"


@pytest.mark.parametrize("python", SUPPORTED)
@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda p: f"{p[0]}-{p[2]}")
def test_lock_satisfies_pyproject_for_every_python_and_platform(python: str, platform: tuple[str, str, str]) -> None:
    installed = installed_set(python, platform)
    for dep in PROJECT["dependencies"]:
        req = Requirement(dep)
        if req.marker and not req.marker.evaluate(environment(python, platform)):
            continue
        name = canonicalize_name(req.name)
        assert name in installed, f"{dep} is in pyproject.toml but not in the lock: run make lock"
        assert req.specifier.contains(installed[name], prereleases=True), f"lock pins {name}=={installed[name]}"
    # Runtime only: nothing the lock installs is outside what the dependencies need (no test or demo extras).
    extra = set(installed) - closure(python, platform)
    assert not extra, f"the lock installs {sorted(extra)}, which no runtime dependency needs: run make lock"


def test_lock_has_no_environment_marker_outside_the_supported_range() -> None:
    for req, _ in lock_entries():
        if req.marker is not None:
            assert Marker(str(req.marker))  # parses
            assert "python_full_version < '3.10'" not in str(req.marker)


@pytest.mark.slow
def test_make_lock_reproduces_the_checked_in_lock(tmp_path: Path) -> None:
    """Re-resolving keeps every pin (uv prefers the versions already in the output file): any change means
    pyproject.toml's dependencies moved and `make lock` was not run."""
    out = tmp_path / "requirements.lock"
    shutil.copy(LOCK, out)
    cmd = [uv(), "pip", "compile", "-q", "--native-tls", "--universal", "--generate-hashes", "--python-version", "3.10",
           "pyproject.toml", "-o", str(out)]  # fmt: skip
    # From uv's cache when it has the metadata (make venv fills it), else from the index.
    env = os.environ | {"UV_CACHE_DIR": UV_CACHE}
    proc = subprocess.run([*cmd, "--offline"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        shutil.copy(LOCK, out)
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    body = [line for line in LOCK.read_text().splitlines()[2:]]
    assert out.read_text().splitlines()[2:] == body, "the lock is stale: run make lock"


# -- the bootstrap pair --------------------------------------------------------------------------------------------
def test_the_powershell_bootstrap_mirrors_the_shell_one() -> None:
    """bootstrap.ps1 cannot run here: hold it to the same interface, defaults, key and messages as bootstrap.sh."""
    sh = (ROOT / "bootstrap" / "bootstrap.sh").read_text()
    ps1 = (ROOT / "bootstrap" / "bootstrap.ps1").read_text()
    for env in ("ECR_CI_BOOTSTRAP_CACHE_DIR", "ECR_CI_BOOTSTRAP_FROM", "ECR_CI_BOOTSTRAP_PYTHON", "RUNNER_TOOL_CACHE",
                "XDG_CACHE_HOME"):  # fmt: skip
        assert env in sh and env in ps1, env
    for text in ("--cache-dir", "--from", "ecr-ci bootstrap: ", "needs Python 3.10 or newer", ".ecr-ci-complete",
                 "_build.py", "requirements.lock", "does not exist (give an ecr-ci checkout", "is not a wheel (.whl)",
                 "unknown argument", "--source-name=", "--cache-name=", "--key=", "--lock=", "--version="):  # fmt: skip
        assert text in sh and text in ps1, text
    sh_names = re.search(r'candidates="(python3 [^"]+)"', sh)
    ps1_names = re.search(r"\$candidates = @\(([^)]+)\); \$pythonName = 'PATH'", ps1)
    assert sh_names and ps1_names
    assert [n.strip(" '") for n in ps1_names.group(1).split(",")] == sh_names.group(1).split() + ["py"]
    # The same probe (single quotes only: PowerShell 5.1 mangles double quotes for native programs).
    sh_probe = re.search(r'^probe="(.+)"$', sh, re.M)
    ps1_probe = re.search(r'^\$probe = "(.+)"$', ps1, re.M)
    assert sh_probe and ps1_probe and '"' not in ps1_probe.group(1)
    assert sh_probe.group(1).replace("\\\\", "\\") == ps1_probe.group(1)
    # The same key: version, kind, the first 16 hex digits of the lock's SHA-256, the interpreter tag.
    assert "key=ecr-ci-$ECR_CI_VERSION-$kind-$(hex_prefix \"$sum\" '????????????????')" in sh
    assert '$key = "ecr-ci-$EcrCiVersion-$kind-" + $sum.Substring(0, 16)' in ps1


def _build_module():
    spec = importlib.util.spec_from_file_location("bootstrap_build", ROOT / "bootstrap" / "_build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_installer_output_is_one_line_without_index_credentials() -> None:
    build = _build_module()
    out = ("Looking in indexes: https://ci:tok3n-value@pypi.example.test/simple\n"
           "ERROR: Could not find a version that satisfies the requirement boto3==1.44.8 (from -r lock)\n"
           "  from https://user:pa55@mirror.example.test/simple/boto3/\n")  # fmt: skip
    line = build.evidence(out)
    assert "\n" not in line and "tok3n-value" not in line and "pa55" not in line
    assert line.startswith("ERROR: Could not find a version") and "https://***@mirror.example.test" in line
    assert build.scrub("see https://a:b@h/x and http://c@h2") == "see https://***@h/x and http://***@h2"


# -- the distributions --------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_dist_passes_twine_and_the_wheel_installs_into_a_clean_environment(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    env = os.environ | {"UV_CACHE_DIR": UV_CACHE}
    subprocess.run([uv(), "build", "-q", "--native-tls", "-o", str(dist), str(ROOT)], check=True, timeout=300, env=env)
    [wheel] = dist.glob("*.whl")
    [sdist] = dist.glob("*.tar.gz")
    assert wheel.name == f"ecr_ci-{__version__}-py3-none-any.whl"
    twine = run([sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)])
    assert twine.returncode == 0 and twine.stdout.count("PASSED") == 2, twine.stdout + twine.stderr
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata = zf.read(f"ecr_ci-{__version__}.dist-info/METADATA").decode()
    assert metadata.startswith("Metadata-Version: 2.4\n")  # what every current uploader accepts
    assert "License-Expression: Apache-2.0" in metadata and "Requires-Python: >=3.10" in metadata
    assert f"ecr_ci-{__version__}.dist-info/licenses/LICENSE" in names and "ecr_ci/py.typed" in names
    assert "ecr_ci/settings.yaml" in names
    assert not [n for n in names if n.startswith(("tests/", "bootstrap/"))]
    with tarfile.open(sdist) as tar:
        members = tar.getnames()
    for needed in ("LICENSE", "CHANGELOG.md", "bootstrap/bootstrap.sh", "bootstrap/requirements.lock"):
        assert f"ecr_ci-{__version__}/{needed}" in members, needed

    venv = tmp_path / "clean"
    subprocess.run([uv(), "venv", "-q", "--python", sys.executable, str(venv)], check=True, env=env)
    py = str(venv / "bin" / "python")
    for args in (["--require-hashes", "-r", str(LOCK)], ["--no-deps", str(wheel)]):
        subprocess.run(
            [uv(), "pip", "install", "-q", "--native-tls", "--python", py, *args], check=True, timeout=300, env=env
        )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    version = run([str(venv / "bin" / "ecr-ci"), "--version"], env=clean, cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.strip() == f"ecr-ci {__version__}", version.stderr
    helper = run([str(venv / "bin" / "docker-credential-ecr-ci"), "version"], env=clean, cwd=tmp_path)
    assert helper.stdout.strip() == f"docker-credential-ecr-ci (ecr-ci) {__version__}"
    where = run([py, "-c", "import ecr_ci; print(ecr_ci.__file__)"], env=clean, cwd=tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(venv)
