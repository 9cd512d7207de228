"""The ecr-ci test bed: real local stand-ins for AWS, a CI's OIDC issuer and a container registry.

Every service binds 127.0.0.1 on a free port, is a context manager (``with X() as x:``) with ``start()`` /
``stop()``, and imports nothing from pytest, so fixtures, a demo script and a benchmark can all use it. Import it
as ``tests.testbed`` with the repository root on ``sys.path`` (``tests/conftest.py`` puts it there).

``MotoServer(process=False)`` (:mod:`.moto`): moto's STS/ECR/IAM over HTTP, counting every call it answers.
    ``url``, ``port``; ``calls() -> list[Call]``, ``counts(by_region=False)`` (``{(service, action): n}`` or
    ``{(service, action, region): n}``), ``count(service, action, region=None)``, ``reset()`` (moto's state and
    the counters). ``process=True`` runs moto in a child process; counting works the same.
    ``moto_ecr_password(account="123456789012")`` is moto's deterministic ECR password (user ``AWS``);
    ``moto_ecr_auth(account)`` its ``base64("AWS:<password>")``.

``OidcIssuer(issuer=GITHUB_ISSUER, lifetime=300)`` (:mod:`.oidc`): GitHub-Actions-style token endpoint.
    ``url``, ``request_url`` (with ``?api-version=2.0``), ``request_token``, ``claims`` (editable dict; time
    claims and ``jti`` added per token), ``audiences`` (requested, in order; ``None`` if absent), ``tokens``
    (served), ``error`` (``(status, body)`` or ``None``), ``delay``; ``mint(base=None, **claims) -> str``
    (``None`` removes a claim; ``base={}`` starts from nothing), ``jwks()``, ``reset()``. ``decode(token)``
    gives a JWT's unverified ``(header, claims)``; ``github_claims(repository, ref)`` the default claims.

``Registry(users=None, *, tls=False, hostnames=None, address="127.0.0.1", port=None)`` (:mod:`.registry`):
    Debian's ``docker-registry`` with bcrypt htpasswd users (default ``{"AWS": moto_ecr_password()}``).
    ``host`` (``127.0.0.1:<port>``, bare address on 443 with TLS), ``url``, ``port``, ``users``, ``ca_cert``
    and ``cert_dir`` (TLS: CA file; directory with only ``ca.crt`` for skopeo ``--cert-dir``), ``log()``.
    ``make_oci_layout(dir, tag="latest", content=b"hello\\n") -> Path`` writes a one-layer OCI layout (push
    ``oci:<path>:latest``); ``oci_manifest_digest(dir)`` is its manifest digest;
    ``write_docker_config(dir, {host: (user, password) | auth_b64}) -> Path`` writes ``config.json`` (0600).

``run_with_hosts(cmd, hosts, *, env=None, input=None, cwd=None, timeout=120, allow_secret_stdout=False,
label=None)`` (:mod:`.hosts`): runs ``cmd`` in a private mount namespace whose ``/etc/hosts`` adds
    ``{name: ip}``; returns a CompletedProcess (text) and records its output. ``hosts_available()`` /
    ``hosts_why_unavailable()`` say whether that works here (root, ``unshare``).

``HttpProxy()`` (:mod:`.proxy`): a forward proxy for plain-HTTP absolute-URI requests. ``url``, ``port``,
    ``seen`` (``[(method, "host:port")]``; never headers or bodies), ``reset()``.

``EcrExpiryProxy(upstream, lifetime=43200)`` (:mod:`.ecr_expiry`): a reverse proxy for moto's ECR endpoint
    (``AWS_ENDPOINT_URL_ECR=proxy.url``) that rewrites each ``GetAuthorizationToken`` answer's ``expiresAt`` to
    now + 12 h, as real ECR answers (moto's is 2015-01-01). ``url``, ``port``, ``rewritten``, ``expires_at``.

``FakeAWS(account="123456789012")`` (:mod:`.fakeaws`): STS (query/XML), ECR and ECR Public (JSON 1.1) with
    scripted replies. ``url``; ``sts`` (``push(*replies)``, ``default``, ``expiration``), ``ecr`` and
    ``ecr_public`` (``push``, ``default``, ``expires_at``, ``password``, ``password_length``, ``issued``);
    ``calls()``, ``counts()``, ``count()`` as above; ``reset()``. A reply is ``"ok"``, an error code
    (``"InvalidIdentityToken"``, ``"AccessDenied"``, ``"Throttling"``, ``"ThrottlingException"``…), an HTTP
    status (500, 503) or ``(code, status, message)``.

``Call`` (:mod:`.wire`): ``service``, ``action``, ``region`` (``None`` when unsigned), ``access_key``,
    ``params`` (``WebIdentityToken`` redacted), ``token_claims`` (that token's unverified claims), ``status``,
    ``time``.

Secret ledger (:mod:`.secrets`): ``LEDGER`` registers every secret the services issue. ``LEDGER.add(value,
kind, source)``, ``add_jwt``, ``add_password``, ``record(label, text, allow=False)``, ``scan(text, where) ->
list[Hit]``, ``findings()`` (all records), ``redact(text)`` (safe for assertion messages), ``kinds()``.
``run(cmd, *, input=None, env=None, allow_secret_stdout=False, label=None, cwd=None, timeout=120,
check=False)`` runs a command and records stdout and stderr; ``allow_secret_stdout`` is ``True`` or the kinds
stdout may hold (``{"password", "docker-auth"}``). A ``Hit`` has ``kind``, ``source``, ``where``, ``offset``,
``fingerprint``: never the secret. Kinds: ``jwt``, ``jwt-signature``, ``oidc-request-token``, ``password``,
``docker-auth`` (``base64("AWS:<password>")``), ``aws-secret-key``, ``aws-session-token``, and ``jwt-shaped``
for any JWT-looking string the ledger does not know.
"""

if __name__ != "tests.testbed":
    # Imported twice under two names, the package would keep two ledgers and the final scan would miss one.
    raise ImportError(f"import the test bed as tests.testbed, not {__name__}")

from .ecr_expiry import EcrExpiryProxy
from .fakeaws import FakeAWS
from .hosts import available as hosts_available
from .hosts import run_with_hosts
from .hosts import why_unavailable as hosts_why_unavailable
from .moto import MotoServer, moto_ecr_auth, moto_ecr_password
from .oidc import GITHUB_ISSUER, OidcIssuer, decode, github_claims
from .registry import Registry, make_oci_layout, oci_manifest_digest, write_docker_config
from .secrets import LEDGER, Hit, record, run, scan
from .wire import Call

__all__ = [
    "GITHUB_ISSUER",
    "LEDGER",
    "Call",
    "EcrExpiryProxy",
    "FakeAWS",
    "Hit",
    "MotoServer",
    "OidcIssuer",
    "Registry",
    "decode",
    "github_claims",
    "hosts_available",
    "hosts_why_unavailable",
    "make_oci_layout",
    "moto_ecr_auth",
    "moto_ecr_password",
    "oci_manifest_digest",
    "record",
    "run",
    "run_with_hosts",
    "scan",
    "write_docker_config",
]
