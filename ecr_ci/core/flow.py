"""The login flow: settings → identity token → AWS credentials → registry auths → sinks.

Everything here takes the environment as a plain mapping and returns dataclasses (records, :mod:`ecr_ci._record`:
they cost a credential-helper cache hit nothing to import); nothing prints.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone

from ecr_ci._record import field, record
from ecr_ci.core import cache, log, registries
from ecr_ci.core.cache import Entry, Group, TokenCache
from ecr_ci.core.cache import key as cache_key
from ecr_ci.core.identity import IdentityToken, TokenSource, fallback_session_name
from ecr_ci.errors import ConfigError, EcrCiError
from ecr_ci.models import Credentials, Registry, RegistryAuth
from ecr_ci.settings import Settings

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a credential-helper cache hit
if TYPE_CHECKING:  # sinks is imported where files are written: a credential-helper cache hit writes none
    from typing import Any

    from ecr_ci.clients import sinks

CHINA_AUDIENCE = "sts.amazonaws.com.cn"
DEFAULT_AUDIENCE = "sts.amazonaws.com"


@record(frozen=True)
class Plan:
    """What a login will do, worked out from the settings alone (no network)."""

    registries: list[Registry]
    partition: str
    sts_region: str
    audience: str


@record
class Auths:
    """Registry logins and how they were obtained (no secret beyond the auths themselves)."""

    auths: list[RegistryAuth]
    identity_source: str
    role_arn: str | None
    session_name: str | None
    credentials_expire: datetime | None
    warnings: list[str] = field(default_factory=list)  # e.g. why the token cache was not used
    # The AWS credentials used, for an adapter's opt-in export; None when every token came from the cache.
    credentials: Credentials | None = field(default=None, repr=False)

    @property
    def expires_at(self) -> datetime:
        return min(a.expires_at for a in self.auths)


@record
class LoginResult:
    """What :func:`login` did: the auths it obtained, the files it wrote, and anything worth a warning."""

    obtained: Auths
    files: list[sinks.WriteResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def describe(self, chain: str = "the AWS credential chain") -> list[str]:
        """What was done, one line each, for a log (no warnings, never a secret). ``chain`` names the AWS credential
        chain in the caller's words ("the agent's AWS credentials")."""
        o = self.obtained
        via = f"role {o.role_arn} (session {o.session_name})" if o.role_arn else chain
        lines = [f"identity: {o.identity_source} → {via}"]
        lines += [f"logged in to {a.host} (valid until {a.expires_at:%Y-%m-%d %H:%M:%S} UTC)" for a in o.auths]
        lines += [f"wrote {len(f.hosts)} entr{'y' if len(f.hosts) == 1 else 'ies'} to {f.path}" for f in self.files]
        return lines

    def report(self) -> dict[str, object]:
        """The ``--json`` report: what was done, never a secret."""
        o = self.obtained
        return {
            "registries": [{"host": a.host, "expires_at": _iso(a.expires_at)} for a in o.auths],
            "expires_at": _iso(o.expires_at),
            "identity_source": o.identity_source,
            "role_arn": o.role_arn,
            "session_name": o.session_name,
            "files": [str(f.path) for f in self.files],
            "warnings": self.warnings,
        }


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def registries_of(settings: Settings) -> list[Registry]:
    """The ``registries`` setting parsed, errors naming the setting and its fix as the user's surface spells them."""
    return registries.parse_all(
        settings.registries,
        settings.region,
        source=settings.where("registries"),
        region_where=settings.where("region"),
        fix=settings.fix("registries"),
        region_fix=settings.fix("region"),
    )


def plan(settings: Settings) -> Plan:
    """Parse registries, cross-check partitions and the role ARN, pick STS's region and the audience."""
    regs = registries_of(settings)
    parts = {r.partition for r in regs}
    if len(parts) > 1:
        raise ConfigError(
            f"registries: they span partitions {', '.join(sorted(parts))} (one role cannot reach them all; log in "
            "to each partition in its own step)"
        )
    partition = parts.pop()
    if settings.role_arn:
        arn_partition = settings.role_arn.split(":")[1]
        if arn_partition != partition:
            raise ConfigError(
                f"{settings.where('role_arn')}: {settings.role_arn!r} is in partition {arn_partition} but the "
                f"registries are in {partition} (use arn:{partition}:iam::… or registries of {arn_partition})",
                setting="role_arn",
            )
    sts_region = next((r.region for r in regs if not r.public), None)
    if settings.region and registries.check_region(settings.region, settings.where("region"))["id"] == partition:
        sts_region = settings.region
    audience = settings.audience or (CHINA_AUDIENCE if partition == "aws-cn" else DEFAULT_AUDIENCE)
    result = Plan(regs, partition, sts_region or registries.PUBLIC_REGION, audience)
    log.debug(
        f"plan: {len(regs)} registr{'y' if len(regs) == 1 else 'ies'} in partition {partition}, "
        f"{len(registries.group(regs))} token call(s) at most; STS in {result.sts_region}; audience {audience}"
    )
    return result


