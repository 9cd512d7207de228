"""Shared plumbing of the two relaying stand-ins (:mod:`.proxy` and :mod:`.ecr_expiry`): an ``http.server`` on
127.0.0.1 in a thread, and one function that forwards a request upstream and relays the answer.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOP_BY_HOP = {"connection", "proxy-connection", "keep-alive", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade"}  # fmt: skip


def relay(
    handler: BaseHTTPRequestHandler,
    host: str,
    port: int,
    path: str,
    *,
    timeout: float = 30,
    transform: Callable[[int, bytes], bytes] | None = None,
) -> None:
    """Send ``handler``'s request (method, body, end-to-end headers) to ``host:port`` ``path`` and answer with the
    upstream's reply, its body passed through ``transform(status, body)`` when given."""
    length = int(handler.headers.get("Content-Length") or 0)
    body = handler.rfile.read(length) if length else None
    headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
    upstream = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        upstream.request(handler.command, path or "/", body=body, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
    finally:
        upstream.close()
    if transform is not None:
        data = transform(answer.status, data)
    handler.send_response(answer.status, answer.reason)
    for k, v in answer.getheaders():
        if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
            handler.send_header(k, v)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that keeps the access log out of the test output."""

    def log_message(self, *args: object) -> None:
        pass


class HandlerService:
    """Base class: serves ``handler_class()`` on 127.0.0.1 in a daemon thread; ``port``, ``url``; a context manager."""

    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def start(self) -> Any:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler_class())
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
