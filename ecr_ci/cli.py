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
from ecr_ci.settings import Settings, env_twin, resolve, specs, unknown_variables

COMMANDS = {
    "login": "get registry tokens and write them where clients look (docker config by default)",
    "configure-helper": "write credHelpers entries so docker and podman call docker-credential-ecr-ci",
    "password": "print the registry password alone, for `docker login --username AWS --password-stdin`",
    "token": "print the base64 authorization token alone, for the registry HTTP API (`Authorization: Basic`)",
    "logout": "remove the entries ecr-ci wrote (and put back a credsStore/credHelpers it set aside)",
}


# Commands served by modules of their own, imported only when that command runs: (module, help).
EXTRA = {
    "doctor": (
        "doctor_cli",
        "explain the identity, role and registries; evaluate a trust policy against the token's claims",
    ),
    "trust-policy": (
        "doctor_cli",
        "print a role trust policy for a GitHub repository, GitLab project or Jenkins job",
    ),
}


class UsageError(Exception):
    """A command line argparse cannot make sense of, said in one line (exit 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line naming the flag (with "did you mean" for a near miss), not a usage dump.

    ``--help`` still prints the whole usage: that was asked for."""

    def error(self, message: str) -> Any:  # argparse calls this for every mistake, then would exit
        raise UsageError(_one_line(self, message))


def _one_line(parser: argparse.ArgumentParser, message: str) -> str:
    import re

    command = parser.prog.removeprefix("ecr-ci").strip()
    where = f"ecr-ci {command}" if command else "ecr-ci"
    m = re.fullmatch(r"argument (\S+?)(?:/\S+)?: expected one argument", message)
    if m:
        flag = m[1]
        return f"{flag} needs a value ({_value_hint(parser, flag)}; a value that starts with - is written {flag}=VALUE)"
    m = re.fullmatch(r"argument (COMMAND|command): invalid choice: '(.*)' \(choose from .*\)", message, re.S)
    if m:
        close = _closest(m[2], _commands())
        meant = f"did you mean {close}? " if close else ""
        return f"{ascii(m[2])} is not a command ({meant}commands: {', '.join(_commands())})"
    if message.startswith("the following arguments are required: COMMAND"):
        return f"no command given (commands: {', '.join(_commands())}; ecr-ci --help explains them)"
    m = re.fullmatch(r"ambiguous option: (\S+?)(?:=.*)? could match (.*)", message, re.S)
    if m:
        return f"{m[1]} is ambiguous for {where}: it could be {m[2]} (write the flag in full)"
    return f"{where}: {' '.join(message.split())}"


def _value_hint(parser: argparse.ArgumentParser, flag: str) -> str:
    for spec in specs().values():
        if spec.get("cli") == flag:
            example = spec.get("example") or (spec["schema"].get("enum") or [None])[0]
            if example:
                return f"e.g. {flag} {str(example).split(',')[0]}"
    return f"see ecr-ci {parser.prog.removeprefix('ecr-ci').strip()} --help".replace("  ", " ")


def _commands() -> list[str]:
    return [*COMMANDS, *EXTRA, "adapter"]


