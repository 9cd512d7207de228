"""One exception tree for everything ecr-ci can fail on.

Every message follows ``"<where>: <what failed> (<evidence>)"`` and names the exact setting, variable or IAM
action involved; none ever contains a secret (a password, an authorization token or an identity token).
Adapters catch :class:`EcrCiError` once and render :meth:`EcrCiError.diagnostics` their own way.
:class:`Diagnostics` is a record (:mod:`ecr_ci._record`), a dataclass that costs a credential-helper cache hit
nothing to import.
"""

from __future__ import annotations

import re

from ecr_ci._record import field, record

# A JWT (three base64url parts) or a long unbroken base64 run: what an identity token, a registry password or an
# authorization token looks like. Error messages quote what the user gave, and users do paste a token where its
# variable name or file path belongs, so every message passes through :func:`scrub`.
_SECRET_SHAPED = re.compile(r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}|[A-Za-z0-9+/=_-]{200,}")


def scrub(text: str) -> str:
    """``text`` with anything shaped like a token or password replaced by ``<redacted>``."""
    return _SECRET_SHAPED.sub("<redacted>", text)


@record
class Diagnostics:
    """Structured, secret-free context for a failure; :mod:`ecr_ci.diagnostics.render` turns it into text or
    Markdown, and each adapter shows that its platform's way.

    ``code`` is a stable cause code (``input.invalid``, ``github.no-id-token-permission``, ``sts.access-denied``,
    …: docs/architecture.md lists them) that adapters and scripts may branch on instead of parsing prose.
    ``claims`` are the identity token's unverified claims (never the token or its signature), ``condition_keys``
    maps IAM condition keys (``token.actions.githubusercontent.com:sub``) to the value they would be matched as,
    ``hints`` are the likely causes, most likely first, ``details`` are longer supporting lines (a trust-policy
    evaluation, a suggested policy), rendered last, and ``fields`` are the failure's facts by name (the setting and
    how the user spelled it, the role ARN, the STS error code, …).
    """

    summary: str
    code: str = "error"
    claims: dict[str, object] = field(default_factory=dict)
    condition_keys: dict[str, object] = field(default_factory=dict)
    hints: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    fields: dict[str, object] = field(default_factory=dict)


class EcrCiError(Exception):
    """Base of every error ecr-ci raises on purpose. ``exit_code`` is what the command line exits with, ``code``
    the default cause code of the class (an instance may carry a more precise one)."""

    exit_code = 1
    code = "error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        diagnostics: Diagnostics | None = None,
        **fields: object,
    ) -> None:
        super().__init__(scrub(message))
        if code is not None:
            self.code = code
        elif diagnostics is not None and diagnostics.code != "error":
            self.code = diagnostics.code
        self.fields = fields
        self._diagnostics = diagnostics

    def diagnostics(self) -> Diagnostics:
        """The secret-free context of this failure (a new record: the caller's is never changed); at least the
        one-line message and the cause code."""
        d = self._diagnostics
        if d is None:
            return Diagnostics(summary=str(self), code=self.code, fields=dict(self.fields))
        return Diagnostics(
            summary=scrub(d.summary),
            code=self.code,
            claims=dict(d.claims),
            condition_keys=dict(d.condition_keys),
            hints=[scrub(h) for h in d.hints],
            details=[scrub(x) for x in d.details],
            fields={**d.fields, **self.fields},
        )


class ConfigError(EcrCiError):
    """A setting, flag, environment twin, adapter input or input file is invalid: raised before any network call
    (exit 2)."""

    exit_code = 2
    code = "input.invalid"


class IdentityTokenError(EcrCiError):
    """The CI's OIDC identity token could not be obtained: missing permission, undeclared variable, bad file,
    or the token endpoint failed (exit 1)."""

    code = "identity.failed"


class AwsError(EcrCiError):
    """An AWS call failed for a reason other than trust: throttling past the deadline, a 5xx, a network error,
    or a permission such as ``ecr:GetAuthorizationToken`` missing (exit 1)."""

    code = "aws.failed"


class TrustError(AwsError):
    """STS refused the identity token: AccessDenied, InvalidIdentityToken, ExpiredToken, IDPRejectedClaim, or
    IDPCommunicationError past the deadline (exit 1). Its ``fields`` hold what an explanation needs (STS's error
    code and message, the role, the audience and partition expected, the token's source and unverified claims);
    :func:`ecr_ci.diagnostics.render.diagnose` turns them into the claims, condition keys and likely causes."""

    code = "sts.refused"


class SinkError(EcrCiError):
    """A credential file could not be read, merged or written; the existing file is left untouched (exit 1)."""

    code = "sink.failed"


class SinkUnreadable(SinkError):
    """A credential file (or ecr-ci's record or lock beside it) that a command would read or replace is not a
    regular file, is too large, or is not strict JSON of the expected shape: bad input, found before any network
    call, and left untouched (exit 2)."""

    exit_code = 2
    code = "sink.unreadable"
