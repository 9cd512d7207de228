"""The network settings of the environment mapping the core is given: proxies and their exceptions.

The core reads proxies (``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``, either case), endpoint overrides
(``AWS_ENDPOINT_URL*``) and the CA bundle (``AWS_CA_BUNDLE``) from the ``env`` mapping its caller hands it, never
from ``os.environ``: the token endpoint, STS and botocore's ECR clients all follow the same mapping, and the token
cache is keyed on the same endpoints the tokens were fetched from.
"""

from __future__ import annotations

import base64
import ssl
import urllib.parse
import urllib.request
from collections.abc import Mapping


def _get(env: Mapping[str, str], name: str) -> str:
    return env.get(name.lower()) or env.get(name.upper()) or ""


def proxies(url: str, env: Mapping[str, str]) -> dict[str, str]:
    """``{scheme: proxy URL}`` for a request to ``url``: empty when no proxy is set or ``NO_PROXY`` exempts the host."""
    found = {s: p for s in ("http", "https") if (p := _get(env, f"{s}_proxy"))}
    if not found:
        return {}
    host = urllib.parse.urlsplit(url).hostname or ""
    no_proxy = _get(env, "no_proxy")
    if no_proxy and urllib.request.proxy_bypass_environment(host, {"no": no_proxy}):  # type: ignore[attr-defined]
        return {}
    return found


def open_url(
    request: urllib.request.Request, env: Mapping[str, str], timeout: float, context: ssl.SSLContext | None = None
) -> object:
    """``urlopen`` with the mapping's proxies instead of the process environment's."""
    handlers: list[urllib.request.BaseHandler] = [_MappingProxyHandler(proxies(request.full_url, env))]
    if context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=context))
    return urllib.request.build_opener(*handlers).open(request, timeout=timeout)


def endpoint_url(service: str, env: Mapping[str, str]) -> str | None:
    """The endpoint override for ``service`` (``AWS_ENDPOINT_URL_<SERVICE>``, else ``AWS_ENDPOINT_URL``), as botocore
    reads them, or ``None``."""
    if env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return None
    specific = "AWS_ENDPOINT_URL_" + service.upper().replace("-", "_")
    return env.get(specific) or env.get("AWS_ENDPOINT_URL") or None


class _MappingProxyHandler(urllib.request.ProxyHandler):
    """urllib's ProxyHandler without its second look at ``NO_PROXY`` in ``os.environ``: :func:`proxies` has already
    applied the mapping's ``NO_PROXY``. Otherwise the same (Basic proxy credentials, a CONNECT tunnel for https)."""

    def proxy_open(self, req: urllib.request.Request, proxy: str, type: str) -> None:
        parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"{type}://{proxy}")
        if parts.username and parts.password:
            pair = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password)}"
            req.add_header("Proxy-authorization", "Basic " + base64.b64encode(pair.encode()).decode("ascii"))
        hostport = parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname else proxy
        req.set_proxy(hostport, parts.scheme)
        return None  # the http/https handlers go on (through a CONNECT tunnel for https)
