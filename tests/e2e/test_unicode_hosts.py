"""Unicode in registry hosts and regions: a host is ASCII after at most stripping ASCII whitespace, or refused.

Refused: compatibility characters (the Kelvin sign lowercases to an ASCII ``k``), lookalike digits and letters,
non-ASCII whitespace (no-break space, ideographic space, line and paragraph separators, next line), invisible
characters (zero-width space, soft hyphen, byte-order mark), ASCII control characters, and ASCII whitespace inside
the host; each leading, trailing or inside, from the flag and from the environment, for every command that takes
registries. Pseudo-regions (``aws-global`` and its siblings in botocore's partition data) are refused as regions.
Accepted: ASCII whitespace around a host, upper case, a scheme, port and path; the config key is the bare host.
"""

from __future__ import annotations

import json
import os
import unicodedata
from pathlib import Path

import pytest

from tests.e2e.hostile import ACCOUNT, HOST, ROLE, assert_one_line, cli, github_env, no_network, snapshot

NON_ASCII = {
    "kelvin-sign": "\u212a",
    "angstrom-sign": "\u212b",
    "long-s": "\u017f",
    "dotted-capital-i": "\u0130",
    "dotless-i": "\u0131",
    "fullwidth-d": "\uff44",
    "fullwidth-one": "\uff11",
    "arabic-indic-one": "\u0661",
    "superscript-one": "\u00b9",
    "combining-dot": "\u0307",
    "fullwidth-full-stop": "\uff0e",
    "ideographic-full-stop": "\u3002",
    "zero-width-space": "\u200b",
    "soft-hyphen": "\u00ad",
    "byte-order-mark": "\ufeff",
    "no-break-space": "\u00a0",
    "narrow-no-break-space": "\u202f",
    "ideographic-space": "\u3000",
    "en-quad": "\u2000",
    "ogham-space": "\u1680",
    "line-separator": "\u2028",
    "paragraph-separator": "\u2029",
    "next-line": "\u0085",
}
CONTROL = {"nul": "\x00", "start-of-heading": "\x01", "escape": "\x1b", "delete": "\x7f",
           "file-separator": "\x1c", "unit-separator": "\x1f", "backspace": "\x08"}  # fmt: skip
ASCII_SPACE = {"space": " ", "tab": "\t", "carriage-return": "\r", "vertical-tab": "\v", "form-feed": "\f"}


def _placed(char: str, where: str) -> str:
    if where == "leading":
        return char + HOST
    if where == "trailing":
        return HOST + char
    if char == "\u212a":  # the lookalike: d<KELVIN>r for dkr
        return HOST.replace(".dkr.", ".d\u212ar.")
    return HOST.replace(".dkr.", ".dkr" + char + ".")


def _codepoint(char: str) -> str:
    return f"U+{ord(char):04X}"


REFUSED = [
    pytest.param(char, where, id=f"{name}-{where}")
    for name, char in (NON_ASCII | CONTROL).items()
    for where in ("leading", "trailing", "inside")
] + [pytest.param(char, "inside", id=f"ascii-{name}-inside") for name, char in ASCII_SPACE.items()]


def _refused_login(text: str, source: str, clean_env: Path, oidc_issuer, moto_server) -> str:
    env = github_env(oidc_issuer)
    args = ["login", "--role-arn", ROLE]
    if source == "flag":
        args += ["--registry", text]
    else:
        env["ECR_CI_REGISTRIES"] = text
    before = snapshot(clean_env)
    moto_server.reset()
    outcome = cli(*args, env=env)
    line = assert_one_line(outcome, 2)
    no_network(moto_server, oidc_issuer)
    assert snapshot(clean_env) == before
    return line


@pytest.mark.parametrize("source", ["flag", "env"])
@pytest.mark.parametrize(("char", "where"), REFUSED)
def test_login_refuses_a_host_that_is_not_plain_ascii(char, where, source, clean_env, oidc_issuer, moto_server):
    text = _placed(char, where)
    if source == "env" and char == "\n":
        pytest.skip("a newline separates registries in ECR_CI_REGISTRIES")
    line = _refused_login(text, source, clean_env, oidc_issuer, moto_server)
    assert _codepoint(char) in line, line  # the invisible culprit, named
    assert ("--registry" if source == "flag" else "ECR_CI_REGISTRIES") in line, line


