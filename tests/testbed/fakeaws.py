"""A small fake of the AWS APIs moto cannot play: scripted STS failures, ECR Public, ECR expiry and throttling.

:class:`FakeAWS` is one HTTP server speaking the real wire protocols, so botocore parses its answers into the
same results and modeled exceptions as AWS's own: STS over the query protocol (XML; ``AssumeRoleWithWebIdentity``
and ``GetCallerIdentity``), ECR (``AmazonEC2ContainerRegistry_V20150921``) and ECR Public
(``SpencerFrontendService``) over JSON 1.1. Point the tool at it with ``AWS_ENDPOINT_URL_STS``,
``AWS_ENDPOINT_URL_ECR`` and ``AWS_ENDPOINT_URL_ECR_PUBLIC``.

Each API has a :class:`Script`: replies are consumed in order, then ``default`` (``"ok"``) answers forever. A
reply is ``"ok"``, an error code (``"AccessDenied"``, ``"ThrottlingException"``…, with AWS's HTTP status for it),
an HTTP status (``500``, ``503``) or ``(code, status, message)``. botocore retries throttling and 5xx replies on
its own (legacy mode: up to 5 attempts), so every attempt shows up in ``calls()``.

Every secret it answers with (secret keys, session tokens, registry passwords and their ``auth`` form) is
registered in the secret ledger. ECR passwords are random base64 of ``password_length`` characters (real ones are
~2.3–2.7 KB), unless ``password`` is set.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any, Union
from xml.sax.saxutils import escape

from werkzeug.wrappers import Request, Response

from ._serve import Service
from .secrets import LEDGER
from .wire import Call, CallLog, read_call

Reply = Union[str, int, tuple[str, int, str]]  # noqa: UP007 (a runtime alias; Python 3.10 is supported)

# code -> (HTTP status, message); STS (query protocol) errors name a fault Type as well.
STS_ERRORS: dict[str, tuple[int, str]] = {
    "InvalidIdentityToken": (400, "Couldn't retrieve verification key from your identity provider"),
    "ExpiredTokenException": (400, "Token expired: current date/time must be before the expiration date/time"),
    "IDPCommunicationError": (400, "Couldn't contact the identity provider"),
    "IDPRejectedClaim": (403, "The identity provider rejected the claim"),
    "AccessDenied": (403, "Not authorized to perform sts:AssumeRoleWithWebIdentity"),
    "Throttling": (400, "Rate exceeded"),
    "RegionDisabledException": (403, "STS is not activated in this region for account"),
    "InternalFailure": (500, "An internal error occurred"),
    "ServiceUnavailable": (503, "Service unavailable"),
}
JSON_ERRORS: dict[str, tuple[int, str]] = {
    "ThrottlingException": (400, "Rate exceeded"),
    "AccessDeniedException": (400, "not authorized to perform: ecr:GetAuthorizationToken"),
    "UnrecognizedClientException": (400, "The security token included in the request is invalid."),
    "ExpiredTokenException": (400, "The security token included in the request is expired"),
    "InvalidParameterException": (400, "Invalid parameter"),
    "ServerException": (500, "Internal server error"),
    "ServiceUnavailableException": (503, "Service unavailable"),
}
_BY_STATUS = {"sts": {500: "InternalFailure", 503: "ServiceUnavailable"}}
_JSON_BY_STATUS = {500: "ServerException", 503: "ServiceUnavailableException"}


class Script:
    """Replies one API gives: ``push(*replies)`` queues them; then ``default`` answers."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.default: Reply = "ok"
        self._lock = threading.Lock()

    def push(self, *replies: Reply) -> Script:
        with self._lock:
            self.replies.extend(replies)
        return self

    def next(self) -> Reply:
        with self._lock:
            return self.replies.popleft() if self.replies else self.default


class StsScript(Script):
    """STS replies. ``expiration`` overrides the credentials' Expiration (default: now + DurationSeconds)."""

    def __init__(self) -> None:
        super().__init__()
        self.expiration: datetime | None = None


class TokenScript(Script):
    """ECR or ECR Public replies. ``expires_at`` overrides ``expiresAt`` (default now + 12 h); ``password``
    fixes the password (default: random, ``password_length`` long); ``issued`` lists ``(region, password)``."""

    def __init__(self) -> None:
        super().__init__()
        self.expires_at: datetime | None = None
        self.password: str | None = None
        self.password_length = 2400
        self.issued: list[tuple[str, str]] = []


def _error(reply: Reply, table: dict[str, tuple[int, str]], by_status: dict[int, str]) -> tuple[str, int, str]:
    if isinstance(reply, tuple):
        return reply
    if isinstance(reply, int):
        code = by_status.get(reply, f"Http{reply}")
        return code, reply, table.get(code, (reply, "Scripted failure"))[1]
    status, message = table.get(reply, (400, "Scripted failure"))
    return reply, status, message


def _random(n: int) -> str:
    return base64.b64encode(os.urandom(n)).decode()[:n]


