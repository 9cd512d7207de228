"""Fuzzing the two inputs that name things on the wire: registry hosts and role ARNs (hypothesis).

Hosts: every accepted host is ASCII and round-trips to the key written (the key is the input with only ASCII
whitespace around it dropped, lowercased in ASCII, scheme, credentials, port and path removed, and giving the key
back yields the same key); every refused one exits 2 with one line and writes nothing. ``configure-helper`` writes
the key without any network call, so it can take many examples; ``login`` takes fewer, against moto.

Role ARNs: every accepted ARN is ASCII and is exactly what reached STS; every refused one exits 2 with one line and
asks nothing of the network.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from tests.e2e.hostile import ACCOUNT, ROLE, assert_one_line, cli, github_env

ASCII_SPACE = " \t\n\r\v\f"
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "300")),
    deadline=None,  # never a timing threshold in a test
    database=None,  # no .hypothesis directory in the checkout
    derandomize=True,  # the same examples in every run: a failure reproduces
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

SEEDS = [
    f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com",
    f"{ACCOUNT}.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
    f"{ACCOUNT}.dkr-ecr.eu-west-1.on.aws",
    f"{ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn",
    "public.ecr.aws",
    "ecr-public.aws.com",
]
# Characters worth trying: ASCII, the lookalikes and spaces that slipped through before, and anything at all.
INTERESTING = st.sampled_from(list("\u212a\u017f\u0130\u00a0\u3000\u2028\u2029\u0085\u200b\ufeff\x00\x1c\x7f:/@.-_ "))
CHAR = st.one_of(st.characters(codec="ascii"), INTERESTING, st.characters())


@st.composite
def hosts(draw: st.DrawFn, max_mutations: int = 3, seeds: tuple[str, ...] = tuple(SEEDS)) -> str:
    text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(0, max_mutations))):
        i = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "replace", "delete", "upper"]))
        if action == "insert":
            text = text[:i] + draw(CHAR) + text[i:]
        elif action == "replace" and i < len(text):
            text = text[:i] + draw(CHAR) + text[i + 1 :]
        elif action == "delete" and i < len(text):
            text = text[:i] + text[i + 1 :]
        elif action == "upper":
            text = text[:i] + text[i:].upper()
    if draw(st.booleans()):
        text = draw(st.sampled_from(["", "https://", "http://", "oci://", "AWS@"])) + text
        text += draw(st.sampled_from(["", ":443", ":5000", "/v2/", "/team/app:1"]))
    pad = st.text(alphabet=ASCII_SPACE, max_size=2)
    return draw(pad) + text + draw(pad)


def _ascii_lower(text: str) -> str:
    return text.translate({c: c + 32 for c in range(ord("A"), ord("Z") + 1)})


def _configure(text: str, root: Path) -> tuple[object, list[str]]:
    docker = Path(tempfile.mkdtemp(dir=root))
    env = dict(os.environ) | {"DOCKER_CONFIG": str(docker)}
    outcome = cli("configure-helper", "--registry", text, env=env)
    config = docker / "config.json"
    keys = list(json.loads(config.read_text())["credHelpers"]) if config.exists() else []
    return outcome, keys


@FUZZ
@given(text=hosts())
@example(text=f"{ACCOUNT}.d\u212ar.ecr.us-east-1.amazonaws.com")
@example(text=f"\u00a0{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com")
@example(text=f"{ACCOUNT}.dkr.ecr.aws-global.amazonaws.com")
def test_fuzz_hosts_accepted_are_ascii_and_round_trip_refused_are_one_line(text, tmp_path):
    outcome, keys = _configure(text, tmp_path)
    event("accepted" if outcome.code == 0 else "refused")
    if outcome.code == 0:
        assert len(keys) == 1, (text, keys)
        key = keys[0]
        assert key.isascii() and key == key.strip() and key == _ascii_lower(key), (text, key)
        inner = text.strip(ASCII_SPACE)
        assert inner.isascii(), f"accepted non-ASCII input {text!r}"
        assert key in _ascii_lower(inner).rstrip("."), (text, key)
        again, keys_again = _configure(key, tmp_path)
        assert again.code == 0 and keys_again == [key], (key, again.err)
    else:
        assert_one_line(outcome, 2)
        assert keys == [], f"refused {text!r} but wrote {keys}"


@settings(parent=FUZZ, max_examples=int(os.environ.get("FUZZ_LOGINS", "60")))
@given(text=hosts(max_mutations=1, seeds=tuple(s for s in SEEDS if "public" not in s)))  # moto has no ECR Public
def test_fuzz_hosts_through_a_real_login(text, tmp_path, oidc_issuer, moto_server):
    docker = Path(tempfile.mkdtemp(dir=tmp_path))
    env = github_env(oidc_issuer, {"DOCKER_CONFIG": str(docker)})
    before = len(moto_server.calls())
    role = ROLE_FOR.get(_partition(text), ROLE)
    outcome = cli("login", "--registry", text, "--role-arn", role, "--no-cache", "--deadline", "10", env=env)
    config = docker / "config.json"
    event("accepted" if outcome.code == 0 else "refused")
    if outcome.code == 0:
        keys = list(json.loads(config.read_text())["auths"])
        assert len(keys) == 1 and keys[0].isascii(), (text, keys)
        assert keys[0] in _ascii_lower(text.strip(ASCII_SPACE)), (text, keys)
    else:
        assert_one_line(outcome, 2)
        assert not config.exists()
        assert len(moto_server.calls()) == before, f"refused {text!r} after calling AWS"


ARABIC_INDIC_ACCOUNT = "\u0661" * 12  # twelve Unicode digits: a Python \d matches them, IAM does not
ROLE_FOR = {"aws-cn": f"arn:aws-cn:iam::{ACCOUNT}:role/ci-push", "aws-us-gov": f"arn:aws-us-gov:iam::{ACCOUNT}:role/ci"}


def _partition(text: str) -> str:
    return "aws-cn" if ".cn" in text else "aws-us-gov" if "us-gov" in text else "aws"


VALID_NAME = st.text(alphabet="abcXYZ019_+=,.@-/", min_size=1, max_size=20)


@st.composite
def role_arns(draw: st.DrawFn) -> str:
    """Mostly valid ARNs, each with at most a couple of changes: a partition, account, kind or character that IAM
    does not accept, or whitespace around it."""
    partition, account, kind, name = "aws", ACCOUNT, "role", draw(VALID_NAME)
    for _ in range(draw(st.integers(0, 2))):
        part = draw(st.sampled_from(["partition", "account", "kind", "name", "name"]))
        if part == "partition":
            partition = draw(st.sampled_from(["aws-cn", "aws-us-gov", "aws-x", "AWS", "", "aws\u00a0"]))
        elif part == "account":
            unicode_digits = st.text(alphabet=st.characters(categories=["Nd"]), min_size=12, max_size=12)
            account = draw(st.one_of(unicode_digits, st.text(alphabet="0123456789", max_size=13)))
        elif part == "kind":
            kind = draw(st.sampled_from(["user", "Role", "role\u200b", "assumed-role"]))
        else:
            i = draw(st.integers(0, len(name)))
            name = name[:i] + draw(CHAR) + name[i:]
    arn = f"arn:{partition}:iam::{account}:{kind}/{name}"
    if draw(st.booleans()):
        arn = draw(st.sampled_from(["", " ", "\t", "\u00a0", "\u3000"])) + arn
        arn += draw(st.sampled_from(["", "\n", " ", "\u2028"]))
    return arn


def _registry_for(arn: str) -> str:
    if arn.startswith("arn:aws-cn:"):
        return f"{ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn"
    if arn.startswith("arn:aws-us-gov:"):
        return f"{ACCOUNT}.dkr.ecr.us-gov-west-1.amazonaws.com"
    return f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"


@settings(parent=FUZZ, max_examples=int(os.environ.get("FUZZ_LOGINS", "60")))
@given(arn=role_arns())
@example(arn=f"arn:aws:iam::{ACCOUNT}:role/\u212aelvin")
@example(arn=f"arn:aws:iam::{ARABIC_INDIC_ACCOUNT}:role/x")
@example(arn=f"\u00a0arn:aws:iam::{ACCOUNT}:role/ci")
def test_fuzz_role_arns_accepted_reach_sts_verbatim_refused_are_one_line(arn, tmp_path, oidc_issuer, moto_server):
    docker = Path(tempfile.mkdtemp(dir=tmp_path))
    env = github_env(oidc_issuer, {"DOCKER_CONFIG": str(docker)})
    before = len(moto_server.calls())
    outcome = cli("login", "--registry", _registry_for(arn), "--role-arn", arn, "--no-cache", env=env)
    calls = moto_server.calls()[before:]
    event("accepted" if outcome.code == 0 else "refused")
    if outcome.code == 0:
        sent = [c.params.get("RoleArn") for c in calls if c.action == "AssumeRoleWithWebIdentity"]
        assert sent == [arn.strip(ASCII_SPACE)], (arn, sent)
        assert sent[0].isascii()
    else:
        line = assert_one_line(outcome, 2)
        assert "role-arn" in line.replace("_", "-"), line
        assert calls == [], f"refused {arn!r} after calling AWS"
