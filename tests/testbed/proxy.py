"""A forward HTTP proxy on 127.0.0.1 that records which hosts each request was for.

It answers absolute-URI requests (``GET http://host:port/path``), which is how clients send plain-HTTP requests
through ``HTTP_PROXY``/``HTTPS_PROXY``, forwards them and relays the answer. Proxied TLS (``CONNECT``) is not
needed: every local stand-in speaks plain HTTP. It records the target's ``host:port`` and the method, never
headers or bodies (they carry tokens).

``HttpProxy()``: ``url``, ``port``, ``seen`` (list of ``(method, "host:port")``), ``reset()``.
"""

from __future__ import annotations

import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler

from ._relay import HandlerService, QuietHandler, relay


class HttpProxy(HandlerService):
    """Forward proxy for plain-HTTP absolute-URI requests; a context manager like every test-bed service."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.seen.clear()

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(QuietHandler):  # quiet: the test reads `seen`
            def _forward(self) -> None:
                target = urllib.parse.urlsplit(self.path)
                if target.scheme != "http" or not target.hostname:
                    self.send_error(400, "absolute http:// URI expected")
                    return
                with proxy._lock:
                    proxy.seen.append((self.command, f"{target.hostname}:{target.port or 80}"))
                path = target.path + (f"?{target.query}" if target.query else "")
                relay(self, target.hostname, target.port or 80, path)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _forward

        return Handler
