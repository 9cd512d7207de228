"""A forward HTTP proxy on 127.0.0.1 that records which hosts each request was for.

It answers absolute-URI requests (``GET http://host:port/path``), which is how clients send plain-HTTP requests
through ``HTTP_PROXY``/``HTTPS_PROXY``, forwards them and relays the answer. Proxied TLS (``CONNECT``) is not
needed: every local stand-in speaks plain HTTP. It records the target's ``host:port`` and the method, never
headers or bodies (they carry tokens).

``HttpProxy()``: ``url``, ``port``, ``seen`` (list of ``(method, "host:port")``), ``reset()``.
"""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_HOP_BY_HOP = {"connection", "proxy-connection", "keep-alive", "proxy-authorization", "te", "trailers",
               "transfer-encoding", "upgrade"}  # fmt: skip


class HttpProxy:
    """Forward proxy for plain-HTTP absolute-URI requests; a context manager like every test-bed service."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        with self._lock:
            self.seen.clear()

    def start(self) -> HttpProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet: the test reads `seen`
                pass

            def _forward(self) -> None:
                target = urllib.parse.urlsplit(self.path)
                if target.scheme != "http" or not target.hostname:
                    self.send_error(400, "absolute http:// URI expected")
                    return
                netloc = f"{target.hostname}:{target.port or 80}"
                with proxy._lock:
                    proxy.seen.append((self.command, netloc))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                path = target.path + (f"?{target.query}" if target.query else "")
                upstream = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=30)
                try:
                    upstream.request(self.command, path or "/", body=body, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                finally:
                    upstream.close()
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

    def __enter__(self) -> HttpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
