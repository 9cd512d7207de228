"""Credential files that registry clients read, written safely.

Every write merges into what is there under an exclusive lock (so concurrent ecr-ci processes lose no entry),
goes to a 0600 temporary file in the same directory and replaces the old file atomically. An existing file that
cannot be read or is not a JSON object is an error and stays untouched. A small state file beside each target
remembers what ecr-ci wrote (a hash of each entry, and any ``credsStore``/``credHelpers`` it set aside), so that
``logout`` removes exactly that and puts back what it moved.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecr_ci import _files
from ecr_ci.errors import SinkError, SinkUnreadable
from ecr_ci.models import RegistryAuth

HELPER_NAME = "ecr-ci"  # docker-credential-ecr-ci


@dataclass(frozen=True)
class Target:
    """A credential file and how its client reads it."""

    kind: str  # docker, podman, helm, kaniko
    path: Path
    honours_creds_store: bool  # podman/buildah/skopeo ignore credsStore; docker and helm do not


def docker_config_dir(env: Mapping[str, str], setting: str | None = None) -> Path:
    """``docker_config`` setting, else ``$DOCKER_CONFIG``, else ``~/.docker`` (DOCKER_CONFIG is a directory)."""
    if setting:
        return Path(setting).expanduser()
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"]).expanduser()
    return _home(env) / ".docker"


def _home(env: Mapping[str, str]) -> Path:
    return Path(env["HOME"]) if env.get("HOME") else Path.home()


def target(kind: str, env: Mapping[str, str], docker_config: str | None = None) -> Target:
    """Where ``kind``'s client looks for credentials, by that client's own rules."""
    if kind == "docker":
        return Target(kind, docker_config_dir(env, docker_config) / "config.json", True)
    if kind == "podman":
        if env.get("REGISTRY_AUTH_FILE"):
            return Target(kind, Path(env["REGISTRY_AUTH_FILE"]), False)
        runtime = env.get("XDG_RUNTIME_DIR") or f"/run/containers/{os.getuid() if hasattr(os, 'getuid') else 0}"
        sub = "containers/auth.json" if env.get("XDG_RUNTIME_DIR") else "auth.json"
        return Target(kind, Path(runtime) / sub, False)
    if kind == "helm":
        if env.get("HELM_REGISTRY_CONFIG"):
            return Target(kind, Path(env["HELM_REGISTRY_CONFIG"]), True)
        base = env.get("HELM_CONFIG_HOME") or str(Path(env.get("XDG_CONFIG_HOME") or _home(env) / ".config") / "helm")
        return Target(kind, Path(base) / "registry" / "config.json", True)
    if kind == "kaniko":
        return Target(kind, Path("/kaniko/.docker/config.json"), True)
    raise SinkError(f"write: unknown target {kind!r} (use docker, podman, helm or kaniko)")


def _fingerprint(auth: str) -> str:
    return hashlib.sha256(auth.encode()).hexdigest()[:32]


def state_path(path: Path) -> Path:
    """Where ecr-ci keeps its record of what it wrote to ``path``."""
    return path.with_name(f".{path.name}.ecr-ci")


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def _unusable(path: Path, reason: str, what: str = "") -> SinkUnreadable:
    where = f"{what}: " if what else ""
    return SinkUnreadable(f"{where}{path} {reason}; fix or remove it (it was left untouched)")


def _check_lock(path: Path) -> None:
    """The lock file, if there is one, must be a plain file: opening a FIFO or a device to lock it is no lock."""
    lock = _lock_path(path)
    try:
        st = os.stat(lock)
    except OSError:
        return  # missing (it will be made) or dangling: open() reports it
    if not stat.S_ISREG(st.st_mode):
        raise _unusable(lock, str(_files._not_regular(str(lock), st.st_mode)), "lock file")


def check(t: Target) -> None:
    """Everything a write to ``t`` will read, checked without touching anything (no lock file is made): the file,
    ecr-ci's record beside it and the lock file. Raises :class:`SinkUnreadable` as the write itself would."""
    _check_lock(t.path)
    read_json(t.path, f"{t.kind} config")
    _read_state(t.path)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<file>.lock`` (kept on disk: removing lock files reopens the race)."""
    _check_lock(path)
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(_lock_path(path), flags, 0o600)
    except OSError as e:
        raise SinkError(f"{path}: cannot create or lock the credential file ({e.strerror})") from e
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped since the check
            raise _unusable(_lock_path(path), "is not a regular file", "lock file")
        if os.name == "nt":  # pragma: no cover - Windows agents
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_LOCK, 1)  # type: ignore[attr-defined]
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def read_json(path: Path, what: str) -> dict[str, Any]:
    """Existing file as a dict; missing or empty = ``{}``; anything else unusable is a :class:`SinkUnreadable`:
    not a regular file, past the size cap, not UTF-8, not strict JSON, not a credential file's shape."""
    try:
        data = _files.load_strict(path)
    except _files.BadFile as e:
        raise _unusable(path, str(e), what) from None
    if data is None:
        return {}
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("auths", {}), dict)
        or not isinstance(data.get("credHelpers", {}), dict)
    ):
        raise _unusable(path, 'is not a credential file (expected a JSON object with an "auths" object)', what)
    return data


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Replace ``path`` atomically with a 0600 file holding ``data``."""
    real = path.resolve() if path.is_symlink() else path
    try:
        text = _files.dumps_strict(data)
    except _files.BadFile as e:
        raise SinkError(f"{path}: {e} (the old one is unchanged)") from None
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, real)
    except BaseException as e:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(e, OSError):
            raise SinkError(f"{path}: cannot write the credential file ({e.strerror}; the old one is unchanged)") from e
        raise


@dataclass
class WriteResult:
    path: Path
    hosts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def store(t: Target, auths: Iterable[RegistryAuth], shadowing: str = "override") -> WriteResult:
    """Merge ``auths`` into ``t`` (``auths[host].auth``), handling helpers that would shadow them."""
    auths = list(auths)
    what = f"{t.kind} config"
    result = WriteResult(t.path)
    check(t)  # a bad file stops here, before a lock file is made
    with locked(t.path):
        data = read_json(t.path, what)
        state = _read_state(t.path)
        entries = data.setdefault("auths", {})
        for a in auths:
            entry = entries.get(a.host) if isinstance(entries.get(a.host), dict) else {}
            entry = {k: v for k, v in entry.items() if k not in ("auth", "username", "password", "identitytoken")}
            entry["auth"] = a.auth
            entries[a.host] = entry
            state["entries"][a.host] = _fingerprint(a.auth)
            result.hosts.append(a.host)
        result.warnings += _shadowing(t, data, state, auths, shadowing)
        write_json(t.path, data)
        write_json(state_path(t.path), state)
    return result


def _shadowing(
    t: Target, data: dict[str, Any], state: dict[str, Any], auths: list[RegistryAuth], mode: str
) -> list[str]:
    helpers = data.get("credHelpers", {})
    shadow = {a.host: helpers[a.host] for a in auths if a.host in helpers and helpers[a.host] != HELPER_NAME}
    store_name = data.get("credsStore") if t.honours_creds_store else None
    if not shadow and not store_name:
        return []
    parts = [f"credHelpers[{h}] = {v!r}" for h, v in shadow.items()]
    if store_name:
        parts.append(f"credsStore = {store_name!r}")
    found = " and ".join(parts)
    if mode == "error":
        raise SinkError(
            f"{t.kind} config: {found} in {t.path} would make the client ignore the written entries (remove it, use a "
            "per-job config with docker_config, or set shadowing: override)"
        )
    if mode == "warn":
        return [f"{t.kind} config: {found} in {t.path} shadows the written entries; the client will not use them"]
    said: list[str] = []
    for h, v in shadow.items():  # a per-host helper: set aside for these hosts only
        state["removed"].setdefault("credHelpers", {})[h] = v
        del helpers[h]
    if shadow:
        said.append(
            f"{t.kind} config: set aside {', '.join(f'credHelpers[{h}]' for h in shadow)} in {t.path} so the "
            "written entries are used (logout puts them back)"
        )
    if store_name:
        # The store serves every registry: removing it would hide the user's other logins. Put the tokens in it,
        # as `docker login` would (the auths entries stay for podman, buildah and skopeo, which ignore it).
        failure = _store_in_helper(str(store_name), auths)
        if failure is None:
            state.setdefault("stored", {}).update({a.host: store_name for a in auths})
            said.append(
                f"{t.kind} config: credsStore {store_name!r} in {t.path} serves every registry, so the tokens were "
                f"also stored in docker-credential-{store_name}, as docker login does (logout erases them)"
            )
        else:
            state["removed"]["credsStore"] = store_name
            del data["credsStore"]
            said.append(
                f"{t.kind} config: set aside credsStore {store_name!r} in {t.path} so the written entries are used "
                f"({failure}; logout puts it back)"
            )
    return said


def _helper(name: str, action: str, payload: str) -> str | None:
    """Run ``docker-credential-<name> <action>`` with ``payload`` on stdin (never argv); None, or why it failed."""
    import shutil
    import subprocess

    from ecr_ci.errors import scrub

    exe = shutil.which(f"docker-credential-{name}")
    if exe is None:
        return f"docker-credential-{name} is not on PATH"
    try:
        done = subprocess.run([exe, action], input=payload, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"docker-credential-{name} {action} did not run ({e.__class__.__name__})"
    if done.returncode != 0:
        said = " ".join((done.stdout or done.stderr).split())[:200]
        return f"docker-credential-{name} {action} failed: {scrub(said)}"
    return None


def _store_in_helper(name: str, auths: list[RegistryAuth]) -> str | None:
    for a in auths:
        payload = json.dumps({"ServerURL": a.host, "Username": a.username, "Secret": a.password})
        failure = _helper(name, "store", payload)
        if failure:
            return failure
    return None


def _read_state(path: Path) -> dict[str, Any]:
    """What ecr-ci wrote to ``path`` before. A missing record is empty; a damaged one is an error and is left
    alone (it may be the only note of a credsStore that logout must put back)."""
    record = state_path(path)
    what = f"ecr-ci's record of what it wrote to {path}"
    try:
        state = _files.load_strict(record)
    except _files.BadFile as e:
        raise _unusable(record, f"cannot be read: it {e}", what) from None
    if state is None:
        return {"entries": {}, "removed": {}}
    if isinstance(state, dict) and isinstance(state.get("entries"), dict) and isinstance(state.get("removed"), dict):
        return state
    raise _unusable(record, "is malformed", what)


def erase(t: Target, hosts: Iterable[str] | None = None) -> WriteResult:
    """Remove the entries ecr-ci wrote (all, or only ``hosts``) if they are still what it wrote; restore what
    it set aside. Entries changed since (say, by ``docker login``) are kept."""
    result = WriteResult(t.path)
    if not os.path.lexists(t.path) and not os.path.lexists(state_path(t.path)):
        return result
    check(t)  # a bad file stops here, before a lock file is made
    with locked(t.path):
        data = read_json(t.path, f"{t.kind} config")
        state = _read_state(t.path)
        wanted = set(hosts) if hosts is not None else set(state["entries"])
        entries = data.get("auths", {})
        for host in sorted(wanted & set(state["entries"])):
            entry = entries.get(host)
            if isinstance(entry, dict) and _fingerprint(str(entry.get("auth", ""))) == state["entries"][host]:
                del entries[host]
                result.hosts.append(host)
            else:
                result.warnings.append(f"{t.kind} config: kept {host} in {t.path}: it changed since ecr-ci wrote it")
            del state["entries"][host]
        stored = state.get("stored", {})
        for host in sorted(wanted & set(stored)):
            failure = _helper(str(stored.pop(host)), "erase", host)
            if failure:
                result.warnings.append(f"{t.kind} config: could not erase {host} from the credential store ({failure})")
        if not state["entries"]:
            removed = state["removed"]
            if "credsStore" in removed and "credsStore" not in data:
                data["credsStore"] = removed["credsStore"]
            for h, v in removed.get("credHelpers", {}).items():
                data.setdefault("credHelpers", {}).setdefault(h, v)
            state["removed"] = {}
        write_json(t.path, data)
        if state["entries"] or state["removed"] or state.get("stored"):
            write_json(state_path(t.path), state)
        else:
            with contextlib.suppress(FileNotFoundError):
                state_path(t.path).unlink()
    return result
