"""Shared pieces of the hardening tests: run the CLI, assert "one clear line", and prove nothing was touched.

``cli(...)`` runs ``ecr-ci`` either as a real process (``python -m ecr_ci``, bounded by a hang guard) or, where
hundreds of cases make processes too slow, in this process through ``ecr_ci.cli.main(argv, env)``; both record
stdout and stderr in the secret ledger. ``snapshot(root)`` describes every entry under ``root`` without following
links or opening special files, so a FIFO or a device node can be part of a snapshot, and two snapshots are equal
only if every file is byte-identical, every mode and link target the same, and nothing was added or removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import stat
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.testbed.secrets import record

ACCOUNT = "123456789012"
HOST = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ci-push"


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def cli(
    *args: str, env: Mapping[str, str], stdin: str = "", process: bool = False, hang: float = 60, module: str = "ecr_ci"
) -> Outcome:
    """Run ``ecr-ci args`` with exactly ``env``. ``hang`` is a hang guard for processes, not a time limit."""
    label = f"{module} {' '.join(args)}"[:160]
    if process:
        try:
            done = subprocess.run(
                [sys.executable, "-m", module, *args],
                env=dict(env),
                input=stdin,
                capture_output=True,
                text=True,
                timeout=hang,
            )
        except subprocess.TimeoutExpired as e:  # the FIFO's failure mode: say it plainly
            raise AssertionError(f"{label}: still running after {hang} s (it hangs)") from e
        outcome = Outcome(done.returncode, done.stdout, done.stderr)
    else:
        from ecr_ci import cli as entry

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = entry.main(list(args), dict(env))
            except SystemExit as e:  # argparse's own exits (--help, errors)
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
        outcome = Outcome(code, out.getvalue(), err.getvalue())
    record(f"{label} [stdout]", outcome.out)
    record(f"{label} [stderr]", outcome.err)
    return outcome


def assert_one_line(outcome: Outcome, code: int, *mentions: str) -> str:
    """Exit ``code``, nothing on stdout, exactly one line on stderr that names each of ``mentions``; no traceback,
    no "unexpected ... please report" (the sign of a crash dressed as a message)."""
    shown = f"exit {outcome.code}\nstdout: {outcome.out!r}\nstderr: {outcome.err!r}"
    assert outcome.code == code, shown
    assert outcome.out == "", shown
    assert len(outcome.lines) == 1, shown
    line = outcome.lines[0]
    for bad in ("Traceback", "unexpected", "report this as a bug", "usage:"):
        assert bad not in line, shown
    for m in mentions:
        assert m in line, f"{m!r} not named\n{shown}"
    return line


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Every entry under ``root``: type, mode, and content hash (files) or target (links) or device (nodes)."""
    found: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath, name)
            st = path.lstat()
            rel = str(path.relative_to(root))
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                found[rel] = ("link", os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                found[rel] = ("file", mode, hashlib.sha256(path.read_bytes()).hexdigest())
            elif stat.S_ISDIR(st.st_mode):
                found[rel] = ("dir", mode)
            else:
                found[rel] = ("special", stat.S_IFMT(st.st_mode), mode, st.st_rdev)
    return found


def github_env(issuer: object, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's (already cleaned) environment as a GitHub Actions job that may request an ID token."""
    env = dict(os.environ)
    env |= {
        "GITHUB_ACTIONS": "true",
        "GITHUB_RUN_ID": "4242",
        "GITHUB_RUN_ATTEMPT": "1",
        "ACTIONS_ID_TOKEN_REQUEST_URL": issuer.request_url,  # type: ignore[attr-defined]
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": issuer.request_token,  # type: ignore[attr-defined]
    }
    return env | dict(extra or {})


def no_network(moto_server: object, issuer: object) -> None:
    """Neither the token endpoint nor STS/ECR was asked anything."""
    assert issuer.audiences == [], "the identity token was requested"  # type: ignore[attr-defined]
    assert moto_server.calls() == [], "AWS was called"  # type: ignore[attr-defined]


def argv(*parts: str | Sequence[str]) -> list[str]:
    out: list[str] = []
    for p in parts:
        out += [p] if isinstance(p, str) else list(p)
    return out
