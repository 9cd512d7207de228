"""Special and pathological files where ecr-ci reads or writes credentials: one clear line, exit 2, nothing touched.

Every file a command would read or replace (the docker config, ecr-ci's record of what it wrote beside it, the
podman auth file, helm's registry config, the lock file) is made, in turn, into each hostile thing: a FIFO
(reading it blocks forever), a directory, a link to an endless device, a device node, a socket, a file past the
size cap, JSON nested past any sane depth, JSON with the non-standard ``NaN``/``Infinity`` literals or a duplicated
key, bytes that are not UTF-8, truncated JSON, JSON of the wrong shape. For every combination the command must exit
2 with exactly one line naming the path, ask nothing of the network (so every check happens before the first
call), and leave every file under HOME byte-identical (no lock file, no temporary file, no cache). The cases that
could hang or exhaust memory run as real processes under a hang guard; the others run in-process, faster.
"""

from __future__ import annotations

import json
import os
import socket
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.hostile import HOST, ROLE, assert_one_line, cli, github_env, no_network, snapshot

MiB = 1 << 20


def _fifo(p: Path) -> None:
    os.mkfifo(p, 0o600)


def _directory(p: Path) -> None:
    p.mkdir()


def _endless(p: Path) -> None:
    p.symlink_to("/dev/zero")


def _random(p: Path) -> None:
    p.symlink_to("/dev/urandom")


def _device_node(p: Path) -> None:
    # Our own node for /dev/null (1, 3): were it ever written through, only this copy would be replaced.
    os.mknod(p, stat.S_IFCHR | 0o600, os.makedev(1, 3))


def _socket(p: Path) -> None:
    here = os.getcwd()
    os.chdir(p.parent)  # a unix socket's path is limited to ~108 bytes: bind the bare name
    try:
        s = socket.socket(socket.AF_UNIX)
        s.bind(p.name)
        s.close()
    finally:
        os.chdir(here)


def _oversize(p: Path) -> None:
    p.write_text(json.dumps({"auths": {}, "padding": "x" * (5 * MiB)}))


def _deep(depth: int) -> Callable[[Path], None]:
    def make(p: Path) -> None:
        p.write_text('{"auths": {}, "x": ' + "[" * depth + "]" * depth + "}")

    return make


def _literal(word: str) -> Callable[[Path], None]:
    def make(p: Path) -> None:
        p.write_text('{"auths": {}, "x": ' + word + "}")

    return make


def _duplicate_key(p: Path) -> None:
    p.write_text('{"auths": {"a.example": {"auth": "eDp5"}}, "auths": {}}')


def _not_utf8(p: Path) -> None:
    p.write_bytes(b'{"auths": {}, "x": "\xff\xfe"}')


def _truncated(p: Path) -> None:
    p.write_text('{"auths": {"ghcr.io": {"auth": "Z2g6eA=="}')


def _wrong_shape(p: Path) -> None:
    p.write_text('[{"auths": {}}]')


# kind -> (maker, run as a real process?)
KINDS: dict[str, tuple[Callable[[Path], None], bool]] = {
    "fifo": (_fifo, True),
    "directory": (_directory, False),
    "endless-device": (_endless, True),
    "random-device": (_random, True),
    "device-node": (_device_node, False),
    "socket": (_socket, False),
    "oversize": (_oversize, False),
    "nested-100000": (_deep(100_000), True),
    "nested-2000": (_deep(2000), False),
    "NaN": (_literal("NaN"), False),
    "Infinity": (_literal("Infinity"), False),
    "-Infinity": (_literal("-Infinity"), False),
    "duplicate-key": (_duplicate_key, False),
    "not-utf8": (_not_utf8, False),
    "truncated": (_truncated, False),
    "wrong-shape": (_wrong_shape, False),
}
# The lock file is never read: only what is not a plain file matters there.
LOCK_KINDS = ["fifo", "directory", "endless-device", "device-node", "socket"]


