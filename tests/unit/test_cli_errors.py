"""Command-line mistakes are one line naming the flag, exit 2: never argparse's multi-line usage dump.

Generated from the real parser and the settings schema, so a new flag or command is covered the day it appears:
every flag that takes a value, given none (last on the line, or followed by something that looks like a flag);
every flag and command misspelt (a swapped pair, a doubled letter, a dropped letter) gets "did you mean"; flags
far from any real one, flags of another command, stray arguments, no command at all. Also: misspelt ``ECR_CI_*``
variables are warned about with the closest setting's variable; the help of a flag that turns a default-on setting
off says what the flag does; a value that breaks a setting's pattern is answered with an example, not a regex.
"""

from __future__ import annotations

import argparse
import os
import re

import pytest

from ecr_ci import cli
from ecr_ci.settings import env_twin, specs
from tests.e2e.hostile import assert_one_line
from tests.e2e.hostile import cli as run

COMMANDS = [*cli.COMMANDS, *cli.EXTRA]


def _subparser(command: str) -> argparse.ArgumentParser:
    return cli._subparser(cli.build_parser(command), command)


def _flags(command: str, *, with_value: bool | None = None) -> list[str]:
    found = []
    for action in _subparser(command)._actions:
        long = [o for o in action.option_strings if o.startswith("--") and o != "--help"]
        if not long:
            continue
        takes_value = action.nargs is None and not isinstance(
            action, (argparse._StoreConstAction, argparse._StoreTrueAction, argparse._HelpAction)
        )
        if with_value is None or takes_value == with_value:
            found.append(long[0])
    return found


VALUE_FLAGS = [(c, f) for c in COMMANDS for f in _flags(c, with_value=True)]


def test_the_generated_cases_cover_every_command_and_the_flags_that_matter():
    assert {c for c, _ in VALUE_FLAGS} == set(COMMANDS)
    assert ("login", "--registry") in VALUE_FLAGS and ("doctor", "--trust-policy") in VALUE_FLAGS


@pytest.mark.parametrize("follow", ["last", "-x", "--json", "-"])
@pytest.mark.parametrize(("command", "flag"), VALUE_FLAGS, ids=[f"{c}{f}" for c, f in VALUE_FLAGS])
def test_a_flag_without_its_value_is_one_line_naming_it(command, flag, follow):
    args = [command, flag] if follow == "last" else [command, flag, follow]
    if follow == "-":  # "-" is a value (stdin) for argparse: only check it is not a usage dump either way
        outcome = run(*args, env={"PATH": os.environ["PATH"]})
        assert "usage:" not in outcome.err and len(outcome.lines) <= 12
        return
    line = assert_one_line(run(*args, env={"PATH": os.environ["PATH"]}), 2, flag)
    assert "needs a value" in line


def _misspellings(word: str) -> dict[str, str]:
    """Typos of ``--word`` that are neither real flags nor prefixes argparse would expand."""
    stem = word[2:]
    out = {}
    if len(stem) >= 4:
        i = len(stem) // 2
        out["swapped"] = "--" + stem[: i - 1] + stem[i] + stem[i - 1] + stem[i + 1 :]
        out["doubled"] = "--" + stem[:i] + stem[i] + stem[i:]
        out["dropped"] = "--" + stem[: i - 1] + stem[i:]
    return {k: v for k, v in out.items() if v != word}


MISSPELT = [
    pytest.param(command, flag, typo, id=f"{command}{flag}-{kind}")
    for command in COMMANDS
    for flag in _flags(command)
    for kind, typo in _misspellings(flag).items()
    if not any(other.startswith(typo) for other in _flags(command))
]


@pytest.mark.parametrize(("command", "flag", "typo"), MISSPELT)
def test_a_misspelt_flag_is_one_line_with_did_you_mean(command, flag, typo):
    line = assert_one_line(run(command, typo, "x", env={"PATH": os.environ["PATH"]}), 2, typo)
    assert f"did you mean {flag}?" in line


@pytest.mark.parametrize(
    "command", [c for c in cli.COMMANDS if len(c) >= 5] + ["doctor", "trust-policy", "configure-helper"]
)
@pytest.mark.parametrize("kind", ["swapped", "doubled", "dropped"])
def test_a_misspelt_command_is_one_line_with_did_you_mean(command, kind):
    typo = _misspellings("--" + command)[kind][2:]
    line = assert_one_line(run(typo, env={"PATH": os.environ["PATH"]}), 2, typo)
    assert f"did you mean {command}?" in line


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["login", "--frobnicate"], "--frobnicate is not a flag of ecr-ci login (see ecr-ci login --help)"),
        (["login", "--zz=1"], "--zz is not a flag of ecr-ci login"),
        (["login", "-x"], "-x is not a flag of ecr-ci login"),
        (["logout", "--role-arn", "x"], "it is a flag of login"),
        (["configure-helper", "--duration", "900"], "it is a flag of login"),
        (["login", "stray"], "takes flags only, not 'stray'"),
        ([], "no command given"),
        (["--registry", "x", "login"], "'x' is not a command"),
        (["frobnicate"], "'frobnicate' is not a command (commands: login"),
        (["login", "--reg", "x"], "--reg is ambiguous"),
    ],
)
def test_other_command_line_mistakes_are_one_line(args, says):
    line = assert_one_line(run(*args, env={"PATH": os.environ["PATH"]}), 2)
    assert says in line and "did you mean" not in line


