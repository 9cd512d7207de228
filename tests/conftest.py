"""Shared fixtures: the test bed's services, a clean CI-free environment per test, and the session secret scan.

Session fixtures start each service once (``moto_server``, ``oidc_issuer``, ``fake_aws``, ``registry``); the
autouse ``clean_env`` fixture resets the ones already started, so every test begins with moto empty, no
scripted fake replies and default claims. ``clean_env`` also deletes every CI variable this machine or a real
CI run could leak into a test and gives the test its own HOME, DOCKER_CONFIG and XDG directories.

``@pytest.mark.requires("skopeo", "docker-registry", "hosts")`` skips a test whose binary is missing
(``"hosts"`` is the mount-namespace recipe); with ``TESTBED_STRICT=1`` (set it in CI) it fails instead.

At the end of the session every output recorded in the ledger, and every section pytest captured, is scanned
for the secrets the test bed issued; any hit fails the session and is listed without the secret.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.testbed import (  # noqa: E402
    LEDGER,
    FakeAWS,
    MotoServer,
    OidcIssuer,
    Registry,
    hosts_why_unavailable,
    make_oci_layout,
)

CI_PREFIXES = (
    "GITHUB_", "ACTIONS_", "RUNNER_", "INPUT_", "CI_", "GITLAB_", "JENKINS_", "BUILD_", "AWS_", "ECR_CI_",
    "DOCKER_", "HELM_",
)  # fmt: skip
CI_NAMES = {"CI", "REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME"}

_started: dict[str, object] = {}


# The Debian package that provides each binary, where the names differ (Debian's `docker` is a transitional package
# for wmdocker, a system tray; the docker CLI is in docker.io).
DEBIAN_PACKAGE = {"docker": "docker.io", "htpasswd": "apache2-utils"}


def _missing(requirement: str) -> str | None:
    if requirement == "hosts":
        return hosts_why_unavailable()
    if shutil.which(requirement) is None:
        package = DEBIAN_PACKAGE.get(requirement, requirement)
        return f"{requirement} is not installed (CI installs it; apt-get install {package})"
    return None


def _skip(reason: str) -> None:
    if os.environ.get("TESTBED_STRICT") == "1":
        pytest.fail(f"TESTBED_STRICT=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requires(*names): skip unless these binaries (or 'hosts') are usable")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("requires"):
        for name in mark.args:
            reason = _missing(name)
            if reason:
                _skip(reason)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    with MotoServer() as server:
        _started["moto"] = server
        yield server
        _started.pop("moto")


@pytest.fixture(scope="session")
def oidc_issuer() -> Iterator[OidcIssuer]:
    with OidcIssuer() as issuer:
        _started["oidc"] = issuer
        yield issuer
        _started.pop("oidc")


@pytest.fixture(scope="session")
def fake_aws() -> Iterator[FakeAWS]:
    with FakeAWS() as fake:
        _started["fake"] = fake
        yield fake
        _started.pop("fake")


@pytest.fixture(scope="session")
def registry() -> Iterator[Registry]:
    """Plain-HTTP registry with user ``AWS`` and moto's password for account 123456789012."""
    reason = _missing("docker-registry")
    if reason:
        _skip(reason)
    with Registry() as reg:
        yield reg


@pytest.fixture(scope="session")
def oci_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny OCI image layout, tag ``latest``: push it with ``oci:<path>:latest``."""
    path = tmp_path_factory.mktemp("oci")
    make_oci_layout(path)
    return path


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, moto_server: MotoServer) -> Path:
    """No CI variables, no AWS keys; HOME and DOCKER_CONFIG under tmp_path; AWS_ENDPOINT_URL is moto. Returns HOME."""
    for name in list(os.environ):
        if name.startswith(CI_PREFIXES) or name in CI_NAMES:
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    for sub in (".docker", ".config", "run"):
        (home / sub).mkdir(parents=True)
    (home / "run").chmod(0o700)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DOCKER_CONFIG", str(home / ".docker"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(home / "run"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.url)
    # Without keys botocore would otherwise probe the instance metadata service and wait for its timeouts.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # `python -m ecr_ci` must import this checkout whatever the subprocess's working directory.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    for service in list(_started.values()):
        service.reset()  # type: ignore[attr-defined]
    return home


# -- the session-end secret scan ------------------------------------------------------------------------------
_seen_sections: set[tuple[str, str]] = set()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # A report repeats the sections of earlier phases: record each (test, section) once.
    for name, content in report.sections:
        if (report.nodeid, name) not in _seen_sections:
            _seen_sections.add((report.nodeid, name))
            LEDGER.record(f"{report.nodeid} [{name}]", content)
    if report.failed:
        LEDGER.record(f"{report.nodeid} [{report.when} failure report]", report.longreprtext)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    hits = sorted(set(LEDGER.findings()), key=lambda h: (h.where, h.offset))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if not hits:
        # Say what was scanned, so a scan that saw nothing cannot pass unnoticed.
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(LEDGER.kinds().items()))
        summary = f"secret scan: {LEDGER.record_count()} recorded outputs clean of {kinds or 'no issued secrets'}"
        if reporter is not None:
            reporter.write_line(summary)
        return
    lines = [f"secret scan: {len(hits)} issued secret(s) found in recorded output:"] + [f"  {h}" for h in hits]
    if reporter is not None:
        reporter.write_sep("=", "secret scan failed", red=True)
        for line in lines:
            reporter.write_line(line)
    else:
        print("\n".join(lines), file=sys.stderr)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
