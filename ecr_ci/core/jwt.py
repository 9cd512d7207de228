"""Reading a JWT's claims without verifying it: for the cache key, diagnostics and the doctor.

STS verifies the signature; ecr-ci only looks at the payload to explain a refusal and to tell two identities
apart. Nothing here ever quotes the token.
"""

from __future__ import annotations

import base64
import binascii
import json
import re

from ecr_ci.errors import IdentityTokenError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a credential-helper cache hit
if TYPE_CHECKING:
    from typing import Any


def decode_claims(token: str) -> dict[str, Any]:
    """The payload of a compact JWS (``header.payload.signature``), decoded without checking the signature.

    Raises :class:`IdentityTokenError` with a one-line message that never quotes the token.
    """
    if not isinstance(token, str):
        raise IdentityTokenError(f"identity token: expected text, got {type(token).__name__}")
    token = token.strip()
    if not token:
        raise IdentityTokenError("identity token: empty (expected a JWT: three base64url parts separated by dots)")
    parts = token.split(".")
    if len(parts) == 5:
        raise IdentityTokenError(
            "identity token: is an encrypted JWT (JWE, 5 parts); STS needs a signed OIDC ID token (3 parts)"
        )
    if len(parts) != 3:
        raise IdentityTokenError(
            f"identity token: not a JWT ({len(parts)} dot-separated part{'s' if len(parts) != 1 else ''}, "
            "expected 3: header.payload.signature)"
        )
    if not all(parts):
        raise IdentityTokenError("identity token: not a JWT (one of its three parts is empty)")
    payload = _b64url(parts[1])
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as e:
        raise IdentityTokenError("identity token: the payload is not UTF-8 text (is this really a JWT?)") from e
    try:
        claims = json.loads(text)
    except json.JSONDecodeError as e:
        raise IdentityTokenError(f"identity token: the payload is not JSON ({e.msg} at char {e.pos})") from e
    if not isinstance(claims, dict):
        raise IdentityTokenError(f"identity token: the payload is JSON {type(claims).__name__}, expected an object")
    return claims


def _b64url(part: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_\-]+=*", part):
        raise IdentityTokenError("identity token: the payload is not base64url (characters outside A-Z a-z 0-9 - _)")
    try:
        return base64.urlsafe_b64decode(part.rstrip("=") + "=" * (-len(part.rstrip("=")) % 4))
    except (binascii.Error, ValueError) as e:
        raise IdentityTokenError("identity token: the payload is not valid base64url (bad length)") from e