def credentials(
    settings: Settings,
    env: Mapping[str, str],
    p: Plan,
    end: float,
    token: IdentityToken | None,
    session_name: str,
    base: Credentials | None = None,
) -> tuple[Credentials, str, str | None]:
    """AWS credentials for the plan: web identity with ``token``, else the standard chain (``base``, when the
    caller already resolved it), assuming ``role_arn`` when set. Returns (credentials, identity source, session)."""
    from ecr_ci.core import aws

    if not settings.role_arn:
        if token is None:
            return base or aws.ambient_credentials(), "aws-credential-chain", None
        raise ConfigError(
            f"{settings.label('role_arn')}: not set, but an identity token was found ({token.source}, "
            f"{token.origin}); {settings.fix('role_arn')} to the role to assume",
            code="input.missing",
            setting="role_arn",
        )
    req = aws.RoleRequest(
        settings.role_arn,
        session_name,
        settings.duration,
        p.sts_region,
        settings.session_policy,
        tuple(settings.managed_session_policies),
        p.audience,
        p.partition,
    )
    if token is not None:
        log.debug(f"sts:AssumeRoleWithWebIdentity for {req.role_arn} (session {session_name}, {req.duration} s)")
        creds = aws.assume_role_with_web_identity(token, req, env=env, end=end)
        log.debug(f"role credentials until {creds.expiration}")
        return creds, token.source, session_name
    base = base or aws.ambient_credentials()
    log.debug(f"sts:AssumeRole for {req.role_arn} from the AWS credential chain (session {session_name})")
    return aws.assume_role(base, req, env=env, end=end), "aws-credential-chain", session_name


def session_name_for(settings: Settings, source: TokenSource | None, default: str | None = None) -> str:
    """The role session name: the setting, else the token source's, else the caller's default, else a timestamp."""
    return (
        settings.session_name
        or (source.session_name if source is not None else None)
        or default
        or fallback_session_name()
    )


def get_auths(
    settings: Settings,
    env: Mapping[str, str],
    source: TokenSource | None,
    p: Plan | None = None,
    *,
    session_name: str | None = None,
    now: float | None = None,
) -> Auths:
    """Registry logins for every requested registry: fresh tokens from the cache (:mod:`ecr_ci.core.cache`), the rest
    with one token call per (partition, region, variant). ``source`` gives the identity token (``None``: the AWS
    credential chain); ``session_name`` is the caller's default session name; ``now`` fixes the cache's clock.

    Unless the cache may answer, a thread imports botocore and prepares the ECR clients while this thread does the
    identity exchange (token request and STS, plain HTTPS): start-up cost and network latency overlap instead of
    adding up. When the cache may answer, botocore is not imported at all on a hit; when the source names its
    presenter from local facts (``source.scope``), a hit does not even request an identity token.
    """
    p = p or plan(settings)
    end = time.monotonic() + settings.deadline
    groups = registries.group(p.registries)
    session = session_name_for(settings, source, session_name)
    tc: cache.TokenCache = cache.NoCache(now)
    if settings.cache:
        tc = cache.TokenCache(cache.cache_dir_str(settings.cache_dir, env), now=now)
    with contextlib.ExitStack() as stack:
        warm = None
        if not tc.may_serve(settings.role_arn, groups):
            from concurrent.futures import ThreadPoolExecutor

            from ecr_ci.core import aws, ecr

            warm = stack.enter_context(ThreadPoolExecutor(max_workers=1)).submit(ecr.prepare, groups, env)

        def fetch(todo: dict[tuple[str, str, str, bool], list[Registry]], creds: Credentials) -> list[RegistryAuth]:
            from ecr_ci.core import ecr

            if warm is not None:
                warm.result()
            log.debug(
                "GetAuthorizationToken for " + ", ".join(f"{g[1]} ({g[2]}{', public' if g[3] else ''})" for g in todo)
            )
            return ecr.fetch_all(todo, creds, end, env)

        fetched: list[IdentityToken] = []

        def token() -> IdentityToken | None:
            if source is None:
                return None
            if not fetched:
                fetched.append(source.fetch(p.audience, max(1.0, end - time.monotonic())))
                log.debug(f"identity token from {source.name} ({fetched[0].origin}), audience {p.audience}")
            return fetched[0]

        used: list[tuple[Credentials, str, str | None]] = []  # kept for Auths.credentials

        def obtain_credentials() -> tuple[Credentials, str, str | None]:
            used.append(credentials(settings, env, p, end, token(), session, base))
            return used[-1]

        principal, identity_scope, base = settings.role_arn, None, None
        if source is None:
            # The AWS credential chain: whoever holds these credentials must be part of the key, so a cached token
            # never goes to another principal (and, with a role, never to one that could not assume it).
            from ecr_ci.core import aws

            base = aws.ambient_credentials()
            caller = aws.caller_arn(base, p.sts_region, end, env)
            identity_scope = "aws-credential-chain:" + caller
            principal = principal or "caller:" + caller
        elif source.scope is not None:
            identity_scope = cache.local_scope(source.scope)
        else:
            identity_scope = cache.identity_scope(token().token)  # type: ignore[union-attr]
        got = obtain(
            tc,
            groups,
            principal=principal,
            scope_=cache.scope(identity_scope, env, settings.session_policy, settings.managed_session_policies),
            credentials=obtain_credentials,
            account_of=lambda creds: _caller_account(creds, p.sts_region, end, env),
            fetch=fetch,
        )
    log.debug(
        f"cache: {len(got.cached_hosts)} of {len(got.auths)} registr{'y' if len(got.auths) == 1 else 'ies'} served"
    )
    return Auths(
        got.auths,
        got.identity_source,
        settings.role_arn,
        got.session_name,
        got.credentials_expire,
        got.warnings,
        used[0][0] if used else None,
    )


