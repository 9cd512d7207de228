"""`make bench`, part 2: `docker-credential-ecr-ci get` on a cache hit, beside a bare interpreter start.

Both are fresh processes of the same interpreter, run alternately in one loop so that machine noise hits both
alike. The helper runs as installed (the console script next to the interpreter) or, when it is not installed, as
an equivalent two-line wrapper script; its settings are a GitLab-style job (role ARN, identity token in a variable)
and its cache holds a valid entry. AWS endpoints point at a closed port, so a miss could not succeed silently.
Target: median helper hit ≤ 3× the bare start.
"""

from __future__ import annotations

import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
ROLE = "arn:aws:iam::123456789012:role/ci-push"
TARGET = 3.0


def helper_command(bindir: Path) -> list[str]:
    """The installed console script if it sits beside this interpreter, else a wrapper script like it."""
    installed = Path(sys.executable).with_name("docker-credential-ecr-ci")
    if installed.exists():
        return [str(installed)]
    return [str(write_wrapper(bindir))]


def write_wrapper(bindir: Path) -> Path:
    """An executable ``docker-credential-ecr-ci`` in ``bindir`` that runs this checkout's helper, as pip's
    console script would (same interpreter, no shell in between)."""
    bindir.mkdir(parents=True, exist_ok=True)
    path = bindir / "docker-credential-ecr-ci"
    path.write_text(
        f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(ROOT)!r})\n"
        "from ecr_ci.credhelper import main\nsys.exit(main())\n"
    )
    path.chmod(0o755)
    return path


def unsigned_jwt(claims: dict[str, object]) -> str:
    """A JWT-shaped token (never sent anywhere: the bench only reads its claims to find the cache entry)."""

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.{'s' * 43}"


def plant_entry(env: dict[str, str], identity_scope: str) -> str:
    """Store a valid cache entry exactly where the helper will look; return its password."""
    from ecr_ci.core import cache

    now = time.time()
    group = ("aws", "eu-west-1", "standard", False)
    tc = cache.TokenCache(cache.cache_dir(env.get("ECR_CI_CACHE_DIR"), env))
    k = cache.key(ROLE, group, cache.scope(identity_scope, env))
    password = "bench-" + "p" * 2400  # real passwords are ~2.5 KB
    entry = cache.Entry("AWS", password, now + 3600, now, ROLE, group, (HOST,), "bench", "bench", now + 3600)
    with tc.locked(k):
        if not tc.store(k, entry):
            raise SystemExit(f"bench: could not write the cache entry ({tc.problems})")
    return password


CLOSED = "http://127.0.0.1:9"  # a miss would have to reach AWS (or the token endpoint) here and fail
SOURCES = ("gitlab", "github", "file")


def source_env(source: str, home: str) -> tuple[dict[str, str], str]:
    """The helper's environment for one identity source, and the cache scope its hit is found under."""
    from ecr_ci.ci import github
    from ecr_ci.core import cache

    claims = {"iss": "https://ci.example.com", "sub": "project_path:g/p:ref_type:branch:ref:main", "job_id": "7"}
    token = unsigned_jwt({**claims, "aud": "sts.amazonaws.com", "iat": 1, "exp": 2})
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "ECR_CI_", "GITHUB_", "ACTIONS_", "GITLAB_", "CI_", "JENKINS_", "XDG_"))
    }
    env |= {"HOME": home, "ECR_CI_ROLE_ARN": ROLE, "AWS_ENDPOINT_URL": CLOSED, "AWS_EC2_METADATA_DISABLED": "true"}
    if source == "gitlab":  # the token in a variable: the helper decodes it, no network
        env |= {"ECR_CI_OIDC": "gitlab", "GITLAB_CI": "true", "AWS_ID_TOKEN": token}
        return env, cache.identity_scope(token)
    if source == "file":  # a token file (Jenkins' bound credential, EKS): read locally
        path = Path(home) / "token"
        path.write_text(token)
        env |= {"ECR_CI_OIDC": "file", "ECR_CI_TOKEN_FILE": str(path)}
        return env, cache.identity_scope(token)
    # GitHub: the token must be requested from the runner; a hit is decided from the job's request credentials
    # alone, so the endpoint is a closed port here and a hit that asked for a token would fail.
    env |= {
        "ECR_CI_OIDC": "github",
        "GITHUB_ACTIONS": "true",
        "ACTIONS_ID_TOKEN_REQUEST_URL": CLOSED + "/token?api-version=2.0",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "bench-request-token",
    }
    scope = github.token_source(env).scope  # type: ignore[union-attr]
    return env, cache.local_scope(scope)


def _wall(cmd: list[str], env: dict[str, str], stdin: bytes | None) -> tuple[float, bytes]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, input=stdin, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"bench: {cmd[0]} exited {proc.returncode}: {proc.stdout[-300:]!r} {proc.stderr[-300:]!r}")
    return elapsed, proc.stdout


def bench_helper_hit(n: int = 20) -> dict[str, float]:
    """Median wall seconds of ``docker-credential-ecr-ci get`` on a cache hit for each identity source over ``n``
    (≥ 20) fresh processes each, and of ``python -c pass``, all in one alternating loop; returns
    ``{source: median, "bare": median, "ratio_<source>": ratio, "runs": n}``."""
    n = max(20, n)
    with tempfile.TemporaryDirectory() as tmp:
        helper = [*helper_command(Path(tmp) / "bin"), "get"]
        bare = [sys.executable, "-c", "pass"]
        setups = {}
        for source in SOURCES:
            home = Path(tmp) / source
            home.mkdir()
            env, scope = source_env(source, str(home))
            setups[source] = (env, plant_entry(env, scope))
        for _ in range(2):  # warm the page cache and the .pyc files
            for env, _password in setups.values():
                _wall(helper, env, HOST.encode())
            _wall(bare, setups["gitlab"][0], None)
        times: dict[str, list[float]] = {s: [] for s in (*SOURCES, "bare")}
        for _ in range(n):
            for source, (env, password) in setups.items():
                elapsed, out = _wall(helper, env, HOST.encode())
                if json.loads(out)["Secret"] != password:
                    raise SystemExit(f"bench: the helper did not answer from the cache ({source})")
                times[source].append(elapsed)
            times["bare"].append(_wall(bare, setups["gitlab"][0], None)[0])
    medians = {s: statistics.median(v) for s, v in times.items()}
    return {**medians, **{f"ratio_{s}": medians[s] / medians["bare"] for s in SOURCES}, "runs": n}


def main() -> int:
    r = bench_helper_hit()
    print(f"credential helper, cache hit, {r['runs']:.0f} fresh processes each (alternating), per identity source:")
    for source in SOURCES:
        print(
            f"  get, {source + ' token':<13} median {r[source] * 1000:7.1f} ms  "
            f"ratio {r['ratio_' + source]:.2f}x (target <= {TARGET:.0f}x)"
        )
    print(f"  python -c pass      median {r['bare'] * 1000:7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
