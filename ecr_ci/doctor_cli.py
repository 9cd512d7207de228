"""``ecr-ci doctor`` and ``ecr-ci trust-policy``: their flags and their output (the checks themselves are
:mod:`ecr_ci.diagnostics.doctor`; the policies :mod:`ecr_ci.diagnostics.trustgen`). Imported only when one of the
two commands runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import Any

from ecr_ci.diagnostics import doctor, trust, trustgen
from ecr_ci.errors import ConfigError
from ecr_ci.settings import resolve


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """The flags of ``doctor`` and ``trust-policy`` that are not settings (``cli.build_parser`` calls this)."""
    if command == "doctor":
        parser.add_argument(
            "--trust-policy",
            metavar="FILE",
            help="evaluate this trust policy (JSON as written, or as `aws iam get-role` prints it; - reads stdin) "
            "against the token's claims; no AWS call is made",
        )
        parser.add_argument(
            "--offline",
            action="store_true",
            help="make no AWS call (no sts:AssumeRoleWithWebIdentity, no iam:GetRole)",
        )
        return
    if command != "trust-policy":
        return
    add = parser.add_argument
    add("--ci", metavar="CI", help="github, gitlab or jenkins")
    add("--account", metavar="ID", help="the 12-digit AWS account that owns the role and the OIDC provider")
    add("--partition", metavar="NAME", default="aws", help="aws (default), aws-cn, aws-us-gov, aws-iso, …")
    add("--audience", metavar="AUD", help="default sts.amazonaws.com (sts.amazonaws.com.cn in aws-cn)")
    add("--format", metavar="FMT", default="text", help="text (default: policy and provider) or json (policy alone)")
    gh = parser.add_argument_group("GitHub")
    gh.add_argument("--repo", metavar="OWNER/NAME", help="the repository whose jobs may assume the role")
    for flag, what in (("branch", "a branch"), ("tag", "a tag"), ("environment", "a GitHub environment")):
        gh.add_argument(f"--{flag}", action="append", metavar="NAME", help=f"allow {what} (repeatable; * wildcards)")
    gh.add_argument("--pull-request", action="store_true", default=None, help="allow pull_request jobs")
    gh.add_argument("--enterprise", metavar="SLUG", help="GitHub Enterprise Cloud with a unique issuer")
    gh.add_argument("--owner-id", metavar="ID", help="owner ID, for immutable subjects (with --repo-id)")
    gh.add_argument("--repo-id", metavar="ID", help="repository ID, for immutable subjects (with --owner-id)")
    gl = parser.add_argument_group("GitLab")
    gl.add_argument("--project", metavar="GROUP/NAME", help="the project whose pipelines may assume the role")
    gl.add_argument("--ref-type", metavar="TYPE", help="branch (default) or tag")
    both = parser.add_argument_group("GitHub and GitLab")
    both.add_argument("--ref", action="append", metavar="REF", help="GitHub: a full ref (refs/…); GitLab: a ref name")
    both.add_argument("--any-ref", action="store_true", default=None, help="allow every ref of the repo/project")
    both.add_argument("--host", metavar="HOST", help="self-managed GitLab, or GitHub Enterprise Server")
    jk = parser.add_argument_group("Jenkins")
    jk.add_argument("--issuer", metavar="URL", help="the issuer URL (Jenkins: https://jenkins.example.com/oidc)")
    jk.add_argument("--job", action="append", metavar="URL", help="a job URL or pattern (repeatable)")


_TRUST_OPTIONS = (
    "account", "partition", "audience", "repo", "branch", "tag", "environment", "pull_request", "enterprise",
    "owner_id", "repo_id", "project", "ref_type", "ref", "any_ref", "host", "issuer", "job",
)  # fmt: skip


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Both commands (``cli.py`` dispatches ``doctor`` and ``trust-policy`` here)."""
    if args.command == "trust-policy":
        return trust_policy_command(args)
    settings = resolve(vars(args), env, command="doctor")
    policy = None
    if args.trust_policy:
        policy = read_policy(args.trust_policy)
    report = doctor.diagnose(settings, env, policy=policy, live=not args.offline and policy is None)
    if settings.json:
        sys.stdout.write(json.dumps(report.as_json(), indent=2, default=str) + "\n")
    else:
        sys.stdout.write(report.render())
    return 0 if report.ok else 1


def trust_policy_command(args: argparse.Namespace) -> int:
    """``ecr-ci trust-policy``: the policy on stdout; with ``--format json`` the provider to register on stderr."""
    if not args.ci:
        raise ConfigError("trust-policy: --ci is required (github, gitlab or jenkins)")
    if args.format not in ("text", "json"):
        raise ConfigError(f"trust-policy: --format {args.format!r} must be text or json")
    options = {}
    for name in _TRUST_OPTIONS:
        value = getattr(args, name, None)
        options[name] = ",".join(value) if isinstance(value, list) else value
    setup = trustgen.from_options(args.ci, **options)
    sys.stdout.write(trustgen.render(setup, fmt=args.format))
    if args.format == "json":
        sys.stderr.write(
            f"ecr-ci: register the IAM OIDC provider {setup.provider_url} with audience {setup.audience} "
            f"({setup.provider_arn})\n"
        )
    return 0


def read_policy(path: str) -> tuple[dict[str, Any], str, list[str]]:
    """``(policy, where it came from, warnings)`` from a file or ``-`` (stdin); :class:`ConfigError` if unusable."""
    if path == "-":
        text, label = sys.stdin.read((1 << 20) + 1), "the trust policy from stdin"
        if len(text) > 1 << 20:
            raise ConfigError("--trust-policy: - (stdin) is larger than 1 MiB, more than any trust policy needs")
    else:
        from ecr_ci import _files

        try:
            data = _files.read_regular(path, limit=_files.MiB)
            if data is None:
                raise ConfigError(f"--trust-policy: {path} cannot be read (it does not exist)")
            text = _files.decode_utf8(data)
        except _files.BadFile as e:
            raise ConfigError(f"--trust-policy: {path} {e}") from None
        label = f"the trust policy in {path}"
    warnings: list[str] = []
    try:
        policy = trust.load_policy(text, warnings=warnings)
    except ConfigError as e:
        raise ConfigError(f"--trust-policy: {path}: {e}") from e
    return policy, label, warnings
