"""A local OIDC issuer shaped like GitHub Actions' token service.

A job on GitHub gets ``ACTIONS_ID_TOKEN_REQUEST_URL`` (already carrying ``?api-version=2.0``) and
``ACTIONS_ID_TOKEN_REQUEST_TOKEN``; it appends ``&audience=<aud>`` and sends ``Authorization: bearer <request
token>``. :class:`OidcIssuer` answers that request exactly: no bearer gives 401, a wrong one 403, the right one
``{"count": 1, "value": "<RS256 JWT>"}`` whose ``aud`` is the audience asked for (GitHub's default,
``https://github.com/<owner>``, when none is). It also serves ``/.well-known/openid-configuration`` and ``/jwks``,
so a token can be verified like a real one.

``claims`` holds the claims of every token it serves and can be changed by a test; ``iat``, ``nbf``, ``exp`` and
``jti`` are added when a token is minted unless present. ``mint(**claims)`` makes a token directly, for GitLab- or
Jenkins-style tests that pass it through a file or a variable. Every token minted, and the request token, is
registered in the secret ledger.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from werkzeug.wrappers import Request, Response

from ._serve import Service
from .secrets import LEDGER

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"


def github_claims(repository: str = "octo-org/octo-repo", ref: str = "refs/heads/main") -> dict[str, Any]:
    """Claims like a GitHub Actions push build of ``repository`` at ``ref`` (no ``environment``)."""
    owner = repository.split("/")[0]
    return {
        "iss": GITHUB_ISSUER,
        "sub": f"repo:{repository}:ref:{ref}",
        "repository": repository,
        "repository_owner": owner,
        "repository_id": "123456789",
        "repository_owner_id": "987654321",
        "ref": ref,
        "ref_type": "branch" if ref.startswith("refs/heads/") else "tag",
        "sha": "0123456789abcdef0123456789abcdef01234567",
        "event_name": "push",
        "actor": "octocat",
        "workflow": "ci",
        "workflow_ref": f"{repository}/.github/workflows/ci.yml@{ref}",
        "job_workflow_ref": f"{repository}/.github/workflows/ci.yml@{ref}",
        "run_id": "1234567890",
        "run_number": "7",
        "run_attempt": "1",
        "runner_environment": "github-hosted",
    }


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def decode(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The unverified header and claims of a JWT."""
    header, payload = (json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))) for p in token.split(".")[:2])
    return header, payload


class OidcIssuer(Service):
    """GitHub-Actions-style OIDC token endpoint on 127.0.0.1.

    Constructor: ``issuer`` (the ``iss`` claim and discovery ``issuer``; ``None`` means this server's own URL),
    ``lifetime`` (seconds between ``iat`` and ``exp``, default 300).
    Attributes: ``url``, ``request_url`` (``<url>/token?api-version=2.0``), ``request_token``, ``claims`` (dict,
    editable), ``audiences`` (the ``audience`` of each token request in order, ``None`` when absent), ``tokens``
    (every JWT served), ``error`` (``(status, body)`` to answer token requests with instead, or ``None``),
    ``delay`` (seconds to wait before answering). Methods: ``mint(base=None, **claims)``, ``jwks()``,
    ``reset()``.
    """

    def __init__(self, issuer: str | None = GITHUB_ISSUER, lifetime: int = 300) -> None:
        self.issuer = issuer
        self.lifetime = lifetime
        self.reset()
        self.request_token = _b64u(uuid.uuid4().bytes + uuid.uuid4().bytes)
        LEDGER.add(self.request_token, "oidc-request-token", "oidc")
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex[:16]

    def start(self) -> OidcIssuer:
        super().start()
        if self.issuer is None:
            self.issuer = self.url
            self.claims["iss"] = self.url
        return self

    def reset(self) -> None:
        """Default claims again; forget audiences and tokens; no ``error``, no ``delay``."""
        self.claims: dict[str, Any] = github_claims()
        if self.issuer is not None:
            self.claims["iss"] = self.issuer
        self.audiences: list[str | None] = []
        self.tokens: list[str] = []
        self.error: tuple[int, str] | None = None
        self.delay = 0.0

    @property
    def request_url(self) -> str:
        return f"{self.url}/token?api-version=2.0"

    def mint(self, base: dict[str, Any] | None = None, **claims: Any) -> str:
        """A signed RS256 JWT with ``base`` (default: ``self.claims``) updated by ``claims``.

        A claim given as ``None`` is removed. ``iat``/``nbf`` default to now, ``exp`` to now + ``lifetime``.
        """
        now = int(time.time())
        body = dict(self.claims if base is None else base) | claims
        for name, value in (("iat", now), ("nbf", now), ("exp", now + self.lifetime), ("jti", str(uuid.uuid4()))):
            body.setdefault(name, value)
        body = {k: v for k, v in body.items() if v is not None}
        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        signing_input = f"{_b64u(json.dumps(header).encode())}.{_b64u(json.dumps(body).encode())}"
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        token = f"{signing_input}.{_b64u(signature)}"
        LEDGER.add_jwt(token, "oidc")
        self.tokens.append(token)
        return token

    def jwks(self) -> dict[str, Any]:
        """The public key set served at ``/jwks``."""
        numbers = self._key.public_key().public_numbers()

        def raw(n: int) -> str:
            return _b64u(n.to_bytes((n.bit_length() + 7) // 8, "big"))

        key = {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid, "n": raw(numbers.n), "e": raw(numbers.e)}
        return {"keys": [key]}

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        return self._respond(request)(environ, start_response)  # type: ignore[no-any-return]

    def _respond(self, request: Request) -> Response:
        if request.path == "/.well-known/openid-configuration":
            return _json(
                {
                    "issuer": self.issuer,
                    "jwks_uri": f"{self.url}/jwks",
                    "response_types_supported": ["id_token"],
                    "subject_types_supported": ["public", "pairwise"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "scopes_supported": ["openid"],
                    "claims_supported": sorted(set(self.claims) | {"aud", "exp", "iat", "nbf", "jti"}),
                }
            )
        if request.path == "/jwks":
            return _json(self.jwks())
        if request.path != "/token":
            return Response("not found\n", 404)
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given:
            return Response("missing bearer token\n", 401, {"WWW-Authenticate": "Bearer"})
        if given.strip() != self.request_token:
            return Response("bad bearer token\n", 403)
        if self.delay:
            time.sleep(self.delay)
        audience = request.args.get("audience")
        self.audiences.append(audience)
        if self.error is not None:
            return Response(self.error[1], self.error[0])
        owner = self.claims.get("repository_owner", "octo-org")
        token = self.mint(aud=audience if audience is not None else f"https://github.com/{owner}")
        return _json({"count": 1, "value": token})


def _json(data: object, status: int = 200) -> Response:
    return Response(json.dumps(data), status, mimetype="application/json")