def _places(home: Path) -> dict[str, Path]:
    docker = Path(os.environ["DOCKER_CONFIG"])
    return {
        "docker-config": docker / "config.json",
        "state-record": docker / ".config.json.ecr-ci",
        "lock-file": docker / "config.json.lock",
        "podman-auth": home / "podman" / "auth.json",
        "helm-config": home / "helm" / "registry.json",
    }


# command -> (argv, places it must refuse)
COMMANDS: dict[str, tuple[list[str], list[str]]] = {
    "login": (
        ["login", "--registry", HOST, "--role-arn", ROLE, "--write", "docker,podman,helm"],
        ["docker-config", "state-record", "lock-file", "podman-auth", "helm-config"],
    ),
    "logout": (
        ["logout", "--write", "docker,podman,helm"],
        ["docker-config", "state-record", "lock-file", "podman-auth", "helm-config"],
    ),
    "configure-helper": (["configure-helper", "--registry", HOST], ["docker-config", "lock-file"]),
}

CASES = [
    pytest.param(command, place, kind, id=f"{command}-{place}-{kind}")
    for command, (_, places) in COMMANDS.items()
    for place in places
    for kind in (LOCK_KINDS if place == "lock-file" else KINDS)
]


@pytest.mark.parametrize(("command", "place", "kind"), CASES)
def test_hostile_file_is_one_line_exit_2_and_nothing_touched(
    command, place, kind, clean_env, oidc_issuer, moto_server, monkeypatch
):
    home = clean_env
    places = _places(home)
    places["podman-auth"].parent.mkdir(exist_ok=True)
    places["helm-config"].parent.mkdir(exist_ok=True)
    # Every other file the command touches is a valid one, with content that must survive byte for byte.
    places["docker-config"].write_text(json.dumps({"auths": {"ghcr.io": {"auth": "Z2g6eA=="}}, "psFormat": "t"}))
    places["podman-auth"].write_text(json.dumps({"auths": {"quay.io": {"auth": "cTp4"}}}))
    places["helm-config"].write_text(json.dumps({"auths": {"registry.example": {"auth": "aDp4"}}}))
    target = places[place]
    if target.exists():
        target.unlink()
    maker, as_process = KINDS[kind]
    if kind == "device-node" and os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    maker(target)
    env = github_env(
        oidc_issuer,
        {"REGISTRY_AUTH_FILE": str(places["podman-auth"]), "HELM_REGISTRY_CONFIG": str(places["helm-config"])},
    )
    before = snapshot(home)
    moto_server.reset()

    args, _ = COMMANDS[command]
    outcome = cli(*args, env=env, process=as_process, hang=30)

    assert_one_line(outcome, 2, str(target))
    no_network(moto_server, oidc_issuer)
    assert snapshot(home) == before


def test_the_size_cap_leaves_room_for_any_real_config(clean_env, oidc_issuer, moto_server):
    """The cap refuses the absurd, not the large: a config with 2000 other registries still logs in."""
    cfg = Path(os.environ["DOCKER_CONFIG"]) / "config.json"
    others = {f"{n:012d}.dkr.ecr.eu-west-1.amazonaws.com": {"auth": "QVdTOng=" * 20} for n in range(2000)}
    cfg.write_text(json.dumps({"auths": others}, indent="\t"))
    outcome = cli("login", "--registry", HOST, "--role-arn", ROLE, "--no-cache", env=github_env(oidc_issuer))
    assert outcome.code == 0, outcome.err
    written = json.loads(cfg.read_text())["auths"]
    assert set(written) == set(others) | {HOST}


