"""The token cache on its own: keys, expiry with an injected clock, half-life refresh, corruption, permissions,
pruning, locking. No network: ``obtain`` gets counting stand-ins for the credential and token calls."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ecr_ci.core import cache, flow
from ecr_ci.core.registries import group, parse
from ecr_ci.errors import AwsError
from ecr_ci.models import Credentials, RegistryAuth
from tests.testbed.secrets import LEDGER

ROLE = "arn:aws:iam::123456789012:role/ci-push"
HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
OTHER = "210987654321.dkr.ecr.us-east-1.amazonaws.com"
T0 = 1_800_000_000.0  # the injected "now"
LIFE = 3600.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Aws:
    """Stand-in for STS + ECR: counts calls, hands out numbered passwords valid for ``life`` seconds."""

    def __init__(self, clock: Clock, life: float = LIFE, access_key: str = "ASIAEXAMPLEKEYID0001") -> None:
        self.clock, self.life, self.access_key = clock, life, access_key
        self.credential_calls = 0
        self.fetch_calls = 0
        self.fail: Exception | None = None
        self.lock = threading.Lock()

    def credentials(self) -> tuple[Credentials, str, str | None]:
        with self.lock:
            self.credential_calls += 1
        expiry = datetime.fromtimestamp(self.clock() + self.life, tz=timezone.utc)
        return Credentials(self.access_key, "secret" * 7, "session" * 20, expiry, ROLE), "gitlab", "gitlab-1-2"

    def fetch(self, groups: dict, creds: Credentials) -> list[RegistryAuth]:
        with self.lock:
            self.fetch_calls += 1
            n = self.fetch_calls
        if self.fail is not None:
            raise self.fail
        expires = datetime.fromtimestamp(self.clock() + self.life, tz=timezone.utc)
        password = f"password-{n:04d}-" + "x" * 64
        LEDGER.add_password(password, "test_cache")
        return [RegistryAuth(r.host, "AWS", password, expires, r.public) for regs in groups.values() for r in regs]


def obtain(tc: cache.TokenCache, aws: Aws, hosts=(HOST,), principal: str | None = ROLE, scope_: str = "s"):
    return flow.obtain(
        tc,
        group(parse(h) for h in hosts),
        principal=principal,
        scope_=scope_,
        credentials=aws.credentials,
        account_of=lambda creds: "123456789012",
        fetch=aws.fetch,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tc(tmp_path: Path, clock: Clock) -> cache.TokenCache:
    return cache.TokenCache(tmp_path / "cache", now=clock)


def entry_files(tc: cache.TokenCache) -> list[Path]:
    return sorted(tc.directory.glob("*.json"))


# -- where, and under which name --------------------------------------------------------------------------------


def test_default_directory_follows_xdg_and_ignores_a_relative_xdg_path(tmp_path):
    assert cache.default_dir({"XDG_CACHE_HOME": "/x/cache", "HOME": "/h"}) == Path("/x/cache/ecr-ci")
    assert cache.default_dir({"XDG_CACHE_HOME": "rel/cache", "HOME": "/h"}) == Path("/h/.cache/ecr-ci")
    assert cache.default_dir({"HOME": "/h"}) == Path("/h/.cache/ecr-ci")
    assert cache.cache_dir("~/mine", {"HOME": "/h"}) == Path("~/mine").expanduser()


def test_keys_separate_role_group_and_scope_and_never_hold_an_access_key_id(tc, clock):
    g = parse(HOST).group
    keys = {
        cache.key(ROLE, g, "s"),
        cache.key(ROLE.replace("ci-push", "other"), g, "s"),
        cache.key(ROLE, parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com").group, "s"),
        cache.key(ROLE, parse("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com").group, "s"),
        cache.key(ROLE, parse("public.ecr.aws").group, "s"),
        cache.key(ROLE, g, "t"),
    }
    assert len(keys) == 6
    # Two registries of one region share the token (and the entry); the access key ID is nowhere.
    aws = Aws(clock, access_key="ASIAQUITEDISTINCTKEY9")
    obtain(tc, aws, hosts=(HOST, OTHER))
    [path] = entry_files(tc)
    assert "ASIAQUITEDISTINCTKEY9" not in path.read_text() and "ASIAQUITEDISTINCTKEY9" not in path.name
    aws.access_key = "ASIAANOTHERSESSIONKEY"  # a new role session: the cache still hits
    obtain(tc, aws, hosts=(OTHER,))
    assert aws.fetch_calls == 1


def test_identity_scope_ignores_timestamps_but_not_who():
    from tests.testbed.oidc import OidcIssuer

    issuer = OidcIssuer()
    a1 = issuer.mint(aud="sts.amazonaws.com")
    time.sleep(1.1)
    a2 = issuer.mint(aud="sts.amazonaws.com")  # same job, later: new iat/exp/jti
    b = issuer.mint(aud="sts.amazonaws.com", sub="repo:someone/else:ref:refs/heads/main", repository="someone/else")
    c = issuer.mint(aud="sts.amazonaws.com", run_id="999")  # another run of the same repository
    assert cache.identity_scope(a1) == cache.identity_scope(a2)
    assert len({cache.identity_scope(a1), cache.identity_scope(b), cache.identity_scope(c)}) == 3
    assert cache.identity_scope(None) == "aws-credential-chain"
    assert cache.identity_scope("not.a.jwt") != cache.identity_scope("not.b.jwt")
    scoped = cache.scope(cache.identity_scope(a1), {"AWS_ENDPOINT_URL_ECR": "http://127.0.0.1:1"})
    assert scoped != cache.scope(cache.identity_scope(a1), {})
    assert cache.scope("x", {}, "{}") != cache.scope("x", {})


# -- expiry, half-life, never serving an expired token -----------------------------------------------------------


def test_hit_until_half_life_then_refresh(tc, clock):
    aws = Aws(clock)
    first = obtain(tc, aws)
    assert (aws.credential_calls, aws.fetch_calls) == (1, 1) and first.cached_hosts == []
    clock.now = T0 + LIFE / 2 - 1
    second = obtain(tc, aws)
    assert (aws.credential_calls, aws.fetch_calls) == (1, 1)  # no AWS call at all on a hit
    assert second.cached_hosts == [HOST] and second.auths[0].password == first.auths[0].password
    assert second.identity_source == "gitlab" and second.session_name == "gitlab-1-2"
    assert second.credentials_expire == datetime.fromtimestamp(T0 + LIFE, tz=timezone.utc)
    clock.now = T0 + LIFE / 2 + 1
    third = obtain(tc, aws)
    assert aws.fetch_calls == 2 and third.auths[0].password != first.auths[0].password


def test_an_expired_entry_is_never_served(tc, clock):
    aws = Aws(clock)
    obtain(tc, aws)
    [path] = entry_files(tc)
    stored = json.loads(path.read_text())
    assert stored["expires_at"] == T0 + LIFE and stored["fetched_at"] == T0
    for now in (T0 + LIFE - cache.MIN_VALIDITY + 1, T0 + LIFE, T0 + 10 * LIFE):
        clock.now = now
        aws.fail = AwsError("ecr:GetAuthorizationToken in us-east-1: gave up after 3 attempts (Throttling)")
        with pytest.raises(AwsError):  # the stale token is not an answer once it is (nearly) expired
            obtain(tc, aws)
        assert tc.valid(path.stem) is None and tc.fresh(path.stem) is None


def test_a_failed_refresh_serves_the_still_valid_token_with_a_warning(tc, clock):
    aws = Aws(clock)
    first = obtain(tc, aws)
    clock.now = T0 + LIFE * 0.75
    aws.fail = AwsError("ecr:GetAuthorizationToken in us-east-1: gave up after 5 attempts (ThrottlingException)")
    again = obtain(tc, aws)
    assert again.auths[0].password == first.auths[0].password
    assert any("refreshing failed" in w and "Throttling" in w for w in again.warnings)


def test_a_clock_that_jumped_back_forces_a_refresh(tc, clock):
    aws = Aws(clock)
    obtain(tc, aws)
    clock.now = T0 - 600
    obtain(tc, aws)
    assert aws.fetch_calls == 2


def test_already_expired_tokens_are_returned_but_not_cached(tc, clock):
    aws = Aws(clock, life=30)  # like moto's expiresAt in 2015, or a session about to end
    got = obtain(tc, aws)
    assert got.auths[0].password and entry_files(tc) == []
    obtain(tc, aws)
    assert aws.fetch_calls == 2


# -- what is on disk ----------------------------------------------------------------------------------------------


def test_modes_are_0700_and_0600_and_an_open_directory_is_tightened(tmp_path, clock):
    d = tmp_path / "c"
    d.mkdir(mode=0o755)
    os.chmod(d, 0o755)
    tc = cache.TokenCache(d, now=clock)
    obtain(tc, Aws(clock))
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    for f in d.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f.name


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"{",
        b"\xff\xfe",
        b"[]",
        b'{"version": 1}',
        b'{"version": 99, "password": "x"}',
        b'{"version":1,"username":"AWS","password":"p","expires_at":"soon","fetched_at":0,'
        b'"principal":"r","partition":"aws","region":"r","variant":"standard","public":false}',
    ],
)
def test_a_corrupted_entry_is_ignored_and_rewritten(tc, clock, garbage):
    aws = Aws(clock)
    obtain(tc, aws)
    [path] = entry_files(tc)
    path.write_bytes(garbage)
    got = obtain(tc, aws)
    assert aws.fetch_calls == 2 and got.auths[0].password.startswith("password-0002")
    assert json.loads(path.read_text())["password"] == got.auths[0].password


def test_entries_readable_by_others_or_symlinked_are_ignored(tc, clock, tmp_path):
    aws = Aws(clock)
    obtain(tc, aws)
    [path] = entry_files(tc)
    os.chmod(path, 0o644)
    assert tc.load(path.stem) is None
    obtain(tc, aws)
    assert aws.fetch_calls == 2 and stat.S_IMODE(path.stat().st_mode) == 0o600
    planted = tmp_path / "planted.json"
    planted.write_text(path.read_text())
    os.chmod(planted, 0o600)
    path.unlink()
    path.symlink_to(planted)
    assert tc.load(path.stem) is None


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to hand a directory to another user"
)
def test_a_directory_of_another_user_is_not_used_and_the_login_still_works(tmp_path, clock):
    d = tmp_path / "theirs"
    d.mkdir(mode=0o700)
    os.chown(d, 65534, 65534)
    tc = cache.TokenCache(d, now=clock)
    aws = Aws(clock)
    got = obtain(tc, aws)
    assert got.auths[0].password and list(d.iterdir()) == []
    assert any("not using the token cache" in w and "uid 65534" in w for w in got.warnings)


def test_expired_entries_and_stale_temporary_files_are_pruned(tc, clock):
    aws = Aws(clock)
    obtain(tc, aws, principal=ROLE)
    obtain(tc, aws, principal=ROLE.replace("ci-push", "old"))
    assert len(entry_files(tc)) == 2
    stale_tmp = tc.directory / ".0123.json.abc.tmp"
    stale_tmp.write_text("{")
    os.utime(stale_tmp, (time.time() - 7200, time.time() - 7200))
    clock.now = T0 + 2 * LIFE
    locks = sorted(tc.directory.glob("*.json.lock"))
    assert len(locks) == 2
    for lock in locks:
        os.utime(lock, (time.time() - 7200, time.time() - 7200))
    obtain(tc, aws, principal=ROLE)  # a write prunes the other role's expired entry
    assert len(entry_files(tc)) == 1 and not stale_tmp.exists()
    assert json.loads(entry_files(tc)[0].read_text())["principal"] == ROLE
    # The pruned entry's old lock goes too; the live entry's lock stays (its entry exists).
    remaining = sorted(p.name for p in tc.directory.glob("*.json.lock"))
    assert remaining == [entry_files(tc)[0].name + ".lock"]


def test_a_held_lock_is_never_pruned(tc, clock):
    import fcntl

    from ecr_ci.core.cache import _orphaned_lock

    lock = tc.directory / "feedface.json.lock"
    tc.directory.mkdir(parents=True, exist_ok=True)
    lock.write_text("")
    os.utime(lock, (time.time() - 7200, time.time() - 7200))
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert _orphaned_lock(lock) is False and lock.exists()
    finally:
        os.close(fd)
    assert _orphaned_lock(lock) is True and not lock.exists()


def test_list_and_erase_need_no_network(tc, clock):
    aws = Aws(clock)
    obtain(tc, aws, hosts=(HOST,))
    obtain(tc, aws, hosts=(OTHER,))  # a hit that adds a host to the entry
    obtain(tc, aws, hosts=("public.ecr.aws",))
    assert aws.fetch_calls == 2
    listed = sorted(h for e in tc.entries() for h in e.hosts)
    assert listed == sorted([HOST, OTHER, "public.ecr.aws"])
    assert sorted(tc.erase(parse(HOST).group)) == sorted([HOST, OTHER])
    assert [h for e in tc.entries() for h in e.hosts] == ["public.ecr.aws"]


def test_concurrent_cold_cache_makes_one_fetch(tc, clock):
    aws = Aws(clock)
    slow = aws.fetch

    def fetch(groups, creds):
        time.sleep(0.2)  # hold the lock long enough for everyone to pile up behind it
        return slow(groups, creds)

    results: list[str] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            got = flow.obtain(
                tc,
                group([parse(HOST)]),
                principal=ROLE,
                scope_="s",
                credentials=aws.credentials,
                account_of=lambda c: "1",
                fetch=fetch,
            )
            results.append(got.auths[0].password)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 1 and len(results) == 8
    assert (aws.credential_calls, aws.fetch_calls) == (1, 1)


def test_ambient_chain_without_role_is_keyed_on_the_account(tc, clock):
    aws = Aws(clock)
    accounts = iter(["111111111111", "111111111111", "222222222222"])
    for _ in range(3):
        flow.obtain(
            tc,
            group([parse(HOST)]),
            principal=None,
            scope_="s",
            credentials=aws.credentials,
            account_of=lambda creds: next(accounts),
            fetch=aws.fetch,
        )
    assert aws.credential_calls == 3  # the chain is asked each time: it names the account
    assert aws.fetch_calls == 2  # …but the token is fetched once per account
    assert sorted(json.loads(p.read_text())["principal"] for p in entry_files(tc)) == [
        "account:111111111111",
        "account:222222222222",
    ]


def test_session_expiry_shortens_the_entry(tc, clock):
    """The entry keeps RegistryAuth.expires_at, which aws.fetch_group already cut to the session's end."""
    aws = Aws(clock, life=900)
    obtain(tc, aws)
    [path] = entry_files(tc)
    data = json.loads(path.read_text())
    assert data["expires_at"] == T0 + 900 and data["credentials_expire"] == T0 + 900
    clock.now = T0 + 451
    obtain(tc, aws)
    assert aws.fetch_calls == 2
    assert datetime.fromtimestamp(data["expires_at"], tz=timezone.utc) - datetime.fromtimestamp(
        T0, tz=timezone.utc
    ) == timedelta(seconds=900)