def _caller_account(creds: Credentials, region: str, end: float, env: Mapping[str, str]) -> str:
    from ecr_ci.core import aws

    return aws.caller_account(creds, region, end, env)


def write(obtained: Auths, settings: Settings, env: Mapping[str, str]) -> LoginResult:
    """Write the auths to every target of the ``write`` setting."""
    from ecr_ci.clients import sinks

    result = LoginResult(obtained, warnings=list(obtained.warnings))
    if obtained.expires_at <= datetime.now(timezone.utc):
        result.warnings.append(
            f"ECR says these tokens expired at {_iso(obtained.expires_at)} "
            "(is the clock right, or is this an emulator?)"
        )
    for kind in settings.write:
        if kind == "none":
            continue
        written = sinks.store(sinks.target(kind, env, settings.docker_config), obtained.auths, settings.shadowing)
        log.debug(f"wrote {len(written.hosts)} entr{'y' if len(written.hosts) == 1 else 'ies'} to {written.path}")
        result.files.append(written)
        result.warnings += written.warnings
    return result


def login(
    settings: Settings,
    env: Mapping[str, str],
    identity: TokenSource | None,
    *,
    session_name: str | None = None,
    now: float | None = None,
) -> LoginResult:
    """The whole flow, with the identity token from ``identity`` (``None``: the AWS credential chain).

    Bad settings and unreadable files fail before any network call; a failure writes nothing."""
    from ecr_ci.clients import sinks

    p = plan(settings)  # bad settings and unreadable files fail before any network call
    for kind in settings.write:  # every file the write will read or replace: checked before the network
        if kind != "none":
            sinks.check(sinks.target(kind, env, settings.docker_config))
    return write(get_auths(settings, env, identity, p, session_name=session_name, now=now), settings, env)


def logout(settings: Settings, env: Mapping[str, str]) -> list[sinks.WriteResult]:
    """Remove what ecr-ci wrote (only the given registries, if any)."""
    from ecr_ci.clients import sinks

    hosts = [r.host for r in registries_of(settings)] if settings.registries else None
    targets = [sinks.target(kind, env, settings.docker_config) for kind in settings.write if kind != "none"]
    for t in targets:  # one bad file stops the logout before any file is changed
        if os.path.lexists(t.path) or os.path.lexists(sinks.state_path(t.path)):
            sinks.check(t)
    return [sinks.erase(t, hosts) for t in targets]


# -- the token cache on the login path: hits, locked refreshes, stale-while-failing ------------------------------


