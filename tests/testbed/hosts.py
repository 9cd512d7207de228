"""Run a command that sees extra ``/etc/hosts`` entries, without touching the machine's ``/etc/hosts``.

The command runs under ``unshare -m`` (a private mount namespace) after a temporary hosts file, the machine's
entries plus the given ones, is bind-mounted over ``/etc/hosts``; the bind mount vanishes with the namespace.
This lets a real client resolve ``123456789012.dkr.ecr.us-east-1.amazonaws.com`` to a local registry on
127.0.0.1:443 and use exactly the config key the tool wrote. It needs root (CAP_SYS_ADMIN) and util-linux;
:func:`available` says whether it works here and :func:`why_unavailable` why not.

The bind mount and ``exec`` are done by a few lines of Python rather than ``sh -c``: dash drops environment
variables whose names contain ``-`` (``INPUT_ROLE-TO-ASSUME``), and those must reach the command intact.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from .secrets import run

_ENTER = (
    "import os, subprocess, sys\n"
    "subprocess.run(['mount', '--bind', sys.argv[1], '/etc/hosts'], check=True)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def wrap(cmd: Sequence[str], hosts_file: str | os.PathLike[str]) -> list[str]:
    """The argv that runs ``cmd`` with ``hosts_file`` mounted over ``/etc/hosts`` in a new mount namespace."""
    unshare = shutil.which("unshare") or "unshare"
    return [unshare, "--mount", "--propagation", "private", "--", sys.executable, "-c", _ENTER, str(hosts_file), *cmd]


def hosts_text(hosts: Mapping[str, str]) -> str:
    """The machine's ``/etc/hosts`` followed by one ``<ip> <name>`` line per entry."""
    try:
        base = Path("/etc/hosts").read_text()
    except OSError:
        base = "127.0.0.1 localhost\n"
    return base.rstrip("\n") + "\n" + "".join(f"{ip} {name}\n" for name, ip in hosts.items())


@functools.cache
def why_unavailable() -> str | None:
    """``None`` if the recipe works here, else the reason (for a skip message)."""
    if os.geteuid() != 0:
        return "needs root for unshare --mount and mount --bind"
    for tool in ("unshare", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (util-linux)"
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "hosts"
        probe.write_text(hosts_text({"testbed-probe.invalid": "127.0.0.2"}))
        proc = subprocess.run(
            wrap(["cat", "/etc/hosts"], probe), capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
        )
    if proc.returncode != 0 or "testbed-probe.invalid" not in proc.stdout:
        return f"unshare --mount with a bind-mounted /etc/hosts failed here: {proc.stderr.strip()[-300:]}"
    return None


def available() -> bool:
    """Whether :func:`run_with_hosts` works on this machine."""
    return why_unavailable() is None


def run_with_hosts(
    cmd: Sequence[str],
    hosts: Mapping[str, str],
    *,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 120,
    allow_secret_stdout: Iterable[str] | bool = False,
    label: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` seeing ``hosts`` (``{name: ip}``) in ``/etc/hosts``; outputs go to the secret ledger.

    Same arguments and result as :func:`.secrets.run`; ``env`` defaults to the current environment.
    """
    with tempfile.TemporaryDirectory(prefix="testbed-hosts-") as tmp:
        hosts_file = Path(tmp) / "hosts"
        hosts_file.write_text(hosts_text(hosts))
        hosts_file.chmod(0o644)
        return run(
            wrap(cmd, hosts_file),
            env=env,
            input=input,
            cwd=cwd,
            timeout=timeout,
            allow_secret_stdout=allow_secret_stdout,
            label=label or " ".join(cmd)[:120],
        )
