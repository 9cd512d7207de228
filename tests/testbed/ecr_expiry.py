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

import http.client
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ECR_TOKEN_TARGETS = (
    "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken",
    "SpencerFrontendService.GetAuthorizationToken",  # ECR Public, for a fake that serves it
)
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailers", "transfer-encoding", "upgrade"}
REAL_LIFETIME = 12 * 3600  # what ECR gives


class EcrExpiryProxy:
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
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

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

    def start(self) -> EcrExpiryProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=60)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                finally:
                    upstream.close()
                if answer.status == 200 and self.headers.get("X-Amz-Target", "") in ECR_TOKEN_TARGETS:
                    data = proxy.rewrite(data)
                self.send_response(answer.status, answer.reason)
                for k, v in answer.getheaders():
                    if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> EcrExpiryProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
