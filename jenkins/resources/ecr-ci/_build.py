"""Build one ecr-ci environment for bootstrap.sh and bootstrap.ps1 (standard library only, Python 3.10+).

The front ends find the interpreter, work out the key and answer a hit themselves; they run this file only on a miss.
Under an exclusive lock on ``<cache>/<key>.lock`` it checks for a hit again (another job may have just built it),
builds a new environment in a fresh directory under ``<cache>/envs/``, installs the lock with ``--require-hashes``
and then ecr-ci with ``--no-deps``, runs ``ecr-ci --version`` in it, writes the marker ``.ecr-ci-complete`` and only
then publishes the environment by atomically replacing ``<cache>/<key>.env`` (one line: the environment's path).
A half-built environment is therefore never published, and the next build removes it. The only thing printed on
stdout is the path of the ``ecr-ci`` executable; a failure is one line on stderr and exit status 1, with the
installer's full output kept in ``<cache>/<key>.log``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

WINDOWS = os.name == "nt"
BIN = "Scripts" if WINDOWS else "bin"
EXE = ".exe" if WINDOWS else ""
MARKER = ".ecr-ci-complete"
LOCK_WAIT_SECONDS = 900


class Failure(Exception):
    """A step failed; the message is the one line the user sees."""


def scrub(text: str) -> str:
    """Drop credentials that an index URL may carry (``https://user:token@host``) and fold to one line."""
    text = re.sub(r"(?i)([a-z][a-z0-9+.-]*://)[^/@\s]+@", r"\1***@", text)
    return " ".join(text.split())


def evidence(output: str) -> str:
    """The installer's first error line and the indented line explaining it (uv's ``cause:``), as one line."""
    lines = [line for line in output.splitlines() if line.strip()]
    at = next((i for i, line in enumerate(lines) if re.search(r"(?i)error|×|failed|not find|no matching", line)), 0)
    picked = lines[at : at + 1]
    if at + 1 < len(lines) and lines[at + 1][:1].isspace():
        picked.append(lines[at + 1])
    return scrub(" ".join(picked) or "no output")[:400]


def read_hit(cache: str, key: str) -> str | None:
    """The ``ecr-ci`` path of the published environment for ``key``, if it is complete; else None."""
    try:
        with open(os.path.join(cache, key + ".env"), encoding="utf-8") as f:
            env = f.readline().rstrip("\r\n")
        with open(os.path.join(env, MARKER), encoding="utf-8") as f:
            base = f.readline().rstrip("\r\n")
    except OSError:
        return None
    exe = os.path.join(env, BIN, "ecr-ci" + EXE)
    return exe if os.path.isfile(base) and os.path.isfile(exe) else None


class Lock:
    """An exclusive lock on a file, released by the OS when this process ends (so a killed build never wedges it)."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def __enter__(self) -> Lock:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        if WINDOWS:
            import msvcrt

            while True:
                try:
                    msvcrt.locking(self.fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
                    return self
                except OSError:
                    if time.monotonic() > deadline:
                        raise Failure("another bootstrap has held the cache lock for 15 minutes") from None
                    time.sleep(0.2)
        import fcntl

        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise Failure("another bootstrap has held the cache lock for 15 minutes") from None
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # closing releases the lock on both systems


class Builder:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.log_path = os.path.join(args.cache_dir, args.key + ".log")
        self.log = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115 - closed in run()
        os.chmod(self.log_path, 0o600)
        self.uv = shutil.which("uv")
        self.installer = "uv" if self.uv else "pip"
        # The machine's interpreter by its real path, so that the environment keeps working with the same Python
        # even when a name like python3 later points at another version.
        self.base = os.path.realpath(sys.executable)

    def run(self, step: str, cmd: list[str]) -> str:
        """Run one installer command; its output goes to the log, a failure becomes one line naming ``step``."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON") and k not in ("PIP_USER",)}
        self.log.write(f"$ {' '.join(cmd)}\n")
        self.log.flush()
        proc = subprocess.run(
            cmd, cwd=self.args.cache_dir, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True
        )
        self.log.write(proc.stdout + proc.stderr + f"[exit {proc.returncode}]\n")
        self.log.flush()
        if proc.returncode != 0:
            raise Failure(
                f"{step} failed (exit {proc.returncode}: {evidence(proc.stderr or proc.stdout)}); log: {self.log_path}"
            )
        return proc.stdout

    def install(self, python: str, step: str, extra: list[str]) -> None:
        if self.uv:
            cmd = [self.uv, "pip", "install", "-q", "--native-tls", "--python", python]
        else:
            cmd = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-input"]
        if self.args.kind == "wheelhouse":
            cmd += ["--no-index", "--find-links", self.args.source]
        self.run(step, cmd + extra)

    def check_source(self) -> None:
        args = self.args
        if args.kind == "wheelhouse":
            wheels = sorted(n for n in os.listdir(args.source) if n.startswith("ecr_ci-") and n.endswith(".whl"))
            if not any(n.startswith(f"ecr_ci-{args.version}-") for n in wheels):
                raise Failure(
                    f"{args.source_name}: the wheelhouse {args.source} holds no ecr_ci-{args.version} wheel "
                    f"(found: {', '.join(wheels) or 'none'}); add the wheel of the version this bootstrap pins"
                )

    def build(self) -> str:
        args = self.args
        self.check_source()
        envs = os.path.join(args.cache_dir, "envs")
        os.makedirs(envs, exist_ok=True)
        pyver = f"{sys.version_info[0]}.{sys.version_info[1]}"
        stem = f"{args.key}-py{pyver}-"
        # Leftovers of this key (a build that was killed, an environment replaced because its Python vanished):
        # nobody else builds this key while we hold its lock.
        for name in os.listdir(envs):
            if name.startswith(args.key + "-py"):
                shutil.rmtree(os.path.join(envs, name), ignore_errors=True)
        env = tempfile.mkdtemp(prefix=stem, dir=envs)
        # mkdtemp makes it private; jobs of other users on the runner may run it too (it holds no secret).
        os.chmod(env, 0o755)  # noqa: S103
        try:
            python = os.path.join(env, BIN, "python" + EXE)
            if self.uv:
                self.run(
                    "creating the environment",
                    [self.uv, "venv", "-q", "--no-project", "--allow-existing", "--python", self.base, env],
                )
            else:
                self.run("creating the environment", [self.base, "-m", "venv", env])
            # Byte-compile everything now (uv does not by default; pip does): later runs may not be allowed to write
            # into the cache, and PYTHONDONTWRITEBYTECODE may be set, so without this every run would recompile.
            compile_all = ["--compile-bytecode"] if self.uv else []
            self.install(
                python,
                f"installing the locked dependencies with {self.installer}",
                [*compile_all, "--require-hashes", "-r", args.lock],
            )
            target = {
                "index": f"ecr-ci=={args.version}",
                "wheelhouse": f"ecr-ci=={args.version}",
                "wheel": args.source,
                "checkout": args.source,
            }[args.kind]
            self.install(
                python,
                f"installing ecr-ci from {args.source} with {self.installer}",
                [*compile_all, "--no-deps", target],
            )
            exe = os.path.join(env, BIN, "ecr-ci" + EXE)
            out = self.run("running ecr-ci --version", [exe, "--version"]).strip()
            if out.split()[-1:] != [args.version]:
                raise Failure(
                    f"{args.source_name}: {args.source} holds ecr-ci {out.split()[-1] if out else '?'} but this "
                    f"bootstrap pins {args.version} (its lock is for that version); use the bootstrap of that release"
                )
            with open(os.path.join(env, MARKER), "w", encoding="utf-8") as f:
                f.write(f"{self.base}\n{args.version}\n{args.key}\n{self.installer}\n")
        except BaseException:
            shutil.rmtree(env, ignore_errors=True)
            raise
        # Publish: the pointer names a complete environment or does not exist; os.replace is atomic on both systems.
        tmp = os.path.join(args.cache_dir, f".{args.key}.env.{os.getpid()}")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(env + "\n")
        os.replace(tmp, os.path.join(args.cache_dir, args.key + ".env"))
        return exe

    def close(self) -> None:
        self.log.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="_build.py", description=__doc__)
    for opt in ("--cache-dir", "--cache-name", "--kind", "--source", "--source-name", "--key", "--lock", "--version"):
        parser.add_argument(opt, required=True)
    args = parser.parse_args(argv)
    try:
        try:
            os.makedirs(args.cache_dir, exist_ok=True)
            lock = Lock(os.path.join(args.cache_dir, args.key + ".lock"))
        except OSError as e:
            raise Failure(
                f"{args.cache_name}: cannot use the cache directory {args.cache_dir} ({e.strerror}); "
                "name a writable one with --cache-dir or ECR_CI_BOOTSTRAP_CACHE_DIR"
            ) from None
        with lock:
            exe = read_hit(args.cache_dir, args.key)  # another job may have built it while we waited
            if exe is None:
                builder = Builder(args)
                try:
                    exe = builder.build()
                finally:
                    builder.close()
    except Failure as e:
        sys.stderr.write(f"ecr-ci bootstrap: {e}\n")
        return 1
    except OSError as e:
        sys.stderr.write(f"ecr-ci bootstrap: {e.filename or args.cache_dir}: {e.strerror or e}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("ecr-ci bootstrap: interrupted; nothing was published\n")
        return 1
    sys.stdout.write(exe + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
