"""Credential files: merge, 0600, atomic, never corrupt what is there, shadowing handled, logout exact."""

import json
import os
import stat
from datetime import datetime, timezone

import pytest

from ecr_ci.clients import sinks
from ecr_ci.errors import SinkError
from ecr_ci.models import RegistryAuth

EXPIRY = datetime(2030, 1, 1, tzinfo=timezone.utc)
HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


def auth(host=HOST, password="pw-one"):
    return RegistryAuth(host, "AWS", password, EXPIRY)


def docker(tmp_path):
    return sinks.target("docker", {}, str(tmp_path))


def test_merges_into_existing_config_keeping_everything_else(tmp_path):
    cfg = tmp_path / "config.json"
    existing = {"auths": {"ghcr.io": {"auth": "Z2g6eA=="}, HOST: {"auth": "b2xk", "email": "x@y"}}, "psFormat": "t"}
    cfg.write_text(json.dumps(existing))
    os.chmod(cfg, 0o644)
    sinks.store(docker(tmp_path), [auth()])
    data = json.loads(cfg.read_text())
    assert data["psFormat"] == "t"
    assert data["auths"]["ghcr.io"] == {"auth": "Z2g6eA=="}
    assert data["auths"][HOST] == {"auth": auth().auth, "email": "x@y"}
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_creates_missing_directory_private(tmp_path):
    t = sinks.target("docker", {}, str(tmp_path / "new" / "dir"))
    sinks.store(t, [auth()])
    assert stat.S_IMODE(t.path.parent.stat().st_mode) == 0o700
    assert json.loads(t.path.read_text())["auths"][HOST]["auth"] == auth().auth


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "is not valid JSON \\(line 1, column 2"),
        ("[1, 2]", "is not a credential file"),
        ('{"auths": []}', "is not a credential file"),
    ],
)
def test_malformed_existing_file_is_an_error_and_left_untouched(tmp_path, content, reason):
    cfg = tmp_path / "config.json"
    cfg.write_text(content)
    with pytest.raises(SinkError, match=reason) as e:
        sinks.store(docker(tmp_path), [auth()])
    assert "\n" not in str(e.value) and "untouched" in str(e.value)
    assert cfg.read_text() == content


def test_unreadable_existing_file_even_as_root(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.mkdir()  # a directory where the file should be cannot be read by anyone
    with pytest.raises(SinkError, match="is a directory, not a regular file"):
        sinks.store(docker(tmp_path), [auth()])
    assert cfg.is_dir()


def test_creds_store_without_its_helper_is_set_aside_and_restored_by_logout(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no docker-credential-desktop here
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"credsStore": "desktop", "credHelpers": {HOST: "ecr-login", "gcr.io": "gcloud"}}))
    result = sinks.store(docker(tmp_path), [auth()])
    assert any(f"set aside credHelpers[{HOST}]" in w for w in result.warnings)
    assert any("set aside credsStore 'desktop'" in w and "not on PATH" in w for w in result.warnings)
    data = json.loads(cfg.read_text())
    assert "credsStore" not in data and data["credHelpers"] == {"gcr.io": "gcloud"}
    sinks.erase(docker(tmp_path))
    data = json.loads(cfg.read_text())
    assert data == {"auths": {}, "credHelpers": {"gcr.io": "gcloud", HOST: "ecr-login"}, "credsStore": "desktop"}


STORE_HELPER = """#!{python}
# A file-backed credential store speaking the docker-credential-helpers protocol (for tests).
import json, os, sys
path = os.environ["TEST_STORE_FILE"]
data = json.load(open(path)) if os.path.exists(path) else {{}}
action = sys.argv[1]
if action == "store":
    item = json.loads(sys.stdin.read())
    data[item["ServerURL"]] = [item["Username"], item["Secret"]]
elif action == "erase":
    data.pop(sys.stdin.read().strip(), None)
elif action == "get":
    url = sys.stdin.read().strip()
    if url not in data:
        print("credentials not found in native keychain")
        sys.exit(1)
    print(json.dumps({{"ServerURL": url, "Username": data[url][0], "Secret": data[url][1]}}))
    sys.exit(0)
json.dump(data, open(path, "w"))
"""


