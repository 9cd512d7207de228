"""Registry names: every host form Amazon ECR answers to, checked against botocore's partition data.

Input may carry a scheme, port or path and ASCII whitespace around it; everything else must be plain printable
ASCII *as given*, before any case folding: the Kelvin sign lowercases to an ASCII ``k`` and ``str.strip`` drops a
no-break space, so normalising first would log in to a host the user never typed. A refused host names the
offending character by code point. Lookalikes (``…amazonaws.com.evil.example``, PrivateLink ``vpce-…`` names)
and pseudo-regions (``aws-global``) are rejected with a message saying what a registry name looks like.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from collections.abc import Iterable

from ecr_ci.errors import ConfigError
from ecr_ci.models import Registry

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a credential-helper cache hit
if TYPE_CHECKING:
    from typing import Any

PUBLIC_HOSTS = {"public.ecr.aws": "standard", "ecr-public.aws.com": "dualstack"}
PUBLIC_REGION = "us-east-1"

# Dual-stack registry hosts end in these suffixes instead of the partition's dnsSuffix.
DUALSTACK_SUFFIX = {"aws": "on.aws", "aws-us-gov": "on.aws", "aws-cn": "on.amazonwebservices.com.cn"}

_PRIVATE = re.compile(
    r"(?P<account>\d{12})\.(?P<kind>dkr\.ecr|dkr\.ecr-fips|dkr-ecr|dkr-ecr-fips)\.(?P<region>[a-z0-9-]+)\.(?P<suffix>[a-z0-9.-]+)"
)
_EXPECTED = "expected <12-digit account>.dkr.ecr.<region>.amazonaws.com, public.ecr.aws, or a 12-digit account ID"


@functools.lru_cache(maxsize=1)
def partitions() -> list[dict[str, Any]]:
    """botocore's partitions data, read as a file so that parsing names does not import botocore."""
    with open(_partitions_file(), encoding="utf-8") as f:
        found: list[dict[str, Any]] = json.load(f)["partitions"]
    return found


def _partitions_file() -> str:
    """Where botocore's ``data/partitions.json`` is: looked for along ``sys.path`` as the import system would look
    for botocore, because asking ``importlib.util.find_spec`` costs a credential-helper cache hit more than reading
    the file does. An installation the scan cannot see (an import hook, a zip) is left to importlib."""
    for entry in sys.path:
        candidate = os.path.join(entry or os.curdir, "botocore", "data", "partitions.json")
        if os.path.isfile(candidate):
            return candidate
    import importlib.util

    spec = importlib.util.find_spec("botocore")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover - botocore is a dependency
        raise ConfigError("registries: botocore is not installed (pip install boto3)")
    return os.path.join(next(iter(spec.submodule_search_locations)), "data", "partitions.json")


def partition_of(region: str) -> dict[str, Any] | None:
    """The partition a region belongs to: listed regions first, then each partition's region pattern."""
    for p in partitions():
        if region in p.get("regions", {}):
            return p
    for p in partitions():
        if re.match(p["regionRegex"], region):
            return p
    return None


def _region_shaped(region: str) -> bool:
    """``[a-z]{2,4}(-[a-z]+)+-[0-9]+`` in ASCII, without a regex (this runs on a credential-helper cache hit).
    botocore's partition data also lists pseudo-regions (aws-global, aws-cn-global, …) that name an endpoint
    variant, not a place with registries: they have no number at the end."""
    parts = region.split("-")
    return (
        region.isascii()
        and len(parts) >= 3
        and 2 <= len(parts[0]) <= 4
        and all(p.isalpha() and p.islower() for p in parts[:-1])
        and parts[-1].isdigit()
    )


def check_region(region: str, where: str) -> dict[str, Any]:
    """Return the partition of ``region`` or raise a ConfigError naming ``where`` the region came from."""
    if not _region_shaped(region):
        what = "a pseudo-region of botocore's endpoint data, not" if region.endswith("-global") else "not"
        raise ConfigError(
            f"{where}: {ascii(region)} is {what} an AWS region (expected a region such as us-east-1, "
            "cn-north-1 or us-gov-west-1)"
        )
    p = partition_of(region)
    if p is None:
        raise ConfigError(
            f"{where}: {region!r} is not an AWS region (expected a region such as us-east-1, cn-north-1 or "
            "us-gov-west-1)"
        )
    if region not in p.get("regions", {}):
        # Shaped like a region of that partition but not one: almost always a typo, which would otherwise fail
        # only at DNS time, after retries. A region newer than this botocore needs a newer botocore anyway.
        import botocore

        raise ConfigError(
            f"{where}: {region!r} is not a region of partition {p['id']} that botocore {botocore.__version__} "
            "knows (a typo? for a new region, upgrade boto3)"
        )
    return p


ASCII_SPACE = " \t\n\r\v\f"  # what may surround a host; str.strip() would also drop NBSP, U+3000, U+2028, …


