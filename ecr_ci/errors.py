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
    """Structured, secret-free context for a failure, rendered by each adapter in its platform's way.

    ``claims`` are the identity token's unverified claims (never the token or its signature),
    ``condition_keys`` maps IAM condition keys (``token.actions.githubusercontent.com:sub``) to the value they
    would be matched as, ``hints`` are the likely causes, most likely first, and ``details`` are longer supporting
    lines (a trust-policy evaluation, a suggested policy), rendered last.
    """

    summary: str
    claims: dict[str, object] = field(default_factory=dict)
    condition_keys: dict[str, object] = field(default_factory=dict)
    hints: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    def render(self) -> str:
        """Plain text block: what GitLab, Jenkins and a terminal show."""
        lines = [self.summary]
        if self.claims:
            lines.append("Identity token claims (unverified, for debugging):")
            lines += [f"  {k}: {_show(v)}" for k, v in self.claims.items()]
        if self.condition_keys:
            lines.append("They are matched in the role's trust policy as:")
            lines += [f"  {k} = {_show(v)}" for k, v in self.condition_keys.items()]
        if self.hints:
            lines.append("Likely cause:" if len(self.hints) == 1 else "Likely causes:")
            lines += [f"  - {h}" for h in self.hints]
        # Last: details can be long (a suggested trust policy) and must not push the claims out of view.
        lines += [f"  {d}" for d in self.details]
        return "\n".join(lines)


def _show(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(repr(v) if isinstance(v, str) else str(v) for v in value)
    return repr(value) if isinstance(value, str) else str(value)


class EcrCiError(Exception):
    """Base of every error ecr-ci raises on purpose. ``exit_code`` is what the command line exits with."""

    exit_code = 1

    def __init__(self, message: str, *, diagnostics: Diagnostics | None = None) -> None:
        super().__init__(scrub(message))
        if diagnostics is not None:
            diagnostics.summary = scrub(diagnostics.summary)
            diagnostics.details = [scrub(d) for d in diagnostics.details]
        self._diagnostics = diagnostics

    def diagnostics(self) -> Diagnostics:
        """The secret-free context of this failure; at least the one-line message."""
        return self._diagnostics or Diagnostics(summary=str(self))


class ConfigError(EcrCiError):
    """A setting, flag, environment twin or input file is invalid: raised before any network call (exit 2)."""

    exit_code = 2


class IdentityTokenError(EcrCiError):
    """The CI's OIDC identity token could not be obtained: missing permission, undeclared variable, bad file,
    or the token endpoint failed (exit 1)."""


class AwsError(EcrCiError):
    """An AWS call failed for a reason other than trust: throttling past the deadline, a 5xx, a network error,
    or a permission such as ``ecr:GetAuthorizationToken`` missing (exit 1)."""


class TrustError(AwsError):
    """STS refused the identity token: AccessDenied, InvalidIdentityToken, ExpiredToken, IDPRejectedClaim, or
    IDPCommunicationError past the deadline. Carries the token's claims and a likely cause (exit 1)."""


class SinkError(EcrCiError):
    """A credential file could not be read, merged or written; the existing file is left untouched (exit 1)."""
