"""A reverse proxy in front of moto's ECR endpoint that gives authorization tokens a real expiry.

moto answers ``GetAuthorizationToken`` with ``expiresAt`` fixed at 2015-01-01, so through moto alone every token
is already expired: a login warns about it and the token cache never serves a hit. Real ECR tokens last 12 hours.
:class:`EcrExpiryProxy` forwards every request unchanged to ``upstream`` (moto's URL) and rewrites ``expiresAt``
in each ``authorizationData`` entry of a ``GetAuthorizationToken`` answer to *now + lifetime*, as real ECR would.
Point only ECR at it (``AWS_ENDPOINT_URL_ECR=proxy.url``); STS can keep talking to moto directly. moto still sees,
counts and answers every call.

``EcrExpiryProxy(upstream, lifetime=43200)``: ``url``, ``port``, ``rewritten`` (how many answers were changed),
``expires_at`` (the last ``expiresAt`` handed out, epoch seconds, or ``None``); a context manager like every
test-bed service. It records nothing of the bodies it relays (they carry passwords).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

from ._relay import HandlerService, QuietHandler, relay

ECR_TOKEN_TARGETS = (
    "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken",
    "SpencerFrontendService.GetAuthorizationToken",  # ECR Public, for a fake that serves it
)
REAL_LIFETIME = 12 * 3600  # what ECR gives


class EcrExpiryProxy(HandlerService):
    """Forward to ``upstream``; give every ECR authorization token ``lifetime`` seconds from now."""

    def __init__(self, upstream: str, lifetime: float = REAL_LIFETIME) -> None:
        target = urllib.parse.urlsplit(upstream)
        if target.scheme != "http" or not target.hostname:
            raise ValueError(f"testbed: EcrExpiryProxy needs an http:// upstream, not {upstream!r}")
        self.upstream_host, self.upstream_port = target.hostname, target.port or 80
        self.lifetime = lifetime
        self.rewritten = 0
        self.expires_at: float | None = None
        self._lock = threading.Lock()

    def rewrite(self, body: bytes) -> bytes:
        """The answer with each ``expiresAt`` set to now + lifetime (unchanged if it is not such an answer)."""
        try:
            answer = json.loads(body)
        except ValueError:
            return body
        entries = answer.get("authorizationData") if isinstance(answer, dict) else None
        if isinstance(entries, dict):  # ECR Public answers with one object, ECR with a list
            entries = [entries]
        if not isinstance(entries, list) or not entries:
            return body
        expires = time.time() + self.lifetime
        for entry in entries:
            if isinstance(entry, dict):
                entry["expiresAt"] = expires
        with self._lock:
            self.rewritten += 1
            self.expires_at = expires
        return json.dumps(answer).encode()

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        def transform(status: int, data: bytes, target: str) -> bytes:
            return proxy.rewrite(data) if status == 200 and target in ECR_TOKEN_TARGETS else data

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                target = self.headers.get("X-Amz-Target", "")
                relay(
                    self,
                    proxy.upstream_host,
                    proxy.upstream_port,
                    self.path,
                    timeout=60,
                    transform=lambda status, data: transform(status, data, target),
                )

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _forward

        return Handler
