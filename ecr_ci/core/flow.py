"""The login flow: settings → identity token → AWS credentials → registry auths → sinks.

Everything here takes the environment as a plain mapping and returns dataclasses (records, :mod:`ecr_ci._record`:
they cost a credential-helper cache hit nothing to import); nothing prints.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, timezone

from ecr_ci._record import field, record
from ecr_ci.core import registries
from ecr_ci.core.identity import IdentityToken, TokenSource, fallback_session_name
from ecr_ci.errors import ConfigError
from ecr_ci.models import Credentials, Registry, RegistryAuth
from ecr_ci.settings import Settings

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a credential-helper cache hit
if TYPE_CHECKING:  # sinks is imported where files are written: a credential-helper cache hit writes none
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

    @property
    def expires_at(self) -> datetime:
        return min(a.expires_at for a in self.auths)


@record
class LoginResult:
    """What :func:`login` did: the auths it obtained, the files it wrote, and anything worth a warning."""

    obtained: Auths
    files: list[sinks.WriteResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

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


def plan(settings: Settings) -> Plan:
    """Parse registries, cross-check partitions and the role ARN, pick STS's region and the audience."""
    regs = registries.parse_all(settings.registries, settings.region)
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
                f"role_arn: {settings.role_arn!r} is in partition {arn_partition} but the registries are in "
                f"{partition} (use arn:{partition}:iam::… or registries of {arn_partition})"
            )
    sts_region = next((r.region for r in regs if not r.public), None)
    if settings.region and registries.check_region(settings.region, settings.where("region"))["id"] == partition:
        sts_region = settings.region
    audience = settings.audience or (CHINA_AUDIENCE if partition == "aws-cn" else DEFAULT_AUDIENCE)
    return Plan(regs, partition, sts_region or registries.PUBLIC_REGION, audience)


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

    if token is not None:
        if not settings.role_arn:
            raise ConfigError(
                f"{settings.label('role_arn')}: not set, but an identity token was found ({token.source}, "
                f"{token.origin}); {settings.fix('role_arn')} to the role to assume",
                code="input.missing",
                setting="role_arn",
            )
        creds = aws.assume_role_with_web_identity(
            token,
            role_arn=settings.role_arn,
            session_name=session_name,
            duration=settings.duration,
            region=p.sts_region,
            env=env,
            policy=settings.session_policy,
            policy_arns=settings.managed_session_policies,
            end=end,
            audience=p.audience,
            partition=p.partition,
        )
        return creds, token.source, session_name
    base = base or aws.ambient_credentials()
    if not settings.role_arn:
        return base, "aws-credential-chain", None
    creds = aws.assume_role(
        base,
        role_arn=settings.role_arn,
        session_name=session_name,
        duration=settings.duration,
        region=p.sts_region,
        policy=settings.session_policy,
        policy_arns=settings.managed_session_policies,
        end=end,
    )
    return creds, "aws-credential-chain", session_name


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
    import contextlib

    from ecr_ci.core import cache

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

            warm = stack.enter_context(ThreadPoolExecutor(max_workers=1)).submit(ecr.prepare, groups)

        def fetch(todo: dict[tuple[str, str, str, bool], list[Registry]], creds: Credentials) -> list[RegistryAuth]:
            from ecr_ci.core import ecr

            if warm is not None:
                warm.result()
            return ecr.fetch_all(todo, creds, end)

        fetched: list[IdentityToken] = []

        def token() -> IdentityToken | None:
            if source is None:
                return None
            if not fetched:
                fetched.append(source.fetch(p.audience, max(1.0, end - time.monotonic())))
            return fetched[0]

        principal, identity_scope, base = settings.role_arn, None, None
        if source is None:
            # The AWS credential chain: whoever holds these credentials must be part of the key, so a cached token
            # never goes to another principal (and, with a role, never to one that could not assume it).
            from ecr_ci.core import aws

            base = aws.ambient_credentials()
            caller = aws.caller_arn(base, p.sts_region, end)
            identity_scope = "aws-credential-chain:" + caller
            principal = principal or "caller:" + caller
        elif source.scope is not None:
            identity_scope = cache.local_scope(source.scope)
        else:
            identity_scope = cache.identity_scope(token().token)  # type: ignore[union-attr]
        got = cache.obtain(
            tc,
            groups,
            principal=principal,
            scope_=cache.scope(identity_scope, env, settings.session_policy, settings.managed_session_policies),
            credentials=lambda: credentials(settings, env, p, end, token(), session, base),
            account_of=lambda creds: _caller_account(creds, p.sts_region, end),
            fetch=fetch,
        )
    return Auths(
        got.auths, got.identity_source, settings.role_arn, got.session_name, got.credentials_expire, got.warnings
    )


def _caller_account(creds: Credentials, region: str, end: float) -> str:
    from ecr_ci.core import aws

    return aws.caller_account(creds, region, end)


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
    for kind in settings.write:
        if kind != "none":
            sinks.read_json(sinks.target(kind, env, settings.docker_config).path, f"{kind} config")
    return write(get_auths(settings, env, identity, p, session_name=session_name, now=now), settings, env)


def logout(settings: Settings, env: Mapping[str, str]) -> list[sinks.WriteResult]:
    """Remove what ecr-ci wrote (only the given registries, if any)."""
    from ecr_ci.clients import sinks

    hosts = (
        [r.host for r in registries.parse_all(settings.registries, settings.region)] if settings.registries else None
    )
    return [
        sinks.erase(sinks.target(kind, env, settings.docker_config), hosts) for kind in settings.write if kind != "none"
    ]