def test_help_is_still_the_full_usage():
    outcome = run("login", "--help", env={})
    assert outcome.code == 0 and "usage: ecr-ci login" in outcome.out and "--registry" in outcome.out


# --- unknown ECR_CI_* variables ------------------------------------------------------------------------------------


def _variable_typos() -> list[tuple[str, str]]:
    twins = {env_twin(n) for n in specs()}
    cases = []
    for twin in sorted(twins):
        stem = twin.removeprefix("ECR_CI_")
        typos = {stem[:-1], stem + "S", stem.replace("_", "", 1)} if len(stem) > 4 else {stem + "S"}
        if stem.endswith("IES"):  # the reported one: ECR_CI_REGISTRY for ECR_CI_REGISTRIES
            typos.add(stem[:-3] + "Y")
        cases += [(f"ECR_CI_{t}", twin) for t in sorted(typos) if f"ECR_CI_{t}" not in twins and t != stem]
    return cases


VARIABLE_TYPOS = _variable_typos()


def test_the_variable_cases_include_the_reported_one():
    assert ("ECR_CI_REGISTRY", "ECR_CI_REGISTRIES") in VARIABLE_TYPOS


@pytest.mark.parametrize(("variable", "meant"), VARIABLE_TYPOS, ids=[v for v, _ in VARIABLE_TYPOS])
def test_a_misspelt_variable_is_warned_about_with_the_closest_setting(variable, meant, tmp_path):
    outcome = run("logout", env={"HOME": str(tmp_path), variable: "x"})
    assert outcome.code == 0, outcome.err
    warnings = [line for line in outcome.lines if "warning:" in line]
    assert len(warnings) == 1 and variable in warnings[0], outcome.err
    assert f"did you mean {meant}?" in warnings[0]


@pytest.mark.parametrize(
    "variable", ["ECR_CI_INPUT_ROLE_TO_ASSUME", "ECR_CI_INPUT_ROLEARN", "ECR_CI_BOOTSTRAP_VERSION", "ECR_CI_DEBUG"]
)
def test_the_adapters_and_bootstraps_variables_are_not_warned_about(variable, tmp_path):
    outcome = run("logout", env={"HOME": str(tmp_path), variable: "false"})
    assert outcome.code == 0 and "warning" not in outcome.err, outcome.err


def test_a_variable_like_no_setting_still_gets_one_line(tmp_path):
    outcome = run("logout", env={"HOME": str(tmp_path), "ECR_CI_FROBNICATE": "1"})
    (warning,) = [line for line in outcome.lines if "warning:" in line]
    assert "ECR_CI_FROBNICATE is not an ecr-ci setting" in warning and "did you mean" not in warning


# --- help texts and examples ---------------------------------------------------------------------------------------

OFF_SWITCHES = [n for n, s in specs().items() if s["schema"].get("type") == "boolean" and s["schema"].get("default")]


@pytest.mark.parametrize("name", OFF_SWITCHES)
def test_a_flag_that_turns_a_setting_off_says_what_the_flag_does(name):
    spec = specs()[name]
    assert spec.get("cli_help"), f"{spec['cli']} turns {name} off: give it a cli_help saying so"
    for command in spec["commands"]:
        action = next(a for a in _subparser(command)._actions if spec["cli"] in a.option_strings)
        assert action.help and action.help.startswith(spec["cli_help"].split()[0])
        assert not action.help.startswith(spec["description"].split(".")[0])


def test_no_cache_help_says_it_fetches_every_time():
    action = next(a for a in _subparser("login")._actions if "--no-cache" in a.option_strings)
    assert action.help and action.help.startswith("Fetch registry tokens every time and write no cache file")


PATTERNED = [
    (n, c)
    for n, s in specs().items()
    if "cli" in s and ("pattern" in s["schema"] or "pattern" in s["schema"].get("items", {}))
    for c in s["commands"][:1]
]


@pytest.mark.parametrize(("name", "command"), PATTERNED, ids=[n for n, _ in PATTERNED])
def test_a_value_that_breaks_a_pattern_is_answered_with_an_example_not_a_regex(name, command, tmp_path):
    spec = specs()[name]
    assert spec.get("example"), f"{name} has a pattern: give it an example"
    args = [command, spec["cli"], "#not valid#"]
    if command in ("login", "password", "token", "configure-helper", "logout") and name != "registries":
        args += ["--registry", "123456789012.dkr.ecr.us-east-1.amazonaws.com"]
    line = assert_one_line(run(*args, env={"HOME": str(tmp_path)}), 2, spec["cli"])
    assert f"expected something like {spec['example']}" in line
    assert not re.search(r"\^|\$\)|\\[dws]|\[[A-Za-z0-9]-", line), line


def test_role_arn_notanarn_shows_an_example():
    line = assert_one_line(run("login", "--role-arn", "notanarn", env={}), 2, "--role-arn", "'notanarn'")
    assert "expected something like arn:aws:iam::123456789012:role/ci-push" in line
