"""Shared plumbing: a free port, a quiet threaded WSGI server on 127.0.0.1, and a start/stop base class.

Every in-process service of the test bed is a :class:`Service`: ``start()`` binds 127.0.0.1 on a free port and
serves in a daemon thread, ``stop()`` shuts it down, and ``with Service() as s:`` does both.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


def free_port() -> int:
    """A port that was free a moment ago. Only for servers we cannot hand a bound socket (child processes)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``check`` every 20 ms until it returns true; raise ``TimeoutError`` naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise TimeoutError(f"testbed: {what} not ready after {timeout} s")


class _QuietHandler(WSGIRequestHandler):
    # The per-request access log would drown the test output; errors still reach stderr through werkzeug.
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class Service:
    """Base class: serves ``self.app`` (a WSGI callable) on 127.0.0.1 in a thread.

    Attributes after ``start()``: ``port`` and ``url`` (``http://127.0.0.1:<port>``).
    """

    port: int = 0

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Service:
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, self.app, threaded=True, request_handler=_QuietHandler
        )
        self.port = int(self._server.server_address[1])
        # A short poll interval: shutdown() waits for the next poll, 0.5 s by default.
        serve = lambda: self._server.serve_forever(poll_interval=0.05)  # noqa: E731
        self._thread = threading.Thread(target=serve, name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server = getattr(self, "_server", None)
        if server is not None:
            server.shutdown()
            server.server_close()
            self._thread.join(5)
            self._server = None  # type: ignore[assignment]

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
