"""The verbose log (``--verbose`` / ``ECR_CI_DEBUG=true``): each step of a login on stderr, never a secret.

Off by default and then free: :func:`debug` is one boolean test, and :mod:`logging` is imported only by
:func:`enable` (a credential-helper cache hit must not pay for it). Messages are scrubbed like every error.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a credential-helper cache hit
if TYPE_CHECKING:
    import logging

_logger: logging.Logger | None = None


def enable(stream: object = None) -> None:
    """Log every step to ``stream`` (stderr by default) through :mod:`logging`, as logger ``ecr_ci``."""
    global _logger
    import logging
    import sys

    logger = logging.getLogger("ecr_ci")
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.setFormatter(logging.Formatter("ecr-ci: debug: %(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    _logger = logger


def enabled() -> bool:
    return _logger is not None


def debug(message: str) -> None:
    """Log ``message`` when the verbose log is on (it is scrubbed of anything token-shaped first)."""
    if _logger is not None:
        from ecr_ci.errors import scrub

        _logger.debug(scrub(message))
