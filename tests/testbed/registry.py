"""A real OCI registry (Debian's ``docker-registry``, distribution 2.8) on 127.0.0.1, plus what a push needs.

:class:`Registry` writes a config (JSON, which the registry's YAML reader accepts), a **bcrypt** htpasswd (MD5
entries are silently refused with 401) and, with ``tls=True``, an openssl-made CA and leaf certificate for the
given host names; then it runs ``docker-registry serve`` and waits until ``/v2/`` answers 401. Storage, certs
and the log live in a temporary directory removed by ``stop()``. The log is kept in the secret ledger.

bcrypt compares only the first 72 bytes of a password, and real ECR passwords are ~2.5 KB: the registry accepts
any password that shares the right prefix, so "the registry took it" proves the prefix, not the whole password.

:func:`make_oci_layout` writes a tiny valid OCI image layout (``skopeo copy oci:DIR:latest docker://…``) and
:func:`write_docker_config` a Docker ``config.json`` with ``auths`` entries.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from ._serve import free_port, wait_until
from .moto import moto_ecr_password
from .secrets import LEDGER

# The registry runs under this watchdog, which stops it when our end of its stdin closes: on stop(), and also
# when this process dies without calling stop() (a killed test run), so no registry outlives its test bed.
_WATCHDOG = (
    "import subprocess, sys, threading\n"
    "p = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL)\n"
    "threading.Thread(target=lambda: (sys.stdin.read(), p.terminate()), daemon=True).start()\n"
    "sys.exit(p.wait())\n"
)


def bcrypt_htpasswd(users: dict[str, str]) -> str:
    """htpasswd lines with bcrypt hashes: the ``bcrypt`` module if installed, else ``htpasswd -niB``."""
    lines = []
    for user, password in users.items():
        try:
            import bcrypt

            hashed = bcrypt.hashpw(password.encode()[:72], bcrypt.gensalt(rounds=4)).decode()
            lines.append(f"{user}:{hashed}")
        except ImportError:
            if shutil.which("htpasswd") is None:
                raise FileNotFoundError("testbed: need htpasswd (apache2-utils) or the bcrypt module") from None
            # -i reads the password from stdin: it never appears on a command line.
            out = subprocess.run(
                ["htpasswd", "-niB", "-C", "4", user], input=password, capture_output=True, text=True, check=True
            )
            lines.append(out.stdout.strip())
    return "\n".join(lines) + "\n"


def make_tls(directory: Path, hostnames: list[str], ips: tuple[str, ...] = ("127.0.0.1",)) -> tuple[Path, Path, Path]:
    """An openssl CA and a leaf certificate for ``hostnames`` and ``ips``: ``(ca.crt, leaf.crt, leaf.key)``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = directory / "ca.crt", directory / "ca.key"
    leaf, key, csr = directory / "leaf.crt", directory / "leaf.key", directory / "leaf.csr"
    ext = directory / "leaf.ext"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = ["openssl", "req", *ec, "-subj"]
    subprocess.run(
        [*run, "/CN=ecr-ci testbed CA", "-x509", "-days", "2", "-keyout", ca_key, "-out", ca,
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run([*run, f"/CN={hostnames[0]}", "-keyout", key, "-out", csr], check=True, capture_output=True)
    names = ",".join([*(f"DNS:{h}" for h in hostnames), *(f"IP:{ip}" for ip in ips)])
    ext.write_text(f"subjectAltName={names}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    subprocess.run(
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-days", "2", "-out", leaf, "-extfile", ext],
        check=True, capture_output=True,
    )  # fmt: skip
    return ca, leaf, key


class Registry:
    """``docker-registry serve`` on ``address:port`` with htpasswd users.

    Constructor: ``users`` (``{name: password}``, default ``{"AWS": moto_ecr_password("123456789012")}``),
    ``tls`` (serve HTTPS with a fresh CA), ``hostnames`` (names in the leaf certificate, default
    ``["localhost"]``), ``address`` (default ``127.0.0.1``), ``port`` (default: a free one; 443 for the
    ECR-hostname recipe).
    Attributes: ``host`` (``127.0.0.1:<port>``, or without the port when it is 443 over TLS), ``url``,
    ``port``, ``users``, ``ca_cert`` (CA file, TLS only), ``cert_dir`` (a directory holding only ``ca.crt``, for
    ``skopeo --cert-dir`` / ``--dest-cert-dir``), ``workdir``, ``log_path``. Methods: ``start()``, ``stop()``,
    ``log()``.
    """

    def __init__(
        self,
        users: dict[str, str] | None = None,
        *,
        tls: bool = False,
        hostnames: list[str] | None = None,
        address: str = "127.0.0.1",
        port: int | None = None,
    ) -> None:
        self.users = dict(users) if users is not None else {"AWS": moto_ecr_password()}
        self.tls = tls
        self.hostnames = hostnames or ["localhost"]
        self.address = address
        self.port = port or 0
        self._fixed_port = port
        self.ca_cert: Path | None = None
        self.cert_dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return self.address if (self.tls and self.port == 443) else f"{self.address}:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def start(self) -> Registry:
        binary = shutil.which("docker-registry")
        if binary is None:
            raise FileNotFoundError("testbed: docker-registry is not installed (Debian package docker-registry)")
        self.workdir = Path(tempfile.mkdtemp(prefix="testbed-registry-"))
        self.log_path = self.workdir / "registry.log"
        for password in self.users.values():
            LEDGER.add_password(password, "registry")
        (self.workdir / "htpasswd").write_text(bcrypt_htpasswd(self.users))
        http: dict[str, object] = {"secret": uuid.uuid4().hex}
        if self.tls:
            ca, leaf, key = make_tls(self.workdir / "tls", self.hostnames, tuple({"127.0.0.1", self.address}))
            self.cert_dir = self.workdir / "certs.d"
            self.cert_dir.mkdir()
            self.ca_cert = Path(shutil.copy(ca, self.cert_dir / "ca.crt"))
            http["tls"] = {"certificate": str(leaf), "key": str(key)}
        for attempt in range(3):  # a free port can be taken between our probe and the registry's bind
            self.port = self._fixed_port or free_port()
            config = {
                "version": "0.1",
                "log": {"level": "info", "formatter": "text"},
                "storage": {"filesystem": {"rootdirectory": str(self.workdir / "data")}, "delete": {"enabled": True}},
                "http": {**http, "addr": f"{self.address}:{self.port}"},
                "auth": {"htpasswd": {"realm": "testbed", "path": str(self.workdir / "htpasswd")}},
            }
            (self.workdir / "config.yml").write_text(json.dumps(config, indent=1))
            with open(self.log_path, "ab") as log:
                self._proc = subprocess.Popen(
                    [sys.executable, "-c", _WATCHDOG, binary, "serve", str(self.workdir / "config.yml")],
                    stdout=log,
                    stderr=log,
                    stdin=subprocess.PIPE,
                )
            try:
                wait_until(self._ready, 15, f"docker-registry on {self.host}")
                return self
            except TimeoutError:
                if self._proc.poll() is None or attempt == 2:
                    tail = self.log()[-3000:]
                    self.stop()
                    raise RuntimeError(f"testbed: docker-registry did not start; its log:\n{tail}") from None
        raise AssertionError("unreachable")

    def _ready(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            raise TimeoutError("exited")
        ctx = None
        if self.tls:
            import ssl

            ctx = ssl.create_default_context(cafile=str(self.ca_cert))
            ctx.check_hostname = False
        try:
            urllib.request.urlopen(f"{self.url}/v2/", timeout=2, context=ctx)
        except urllib.error.HTTPError as e:
            return e.code == 401
        except OSError:
            return False
        return False

    def log(self) -> str:
        """The registry's log so far (request lines, auth failures)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self._proc is not None:
            if self._proc.stdin is not None:
                self._proc.stdin.close()  # the watchdog stops the registry and exits
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
            LEDGER.record(f"docker-registry {self.host} log", self.log())
        if getattr(self, "workdir", None) is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None  # type: ignore[assignment]

    def __enter__(self) -> Registry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def write_docker_config(directory: str | os.PathLike[str], auths: dict[str, tuple[str, str] | str]) -> Path:
    """Write ``<directory>/config.json`` (mode 0600) with ``auths[host].auth`` for each host.

    A value is ``(username, password)`` or an already encoded ``base64("user:password")`` string.
    """
    entries = {}
    for host, cred in auths.items():
        auth = cred if isinstance(cred, str) else base64.b64encode(f"{cred[0]}:{cred[1]}".encode()).decode()
        entries[host] = {"auth": auth}
    path = Path(directory) / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"auths": entries}, f, indent=2)
    return path


def make_oci_layout(directory: str | os.PathLike[str], tag: str = "latest", content: bytes = b"hello\n") -> Path:
    """Write a one-layer OCI image layout tagged ``tag`` into ``directory`` and return its path.

    Use it as ``oci:<path>:<tag>`` (or ``oci:<path>``: it holds one image). The layer is a gzip tarball holding
    ``/hello.txt`` with ``content``; everything is deterministic, so the same content gives the same digests
    (:func:`oci_manifest_digest`).
    """
    root = Path(directory)
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)

    def blob(data: bytes, media_type: str) -> dict[str, object]:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}

    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mode, info.mtime = len(content), 0o644, 0
        tar.addfile(info, io.BytesIO(content))
    layer_tar = tar_bytes.getvalue()
    layer = blob(gzip.compress(layer_tar, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip")
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(layer_tar).hexdigest()}"]},
    }
    config_desc = blob(json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json")
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_desc,
        "layers": [layer],
    }
    manifest_desc = blob(json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
    manifest_desc["annotations"] = {"org.opencontainers.image.ref.name": tag}
    (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [manifest_desc]}
    (root / "index.json").write_text(json.dumps(index))
    return root


def oci_manifest_digest(directory: str | os.PathLike[str]) -> str:
    """The manifest digest of the (single) image in an OCI layout: what a registry reports after the push."""
    return str(json.loads((Path(directory) / "index.json").read_text())["manifests"][0]["digest"])