def refuse_non_ascii(text: str, where: str, what: str = "a registry host") -> str:
    """``text`` without the ASCII whitespace around it, or a ConfigError naming the first character that is not
    printable ASCII (or is whitespace inside), by code point and name: such characters are invisible or look like
    others, so the message must say which one it is."""
    inner = text.strip(ASCII_SPACE)
    for i, ch in enumerate(inner):
        if ch.isascii() and ch.isprintable() and ch != " ":
            continue
        import unicodedata

        name = unicodedata.name(ch, "") or ("a control character" if ch.isascii() else "an unnamed character")
        raise ConfigError(
            f"{where}: {ascii(text)} contains U+{ord(ch):04X} {name} at position {i + 1}: {what} is plain ASCII "
            "(retype it; it may have been pasted from a document)"
        )
    return inner


def strip_host(text: str) -> str:
    """Lowercase, drop scheme, credentials, path and port: ``https://H:443/v2/x`` → ``h``."""
    s = text.strip(ASCII_SPACE).lower()
    s = re.sub(r"^[a-z][a-z0-9+.-]*://", "", s)
    s = s.split("/", 1)[0].rsplit("@", 1)[-1]
    s = re.sub(r":\d*$", "", s)
    return s.rstrip(".")


def parse(
    text: str,
    region: str | None = None,
    *,
    where: str = "registries",
    region_where: str = "region",
    region_fix: str = "set --region or ECR_CI_REGION",
) -> Registry:
    """Parse one registry name. ``region`` completes a bare account ID; ``where`` names the setting in errors
    (``region_where`` the region's, ``region_fix`` how to set it on the caller's surface)."""
    refuse_non_ascii(text, where)
    host = strip_host(text)
    if not host or not host.isascii():
        raise ConfigError(f"{where}: {text!r} is not an Amazon ECR registry ({_EXPECTED}; non-ASCII is refused)")
    if re.fullmatch(r"\d{12}", host):
        if not region:
            raise ConfigError(f"{where}: {text!r} is a bare account ID and needs a region ({region_fix})")
        p = check_region(region, region_where)
        return Registry(
            host=f"{host}.dkr.ecr.{region}.{p['outputs']['dnsSuffix']}", region=region, partition=p["id"], account=host
        )
    if re.fullmatch(r"\d{1,11}|\d{13,}", host):
        raise ConfigError(f"{where}: {text!r} is not a 12-digit account ID (quote it so leading zeros are kept)")
    if host in PUBLIC_HOSTS:
        return Registry(host=host, region=PUBLIC_REGION, partition="aws", variant=PUBLIC_HOSTS[host], public=True)
    if host.startswith("vpce-") or ".vpce." in host:
        raise ConfigError(
            f"{where}: {text!r} is a PrivateLink endpoint name, not a registry (use {_EXPECTED.split(', ')[0][9:]}; "
            "private DNS routes it through the endpoint)"
        )
    m = _PRIVATE.fullmatch(host)
    if m is None:
        raise ConfigError(f"{where}: {text!r} is not an Amazon ECR registry host ({_EXPECTED})")
    reg, kind, suffix = m["region"], m["kind"], m["suffix"]
    p = check_region(reg, where)
    dualstack = kind.startswith("dkr-ecr")
    expected_suffix = DUALSTACK_SUFFIX.get(p["id"]) if dualstack else p["outputs"]["dnsSuffix"]
    if suffix != expected_suffix:
        raise ConfigError(
            f"{where}: {text!r} is not an Amazon ECR registry host (region {reg} is in partition {p['id']}, whose "
            f"{'dual-stack ' if dualstack else ''}registries end in .{expected_suffix or '(none known)'})"
        )
    variant = ("fips-" if kind.endswith("fips") else "") + ("dualstack" if dualstack else "")
    return Registry(
        host=host, region=reg, partition=p["id"], account=m["account"], variant=variant.rstrip("-") or "standard"
    )


def parse_all(
    names: Iterable[str],
    region: str | None = None,
    *,
    source: str | None = None,
    region_where: str = "region",
    fix: str = "set --registry or ECR_CI_REGISTRIES",
    region_fix: str = "set --region or ECR_CI_REGION",
) -> list[Registry]:
    """Parse and de-duplicate, keeping the order given. ``source`` is the flag, input or variable the names came
    from; ``fix`` and ``region_fix`` say how to set them on the caller's surface (the command line by default)."""
    seen: dict[str, Registry] = {}
    where = f"registries ({source})" if source and source != "registries" else "registries"
    for name in names:
        r = parse(name, region, where=where, region_where=region_where, region_fix=region_fix)
        seen.setdefault(r.host, r)
    if not seen:
        raise ConfigError(f"registries: no registry given ({fix})", code="input.missing", setting="registries")
    return list(seen.values())


def group(registries: Iterable[Registry]) -> dict[tuple[str, str, str, bool], list[Registry]]:
    """Registries by the one GetAuthorizationToken call that serves them: (partition, region, variant, public)."""
    groups: dict[tuple[str, str, str, bool], list[Registry]] = {}
    for r in registries:
        groups.setdefault(r.group, []).append(r)
    return groups