def test_what_is_written_is_strict_json(clean_env, oidc_issuer, moto_server):
    """The docker config and the state record parse under a parser that refuses NaN, Infinity and duplicates."""
    cfg = Path(os.environ["DOCKER_CONFIG"]) / "config.json"
    cfg.write_text(json.dumps({"auths": {}, "big": 1e308, "tiny": -0.0, "text": "caf\u00e9 \u2028"}))
    outcome = cli("login", "--registry", HOST, "--role-arn", ROLE, "--no-cache", env=github_env(oidc_issuer))
    assert outcome.code == 0, outcome.err

    def refuse(word: str) -> None:
        raise AssertionError(f"non-standard literal {word} written")

    def unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), f"duplicate keys {keys}"
        return dict(pairs)

    for path in (cfg, cfg.with_name(".config.json.ecr-ci")):
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse, object_pairs_hook=unique)
        assert isinstance(data, dict)
    kept = json.loads(cfg.read_text())
    assert kept["big"] == 1e308 and kept["text"] == "caf\u00e9 \u2028"


# --- the other files ecr-ci reads: the identity token file, the GitHub event file, a trust policy file ----------

TOKEN_KINDS = ["fifo", "directory", "endless-device", "random-device", "socket", "oversize"]


@pytest.mark.parametrize("kind", TOKEN_KINDS)
def test_hostile_token_file_is_one_line_and_no_network(kind, clean_env, moto_server, oidc_issuer):
    path = clean_env / "token"
    maker, _ = KINDS[kind]
    maker(path)
    env = dict(os.environ)
    before = snapshot(clean_env)
    outcome = cli(
        "login", "--registry", HOST, "--role-arn", ROLE, "--oidc", "file", "--token-file", str(path),
        env=env, process=True, hang=30,
    )  # fmt: skip
    assert_one_line(outcome, 1, str(path))
    no_network(moto_server, oidc_issuer)
    assert snapshot(clean_env) == before


@pytest.mark.parametrize("kind", ["fifo", "endless-device", "random-device", "directory", "nested-100000"])
def test_hostile_github_event_file_does_not_hang_a_failed_login(kind, clean_env, moto_server, oidc_issuer):
    """The event file is read only to explain a refused token request (fork pull requests): it must not hang
    or crash that explanation."""
    path = clean_env / "event.json"
    KINDS[kind][0](path)
    env = github_env(oidc_issuer, {"GITHUB_EVENT_PATH": str(path), "GITHUB_EVENT_NAME": "pull_request"})
    del env["ACTIONS_ID_TOKEN_REQUEST_URL"]  # no `id-token: write`: the failure the event file would explain
    outcome = cli("login", "--registry", HOST, "--role-arn", ROLE, env=env, process=True, hang=30)
    assert outcome.code == 1, outcome.err
    assert "Traceback" not in outcome.err and "unexpected" not in outcome.err
    assert "id-token" in outcome.err


@pytest.mark.parametrize("kind", ["fifo", "directory", "endless-device", "socket", "oversize", "nested-100000", "NaN"])
def test_hostile_trust_policy_file_is_one_line_exit_2(kind, clean_env, moto_server, oidc_issuer):
    path = clean_env / "policy.json"
    KINDS[kind][0](path)
    outcome = cli("doctor", "--trust-policy", str(path), env=dict(os.environ), process=True, hang=30)
    assert_one_line(outcome, 2, str(path))


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["-m", "ecr_ci.credhelper", "get"], 1),
        (["-m", "ecr_ci.credhelper", "erase"], 1),
        (["-m", "ecr_ci.credhelper", "store"], 1),
        (["-m", "ecr_ci", "doctor", "--trust-policy", "-"], 2),
    ],
    ids=["credhelper-get", "credhelper-erase", "credhelper-store", "doctor-trust-policy-stdin"],
)
def test_an_endless_stdin_is_refused_not_read(args, code, clean_env):
    """What docker pipes to the helper, or a policy piped to doctor, is capped: /dev/zero on stdin is one line."""
    import subprocess
    import sys

    with open("/dev/zero", "rb") as endless:
        done = subprocess.run(
            [sys.executable, *args], stdin=endless, capture_output=True, text=True, timeout=60, env=dict(os.environ)
        )
    assert done.returncode == code, done.stderr[-500:]
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "larger than" in lines[0] and "Traceback" not in done.stderr, done.stderr[-500:]