def test_a_failed_role_exchange_during_refresh_also_falls_back_to_the_valid_token(tc, clock):
    aws = Aws(clock)
    first = obtain(tc, aws)
    clock.now = T0 + LIFE * 0.6

    def sts_down() -> tuple[Credentials, str, str | None]:
        raise AwsError("sts:AssumeRoleWithWebIdentity: gave up after 4 attempts (ServiceUnavailable, HTTP 503)")

    got = flow.obtain(
        tc,
        group([parse(HOST)]),
        principal=ROLE,
        scope_="s",
        credentials=sts_down,
        account_of=lambda c: "1",
        fetch=aws.fetch,
    )
    assert got.auths[0].password == first.auths[0].password and "ServiceUnavailable" in got.warnings[0]
    clock.now = T0 + LIFE
    with pytest.raises(AwsError):
        flow.obtain(
            tc,
            group([parse(HOST)]),
            principal=ROLE,
            scope_="s",
            credentials=sts_down,
            account_of=lambda c: "1",
            fetch=aws.fetch,
        )


def test_the_credential_chain_never_gets_another_callers_token(tmp_path, monkeypatch):
    """A fills the cache for a role; B (who may not assume it) and a run without credentials must not be served."""
    from datetime import datetime, timedelta, timezone

    from ecr_ci import settings
    from ecr_ci.core import aws, ecr
    from ecr_ci.core import flow as login
    from ecr_ci.errors import AwsError
    from ecr_ci.models import Credentials, RegistryAuth

    expiry = datetime.now(timezone.utc) + timedelta(hours=1)
    who = {"caller": "A"}

    def ambient():
        if who["caller"] is None:
            raise AwsError("credentials: none found in the AWS credential chain")
        return Credentials("AKIA" + who["caller"] * 16, "secret")

    def assume_role(base, req, **kw):
        if base.access_key_id.endswith("B" * 16):
            raise AwsError("sts:AssumeRole: AccessDenied")
        return Credentials("ASIAROLE", "s", "t", expiry, role_arn=req.role_arn)

    def fetch_all(groups, creds, end, env):
        return [RegistryAuth(r.host, "AWS", "pw-of-" + who["caller"], expiry) for regs in groups.values() for r in regs]

    monkeypatch.setattr(aws, "ambient_credentials", ambient)
    monkeypatch.setattr(aws, "assume_role", assume_role)
    monkeypatch.setattr(ecr, "fetch_all", fetch_all)
    monkeypatch.setattr(ecr, "prepare", lambda groups, env: None)
    monkeypatch.setattr(
        aws, "caller_arn", lambda creds, region, end, env: f"arn:aws:iam::123456789012:user/{creds.access_key_id}"
    )
    env = {
        "HOME": str(tmp_path),
        "ECR_CI_OIDC": "none",
        "ECR_CI_ROLE_ARN": "arn:aws:iam::123456789012:role/pusher",
        "ECR_CI_REGISTRIES": "123456789012.dkr.ecr.us-east-1.amazonaws.com",
    }
    s = settings.resolve({}, env, command="password")
    assert login.get_auths(s, env, None).auths[0].password == "pw-of-A"
    assert login.get_auths(s, env, None).auths[0].password == "pw-of-A"  # A again: a hit
    who["caller"] = "B"
    with pytest.raises(AwsError, match="AccessDenied"):
        login.get_auths(s, env, None)
    who["caller"] = None
    with pytest.raises(AwsError, match="none found"):
        login.get_auths(s, env, None)
