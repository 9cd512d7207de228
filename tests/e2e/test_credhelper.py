"""``docker-credential-ecr-ci``: the protocol's exact shapes, real failures versus "not found", the cache seen from
outside (counted at the emulator), a cache hit that imports neither botocore, jsonschema nor the costlier standard
modules, and twenty helpers racing on a cold cache.

AWS is the test bed's :class:`~tests.testbed.fakeaws.FakeAWS` (STS, ECR, ECR Public), not moto: moto's ECR
``expiresAt`` is always in 2015, which no cache may ever serve, while the fake answers with a real expiry (12 h; the
role session's 1 h is shorter and wins) and can be scripted to fail. Each test gets a fresh fake, HOME and cache.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bench.helper import ROOT, write_wrapper
from ecr_ci import credhelper
from tests.testbed import LEDGER, FakeAWS, OidcIssuer, record, run

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ci-push"
HOST = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
NOT_FOUND = "credentials not found in native keychain"
GET = ("ecr", "GetAuthorizationToken")
WEB_IDENTITY = ("sts", "AssumeRoleWithWebIdentity")


@pytest.fixture(scope="session")
def helper_bin(tmp_path_factory) -> Path:
    """A directory holding an executable ``docker-credential-ecr-ci`` (the console script, or a wrapper like it)."""
    installed = Path(sys.executable).with_name("docker-credential-ecr-ci")
    if installed.exists():
        return installed.parent
    d = tmp_path_factory.mktemp("bin")
    write_wrapper(d)
    return d


def gitlab_token(issuer: OidcIssuer, **claims: Any) -> str:
    base = {
        "iss": "https://gitlab.example.com",
        "sub": "project_path:group/app:ref_type:branch:ref:main",
        "aud": "sts.amazonaws.com",
        "project_path": "group/app",
        "pipeline_id": "77",
        "job_id": "7001",
    }
    return issuer.mint(base, **claims)


def helper_env(home: Path, fake: FakeAWS, issuer: OidcIssuer, helper_bin: Path) -> dict[str, str]:
    """A GitLab job's environment for the helper: role ARN and ID token as the ECR_CI_* / id_tokens variables,
    every AWS endpoint on the fake."""
    env = dict(os.environ)  # already CI-free: the clean_env fixture
    env.update(
        {
            "PATH": f"{helper_bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "ECR_CI_CACHE_DIR": str(home / "ecr-ci-cache"),
            "ECR_CI_ROLE_ARN": ROLE,
            "GITLAB_CI": "true",
            "CI_PIPELINE_ID": "77",
            "CI_JOB_ID": "7001",
            "AWS_ID_TOKEN": gitlab_token(issuer),
            "AWS_ENDPOINT_URL": fake.url,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
    return env


@pytest.fixture
def henv(clean_env, fake_aws, oidc_issuer, helper_bin) -> dict[str, str]:
    return helper_env(clean_env, fake_aws, oidc_issuer, helper_bin)


def helper(env: dict[str, str], action: str, stdin: str = "", *, python_flags: tuple[str, ...] = ()) -> Any:
    """Run the helper executable as docker would (a fresh process, the server URL on stdin)."""
    exe = str(Path(env["PATH"].split(os.pathsep)[0]) / "docker-credential-ecr-ci")
    cmd = [sys.executable, *python_flags, exe, action] if python_flags else [exe, action]
    return run(
        cmd,
        input=stdin,
        env=env,
        allow_secret_stdout={"password"} if action == "get" else False,
        label=f"docker-credential-ecr-ci {action}",
    )


def in_process(
    env: dict[str, str],
    action: str,
    stdin: str = "",
    now: float | None = None,
    monkeypatch: pytest.MonkeyPatch | None = None,
) -> tuple[int, str, str]:
    """``credhelper.main`` in this process (for an injected clock); botocore reads os.environ, so mirror it."""
    if monkeypatch is not None:
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        import ecr_ci.core.aws

        monkeypatch.setattr(ecr_ci.core.aws, "_session", None)
    out, err = io.StringIO(), io.StringIO()
    code = credhelper.main([action], env, io.StringIO(stdin), out, err, now=now)
    record(f"credhelper.main {action} [stdout]", out.getvalue(), allow={"password"})
    record(f"credhelper.main {action} [stderr]", err.getvalue())
    return code, out.getvalue(), err.getvalue()


def cache_files(env: dict[str, str]) -> list[Path]:
    return sorted(Path(env["ECR_CI_CACHE_DIR"]).glob("*.json"))


def password_of(fake: FakeAWS, n: int = -1) -> str:
    return fake.ecr.issued[n][1]


# -- the protocol's shapes ----------------------------------------------------------------------------------------


def test_get_answers_the_protocol_json_and_then_comes_from_the_cache(henv, fake_aws):
    first = helper(henv, "get", f"https://{HOST}")
    assert first.returncode == 0, LEDGER.redact(first.stdout + first.stderr)
    password = password_of(fake_aws)
    assert json.loads(first.stdout) == {"ServerURL": f"https://{HOST}", "Username": "AWS", "Secret": password}
    assert first.stderr == ""
    assert (fake_aws.count(*WEB_IDENTITY), fake_aws.count(*GET)) == (1, 1)
    # Any spelling of the same registry, and any other registry of the region, is a hit: no request at all.
    for url in (HOST, f"{HOST}:443", f"https://{HOST}/v2/", "210987654321.dkr.ecr.us-east-1.amazonaws.com"):
        again = helper(henv, "get", url)
        assert again.returncode == 0 and json.loads(again.stdout) == {
            "ServerURL": url,
            "Username": "AWS",
            "Secret": password,
        }
    assert len(fake_aws.calls()) == 2
    [entry] = cache_files(henv)
    data = json.loads(entry.read_text())
    assert data["principal"] == ROLE and data["region"] == "us-east-1" and data["identity_source"] == "gitlab"
    # The role session (1 h) ends before the token (12 h): the entry expires with the session.
    assert data["expires_at"] - data["fetched_at"] == pytest.approx(3600, abs=5)


def test_other_hosts_get_exactly_not_found_and_nothing_on_stderr(henv, fake_aws):
    for url in ("https://index.docker.io/v1/", "ghcr.io", "127.0.0.1:5000", "registry.gitlab.com"):
        proc = helper(henv, "get", url)
        assert (proc.returncode, proc.stdout, proc.stderr) == (1, NOT_FOUND + "\n", "")
    lookalike = helper(henv, "get", f"{HOST}.evil.example")
    assert (lookalike.returncode, lookalike.stdout) == (1, NOT_FOUND + "\n")
    assert "not an Amazon ECR registry" in lookalike.stderr
    assert fake_aws.calls() == []


def test_version_usage_unknown_store_erase_shapes(henv):
    assert helper(henv, "version").stdout.startswith("docker-credential-ecr-ci (ecr-ci) ")
    none = run([str(Path(henv["PATH"].split(os.pathsep)[0]) / "docker-credential-ecr-ci")], env=henv)
    assert (none.returncode, none.stdout) == (1, "Usage: docker-credential-ecr-ci <store|get|erase|list|version>\n")
    unknown = helper(henv, "frobnicate")
    assert (unknown.returncode, unknown.stdout) == (1, "Unknown credential action `frobnicate`\n")
    empty = helper(henv, "get", "  \n")
    assert (empty.returncode, empty.stdout) == (1, "no credentials server URL\n")
    no_user = helper(henv, "store", json.dumps({"ServerURL": HOST, "Username": "", "Secret": "s3cr3t-value"}))
    assert (no_user.returncode, no_user.stdout) == (1, "no credentials username\n")
    stored = helper(henv, "store", json.dumps({"ServerURL": HOST, "Username": "AWS", "Secret": "s3cr3t-value"}))
    assert stored.returncode == 1 and "store is not supported" in stored.stdout and NOT_FOUND not in stored.stdout
    assert helper(henv, "erase", "ghcr.io").returncode == 0
    assert helper(henv, "list").stdout == "{}\n"


def test_list_is_offline_and_erase_forgets_the_host(henv, fake_aws):
    assert helper(henv, "get", HOST).returncode == 0
    assert helper(henv, "get", "public.ecr.aws").returncode == 0
    offline = {**henv, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ID_TOKEN": "garbage"}
    listed = helper(offline, "list")
    assert listed.returncode == 0
    assert json.loads(listed.stdout) == {
        HOST: "AWS",
        f"https://{HOST}": "AWS",
        "public.ecr.aws": "AWS",
        "https://public.ecr.aws": "AWS",
    }
    assert fake_aws.count(*GET) == 1 and fake_aws.count("ecr-public", "GetAuthorizationToken") == 1
    assert helper(henv, "erase", f"https://{HOST}").returncode == 0
    assert set(json.loads(helper(henv, "list").stdout)) == {"public.ecr.aws", "https://public.ecr.aws"}
    assert helper(henv, "get", HOST).returncode == 0 and fake_aws.count(*GET) == 2


# -- real failures are not "not found" ---------------------------------------------------------------------------


def test_a_bad_setting_is_a_real_failure(henv):
    proc = helper({**henv, "ECR_CI_DURATION": "5"}, "get", HOST)
    assert proc.returncode == 1 and proc.stdout != NOT_FOUND + "\n"
    assert "ECR_CI_DURATION" in proc.stdout and "ECR_CI_DURATION" in proc.stderr


def test_an_ecr_refusal_is_a_real_failure_naming_the_permission(henv, fake_aws):
    fake_aws.ecr.default = "AccessDeniedException"
    proc = helper(henv, "get", HOST)
    assert proc.returncode == 1 and NOT_FOUND not in proc.stdout
    assert "ecr:GetAuthorizationToken" in proc.stdout and "AccessDeniedException" in proc.stdout
    assert proc.stdout.strip() in proc.stderr


def test_a_trust_refusal_is_a_real_failure_with_the_claims_on_stderr(henv, fake_aws):
    fake_aws.sts.default = "AccessDenied"
    proc = helper(henv, "get", HOST)
    assert proc.returncode == 1 and NOT_FOUND not in proc.stdout
    assert "AssumeRoleWithWebIdentity" in proc.stdout and "AccessDenied" in proc.stdout
    assert "project_path:group/app" in proc.stderr  # the diagnostics: what the trust policy would have matched
    assert fake_aws.count(*WEB_IDENTITY) == 1  # never retried


def test_no_identity_at_all_is_a_real_failure(henv):
    env = {k: v for k, v in henv.items() if k not in ("GITLAB_CI", "AWS_ID_TOKEN")}
    proc = helper({**env, "ECR_CI_OIDC": "none"}, "get", HOST)
    assert proc.returncode == 1 and "credentials: none found in the AWS credential chain" in proc.stdout


def test_missing_gitlab_id_token_names_the_variable(henv):
    proc = helper({k: v for k, v in henv.items() if k != "AWS_ID_TOKEN"}, "get", HOST)
    assert proc.returncode == 1 and "AWS_ID_TOKEN" in proc.stdout and "id_tokens" in proc.stdout


# -- the cache, from outside -------------------------------------------------------------------------------------


# What a cache hit must not import: the AWS SDK, the settings' validator and YAML parser, the thread pool that
# overlaps a fetch, and the standard modules that cost more than the rest of a hit (ecr_ci._record says why).
HIT_MUST_NOT_IMPORT = (
    *("boto3", "botocore", "s3transfer", "urllib3", "jsonschema", "yaml", "concurrent.futures"),
    *("dataclasses", "inspect", "pathlib", "typing", "importlib.util"),
)
# The helper as its console script runs it, then the modules it imported. Its interpreter runs without site (-S,
# the search path in PYTHONPATH instead), so that nothing a site hook preloads can hide an import.
LIST_IMPORTS = """
import sys
before = set(sys.modules)
from ecr_ci.credhelper import main
code = main()
print(*sorted(set(sys.modules) - before), file=sys.stderr)
sys.exit(code)
"""


def test_a_cache_hit_imports_neither_the_aws_sdk_nor_costly_modules(henv, fake_aws):
    assert helper(henv, "get", HOST).returncode == 0  # fill the cache (this one imports botocore)
    env = {**henv, "PYTHONPATH": os.pathsep.join([str(ROOT), *(p for p in sys.path if p)])}
    hit = run(
        [sys.executable, "-S", "-c", LIST_IMPORTS, "get"],
        input=HOST,
        env=env,
        allow_secret_stdout={"password"},
        label="docker-credential-ecr-ci get (imports)",
    )
    assert hit.returncode == 0 and json.loads(hit.stdout)["Secret"] == password_of(fake_aws)
    imported = set(hit.stderr.split())
    assert {"ecr_ci.credhelper", "ecr_ci.core.cache", "json"} <= imported  # the list is real
    heavy = sorted(m for m in imported if any(m == h or m.startswith(h + ".") for h in HIT_MUST_NOT_IMPORT))
    assert heavy == [], heavy
    assert fake_aws.count(*GET) == 1


def test_another_job_identity_does_not_get_the_cached_token(henv, fake_aws, oidc_issuer):
    assert helper(henv, "get", HOST).returncode == 0
    time.sleep(1.1)
    same_job_later = {**henv, "AWS_ID_TOKEN": gitlab_token(oidc_issuer)}  # re-issued: new iat, exp and jti
    assert helper(same_job_later, "get", HOST).returncode == 0
    assert fake_aws.count(*WEB_IDENTITY) == 1
    other = gitlab_token(oidc_issuer, sub="project_path:other/repo:ref_type:branch:ref:main", project_path="other/repo")
    assert helper({**henv, "AWS_ID_TOKEN": other}, "get", HOST).returncode == 0
    # STS decides for the other project (the fake always agrees; AWS would check the trust policy).
    assert fake_aws.count(*WEB_IDENTITY) == 2 and fake_aws.count(*GET) == 2
    fake_aws.sts.default = "AccessDenied"  # a project the role does not trust gets nothing from the cache either
    third = gitlab_token(oidc_issuer, sub="project_path:evil/fork:ref_type:branch:ref:main", project_path="evil/fork")
    refused = helper({**henv, "AWS_ID_TOKEN": third}, "get", HOST)
    assert refused.returncode == 1 and "AccessDenied" in refused.stdout


def test_expired_entries_are_never_served(henv, fake_aws, monkeypatch):
    code, out, _ = in_process(henv, "get", HOST, monkeypatch=monkeypatch)
    assert code == 0 and fake_aws.count(*GET) == 1
    [path] = cache_files(henv)
    expires = json.loads(path.read_text())["expires_at"]
    old = password_of(fake_aws)
    for i, now in enumerate((expires - 30, expires + 1, expires + 86400)):  # inside the safety margin, and after
        code, out, err = in_process(henv, "get", HOST, now=now)
        assert code == 0 and json.loads(out)["Secret"] == password_of(fake_aws) != old
        assert fake_aws.count(*GET) == 2 + i
    # With ECR failing and the cached token expired, the answer is the real failure, never the old token.
    fake_aws.ecr.default = 503
    code, out, err = in_process({**henv, "ECR_CI_DEADLINE": "1"}, "get", HOST, now=expires + 86400 * 2)
    assert code == 1 and "ServiceUnavailable" in out
    assert not any(pw in out for _, pw in fake_aws.ecr.issued)


def test_refresh_at_half_life_and_a_failed_refresh_serves_the_valid_token(henv, fake_aws, monkeypatch):
    code, out, _ = in_process(henv, "get", HOST, monkeypatch=monkeypatch)
    [path] = cache_files(henv)
    data = json.loads(path.read_text())
    life = data["expires_at"] - data["fetched_at"]
    in_process(henv, "get", HOST, now=data["fetched_at"] + life * 0.49)
    assert fake_aws.count(*GET) == 1
    fake_aws.ecr.default = "ThrottlingException"
    code, out, err = in_process({**henv, "ECR_CI_DEADLINE": "1"}, "get", HOST, now=data["fetched_at"] + life * 0.6)
    assert code == 0 and json.loads(out)["Secret"] == data["password"]
    assert "warning" in err and "refreshing failed" in err
    fake_aws.ecr.default = "ok"
    code, out, _ = in_process(henv, "get", HOST, now=data["fetched_at"] + life * 0.6)
    assert json.loads(out)["Secret"] == password_of(fake_aws) != data["password"]


@pytest.mark.parametrize("garbage", [b"{not json", b"\x00\xff" * 10, b"[1, 2, 3]", b""])
def test_a_corrupted_cache_file_is_ignored_and_rewritten(henv, fake_aws, garbage):
    assert helper(henv, "get", HOST).returncode == 0
    [path] = cache_files(henv)
    path.write_bytes(garbage)
    proc = helper(henv, "get", HOST)
    assert proc.returncode == 0 and json.loads(proc.stdout)["Secret"] == password_of(fake_aws) and proc.stderr == ""
    assert fake_aws.count(*GET) == 2
    assert json.loads(path.read_text())["password"] == password_of(fake_aws)


def test_twenty_concurrent_helpers_on_a_cold_cache(henv, fake_aws):
    exe = str(Path(henv["PATH"].split(os.pathsep)[0]) / "docker-credential-ecr-ci")
    # Start all twenty, let each get as far as reading its stdin, then release them at once.
    procs = [
        subprocess.Popen(
            [exe, "get"], env=henv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(20)
    ]
    time.sleep(1.0)
    for p in procs:
        assert p.stdin is not None
        p.stdin.write(HOST)
        p.stdin.close()
    results = []
    for i, p in enumerate(procs):
        assert p.stdout is not None and p.stderr is not None
        out, err = p.stdout.read(), p.stderr.read()  # a few KB each: no pipe can fill up
        p.wait(120)
        record(f"concurrent helper {i} [stdout]", out, allow={"password"})
        record(f"concurrent helper {i} [stderr]", err)
        results.append((p.returncode, out, err))
    assert [code for code, _, _ in results] == [0] * 20, [LEDGER.redact(o + e)[-300:] for _, o, e in results]
    assert {json.loads(out)["Secret"] for _, out, _ in results} == {password_of(fake_aws)}
    # The entry's lock makes everyone after the first wait for its token instead of asking AWS again.
    assert (fake_aws.count(*WEB_IDENTITY), fake_aws.count(*GET)) == (1, 1)
    files = cache_files(henv)
    assert len(files) == 1 and json.loads(files[0].read_text())["password"] == password_of(fake_aws)
    assert not [p for p in Path(henv["ECR_CI_CACHE_DIR"]).iterdir() if p.name.endswith(".tmp")]


def test_ecr_public_comes_from_us_east_1_whatever_the_region(henv, fake_aws):
    proc = helper({**henv, "AWS_REGION": "eu-central-1", "AWS_DEFAULT_REGION": "eu-central-1"}, "get", "public.ecr.aws")
    assert proc.returncode == 0 and json.loads(proc.stdout)["Username"] == "AWS"
    assert fake_aws.counts(by_region=True) == {
        ("sts", "AssumeRoleWithWebIdentity", None): 1,
        ("ecr-public", "GetAuthorizationToken", "us-east-1"): 1,
    }


def test_ambient_chain_without_a_role_keys_on_the_caller_not_the_key(henv, fake_aws):
    env = {k: v for k, v in henv.items() if k not in ("GITLAB_CI", "AWS_ID_TOKEN", "ECR_CI_ROLE_ARN")}
    env |= {
        "ECR_CI_OIDC": "none",
        "AWS_ACCESS_KEY_ID": "AKIAAMBIENTKEYID0001",
        "AWS_SECRET_ACCESS_KEY": "ambient-secret-access-key-value",
    }
    LEDGER.add("ambient-secret-access-key-value", "aws-secret-key", "test")
    assert helper(env, "get", HOST).returncode == 0
    rotated = {**env, "AWS_ACCESS_KEY_ID": "AKIAAMBIENTKEYID0002"}  # new keys, same caller: still a hit
    assert helper(rotated, "get", HOST).returncode == 0
    assert fake_aws.count(*GET) == 1 and fake_aws.count("sts", "GetCallerIdentity") == 2
    [path] = cache_files(env)
    text = path.read_text()
    principal = json.loads(text)["principal"]
    assert principal == f"caller:arn:aws:sts::{ACCOUNT}:assumed-role/fake/session" and "AKIAAMBIENT" not in text


# -- ecr-ci configure-helper --------------------------------------------------------------------------------------


def test_configure_helper_merges_and_explains_what_it_changes(henv, helper_bin):
    config = Path(henv["DOCKER_CONFIG"]) / "config.json"
    before = {
        "auths": {HOST: {"auth": "QVdTOm9sZA=="}, "ghcr.io": {"auth": "eDp5"}},
        "credsStore": "desktop",
        "credHelpers": {"public.ecr.aws": "ecr-login", "gcr.io": "gcloud"},
        "detachKeys": "ctrl-x",
    }
    config.write_text(json.dumps(before))
    proc = run(
        [sys.executable, "-m", "ecr_ci", "configure-helper", "--registry", f"https://{HOST}/,public.ecr.aws"], env=henv
    )
    assert proc.returncode == 0 and proc.stdout == ""
    after = json.loads(config.read_text())
    assert after["credHelpers"] == {"public.ecr.aws": "ecr-ci", "gcr.io": "gcloud", HOST: "ecr-ci"}
    assert {k: v for k, v in after.items() if k != "credHelpers"} == {
        k: v for k, v in before.items() if k != "credHelpers"
    }
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    err = proc.stderr
    assert f"docker now ignores auths[{HOST}]" in err  # credHelpers wins over auths for that host
    assert "credsStore 'desktop'" in err and "every other registry" in err
    assert "replaced credHelpers[public.ecr.aws] = 'ecr-login'" in err
    assert "REGISTRY_AUTH_FILE" in err  # podman/skopeo: their own auth file wins
    assert "is not on PATH" not in err

    no_path = run(
        [sys.executable, "-m", "ecr_ci", "configure-helper", "--registry", HOST], env={**henv, "PATH": "/usr/bin:/bin"}
    )
    assert no_path.returncode == 0 and "docker-credential-ecr-ci is not on PATH" in no_path.stderr


def test_configure_helper_refuses_bad_input_and_leaves_the_config(henv):
    config = Path(henv["DOCKER_CONFIG"]) / "config.json"
    config.write_text("{not json")
    broken = run([sys.executable, "-m", "ecr_ci", "configure-helper", "--registry", HOST], env=henv)
    assert broken.returncode == 2 and "not valid JSON" in broken.stderr and config.read_text() == "{not json"
    config.unlink()
    lookalike = run(
        [sys.executable, "-m", "ecr_ci", "configure-helper", "--registry", f"{HOST}.evil.example"], env=henv
    )
    assert lookalike.returncode == 2 and not config.exists()


def test_no_cache_fetches_every_time_and_writes_nothing(henv, fake_aws):
    from tests.testbed import run as run_

    env = {**henv, "ECR_CI_CACHE": "false"}
    for _ in range(2):
        proc = run_([sys.executable, "-m", "ecr_ci", "login", "--registry", HOST, "--write", "none"], env=env)
        assert proc.returncode == 0, proc.stderr
    assert fake_aws.count(*GET) == 2
    login = [sys.executable, "-m", "ecr_ci", "login", "--registry", HOST, "--write", "none"]
    proc = run_([*login, "--no-cache"], env=henv)
    assert proc.returncode == 0 and fake_aws.count(*GET) == 3
    cache_dir = Path(henv["ECR_CI_CACHE_DIR"])
    assert not cache_dir.exists() or not [p for p in cache_dir.iterdir() if p.suffix == ".json"]