@record
class Obtained:
    """What :func:`obtain` hands back to :func:`get_auths`: auths in the registries' order and their origin."""

    auths: list[Any]  # models.RegistryAuth
    identity_source: str
    session_name: str | None
    credentials_expire: Any  # datetime | None
    cached_hosts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def obtain(
    cache: TokenCache,
    groups: Mapping[Group, Sequence[Any]],
    *,
    principal: str | None,
    scope_: str,
    credentials: Callable[[], tuple[Any, str, str | None]],
    account_of: Callable[[Any], str],
    fetch: Callable[[dict[Group, list[Any]], Any], list[Any]],
) -> Obtained:
    """Registry auths for ``groups`` (``{group: [Registry, …]}``), from the cache where fresh, else fetched.

    ``credentials()`` returns ``(Credentials, identity source, session name)`` and is called at most once, only
    when something must be fetched (or to learn the account when ``principal`` is ``None``: the credential chain
    without a role). ``account_of(creds)`` names that account; ``fetch(groups, creds)`` returns RegistryAuths.
    """
    creds_info: tuple[Any, str, str | None] | None = None
    if principal is None:
        creds_info = credentials()
        principal = "account:" + account_of(creds_info[0])
    keys = {g: cache_key(principal, g, scope_) for g in groups}
    found: dict[Group, Entry] = {}
    for g, k in keys.items():
        hit = cache.fresh(k)
        if hit is not None:
            found[g] = hit
    result_warnings: list[str] = []
    fetched: dict[Group, Entry] = {}
    missing = [g for g in groups if g not in found]
    with contextlib.ExitStack() as stack:
        # Locks in key order, so two processes wanting overlapping groups cannot deadlock.
        for g in sorted(missing, key=lambda g: keys[g]):
            stack.enter_context(cache.locked(keys[g]))
        for g in missing:  # someone may have fetched it while we waited
            hit = cache.fresh(keys[g])
            if hit is not None:
                found[g] = hit
        still = {g: list(groups[g]) for g in groups if g not in found}
        if still:
            try:
                if creds_info is None:
                    creds_info = credentials()
                auths = fetch(still, creds_info[0])
            except EcrCiError as e:
                stale = {g: cache.valid(keys[g]) for g in still}
                if any(v is None for v in stale.values()):
                    raise
                for g, entry in stale.items():
                    assert entry is not None
                    found[g] = entry
                result_warnings.append(
                    f"token cache: refreshing failed, serving cached tokens valid until "
                    f"{_iso_ts(min(v.expires_at for v in stale.values() if v))} ({e})"
                )
                auths = []
            by_host = {r.host: g for g, regs in still.items() for r in regs}
            now = cache.now()
            creds, source, session_name = creds_info if creds_info is not None else (None, "", None)
            expiration = getattr(creds, "expiration", None)
            expire = expiration.timestamp() if expiration is not None else None
            for a in auths:
                owner = by_host.get(a.host)
                if owner is None or owner in fetched:
                    continue
                old = cache.load(keys[owner])
                hosts = sorted({*(old.hosts if old else ()), *(r.host for r in groups[owner])})
                entry = Entry(
                    a.username,
                    a.password,
                    a.expires_at.timestamp(),
                    now,
                    principal,
                    owner,
                    tuple(hosts),
                    source,
                    session_name,
                    expire,
                )
                cache.store(keys[owner], entry)
                fetched[owner] = entry
        # A hit for a host the entry has not served yet: record it, so `list` can name it.
        for g, entry in found.items():
            new = {r.host for r in groups[g]} - set(entry.hosts)
            if new and g not in fetched:
                with cache.locked(keys[g]) if g not in missing else contextlib.nullcontext(True) as ok:
                    current = cache.load(keys[g])
                    if ok and current is not None and current.password == entry.password:
                        cache.store(keys[g], _with_hosts(current, new))
        if fetched:
            cache.prune()
    every = {**found, **fetched}
    out = []
    for g, regs in groups.items():
        chosen = every[g]
        expires = datetime.fromtimestamp(chosen.expires_at, tz=timezone.utc)
        out += [RegistryAuth(r.host, chosen.username, chosen.password, expires, r.public) for r in regs]
    if creds_info is not None and fetched:
        creds = creds_info[0]
        source, session_name = creds_info[1], creds_info[2]
        cred_expire = getattr(creds, "expiration", None)
    else:
        first = next(iter(found.values()))
        source, session_name = first.identity_source, first.session_name
        cred_expire = (
            datetime.fromtimestamp(first.credentials_expire, tz=timezone.utc)
            if first.credentials_expire is not None
            else None
        )
    cached = [r.host for g, regs in groups.items() if g in found for r in regs]
    return Obtained(
        out, source, session_name, cred_expire, cached, list(dict.fromkeys([*cache.problems, *result_warnings]))
    )


def _with_hosts(entry: Entry, hosts: Iterable[str]) -> Entry:
    return Entry(
        entry.username,
        entry.password,
        entry.expires_at,
        entry.fetched_at,
        entry.principal,
        entry.group,
        tuple(sorted({*entry.hosts, *hosts})),
        entry.identity_source,
        entry.session_name,
        entry.credentials_expire,
    )


def _iso_ts(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