def _closest(word: str, choices: Sequence[str]) -> str | None:
    """The near miss ``word`` most likely meant (a typo, a missing or doubled letter), if any."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.75)
    return close[0] if close else None


def _unknown(extras: Sequence[str], command: str, parser: argparse.ArgumentParser) -> str:
    """One line for arguments the command does not take: the first unknown flag, with the closest real one, or
    the commands it belongs to."""
    flags = [a for a in extras if a.startswith("-")]
    if not flags:
        return f"ecr-ci {command} takes flags only, not {ascii(extras[0])} (see ecr-ci {command} --help)"
    flag = flags[0].split("=", 1)[0]
    known = [o for action in parser._actions for o in action.option_strings if o.startswith("--")]
    close = _closest(flag, known)
    owners = [
        c for c in [*COMMANDS, *EXTRA] if c != command and any(
            spec.get("cli") == flag and c in spec.get("commands", []) for spec in specs().values()
        )
    ]  # fmt: skip
    if close:
        why = f"did you mean {close}?"
    elif owners:
        why = f"it is a flag of {', '.join(owners)}"
    else:
        why = f"see ecr-ci {command} --help"
    return f"{ascii(flag)[1:-1]} is not a flag of ecr-ci {command} ({why})"


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The parser, with each subcommand's flags generated from the settings schema.

    With ``selected``, only that subcommand gets its flags (and only its module is imported): `ecr-ci login` runs
    once per CI job and should not pay for the doctor's policy evaluator.
    """
    parser = _Parser(
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
        # A flag that turns a default-on setting off says what it does, not what the setting does.
        help_text = f"{str(spec.get('cli_help') or spec['description']).strip()} [env {env_twin(name)}]"
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


ADAPTERS = ("github", "gitlab", "jenkins")


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = dict(os.environ) if env is None else env
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["adapter"]:
        return _adapter(argv[1:], env)
    selected = next((a for a in argv if not a.startswith("-")), None)
    known = selected in COMMANDS or selected in EXTRA
    parser = build_parser(selected if known else None)
    try:
        args, extras = parser.parse_known_args(argv)
        if extras:
            raise UsageError(_unknown(extras, args.command, _subparser(parser, args.command)))
    except UsageError as e:
        say(f"error: {e}")
        return 2
    for warning in unknown_variables(env):
        say(f"warning: {warning}")
    debug = getattr(args, "debug", None) == "true" or env.get("ECR_CI_DEBUG", "").strip().lower() == "true"
    try:
        if debug:
            from ecr_ci.core import log

            log.enable()
        module = _command_module(args.command)
        if module is not None:
            code: int = module.run(args, env)
            return code
        settings = resolve(vars(args), env, command=args.command)
        return RUNNERS[args.command](settings, env)
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # EcrCiError, or a bug nobody foresaw: still one block, still no secret
        return report(e, debug)


def report(error: BaseException, debug: bool = False) -> int:
    """The one place the command line shows a failure: the renderer's text block on stderr; the exit code."""
    from ecr_ci.diagnostics.render import diagnose, text

    say("error: " + text(diagnose(error)).replace("\n", "\n  "))
    if debug and not isinstance(error, EcrCiError):
        import traceback

        from ecr_ci.errors import scrub

        sys.stderr.write(scrub("".join(traceback.format_exception(error))))
    return error.exit_code if isinstance(error, EcrCiError) else 1


def _adapter(argv: Sequence[str], env: Mapping[str, str]) -> int:
    """``ecr-ci adapter <ci>``: the CI adapter of that name (run by action.yml, the GitLab template, ecrLogin)."""
    import importlib

    if len(argv) != 1 or argv[0] not in ADAPTERS:
        say(f"error: usage: ecr-ci adapter {{{','.join(ADAPTERS)}}} (got {' '.join(argv) or 'nothing'})")
        return 2
    module = importlib.import_module(f"ecr_ci.adapters.{argv[0]}")
    code: int = module.main(env)
    return code


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found: argparse.ArgumentParser = action.choices[command]
            return found
    return parser


def _command_module(command: str) -> Any:
    """The module serving one of the :data:`EXTRA` commands, or ``None`` for the four core ones."""
    import importlib

    return importlib.import_module(f"ecr_ci.{EXTRA[command][0]}") if command in EXTRA else None


def _identity(settings: Settings, env: Mapping[str, str]) -> Any:
    """The token source the ``oidc`` setting selects, and the CI's default session name."""
    from ecr_ci import ci

    return ci.select(settings, env), ci.session_name(env)


def _login(settings: Settings, env: Mapping[str, str]) -> int:
    from ecr_ci.core.flow import login

    source, session = _identity(settings, env)
    result = login(settings, env, source, session_name=session)
    for line in result.describe():
        say(line)
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
    source, session = _identity(settings, env)
    return get_auths(settings, env, source, p, session_name=session).auths[0]


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


def _configure_helper(settings: Settings, env: Mapping[str, str]) -> int:
    """``configure-helper``: credHelpers entries so that docker and podman call docker-credential-ecr-ci."""
    import shutil

    from ecr_ci.clients.helper import EXECUTABLE, HELPER, configure
    from ecr_ci.core.flow import registries_of

    hosts = [r.host for r in registries_of(settings)]
    result, notes = configure(hosts, env, settings.docker_config)
    for host in result.hosts:
        say(f"credHelpers[{host}] = {HELPER!r} in {result.path}: docker calls {EXECUTABLE} for it")
    for note in notes:
        say(note)
    say(
        "podman, buildah and skopeo use these entries too, unless their own auth file (REGISTRY_AUTH_FILE, else "
        "${XDG_RUNTIME_DIR}/containers/auth.json) has an entry for the host, which wins"
    )
    say(
        f"{EXECUTABLE} reads its settings from ECR_CI_* variables in the client's environment (ECR_CI_ROLE_ARN, "
        "ECR_CI_OIDC, ...); without them it uses the AWS credential chain. Tokens are cached until half their "
        "lifetime (ECR_CI_CACHE_DIR)"
    )
    if shutil.which(EXECUTABLE, path=env.get("PATH")) is None:
        say(
            f'warning: {EXECUTABLE} is not on PATH, so docker will fail for these hosts with "executable file not '
            'found" (install ecr-ci where the client runs, e.g. `pip install ecr-ci`, or add its bin directory to PATH)'
        )
    return 0


RUNNERS = {
    "login": _login,
    "password": _password,
    "token": _token,
    "logout": _logout,
    "configure-helper": _configure_helper,
}


def main_entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
