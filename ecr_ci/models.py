"""Plain values that flow one way: settings → identity token → AWS credentials → registry auths → sinks.

They are records (:mod:`ecr_ci._record`): dataclasses that cost a credential-helper cache hit nothing to import.
"""

from __future__ import annotations

import base64
from datetime import datetime

from ecr_ci._record import field, record


@record(frozen=True)
class Registry:
    """One registry the user asked for, parsed and checked.

    ``variant`` is the endpoint flavour the API call must use: ``"standard"``, ``"fips"``, ``"dualstack"`` or
    ``"fips-dualstack"``. ``account`` is ``None`` for ECR Public.
    """

    host: str
    region: str
    partition: str
    account: str | None = None
    variant: str = "standard"
    public: bool = False

    @property
    def group(self) -> tuple[str, str, str, bool]:
        """Registries sharing this key are served by one GetAuthorizationToken call."""
        return (self.partition, self.region, self.variant, self.public)


@record(frozen=True)
class Credentials:
    """Temporary AWS credentials. ``expiration`` is ``None`` for credentials that do not expire on their own."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    expiration: datetime | None = None
    role_arn: str | None = None
    assumed_role_id: str | None = None


@record(frozen=True)
class RegistryAuth:
    """A login for one registry host. ``password`` is secret; ``expires_at`` is already the earlier of the
    token's own expiry and the role session's."""

    host: str
    username: str
    password: str = field(repr=False)
    expires_at: datetime
    public: bool = False

    @property
    def auth(self) -> str:
        """``base64("<username>:<password>")``: docker's ``auths[host].auth`` and the HTTP API's Basic token."""
        return base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")