@pytest.mark.parametrize(("char", "where"), REFUSED)
def test_configure_helper_and_logout_refuse_it_too(char, where, clean_env):
    text = _placed(char, where)
    before = snapshot(clean_env)
    for command in ("configure-helper", "logout"):
        line = assert_one_line(cli(command, "--registry", text, env=dict(os.environ)), 2)
        assert _codepoint(char) in line, line
    assert snapshot(clean_env) == before


@pytest.mark.parametrize(("char", "where"), REFUSED)
def test_the_credential_helper_treats_it_as_no_ecr_registry(char, where, clean_env, oidc_issuer, moto_server):
    """Docker asks the helper for every registry: a non-ASCII host is "not found" (anonymous), never a login."""
    env = github_env(oidc_issuer, {"ECR_CI_ROLE_ARN": ROLE})
    moto_server.reset()
    outcome = cli("get", env=env, stdin=_placed(char, where), process=True, module="ecr_ci.credhelper")
    assert outcome.code == 1
    assert outcome.out.strip() == "credentials not found in native keychain"
    assert "Traceback" not in outcome.err
    no_network(moto_server, oidc_issuer)


ACCEPTED = [pytest.param(f"{c}{HOST}{c}", id=f"around-{n}") for n, c in ASCII_SPACE.items()] + [
    pytest.param(f" \t{HOST}\r\n", id="mixed-ascii-space"),
    pytest.param(HOST.upper(), id="upper-case"),
    pytest.param(f"https://{HOST}:443/v2/team/app", id="scheme-port-path"),
    pytest.param(f"{HOST}.", id="trailing-dot"),
]


@pytest.mark.parametrize("source", ["flag", "env"])
@pytest.mark.parametrize("text", ACCEPTED)
def test_ascii_whitespace_case_scheme_and_port_are_accepted_and_written_bare(
    text, source, clean_env, oidc_issuer, moto_server
):
    env = github_env(oidc_issuer)
    args = ["login", "--role-arn", ROLE, "--no-cache"]
    if source == "flag":
        args += ["--registry", text]
    else:
        env["ECR_CI_REGISTRIES"] = text
    outcome = cli(*args, env=env)
    assert outcome.code == 0, outcome.err
    config = json.loads((Path(os.environ["DOCKER_CONFIG"]) / "config.json").read_text())
    assert list(config["auths"]) == [HOST]


def _pseudo_regions() -> list[tuple[str, str]]:
    from ecr_ci.core import registries

    found = []
    for p in registries.partitions():
        for region in p.get("regions", {}):
            if not region[-1].isdigit():
                found.append((region, p["outputs"]["dnsSuffix"]))
    return found


PSEUDO = _pseudo_regions()


def test_botocore_still_lists_pseudo_regions():
    """Otherwise the tests below would test nothing."""
    assert ("aws-global", "amazonaws.com") in PSEUDO and len(PSEUDO) >= 5


@pytest.mark.parametrize(("region", "suffix"), PSEUDO, ids=[r for r, _ in PSEUDO])
def test_a_pseudo_region_is_refused_in_a_host(region, suffix, clean_env, oidc_issuer, moto_server):
    line = _refused_login(f"{ACCOUNT}.dkr.ecr.{region}.{suffix}", "flag", clean_env, oidc_issuer, moto_server)
    assert region in line


@pytest.mark.parametrize("source", ["--region", "ECR_CI_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"])
@pytest.mark.parametrize("region", [r for r, _ in PSEUDO] + ["us-east-\u0661", "us-\uff45ast-1", "us-east-1\u00a0"])
def test_a_pseudo_or_unicode_region_is_refused_as_a_region(region, source, clean_env, oidc_issuer, moto_server):
    env = github_env(oidc_issuer)
    args = ["login", "--registry", ACCOUNT, "--role-arn", ROLE]
    if source == "--region":
        args += ["--region", region]
    else:
        env[source] = region
    before = snapshot(clean_env)
    moto_server.reset()
    line = assert_one_line(cli(*args, env=env), 2, source)
    assert ascii(region).strip("'") in line or region in line, line
    no_network(moto_server, oidc_issuer)
    assert snapshot(clean_env) == before


def test_every_refused_character_is_really_not_ascii_or_a_control():
    """The table above is what it claims: no ASCII letter, digit or punctuation hides in it."""
    for char in NON_ASCII.values():
        assert not char.isascii(), unicodedata.name(char)
    for char in CONTROL.values():
        assert char.isascii() and not char.isprintable()