class FakeAWS(Service, CallLog):
    """STS, ECR and ECR Public on 127.0.0.1, scripted.

    Constructor: ``account`` (the account of the identity and of ``proxyEndpoint``; default ``123456789012``).
    Attributes: ``url``, ``port``, ``sts`` (:class:`StsScript`), ``ecr`` and ``ecr_public``
    (:class:`TokenScript`). Methods: ``calls()``, ``counts(by_region=False)``, ``count(service, action,
    region=None)``, ``reset()``, ``start()``, ``stop()``.
    """

    def __init__(self, account: str = "123456789012") -> None:
        self.account = account
        self.reset()

    def reset(self) -> None:
        """Forget every call and every scripted reply."""
        self.sts, self.ecr, self.ecr_public = StsScript(), TokenScript(), TokenScript()
        self._calls: list[Call] = []

    def calls(self) -> list[Call]:
        return list(self._calls)

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        body = request.get_data()
        headers = {name: request.headers.get(name, "") for name in ("Authorization", "X-Amz-Target")}
        call = read_call(headers, body, environ.get("QUERY_STRING", ""))
        if call.service == "sts":
            response = self._sts(call)
        elif (call.service, call.action) == ("ecr", "GetAuthorizationToken"):
            response = self._token(call, self.ecr, public=False)
        elif (call.service, call.action) == ("ecr-public", "GetAuthorizationToken"):
            response = self._token(call, self.ecr_public, public=True)
        else:
            response = _json_error("UnknownOperationException", 400, f"fake AWS has no {call.service}:{call.action}")
        self._calls.append(Call(**{**call.__dict__, "status": response.status_code}))
        return response(environ, start_response)  # type: ignore[no-any-return]

    # -- STS (query protocol, XML) ------------------------------------------------------------------------
    def _sts(self, call: Call) -> Response:
        if call.action not in ("AssumeRoleWithWebIdentity", "GetCallerIdentity"):
            return _sts_error("InvalidAction", 400, f"Could not find operation {call.action} for version 2011-06-15")
        reply = self.sts.next()
        if reply != "ok":
            return _sts_error(*_error(reply, STS_ERRORS, _BY_STATUS["sts"]))
        if call.action == "GetCallerIdentity":
            result = (
                f"<Arn>arn:aws:sts::{self.account}:assumed-role/fake/session</Arn>"
                f"<UserId>AROAFAKE:session</UserId><Account>{self.account}</Account>"
            )
            return _sts_ok(call.action, result)
        role_arn = call.params.get("RoleArn", f"arn:aws:iam::{self.account}:role/unknown")
        session = call.params.get("RoleSessionName", "session")
        account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else self.account
        expiration = self.sts.expiration or datetime.now(timezone.utc) + timedelta(
            seconds=int(call.params.get("DurationSeconds", 3600))
        )
        key_id, secret, token = "ASIA" + uuid.uuid4().hex[:16].upper(), _random(40), "IQoJb3JpZ2lu" + _random(700)
        LEDGER.add(secret, "aws-secret-key", "fake-aws")
        LEDGER.add(token, "aws-session-token", "fake-aws")
        claims = call.token_claims or {}
        aud = claims.get("aud", "")
        result = (
            f"<SubjectFromWebIdentityToken>{escape(str(claims.get('sub', '')))}</SubjectFromWebIdentityToken>"
            f"<Audience>{escape(aud if isinstance(aud, str) else ','.join(aud))}</Audience>"
            f"<AssumedRoleUser><Arn>arn:aws:sts::{account}:assumed-role/{escape(role_arn.rsplit('/', 1)[-1])}/"
            f"{escape(session)}</Arn><AssumedRoleId>AROAFAKE{account}:{escape(session)}</AssumedRoleId>"
            f"</AssumedRoleUser><Credentials><AccessKeyId>{key_id}</AccessKeyId>"
            f"<SecretAccessKey>{escape(secret)}</SecretAccessKey><SessionToken>{escape(token)}</SessionToken>"
            f"<Expiration>{expiration.astimezone(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')}</Expiration>"
            f"</Credentials><Provider>{escape(str(claims.get('iss', '')).removeprefix('https://'))}</Provider>"
        )
        return _sts_ok(call.action, result)

    # -- ECR and ECR Public (JSON 1.1) --------------------------------------------------------------------
    def _token(self, call: Call, script: TokenScript, *, public: bool) -> Response:
        reply = script.next()
        if reply != "ok":
            return _json_error(*_error(reply, JSON_ERRORS, _JSON_BY_STATUS))
        region = call.region or "us-east-1"
        expires = (script.expires_at or datetime.now(timezone.utc) + timedelta(hours=12)).timestamp()

        def one() -> dict[str, Any]:
            password = script.password or _random(script.password_length)
            script.issued.append((region, password))
            LEDGER.add_password(password, "fake-aws")
            return {"authorizationToken": base64.b64encode(f"AWS:{password}".encode()).decode(), "expiresAt": expires}

        if public:
            return _json({"authorizationData": one()})
        accounts = call.params.get("registryIds") or [self.account]
        data = [one() | {"proxyEndpoint": f"https://{a}.dkr.ecr.{region}.amazonaws.com"} for a in accounts]
        return _json({"authorizationData": data})


def _sts_ok(action: str, result: str) -> Response:
    xml = (
        f'<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><{action}Result>{result}'
        f"</{action}Result><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    )
    return Response(xml, 200, mimetype="text/xml")


def _sts_error(code: str, status: int, message: str) -> Response:
    fault = "Receiver" if status >= 500 else "Sender"
    xml = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<Error><Type>{fault}</Type><Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
    return Response(xml, status, mimetype="text/xml")


def _json(data: object) -> Response:
    return Response(
        json.dumps(data), 200, {"x-amzn-RequestId": str(uuid.uuid4())}, mimetype="application/x-amz-json-1.1"
    )


def _json_error(code: str, status: int, message: str) -> Response:
    body = json.dumps({"__type": code, "message": message})
    return Response(body, status, {"x-amzn-RequestId": str(uuid.uuid4())}, mimetype="application/x-amz-json-1.1")
