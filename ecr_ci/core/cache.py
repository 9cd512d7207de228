"""The registry-token cache shared by ``docker-credential-ecr-ci`` and repeated ``ecr-ci login/password/token``.

One file per token, in a per-user directory (the ``cache_dir`` setting; default ``$XDG_CACHE_HOME/ecr-ci``, else
``~/.cache/ecr-ci``) kept at mode 0700, each file 0600. A file is named by the SHA-256 of what the token belongs to:

* the **principal**: the role ARN, or for the AWS credential chain without a role the account that
  ``sts:GetCallerIdentity`` names (never an access key ID: temporary keys change every session, and a key ID is
  nothing to leave lying around);
* the **endpoint group** that one GetAuthorizationToken call serves: partition, region, endpoint variant, public;
* the **scope**: who presented the identity (a digest of the OIDC token's claims without its timestamps and nonce,
  so a token cached by one repository's job is never handed to another job whose trust the role might refuse), the
  session policies, and any ``AWS_ENDPOINT_URL*`` override.

An entry holds the password, its expiry (already the earlier of the token's ``expiresAt`` and the role session's
expiration), when it was fetched, and non-secret facts about it (hosts served, role, session name). It is
*fresh* until half its lifetime has passed, then refreshed; it is never served within :data:`MIN_VALIDITY` seconds
of its expiry. If a refresh fails while the old token is still valid, the old token is served with a warning.

Writes take a per-entry lock (so twenty processes on a cold cache make one AWS call, not twenty), replace the file
atomically and prune expired entries. A file that is corrupt, of another version, not ours or readable by others is
ignored (and replaced on the next write), never a crash. Nothing here prints; the clock is injectable (``now=``).
:class:`Entry` and :class:`Obtained` are records (:mod:`ecr_ci._record`), dataclasses that cost a cache hit nothing
to import.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from ecr_ci._record import field, record

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a credential-helper cache hit
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

VERSION = 1
MIN_VALIDITY = 60.0
"""Seconds: an entry this close to its expiry counts as expired (the client still has to use it)."""

# Claims that differ between two tokens of the same job; everything else about the identity goes into the scope.
VOLATILE_CLAIMS = frozenset({"iat", "nbf", "exp", "jti", "auth_time"})
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECR", "AWS_ENDPOINT_URL_ECR_PUBLIC", "AWS_ENDPOINT_URL_STS")
_TMP_MAX_AGE = 3600.0

Group = tuple[str, str, str, bool]  # (partition, region, variant, public), as models.Registry.group


# The directory functions work on strings and hand out Paths only where asked for one: a credential-helper cache
# hit reads a single file, and importing pathlib would cost it more than that.


def default_dir(env: Mapping[str, str]) -> Path:
    """``$XDG_CACHE_HOME/ecr-ci`` (only an absolute XDG path counts, as the XDG spec says), else ``~/.cache/ecr-ci``."""
    from pathlib import Path

    return Path(_default_dir(env))


def _default_dir(env: Mapping[str, str]) -> str:
    xdg = env.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "ecr-ci")
    return os.path.join(env.get("HOME") or _expanduser("~"), ".cache", "ecr-ci")


def cache_dir(setting: str | None, env: Mapping[str, str]) -> Path:
    """The ``cache_dir`` setting, else :func:`default_dir`."""
    from pathlib import Path

    return Path(cache_dir_str(setting, env))


def cache_dir_str(setting: str | None, env: Mapping[str, str]) -> str:
    """:func:`cache_dir` as a string, for :class:`TokenCache` on the login path."""
    return _expanduser(setting) if setting else _default_dir(env)


def _expanduser(path: str) -> str:
    """``~`` and ``~user`` expanded, failing as :meth:`pathlib.Path.expanduser` does when there is no home."""
    expanded = os.path.expanduser(path)
    if expanded.startswith("~"):
        raise RuntimeError("Could not determine home directory.")
    return expanded


def identity_scope(token: str | None) -> str:
    """What identifies the presenter of an OIDC token across its re-issues: a digest of its claims minus
    :data:`VOLATILE_CLAIMS`. Without a token (the AWS credential chain) it is ``"aws-credential-chain"``."""
    if token is None:
        return "aws-credential-chain"
    try:
        from ecr_ci.core.jwt import decode_claims

        claims = {k: v for k, v in decode_claims(token).items() if k not in VOLATILE_CLAIMS}
        material = json.dumps(claims, sort_keys=True, separators=(",", ":"), default=str)
    except Exception:  # undecodable: STS will refuse it; never share an entry with anything else
        material = "raw:" + token
    return "oidc:" + hashlib.sha256(material.encode()).hexdigest()


def local_scope(facts: str) -> str:
    """The identity part of a key from a token source's local facts (:attr:`TokenSource.scope`): a hit is decided
    without requesting a token, and the facts (the job's own request credentials, say) never reach another job."""
    return "local:" + hashlib.sha256(facts.encode()).hexdigest()


def scope(identity: str, env: Mapping[str, str], policy: str | None = None, policy_arns: Sequence[str] = ()) -> str:
    """The part of a key beyond principal and group: identity, session policies, endpoint overrides."""
    endpoints = {v: env[v] for v in ENDPOINT_VARIABLES if env.get(v)}
    return json.dumps(
        {"identity": identity, "policy": policy, "policy_arns": sorted(policy_arns), "endpoints": endpoints},
        sort_keys=True,
        separators=(",", ":"),
    )


def key(principal: str, group: Group, scope_: str) -> str:
    """The file name (without ``.json``) of an entry: SHA-256 hex of principal, group and scope."""
    material = json.dumps([VERSION, principal, list(group), scope_], separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()


@record(frozen=True)
class Entry:
    """One cached registry token. Times are POSIX seconds; ``password`` is secret."""

    username: str
    password: str = field(repr=False)
    expires_at: float
    fetched_at: float
    principal: str
    group: Group
    hosts: tuple[str, ...] = ()
    identity_source: str = ""
    session_name: str | None = None
    credentials_expire: float | None = None

    @property
    def refresh_at(self) -> float:
        """Half-way through the token's life: from then on a request refreshes it."""
        return self.fetched_at + (self.expires_at - self.fetched_at) / 2

    def valid(self, now: float) -> bool:
        """Usable: more than :data:`MIN_VALIDITY` seconds before expiry."""
        return now < self.expires_at - MIN_VALIDITY

    def fresh(self, now: float) -> bool:
        """Valid and not yet due for a refresh (a fetch time in the future means the clock jumped: refresh)."""
        return self.valid(now) and self.fetched_at - MIN_VALIDITY <= now < self.refresh_at

    def to_json(self) -> dict[str, Any]:
        partition, region, variant, public = self.group
        return {
            "version": VERSION,
            "username": self.username,
            "password": self.password,
            "expires_at": self.expires_at,
            "fetched_at": self.fetched_at,
            "principal": self.principal,
            "partition": partition,
            "region": region,
            "variant": variant,
            "public": public,
            "hosts": list(self.hosts),
            "identity_source": self.identity_source,
            "session_name": self.session_name,
            "credentials_expire": self.credentials_expire,
        }

    @classmethod
    def from_json(cls, data: object) -> Entry | None:
        """An entry from a file's JSON, or ``None`` for anything of another shape or version."""
        if not isinstance(data, dict) or data.get("version") != VERSION:
            return None
        try:
            checks = (
                isinstance(data["username"], str) and data["username"],
                isinstance(data["password"], str) and data["password"],
                all(
                    isinstance(data[k], (int, float)) and not isinstance(data[k], bool)
                    for k in ("expires_at", "fetched_at")
                ),
                isinstance(data["principal"], str),
                all(isinstance(data[k], str) for k in ("partition", "region", "variant")),
                isinstance(data["public"], bool),
                isinstance(data.get("hosts", []), list) and all(isinstance(h, str) for h in data.get("hosts", [])),
                isinstance(data.get("credentials_expire"), (int, float, type(None))),
            )
            if not all(checks):
                return None
            return cls(
                username=data["username"],
                password=data["password"],
                expires_at=float(data["expires_at"]),
                fetched_at=float(data["fetched_at"]),
                principal=data["principal"],
                group=(data["partition"], data["region"], data["variant"], data["public"]),
                hosts=tuple(data.get("hosts", [])),
                identity_source=str(data.get("identity_source") or ""),
                session_name=data.get("session_name") if isinstance(data.get("session_name"), str) else None,
                credentials_expire=data.get("credentials_expire"),
            )
        except KeyError:
            return None


class CacheUnusable(Exception):
    """The cache directory cannot be used safely (owned by someone else, not creatable): run without it."""


class TokenCache:
    """The entries in one directory. ``now`` fixes the clock (POSIX seconds) for tests; ``problems`` collects
    why a write was skipped (the caller may show them; the cache itself never fails a login)."""

    def __init__(self, directory: str | os.PathLike[str], now: float | Callable[[], float] | None = None) -> None:
        self.directory = directory
        self._now = now
        self.problems: list[str] = []

    @property
    def directory(self) -> Path:
        """The cache directory. (Held as a string: reading an entry needs no Path, see :func:`default_dir`.)"""
        from pathlib import Path

        return Path(self._dir)

    @directory.setter
    def directory(self, directory: str | os.PathLike[str]) -> None:
        self._dir = os.fspath(directory)

    def now(self) -> float:
        if self._now is None:
            return time.time()
        return self._now() if callable(self._now) else float(self._now)

    def path(self, key_: str) -> Path:
        return self.directory / f"{key_}.json"

    # -- reading: never raises ------------------------------------------------------------------------------
    def load(self, key_: str) -> Entry | None:
        """The entry stored under ``key_`` whatever its age, or ``None`` (missing, corrupt, unsafe)."""
        return _read_entry(os.path.join(self._dir, f"{key_}.json"))

    def valid(self, key_: str) -> Entry | None:
        """The entry if it may still be served (possibly due for a refresh)."""
        entry = self.load(key_)
        return entry if entry is not None and entry.valid(self.now()) else None

    def fresh(self, key_: str) -> Entry | None:
        """The entry if it may be served without a refresh."""
        entry = self.load(key_)
        return entry if entry is not None and entry.fresh(self.now()) else None

    def entries(self) -> list[Entry]:
        """Every servable entry (for the helper's ``list``): no network, no settings beyond the directory."""
        now = self.now()
        found = [_read_entry(p) for p in self._files()]
        return [e for e in found if e is not None and e.valid(now)]

    def may_serve(self, principal: str | None, groups: Iterable[Group]) -> bool:
        """Whether some valid entry of ``principal`` (any account, for ``None``) covers one of ``groups``: a cheap
        guess, before the identity token is at hand, of whether a lookup can hit at all."""
        wanted = set(groups)
        return any(
            e.group in wanted and (e.principal == principal if principal else e.principal.startswith("caller:"))
            for e in self.entries()
        )

    def _files(self) -> list[str]:
        try:
            names = os.listdir(self._dir)
        except OSError:
            return []
        return sorted(os.path.join(self._dir, n) for n in names if n.endswith(".json") and not n.startswith("."))

    # -- writing: under the entry's lock ---------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self, key_: str) -> Iterator[bool]:
        """Hold the entry's lock; yields ``False`` (and holds nothing) when the directory is unusable."""
        try:
            self._ensure_dir()
            from ecr_ci.clients.sinks import locked

            lock = locked(self.path(key_))
            lock.__enter__()
        except Exception as e:  # a cache problem never stops a login
            self.problems.append(_describe(e, self.directory))
            yield False
            return
        try:
            yield True
        finally:
            lock.__exit__(None, None, None)

    def store(self, key_: str, entry: Entry) -> bool:
        """Write ``entry`` atomically (0600); call with the entry's lock held. An entry that is not valid is not
        stored (moto's ``expiresAt`` is in 2015; a token already expired has nothing to offer later)."""
        if not entry.valid(self.now()):
            with contextlib.suppress(OSError):
                self.path(key_).unlink()
            return False
        try:
            self._ensure_dir()
            from ecr_ci.clients.sinks import write_json

            write_json(self.path(key_), entry.to_json())
            return True
        except Exception as e:  # a cache problem never stops a login
            self.problems.append(_describe(e, self.directory))
            return False

    def prune(self) -> int:
        """Delete expired and unreadable entries and stale temporary files; return how many went.

        It runs without the entries' locks: losing a race with a writer only deletes an entry that was being
        replaced, which costs one refetch and never serves anything wrong.
        """
        now, removed = self.now(), 0
        try:
            names = list(self.directory.iterdir())
        except OSError:
            return 0
        for p in names:
            try:
                if p.name.startswith(".") and p.name.endswith(".tmp"):
                    if time.time() - p.lstat().st_mtime > _TMP_MAX_AGE:
                        p.unlink()
                        removed += 1
                elif p.suffix == ".json":
                    entry = _read_entry(p)
                    if (entry is None or not entry.valid(now)) and _ours(p):
                        p.unlink()
                        removed += 1
            except OSError:
                continue
        for p in names:  # after the entries, so that a lock whose entry just went goes too
            try:
                if p.name.endswith(".json.lock") and _orphaned_lock(p):
                    removed += 1
            except OSError:
                continue
        return removed

    def erase(self, group: Group) -> list[str]:
        """Delete every entry for ``group`` (whatever its principal); return the hosts they had served."""
        hosts: list[str] = []
        for p in self._files():
            entry = _read_entry(p)
            if entry is not None and entry.group == group:
                with contextlib.suppress(OSError):
                    os.unlink(p)
                    hosts += entry.hosts
        return hosts

    def _ensure_dir(self) -> None:
        d = self.directory
        try:
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
            st = d.stat()
        except OSError as e:
            raise CacheUnusable(f"cannot create it ({e.strerror})") from e
        if hasattr(os, "geteuid"):
            if st.st_uid != os.geteuid():
                raise CacheUnusable(f"it belongs to uid {st.st_uid}, not to this user")
            if st.st_mode & 0o077:
                try:
                    os.chmod(d, 0o700)
                except OSError as e:
                    raise CacheUnusable(f"it is open to other users and cannot be made 0700 ({e.strerror})") from e


class NoCache(TokenCache):
    """``cache: false``: holds nothing and writes nothing, so every login fetches (and no token stays on disk)."""

    def __init__(self, now: float | Callable[[], float] | None = None) -> None:
        super().__init__(os.devnull, now=now)

    def load(self, key_: str) -> Entry | None:
        return None

    def entries(self) -> list[Entry]:
        return []

    @contextlib.contextmanager
    def locked(self, key_: str) -> Iterator[bool]:
        yield False

    def store(self, key_: str, entry: Entry) -> bool:
        return False

    def prune(self) -> int:
        return 0


def _describe(e: BaseException, directory: Path) -> str:
    reason = getattr(e, "strerror", None) or str(e) or e.__class__.__name__
    return f"cache_dir: not using the token cache in {directory} ({reason}; set --cache-dir or ECR_CI_CACHE_DIR)"


def _orphaned_lock(path: Path) -> bool:
    """Remove the lock file of an entry that is gone, if it is old and nobody holds it; True if removed.

    Keys change with every CI job (their claims differ), so without this a long-lived runner would keep one lock
    file per job forever. Should a process open the file just before it goes, it locks an unlinked file and may
    fetch alongside another process: one extra token call, never a wrong answer.
    """
    if os.path.exists(str(path)[: -len(".lock")]) or time.time() - path.lstat().st_mtime <= _TMP_MAX_AGE:
        return False
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows keeps its lock files
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # held right now
    else:
        os.unlink(path)
        return True
    finally:
        os.close(fd)


def _ours(path: Path) -> bool:
    try:
        return not hasattr(os, "geteuid") or path.lstat().st_uid == os.geteuid()
    except OSError:
        return False


def _read_entry(path: str | Path) -> Entry | None:
    """Read one entry file; anything odd (symlink, someone else's, group/world-readable, corrupt) is ``None``."""
    # Non-blocking: a FIFO put in the cache must not hang the credential helper (it is then no regular file).
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        if hasattr(os, "geteuid") and (st.st_uid != os.geteuid() or st.st_mode & 0o077):
            return None
        if st.st_size > 1 << 20:
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            raw = f.read()
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        return Entry.from_json(json.loads(raw))
    except (ValueError, UnicodeDecodeError):
        return None
