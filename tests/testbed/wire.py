"""Reading an AWS API request off the wire: which service, action and region it is for.

Two protocols matter here. The JSON protocol (ECR, ECR Public) names the call in the ``X-Amz-Target`` header
(``AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken``); the query protocol (STS, IAM) sends a form body
with ``Action`` and ``Version``. The region comes from the SigV4 credential scope in ``Authorization``
(``Credential=AKID/20250101/eu-west-1/ecr/aws4_request``); an unsigned call, such as botocore's
AssumeRoleWithWebIdentity, carries no region, so it is recorded as ``None``.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

_TARGETS = {"AmazonEC2ContainerRegistry_V20150921": "ecr", "SpencerFrontendService": "ecr-public"}
_VERSIONS = {"2011-06-15": "sts", "2010-05-08": "iam"}
_SCOPE = re.compile(r"Credential=([^/\s,]+)/\d{8}/([^/\s,]+)/([^/\s,]+)/aws4_request")
# Parameters that are secrets: kept out of the record so nothing downstream can print them.
_REDACT = {"WebIdentityToken", "SAMLAssertion"}


@dataclass(frozen=True)
class Call:
    """One API request as seen by an emulator.

    ``params`` are the request parameters (form fields or the JSON body) with ``WebIdentityToken`` replaced by
    ``"<redacted>"``; ``token_claims`` are that token's unverified claims (``None`` without a JWT);
    ``access_key`` is the access key ID from the signature (not a secret), ``None`` if unsigned.
    ``status`` is the HTTP status answered, ``time`` the ``time.time()`` of arrival.
    """

    service: str
    action: str
    region: str | None
    access_key: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    status: int = 0
    time: float = 0.0
    token_claims: dict[str, Any] | None = None


def read_call(headers: Mapping[str, str], body: bytes, query: str = "") -> Call:
    """Describe a request from its ``Authorization`` and ``X-Amz-Target`` headers, raw body and query string."""
    scope = _SCOPE.search(headers.get("Authorization", "") or "")
    access_key, region, scope_service = scope.groups() if scope else (None, None, None)
    target = headers.get("X-Amz-Target", "") or ""
    if target:
        prefix, _, action = target.partition(".")
        service = _TARGETS.get(prefix, scope_service or prefix.lower())
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = {}
        if not isinstance(params, dict):
            params = {}
    else:
        form = dict(parse_qsl(query)) | dict(parse_qsl(body.decode("utf-8", "replace")))
        action = form.pop("Action", "")
        service = _VERSIONS.get(form.get("Version", ""), scope_service or "unknown")
        params = {k: ("<redacted>" if k in _REDACT else v) for k, v in form.items()}
        claims = _claims(form.get("WebIdentityToken", ""))
    return Call(service, action, region, access_key, params, 0, time.time(), claims if target == "" else None)


def _claims(token: str) -> dict[str, Any] | None:
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


class CallLog:
    """Counting over ``self.calls()``; shared by the moto wrapper and the fake."""

    def calls(self) -> list[Call]:
        raise NotImplementedError

    def counts(self, *, by_region: bool = False) -> dict[tuple[str | None, ...], int]:
        """``{(service, action): n}``, or ``{(service, action, region): n}`` with ``by_region=True``."""
        keys = [(c.service, c.action, c.region) if by_region else (c.service, c.action) for c in self.calls()]
        return dict(Counter(keys))

    def count(self, service: str, action: str, region: str | None = None) -> int:
        """How many ``service``/``action`` calls arrived, counting only ``region`` if given."""
        return sum(1 for c in self.calls() if (c.service, c.action) == (service, action) and region in (None, c.region))
