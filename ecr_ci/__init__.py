"""ecr-ci: log a CI job in to Amazon ECR with its OIDC identity, without long-lived keys.

The package is the shared core. It never reads CI environment variables itself: callers (the
``ecr-ci`` command line and the per-CI adapters) hand it plain values and get plain dataclasses back.
"""

__version__ = "0.1.0"
