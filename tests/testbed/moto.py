"""moto's STS/ECR/IAM server over real HTTP, with a counter of every API call it answered.

:class:`MotoServer` serves moto's own WSGI application behind a small middleware that reads each request
(:mod:`.wire`) and keeps a :class:`~.wire.Call` for it, so a test can assert what reached the emulator:
``server.count("sts", "AssumeRoleWithWebIdentity") == 1`` or ``server.count("ecr", "GetAuthorizationToken",
region="eu-west-1") == 1``. The middleware also registers in the secret ledger every secret moto hands out (the
assumed role's secret key and session token, every ECR password).

By default moto runs in this process, in a thread. ``MotoServer(process=True)`` runs it as a child process
instead, for callers that also use moto's in-process ``mock_aws`` (which would
reset the server's state) or that want moto off their GIL; counting works the same way, over HTTP.

moto's ECR password is deterministic: ``"<account>-auth-token"`` with user ``AWS``, where the account is the
caller's (the account in the assumed role's ARN), or each of ``registryIds`` when given. :func:`moto_ecr_password`
computes it, so a registry's htpasswd can be written before the test runs.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from . import secrets
from ._serve import Service, wait_until
from .wire import Call, CallLog, read_call

DEFAULT_ACCOUNT = "123456789012"


def moto_ecr_password(account: str = DEFAULT_ACCOUNT) -> str:
    """The password moto's ECR GetAuthorizationToken returns to a caller in ``account`` (user ``AWS``)."""
    return f"{account}-auth-token"


def moto_ecr_auth(account: str = DEFAULT_ACCOUNT) -> str:
    """moto's ``authorizationToken`` for ``account``: ``base64("AWS:<account>-auth-token")``."""
    return base64.b64encode(f"AWS:{moto_ecr_password(account)}".encode()).decode()


class _Counting:
    """WSGI middleware: records each API call, answers ``GET /_testbed/log``, zeroes itself on moto's reset."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.calls: list[Call] = []
        self.issued: list[tuple[str, str]] = []  # (value, kind) of every secret moto answered with
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/_testbed/log":
            with self.lock:
                body = json.dumps({"calls": [asdict(c) for c in self.calls], "issued": self.issued}).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        if path.startswith("/moto-api/"):
            if path.rstrip("/") == "/moto-api/reset":
                with self.lock:
                    self.calls.clear()
            return self.app(environ, start_response)  # type: ignore[no-any-return]

        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        headers = {
            "Authorization": environ.get("HTTP_AUTHORIZATION", ""),
            "X-Amz-Target": environ.get("HTTP_X_AMZ_TARGET", ""),
        }
        call = read_call(headers, body, environ.get("QUERY_STRING", ""))
        status: list[int] = [0]

        def capture(code: str, hdrs: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = int(code.split()[0])
            return start_response(code, hdrs, exc_info)

        result = self.app(environ, capture)
        try:
            out = b"".join(result)
        finally:
            getattr(result, "close", lambda: None)()
        with self.lock:
            self.calls.append(replace(call, status=status[0]))
        self._register(out)
        return [out]

    def _register(self, out: bytes) -> None:
        text = out.decode("utf-8", "replace")
        found: list[tuple[str, str]] = []
        for tag, kind in (("SecretAccessKey", "aws-secret-key"), ("SessionToken", "aws-session-token")):
            found += [(v, kind) for v in re.findall(rf"<{tag}>([^<]+)</{tag}>", text)]
        if "authorizationToken" in text:
            for token in re.findall(r'"authorizationToken":\s*"([^"]+)"', text):
                password = base64.b64decode(token).decode().partition(":")[2]
                found += [(password, "password"), (token, "docker-auth")]
        for value, kind in found:
            secrets.LEDGER.add(value, kind, "moto")
        if found:
            with self.lock:
                self.issued += [f for f in found if f not in self.issued]


def _moto_app() -> _Counting:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return _Counting(DomainDispatcherApplication(create_backend_app))


class MotoServer(Service, CallLog):
    """moto on 127.0.0.1:<free port>, counting calls. ``process=True`` runs it in a child process.

    Attributes: ``url``, ``port``. Methods: ``calls()``, ``counts(by_region=False)``,
    ``count(service, action, region=None)``, ``reset()``, ``start()``, ``stop()``.
    """

    def __init__(self, *, process: bool = False) -> None:
        self.process = process
        self._proc: subprocess.Popen[str] | None = None

    def start(self) -> MotoServer:
        if not self.process:
            self._app = _moto_app()
            self.app = self._app  # type: ignore[assignment]
            super().start()
            return self
        root = Path(__file__).resolve().parents[2]
        self._proc = subprocess.Popen(
            [sys.executable, "-c", "from tests.testbed.moto import _main; _main()"],
            cwd=root,
            stdin=subprocess.PIPE,  # the child exits when this pipe closes, even if we die without stop()
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self._proc.stdout.readline() if self._proc.stdout else ""
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"testbed: moto child process did not start (said {line!r})")
        self.port = int(line.split()[1])
        wait_until(lambda: self._get("/_testbed/log") is not None, 10, "moto child process")
        return self

    def stop(self) -> None:
        if self._proc is not None:
            self._fetch()  # pull the secrets it issued into this process's ledger
            self._proc.terminate()
            self._proc.wait(10)
            for pipe in (self._proc.stdin, self._proc.stdout):
                if pipe:
                    pipe.close()
            self._proc = None
        else:
            super().stop()

    def _get(self, path: str) -> bytes | None:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as r:
                return bytes(r.read())
        except OSError:
            return None

    def _fetch(self) -> list[Call]:
        if self._proc is None:
            with self._app.lock:
                return list(self._app.calls)
        log = json.loads(self._get("/_testbed/log") or b'{"calls": [], "issued": []}')
        for value, kind in log["issued"]:
            secrets.LEDGER.add(value, kind, "moto")
        return [Call(**c) for c in log["calls"]]

    def calls(self) -> list[Call]:
        """Every API call answered since the last reset, oldest first."""
        return self._fetch()

    def reset(self) -> None:
        """Wipe moto's state (``POST /moto-api/reset``) and zero the counters."""
        req = urllib.request.Request(self.url + "/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(req, timeout=10):
            pass


def _main() -> None:
    from werkzeug.serving import make_server

    from ._serve import _QuietHandler

    server = make_server("127.0.0.1", 0, _moto_app(), threaded=True, request_handler=_QuietHandler)
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()
