"""The secret ledger: every secret the test bed issued, every output the suite produced, and a scan for the one
in the other.

Services register what they hand out (identity tokens and their signatures, registry passwords and their
``base64("AWS:<password>")`` form, AWS secret keys and session tokens). Tests record what the tool printed,
mostly through :func:`run`. At the end of the session ``LEDGER.findings()`` scans every record; a hit names the
kind of secret, who issued it, the record's label and an offset, never the secret itself.

A record may be allowed to contain some kinds (``ecr-ci password`` prints a password on stdout by design); it
is still scanned for every other kind. Anything shaped like a JWT that the ledger does not know is reported too,
as kind ``jwt-shaped``. Values shorter than 8 characters are ignored: they would match by accident.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shlex
import subprocess
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

_JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}")
MIN_LENGTH = 8


@dataclass(frozen=True)
class Hit:
    """One secret found in one record. ``fingerprint`` (8 hex digits of its SHA-256) tells secrets apart."""

    kind: str
    source: str
    where: str
    offset: int
    fingerprint: str

    def __str__(self) -> str:
        return f"{self.where}: {self.kind} issued by {self.source} at offset {self.offset} (sha256 {self.fingerprint})"


@dataclass(frozen=True)
class _Record:
    label: str
    text: str
    allow: frozenset[str] | bool


class Ledger:
    """Process-wide registry of issued secrets and captured outputs; thread-safe. Use the shared ``LEDGER``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: dict[str, tuple[str, str]] = {}  # value -> (kind, source)
        self._records: list[_Record] = []

    # -- secrets -------------------------------------------------------------------------------------------
    def add(self, value: str, kind: str, source: str = "test") -> None:
        """Register one secret value. The first registration of a value keeps its kind."""
        if value and len(value) >= MIN_LENGTH:
            with self._lock:
                self._secrets.setdefault(value, (kind, source))

    def add_jwt(self, token: str, source: str) -> None:
        """Register a JWT and, separately, its signature (a leaked signature alone is as bad as the token)."""
        self.add(token, "jwt", source)
        self.add(token.rsplit(".", 1)[-1], "jwt-signature", source)

    def add_password(self, password: str, source: str, username: str = "AWS") -> None:
        """Register a registry password and its Docker ``auth`` form ``base64("<user>:<password>")``."""
        self.add(password, "password", source)
        self.add(base64.b64encode(f"{username}:{password}".encode()).decode(), "docker-auth", source)

    def kinds(self) -> dict[str, int]:
        """How many secrets of each kind are registered (for reports; never the values)."""
        out: dict[str, int] = {}
        with self._lock:
            for kind, _ in self._secrets.values():
                out[kind] = out.get(kind, 0) + 1
        return out

    # -- outputs -------------------------------------------------------------------------------------------
    def record(self, label: str, text: str | bytes | None, *, allow: Iterable[str] | bool = False) -> None:
        """Keep one output for the final scan. ``allow`` is ``True`` or the kinds this output may contain."""
        if not text:
            return
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        allowed = allow if isinstance(allow, bool) else frozenset(allow)
        record = _Record(self.redact(label), text, allowed)
        with self._lock:
            self._records.append(record)

    def record_count(self) -> int:
        """How many outputs have been recorded."""
        with self._lock:
            return len(self._records)

    def clear_records(self) -> None:
        with self._lock:
            self._records.clear()

    # -- scanning ------------------------------------------------------------------------------------------
    def scan(self, text: str | bytes, where: str = "text") -> list[Hit]:
        """Every registered secret (and every unknown JWT-shaped string) in ``text``, outermost matches only."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        with self._lock:
            secrets = list(self._secrets.items())
        known = dict(secrets)
        spans: list[tuple[int, int, str, str, str]] = []
        for value, (kind, source) in secrets:
            start = text.find(value)
            while start != -1:
                spans.append((start, start + len(value), kind, source, value))
                start = text.find(value, start + 1)
        for m in _JWT_SHAPE.finditer(text):
            if m.group() not in known:
                spans.append((m.start(), m.end(), "jwt-shaped", "unknown", m.group()))
        # A JWT contains its own signature: report the token, not both.
        spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
        hits: list[Hit] = []
        end = -1
        for start, stop, kind, source, value in spans:
            if stop <= end:
                continue
            end = stop
            hits.append(Hit(kind, source, where, start, hashlib.sha256(value.encode()).hexdigest()[:8]))
        return hits

    def findings(self) -> list[Hit]:
        """Scan every record, ignoring the kinds each record is allowed to contain."""
        with self._lock:
            records = list(self._records)
        hits: list[Hit] = []
        for rec in records:
            if rec.allow is True:
                continue
            allowed = rec.allow or frozenset()
            hits += [h for h in self.scan(rec.text, rec.label) if h.kind not in allowed]
        return hits

    def redact(self, text: str) -> str:
        """``text`` with every registered secret replaced by ``<kind>``: safe to put in an assertion message."""
        with self._lock:
            secrets = sorted(self._secrets.items(), key=lambda kv: -len(kv[0]))
        for value, (kind, _) in secrets:
            if value in text:
                text = text.replace(value, f"<{kind}>")
        return _JWT_SHAPE.sub("<jwt-shaped>", text)


LEDGER = Ledger()


def run(
    cmd: Sequence[str],
    *,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
    allow_secret_stdout: Iterable[str] | bool = False,
    label: str | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 120,
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` (text mode), record its stdout and stderr in ``LEDGER`` and return the CompletedProcess.

    ``allow_secret_stdout`` is ``True`` or the kinds stdout may contain (``{"password", "docker-auth"}`` for
    ``ecr-ci password``); stderr never may. ``env`` defaults to the current environment. ``label`` names the
    records (default: the command, redacted).
    """
    name = label or shlex.join(cmd)[:120]
    proc = subprocess.run(
        list(cmd),
        input=input,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    LEDGER.record(f"{name} [stdout]", proc.stdout, allow=allow_secret_stdout)
    LEDGER.record(f"{name} [stderr]", proc.stderr)
    if check and proc.returncode != 0:
        raise AssertionError(f"{LEDGER.redact(name)} exited {proc.returncode}: {LEDGER.redact(proc.stderr)[-2000:]}")
    return proc


def record(label: str, text: str | bytes | None, *, allow: Iterable[str] | bool = False) -> None:
    """Shortcut for ``LEDGER.record``."""
    LEDGER.record(label, text, allow=allow)


def scan(text: str | bytes, where: str = "text") -> list[Hit]:
    """Shortcut for ``LEDGER.scan``."""
    return LEDGER.scan(text, where)
