"""``ecr-ci``: the command line, a thin layer over the core for people at a terminal and for the CI adapters.

stdout carries only what was asked for (a password, a token, a JSON report); everything else goes to stderr.
Exit codes: 0 ok, 1 authentication or AWS failure, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from ecr_ci import __version__
from ecr_ci.errors import ConfigError, EcrCiError
from ecr_ci.settings import Settings, env_twin, resolve, specs

COMMANDS = {
    "login": "get registry tokens and write them where clients look (docker config by default)",
    "password": "print the registry password alone, for `docker login --username AWS --password-stdin`",
    "token": "print the base64 authorization token alone, for the registry HTTP API (`Authorization: Basic`)",
    "logout": "remove the entries ecr-ci wrote (and put back a credsStore/credHelpers it set aside)",
}


# Commands served by modules of their own, imported only when that command runs: (module, help).
EXTRA = {
    "configure-helper": (
        "clients.helper",
        "write credHelpers entries so docker and podman call docker-credential-ecr-ci",
    ),
    "doctor": (
        "diagnostics.doctor",
        "explain the identity, role and registries; evaluate a trust policy against the token's claims",
    ),
    "trust-policy": (
        "diagnostics.doctor",
        "print a role trust policy for a GitHub repository, GitLab project or Jenkins job",
    ),
}


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The parser, with each subcommand's flags generated from the settings schema.

    With ``selected``, only that subcommand gets its flags (and only its module is imported): `ecr-ci login` runs
    once per CI job and should not pay for the doctor's policy evaluator.
    """
    parser = argparse.ArgumentParser(
        prog="ecr-ci",
        description="Log in to Amazon ECR from CI with the job's OIDC identity: no long-lived AWS keys.",
        epilog="Every flag also has an env twin ECR_CI_<NAME>. Exit codes: 0 ok, 1 auth/AWS failure, 2 bad input.",
    )
    parser.add_argument("--version", action="version", version=f"ecr-ci {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    helps = {**COMMANDS, **{c: h for c, (_, h) in EXTRA.items()}}
    for command, help_text in helps.items():
        p = sub.add_parser(command, help=help_text, description=help_text)
        if selected is not None and command != selected:
            continue
        add_setting_flags(p, command)
        if command in EXTRA:
            module = _command_module(command)
            if hasattr(module, "add_arguments"):
                module.add_arguments(command, p)  # the command's own flags that are not settings
    return parser


def add_setting_flags(p: argparse.ArgumentParser, command: str) -> None:
    for name, spec in specs().items():
        if command not in spec.get("commands", []) or "cli" not in spec:
            continue
        kind = spec["schema"].get("type")
        help_text = f"{spec['description'].strip()} [env {env_twin(name)}]"
        if kind == "boolean":
            # A flag turns a boolean away from its default: --json sets true, --no-cache sets false.
            const = "false" if spec["schema"].get("default") is True else "true"
            p.add_argument(spec["cli"], dest=name, action="store_const", const=const, default=None, help=help_text)
        elif kind == "array":
            p.add_argument(spec["cli"], dest=name, action="append", default=None, metavar="VALUE", help=help_text)
        else:
            p.add_argument(spec["cli"], dest=name, default=None, metavar=name.upper(), help=help_text)


def say(message: str) -> None:
    print(f"ecr-ci: {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = dict(os.environ) if env is None else env
    argv = sys.argv[1:] if argv is None else list(argv)
    selected = next((a for a in argv if not a.startswith("-")), None)
    known = selected in COMMANDS or selected in EXTRA
    args = build_parser(selected if known else None).parse_args(argv)
    try:
        module = _command_module(args.command)
        if module is not None:
            code: int = module.run(args, env)
            return code
        settings = resolve(vars(args), env, command=args.command)
        return RUNNERS[args.command](settings, env)
    except EcrCiError as e:
        say("error: " + e.diagnostics().render().replace("\n", "\n  "))
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a bug, or a failure nobody foresaw: still one line, still no secret
        from ecr_ci.errors import scrub

        say(f"error: unexpected {e.__class__.__name__}: {scrub(str(e))} (please report this as a bug)")
        return 1


def _command_module(command: str) -> Any:
    """The module serving one of the :data:`EXTRA` commands, or ``None`` for the four core ones."""
    import importlib

    return importlib.import_module(f"ecr_ci.{EXTRA[command][0]}") if command in EXTRA else None


def _login(settings: Settings, env: Mapping[str, str]) -> int:
    from ecr_ci.core.flow import login

    result = login(settings, env)
    o = result.obtained
    via = f"role {o.role_arn} (session {o.session_name})" if o.role_arn else "the AWS credential chain"
    say(f"identity: {o.identity_source} → {via}")
    for a in o.auths:
        say(f"logged in to {a.host} (valid until {a.expires_at:%Y-%m-%d %H:%M:%S} UTC)")
    for f in result.files:
        say(f"wrote {len(f.hosts)} entr{'y' if len(f.hosts) == 1 else 'ies'} to {f.path}")
    for w in result.warnings:
        say(f"warning: {w}")
    if settings.json:
        print(json.dumps(result.report(), indent=2))
    return 0


def _one_group(settings: Settings, env: Mapping[str, str], what: str) -> Any:
    from ecr_ci.core.flow import get_auths, plan

    p = plan(settings)
    groups = {r.group for r in p.registries}
    if len(groups) > 1:
        raise ConfigError(
            f"registries: {what} prints one secret, but these registries need {len(groups)} different tokens "
            "(give registries of one region and type)"
        )
    return get_auths(settings, env, p).auths[0]


def _password(settings: Settings, env: Mapping[str, str]) -> int:
    sys.stdout.write(_one_group(settings, env, "password").password + "\n")
    return 0


def _token(settings: Settings, env: Mapping[str, str]) -> int:
    auth = _one_group(settings, env, "token")
    sys.stdout.write(auth.auth + "\n")
    if auth.public:
        say(f"note: {auth.host} takes this token as 'Authorization: Bearer', not Basic")
    return 0


def _logout(settings: Settings, env: Mapping[str, str]) -> int:
    from ecr_ci.core.flow import logout

    results = logout(settings, env)
    for r in results:
        for w in r.warnings:
            say(f"warning: {w}")
        say(f"removed {len(r.hosts)} entr{'y' if len(r.hosts) == 1 else 'ies'} from {r.path}")
    if settings.json:
        print(json.dumps({"files": [{"path": str(r.path), "removed": r.hosts} for r in results]}, indent=2))
    return 0


RUNNERS = {"login": _login, "password": _password, "token": _token, "logout": _logout}


def main_entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
