"""The identity contract: what a login's OIDC token is and where the flow gets it from.

The core knows no CI. A caller hands :func:`ecr_ci.core.flow.login` a :class:`TokenSource` (the CLI and the
credential helper pick one from the ``oidc`` setting with :func:`ecr_ci.ci.select`; each adapter builds its own CI's)
or ``None`` for the standard AWS credential chain. The flow calls ``source.fetch(audience, seconds_left)`` while
botocore loads, so the token request overlaps start-up. This module also holds the two CI-free sources, a token
file and a token in an environment variable, and the rules every token must pass.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping

from ecr_ci._record import field, record
from ecr_ci.errors import IdentityTokenError


@record(frozen=True)
class IdentityToken:
    """An OIDC identity token (a JWT; secret) and where it came from."""

    source: str
    token: str = field(repr=False)
    origin: str = ""  # the variable, file or URL it was read from (never the token)


@record(frozen=True)
class TokenSource:
    """Where a login's identity token comes from.

    ``fetch(audience, seconds_left)`` returns the token or raises :class:`IdentityTokenError` (with a cause code)
    saying what is missing. ``scope``, when the source can name its presenter from local facts alone (a GitHub job's
    request credentials, say), lets the token cache decide a hit without fetching a token; ``None`` means the cache
    key is made from the fetched token's claims. ``session_name`` is the source's default role session name.
    """

    name: str
    fetch: Callable[[str, float], IdentityToken] = field(repr=False)
    scope: str | None = field(default=None, repr=False)
    session_name: str | None = None


def checked(token: str, source: str, origin: str) -> IdentityToken:
    """``token`` as an :class:`IdentityToken` if it is shaped like a JWT; raise (never quoting it) otherwise."""
    token = token.strip()
    if not token:
        raise IdentityTokenError(f"{source}: the identity token from {origin} is empty", code="identity.token-empty")
    if token.count(".") != 2 or not re.fullmatch(r"[A-Za-z0-9_\-.=]+", token):
        raise IdentityTokenError(
            f"{source}: the identity token from {origin} is not a JWT (expected three base64url parts separated "
            "by dots)",
            code="identity.token-invalid",
        )
    return IdentityToken(source=source, token=token, origin=origin)


TOKEN_FILE_LIMIT = 1 << 20  # an identity token is a few kilobytes; a file past this is not one


def read_file(path: str, source: str, setting: str) -> IdentityToken:
    """The token in file ``path``; ``setting`` names where the path came from, for the error. Only a regular file
    of at most :data:`TOKEN_FILE_LIMIT` bytes is read: a FIFO would block, a device would never end."""
    from ecr_ci import _files

    try:
        data = _files.read_regular(path, limit=TOKEN_FILE_LIMIT)
        if data is None:
            raise IdentityTokenError(
                f"{source}: token file {path} does not exist (check {setting})", code="identity.token-file"
            )
        text = _files.decode_utf8(data)
    except _files.BadFile as e:
        raise IdentityTokenError(
            f"{source}: token file {path} cannot be read (it {e}; check {setting})", code="identity.token-file"
        ) from None
    return checked(text, source, f"file {path}")


def file_source(path: str, *, name: str = "file", setting: str = "token_file") -> TokenSource:
    """A token file, e.g. ``AWS_WEB_IDENTITY_TOKEN_FILE`` as EKS and other platforms provide it."""
    return TokenSource(name, lambda audience, seconds: read_file(path, name, setting))


def env_source(env: Mapping[str, str], variable: str, *, name: str = "env") -> TokenSource:
    """A token held in the environment variable ``variable`` of ``env``."""
    return TokenSource(name, lambda audience, seconds: checked(env.get(variable, ""), name, f"variable {variable}"))


def sanitise_session_name(raw: str) -> str:
    """Replace characters AWS refuses with ``-`` and clamp to 2-64 characters (keeping the distinctive tail)."""
    name = re.sub(r"[^\w+=,.@-]", "-", raw, flags=re.ASCII)
    if len(name) > 64:
        name = name[:20] + "-" + name[-43:]
    return name.ljust(2, "-")


def fallback_session_name(now: float | None = None) -> str:
    """The session name when neither the settings nor the token source give one."""
    return f"ecr-ci-{int(now if now is not None else time.time())}"
