"""sts:AssumeRoleWithWebIdentity over plain HTTPS, without botocore.

The call is unsigned and its query protocol has not changed since 2011, so it needs no SDK: a form POST to the
regional endpoint and a small XML answer. Doing it without botocore lets the whole identity exchange (token request
and STS) run on a thread while the main thread imports botocore for the ECR call — the two biggest start-up costs
of a login overlap instead of adding up. Endpoint overrides follow the SDKs: ``AWS_ENDPOINT_URL_STS``, then
``AWS_ENDPOINT_URL`` (unless ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true``); proxies come from ``HTTPS_PROXY`` /
``NO_PROXY`` and a CA bundle from ``AWS_CA_BUNDLE``, as botocore would take them.
"""

from __future__ import annotations

import ssl
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from ecr_ci import __version__
from ecr_ci.core import registries
from ecr_ci.models import Credentials

NS = {"sts": "https://sts.amazonaws.com/doc/2011-06-15/"}


class StsError(Exception):
    """An error answer from STS, shaped like botocore's ClientError (``response["Error"]["Code"]``) so the
    same retry classification applies; or a connection failure (``status`` 0)."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
        self.connection = status == 0


def endpoint(region: str, env: Mapping[str, str]) -> str:
    """The STS endpoint botocore would use for ``region`` (regional endpoints), honouring the override variables."""
    from ecr_ci.core.net import endpoint_url

    override = endpoint_url("sts", env)
    if override:
        return override.rstrip("/") + "/"
    partition = registries.check_region(region, "region")
    return f"https://sts.{region}.{partition['outputs']['dnsSuffix']}/"


def _context(env: Mapping[str, str]) -> ssl.SSLContext | None:
    """The TLS context for ``AWS_CA_BUNDLE``; a bundle that cannot be loaded is bad input, not a network error."""
    bundle = env.get("AWS_CA_BUNDLE")
    if not bundle:
        return None
    try:
        return ssl.create_default_context(cafile=bundle)
    except (OSError, ssl.SSLError) as e:
        from ecr_ci.errors import ConfigError

        raise ConfigError(
            f"AWS_CA_BUNDLE: {bundle} cannot be loaded as CA certificates ({e.__class__.__name__})"
        ) from None


def assume_role_with_web_identity(
    token: str,
    *,
    role_arn: str,
    session_name: str,
    duration: int,
    region: str,
    env: Mapping[str, str],
    policy: str | None = None,
    policy_arns: Iterable[str] = (),
    timeout: float = 30,
) -> Credentials:
    """One attempt; raises :class:`StsError` (retry decisions belong to the caller)."""
    form: dict[str, str] = {
        "Action": "AssumeRoleWithWebIdentity",
        "Version": "2011-06-15",
        "RoleArn": role_arn,
        "RoleSessionName": session_name,
        "WebIdentityToken": token,
        "DurationSeconds": str(duration),
    }
    if policy:
        form["Policy"] = policy
    for i, arn in enumerate(policy_arns, 1):
        form[f"PolicyArns.member.{i}.arn"] = arn
    context = _context(env)
    request = urllib.request.Request(
        endpoint(region, env),
        data=urllib.parse.urlencode(form).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "User-Agent": f"ecr-ci/{__version__}",
        },
        method="POST",
    )
    try:
        from ecr_ci.core.net import open_url

        with open_url(request, env, timeout, context) as response:  # type: ignore[attr-defined]
            body = response.read()
    except urllib.error.HTTPError as e:
        code, message = _error(e.read())
        raise StsError(code or f"HTTP{e.code}", message or str(e.reason), e.code) from None
    except (urllib.error.URLError, OSError) as e:
        raise StsError("", f"cannot reach STS ({getattr(e, 'reason', e)})", 0) from None
    return _credentials(body)


def _error(body: bytes) -> tuple[str, str]:
    try:
        root = ET.fromstring(body)  # noqa: S314 - the answer of the configured STS endpoint
    except ET.ParseError:
        return "", ""
    error = root.find(".//{*}Error")
    if error is None:
        return "", ""
    return (error.findtext("{*}Code") or "").strip(), (error.findtext("{*}Message") or "").strip()


def _credentials(body: bytes) -> Credentials:
    try:
        root = ET.fromstring(body)  # noqa: S314
        result = root.find("sts:AssumeRoleWithWebIdentityResult", NS)
        c = result.find("sts:Credentials", NS) if result is not None else None
        if result is None or c is None:
            raise ValueError("no Credentials element")
        user = result.find("sts:AssumedRoleUser", NS)
        return Credentials(
            access_key_id=_text(c, "AccessKeyId"),
            secret_access_key=_text(c, "SecretAccessKey"),
            session_token=_text(c, "SessionToken"),
            expiration=_time(_text(c, "Expiration")),
            role_arn=user.findtext("sts:Arn", None, NS) if user is not None else None,
            assumed_role_id=user.findtext("sts:AssumedRoleId", None, NS) if user is not None else None,
        )
    except (ET.ParseError, ValueError) as e:
        raise StsError("MalformedResponse", f"STS answered something that is not credentials ({e})", 500) from None


def _text(parent: Any, name: str) -> str:
    value = parent.findtext(f"sts:{name}", None, NS)
    if not value:
        raise ValueError(f"no {name}")
    return str(value).strip()


def _time(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