def test_creds_store_keeps_serving_other_registries_and_gets_the_tokens_too(tmp_path, monkeypatch):
    import sys

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-teststore"
    helper.write_text(STORE_HELPER.format(python=sys.executable))
    helper.chmod(0o755)
    store_file = tmp_path / "store.json"
    store_file.write_text(json.dumps({"ghcr.io": ["me", "my-ghcr-token"]}))
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("TEST_STORE_FILE", str(store_file))
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"credsStore": "teststore"}))
    result = sinks.store(docker(tmp_path), [auth()])
    assert any("also stored in docker-credential-teststore" in w for w in result.warnings)
    assert json.loads(cfg.read_text())["credsStore"] == "teststore"  # other registries' logins stay visible
    assert json.loads(store_file.read_text()) == {"ghcr.io": ["me", "my-ghcr-token"], HOST: ["AWS", "pw-one"]}
    sinks.erase(docker(tmp_path))
    assert json.loads(store_file.read_text()) == {"ghcr.io": ["me", "my-ghcr-token"]}
    assert json.loads(cfg.read_text()) == {"credsStore": "teststore", "auths": {}}
    assert not (tmp_path / ".config.json.ecr-ci").exists()


def test_shadowing_warn_keeps_and_error_refuses(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"credsStore": "pass"}))
    result = sinks.store(docker(tmp_path), [auth()], shadowing="warn")
    assert "credsStore" in json.loads(cfg.read_text()) and "shadows" in result.warnings[0]
    before = cfg.read_text()
    with pytest.raises(SinkError, match="would make the client ignore"):
        sinks.store(docker(tmp_path), [auth(password="other")], shadowing="error")
    assert cfg.read_text() == before


def test_podman_ignores_creds_store_so_it_is_left_alone(tmp_path):
    path = tmp_path / "auth.json"
    path.write_text(json.dumps({"credsStore": "pass"}))
    t = sinks.target("podman", {"REGISTRY_AUTH_FILE": str(path)})
    assert sinks.store(t, [auth()]).warnings == []
    assert json.loads(path.read_text())["credsStore"] == "pass"


def test_logout_removes_exactly_what_it_wrote(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"auths": {"ghcr.io": {"auth": "eA=="}}}))
    other = "210987654321.dkr.ecr.eu-west-1.amazonaws.com"
    sinks.store(docker(tmp_path), [auth(), auth(other)])
    # Someone logs in to `other` again by hand: that entry is no longer ecr-ci's to remove.
    data = json.loads(cfg.read_text())
    data["auths"][other] = {"auth": "aGFuZDptYWRl"}
    cfg.write_text(json.dumps(data))
    result = sinks.erase(docker(tmp_path))
    assert result.hosts == [HOST]
    assert "changed since" in result.warnings[0]
    assert json.loads(cfg.read_text())["auths"] == {"ghcr.io": {"auth": "eA=="}, other: {"auth": "aGFuZDptYWRl"}}
    assert not (tmp_path / ".config.json.ecr-ci").exists()


def test_paths_follow_each_clients_rules(tmp_path):
    env = {"HOME": "/h", "XDG_RUNTIME_DIR": "/run/user/7"}
    assert sinks.target("docker", env).path == sinks.Path("/h/.docker/config.json")
    assert sinks.target("docker", {**env, "DOCKER_CONFIG": "/d"}).path == sinks.Path("/d/config.json")
    assert sinks.target("podman", env).path == sinks.Path("/run/user/7/containers/auth.json")
    assert sinks.target("podman", {**env, "REGISTRY_AUTH_FILE": "/a.json"}).path == sinks.Path("/a.json")
    assert sinks.target("helm", env).path == sinks.Path("/h/.config/helm/registry/config.json")
    assert sinks.target("helm", {**env, "HELM_REGISTRY_CONFIG": "/r.json"}).path == sinks.Path("/r.json")
    assert sinks.target("kaniko", env).path == sinks.Path("/kaniko/.docker/config.json")


def test_a_damaged_record_of_what_was_written_is_an_error_and_left_alone(tmp_path):
    sinks.store(docker(tmp_path), [auth()])
    record = tmp_path / ".config.json.ecr-ci"
    record.write_text("{damaged")
    before = (tmp_path / "config.json").read_text()
    with pytest.raises(SinkError, match="cannot be read"):
        sinks.store(docker(tmp_path), [auth(password="two")])
    with pytest.raises(SinkError, match="cannot be read"):
        sinks.erase(docker(tmp_path))
    assert record.read_text() == "{damaged" and (tmp_path / "config.json").read_text() == before


def test_a_config_that_links_into_a_missing_directory_is_one_clear_error(tmp_path):
    (tmp_path / "config.json").symlink_to(tmp_path / "gone" / "config.json")
    with pytest.raises(SinkError, match="cannot write the credential file"):
        sinks.store(docker(tmp_path), [auth()])
