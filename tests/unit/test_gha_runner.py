"""The runner emulator itself (tests/e2e/gha_runner.py): it must be able to fail.

Each masking rule is shown both ways: a well-behaved step passes and the matching mistake (a late mask, a
secret on stderr, in an annotation, in a step's env block, in the summary) is caught.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from tests.e2e.gha_runner import (
    ExpressionError,
    Job,
    Violation,
    condition,
    evaluate,
    interpolate,
    parse_command,
    parse_file_command,
)
from tests.testbed.secrets import LEDGER


def action(tmp_path: Path, steps: list[dict], inputs: dict | None = None, outputs: dict | None = None) -> Path:
    d = tmp_path / "action"
    d.mkdir(exist_ok=True)
    manifest = {"name": "t", "description": "t", "runs": {"using": "composite", "steps": steps}}
    if inputs is not None:
        manifest["inputs"] = inputs
    if outputs is not None:
        manifest["outputs"] = outputs
    (d / "action.yml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    return d


@pytest.fixture
def secret() -> str:
    """A value the ledger knows as a registry password (so its docker-auth form is known too)."""
    value = "s3cr3t-" + base64.b32encode(__import__("os").urandom(10)).decode()
    LEDGER.add_password(value, "gha-runner-test")
    return value


# -- expressions ---------------------------------------------------------------------------------------------
CTX = {
    "github": {"event_name": "push", "run_id": "42", "event": {"pull_request": {"head": {"repo": {"fork": True}}}}},
    "runner": {"os": "Linux"},
    "env": {"A": "x"},
    "steps": {"setup": {"outputs": {"path": "/p"}}},
}


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("runner.os == 'Windows'", False),
        ("runner.os == 'linux'", True),  # strings compare case-insensitively
        ("runner.os != 'Windows' && github.event_name == 'push'", True),
        ("steps.setup.outputs.path || 'fallback'", "/p"),
        ("steps.nothere.outputs.path || 'fallback'", "fallback"),
        ("steps.setup.outputs.path && 'then'", "then"),
        ("!env.MISSING", True),
        ("github.run_id == 42", True),  # a string and a number compare as numbers
        ("'' == 0", True),
        ("null == false", True),
        ("github['event_name']", "push"),
        ("github.event.pull_request.head.repo.fork", True),
        ("contains('Hello', 'ELL')", True),
        ("startsWith(github.event_name, 'pu') && endsWith('abc', 'C')", True),
        ("format('{0}-{1}{{x}}', 'a', 1)", "a-1{x}"),
        ("join(fromJSON('[1, 2]'), '+')", "1+2"),
        ("1 < 2 && 'b' > 'A'", True),
        ("(false || 0) == ''", True),
        ("'it''s'", "it's"),
    ],
)
def test_expressions(expr, value):
    assert evaluate(expr, CTX) == value


@pytest.mark.parametrize("expr", ["secrets.X", "hashFiles('x')", "runner.os ==", "'unclosed", "github.*.x"])
def test_expressions_the_emulator_does_not_know_are_errors_not_guesses(expr):
    with pytest.raises(ExpressionError):
        evaluate(expr, CTX)


def test_interpolation_and_implicit_success():
    assert interpolate("a ${{ env.A }} b ${{ '}}' }}", CTX) == "a x b }}"
    status = {"success": False, "failure": True, "always": True, "cancelled": False}
    assert condition("runner.os == 'Linux'", CTX, status) is False  # implicit success() &&
    assert condition("${{ always() && runner.os == 'Linux' }}", CTX, status) is True
    assert condition("failure()", CTX, status) is True


def test_undeclared_input_is_an_error(tmp_path):
    d = action(tmp_path, [{"run": "echo ${{ inputs.nope }}", "shell": "bash"}], inputs={"yes": {"description": "y"}})
    with pytest.raises(ExpressionError, match="inputs.nope"):
        Job(tmp_path / "job").uses(d)
    with pytest.raises(ValueError, match="unexpected input"):
        Job(tmp_path / "job2").uses(d, {"typo": "1"})


# -- runner files --------------------------------------------------------------------------------------------
def test_file_commands_are_parsed_the_runners_way():
    text = "a=1\nb<<EOF\nline 1\nline=2\nEOF\n\nc=x<<y\nd<<x=y\nv\nx=y\n"
    assert parse_file_command(text) == {"a": "1", "b": "line 1\nline=2", "c": "x<<y", "d": "v"}
    with pytest.raises(ValueError, match="Matching delimiter not found"):
        parse_file_command("a<<EOF\nno end\n")
    with pytest.raises(ValueError, match="Invalid format"):
        parse_file_command("no separator\n")


def test_commands_are_parsed_the_runners_way():
    assert parse_command("  ::error file=a%2Cb,line=3::bad%0Athing") == (
        "error",
        {"file": "a,b", "line": "3"},
        "bad\nthing",
    )
    assert parse_command("::unknown::x") is None
    assert parse_command("echo ::error::x") is None


def test_steps_outputs_env_path_and_working_directory(tmp_path):
    steps = [
        {"id": "one", "shell": "bash", "run": 'echo "x=${{ inputs.word }}" >> "$GITHUB_OUTPUT"\n'
         'printf "multi<<ZZ\\na\\nb\\nZZ\\n" >> "$GITHUB_OUTPUT"\necho "FROM_ONE=1" >> "$GITHUB_ENV"\n'
         'mkdir -p "$RUNNER_TEMP/bin" && echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"\n'
         'printf "#!/bin/sh\\necho tool-ran\\n" > "$RUNNER_TEMP/bin/mytool"; chmod +x "$RUNNER_TEMP/bin/mytool"'},
        {"id": "two", "shell": "bash", "if": "steps.one.outputs.x == 'HELLO'", "working-directory": "sub",
         "env": {"GOT": "${{ steps.one.outputs.x }}"},
         "run": 'test "$FROM_ONE" = 1 && test "$(basename "$PWD")" = sub && mytool\n'
                'echo "got=$GOT" >> "$GITHUB_OUTPUT"'},
        {"id": "never", "shell": "bash", "if": "runner.os == 'Plan9'", "run": "exit 1"},
    ]  # fmt: skip
    outputs = {"got": {"value": "${{ steps.two.outputs.got }}"}, "multi": {"value": "${{ steps.one.outputs.multi }}"}}
    d = action(tmp_path, steps, inputs={"word": {"description": "w", "default": "hello"}}, outputs=outputs)
    job = Job(tmp_path / "job")
    (job.workspace / "sub").mkdir()
    result = job.uses(d)
    assert [s.outcome for s in result.steps] == ["success", "success", "skipped"], job.text()
    assert result.outputs == {"got": "hello", "multi": "a\nb"}
    assert "tool-ran" in job.text()
    follow = job.run('test "$FROM_ONE" = 1 && mytool')  # GITHUB_ENV and GITHUB_PATH reach later job steps
    assert follow.outcome == "success", job.text()


def test_a_failed_step_skips_the_rest_but_not_always(tmp_path):
    steps = [
        {"shell": "bash", "run": "false"},
        {"shell": "bash", "run": "echo should-not-run"},
        {"shell": "bash", "if": "always()", "run": "echo cleanup-ran"},
    ]
    job = Job(tmp_path / "job")
    result = job.uses(action(tmp_path, steps))
    assert result.failed and [s.outcome for s in result.steps] == ["failure", "skipped", "success"]
    assert "Process completed with exit code 1." in result.errors()
    assert "cleanup-ran" in job.text() and "should-not-run\n" not in job.text() + "\n"
    assert job.run("echo later").outcome == "skipped"


def test_a_broken_heredoc_fails_the_step(tmp_path):
    job = Job(tmp_path / "job")
    result = job.uses(action(tmp_path, [{"shell": "bash", "run": 'printf "x<<EOF\\nno end\\n" >> "$GITHUB_OUTPUT"'}]))
    assert result.failed and any("Matching delimiter not found" in e for e in result.errors())


def test_composite_steps_need_a_shell(tmp_path):
    with pytest.raises(ValueError, match="no shell"):
        Job(tmp_path / "job").uses(action(tmp_path, [{"run": "true"}]))


def test_inputs_are_interpolated_into_run_like_the_runner_does(tmp_path):
    """Negative control for the injection tests: `${{ inputs.x }}` in run: executes what the input says."""
    marker = tmp_path / "pwned"
    d = action(tmp_path, [{"shell": "bash", "run": 'echo "${{ inputs.x }}"'}], inputs={"x": {"description": "x"}})
    Job(tmp_path / "job").uses(d, {"x": f'"; touch {marker}; echo "'})
    assert marker.exists()


# -- masking -------------------------------------------------------------------------------------------------
def test_a_mask_before_the_value_hides_it_everywhere(tmp_path, secret):
    # The secret reaches the step through a file: a literal in the script or env block would show in its header.
    (tmp_path / "s").write_text(secret)
    run = (
        f'S=$(cat {tmp_path / "s"})\necho "::add-mask::$S"\necho "value: $S"\necho "err $S" >&2\necho "::error::bad $S"'
    )
    job = Job(tmp_path / "job")
    result = job.uses(action(tmp_path, [{"shell": "bash", "run": run}]))
    assert job.is_masked(secret) and job.violations == []
    assert "value: ***" in job.text() and "err ***" in job.text() and "bad ***" in result.errors()
    assert secret not in job.text()


def test_a_secret_written_into_the_script_shows_in_its_header(tmp_path, secret):
    """The runner shows the script before it runs: a literal secret in it is visible whatever the step does."""
    job = Job(tmp_path / "job", strict=False)
    job.uses(action(tmp_path, [{"shell": "bash", "run": f'echo "::add-mask::{secret}"'}]))
    assert any("unmasked password" in v for v in job.violations)


@pytest.mark.parametrize(
    "run",
    [
        'echo "$S"; echo "::add-mask::$S"',  # printed, then masked
        'echo "$S" >&2; echo "::add-mask::$S"',  # on stderr, then masked
        'echo "::warning::$S"; echo "::add-mask::$S"',  # in an annotation
        'echo "::group::$S"; echo "::add-mask::$S"',  # in a group title
    ],
)
def test_a_late_mask_is_caught(tmp_path, secret, run):
    (tmp_path / "s").write_text(secret)
    script = f"S=$(cat {tmp_path / 's'}); {run}"
    job = Job(tmp_path / "job", strict=False)
    job.uses(action(tmp_path, [{"shell": "bash", "run": script}]))
    assert any("registered after the value was printed" in v for v in job.violations), job.violations
    assert any("unmasked password" in v for v in job.violations)
    with pytest.raises(Violation):
        Job(tmp_path / "job2").uses(action(tmp_path, [{"shell": "bash", "run": script}]))


def test_a_late_mask_of_a_value_the_ledger_does_not_know_is_caught_too(tmp_path):
    job = Job(tmp_path / "job", strict=False)
    job.run('V="not-in-ledger-$((6*7))"; echo "v=$V"; echo "::add-mask::$V"')
    assert job.violations == ["gha job step 1: ::add-mask:: registered after the value was printed"]


def test_base64_form_env_block_and_summary_are_policed(tmp_path, secret):
    auth = base64.b64encode(f"AWS:{secret}".encode()).decode()
    (tmp_path / "s").write_text(secret)
    job = Job(tmp_path / "job", strict=False)
    job.run(f'P=$(cat {tmp_path / "s"}); echo "::add-mask::$P"; printf "AWS:%s" "$P" | base64 -w0; echo')
    assert [v.split(":")[1].strip() for v in job.violations] == ["unmasked docker-auth (gha-runner-test) in the log"]
    assert job.log[-1].text == auth  # shown, as a real runner would show it (the ledger keeps it redacted)
    job2 = Job(tmp_path / "job2", strict=False)
    job2.run("true", env={"P": secret})  # a secret in a step's env block shows in the step header
    assert any("unmasked password" in v for v in job2.violations)
    job3 = Job(tmp_path / "job3", strict=False)
    job3.run(f'cat {tmp_path / "s"} >> "$GITHUB_STEP_SUMMARY"')
    assert any("step summary holds a password" in v for v in job3.violations)


def test_retired_commands_are_violations(tmp_path):
    job = Job(tmp_path / "job", strict=False)
    job.run('echo "::set-output name=x::y"')
    assert any("retired workflow command ::set-output::" in v for v in job.violations)


def test_stop_commands_suspends_processing(tmp_path):
    job = Job(tmp_path / "job")
    job.run(
        'echo "::stop-commands::tok123"; echo "::error::not an annotation"; echo "::tok123::"; echo "::error::real"'
    )
    assert [a.message for a in job.annotations if a.kind == "error"] == ["real"]


FETCH_TOKEN = """
import json, os, urllib.request
request = urllib.request.Request(
    os.environ["ACTIONS_ID_TOKEN_REQUEST_URL"] + "&audience=x",
    headers={"Authorization": "bearer " + os.environ["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]},
)
token = json.load(urllib.request.urlopen(request))["value"]
print("::add-mask::" + token, flush=True)
print(token)
"""


def test_identity_variables_come_from_the_issuer_and_the_request_token_is_masked(tmp_path, oidc_issuer):
    job = Job(tmp_path / "job", oidc=oidc_issuer)
    res = job.run(FETCH_TOKEN, shell="python")
    assert res.outcome == "success", job.text()
    assert oidc_issuer.audiences[-1] == "x" and job.is_masked(oidc_issuer.tokens[-1]) and res.log[-1] == "***"
    assert job.run('echo "$ACTIONS_ID_TOKEN_REQUEST_TOKEN"').log[-1] == "***"
    no_perm = Job(tmp_path / "job2", oidc=oidc_issuer, id_token=False)
    assert no_perm.run('test -z "${ACTIONS_ID_TOKEN_REQUEST_URL:-}"').outcome == "success"


PRINT_EVENT = """
import json, os
print(json.load(open(os.environ["GITHUB_EVENT_PATH"]))["pull_request"]["head"]["repo"]["fork"])
print(os.environ["RUNNER_DEBUG"], os.environ["RUNNER_TEMP"])
"""


def test_event_file_and_runner_variables(tmp_path):
    event = {"pull_request": {"head": {"repo": {"fork": True}}}}
    job = Job(tmp_path / "job", event_name="pull_request", event=event, debug=True)
    res = job.run(PRINT_EVENT, shell="python")
    assert res.outcome == "success" and res.log[-2:] == ["True", f"1 {job.temp}"], job.text()


def test_a_secret_passed_as_an_input_shows_in_the_uses_header(tmp_path, secret):
    job = Job(tmp_path / "job", strict=False)
    d = action(tmp_path, [{"shell": "bash", "run": "true"}], inputs={"x": {"description": "x"}})
    job.uses(d, {"x": secret})
    assert any("unmasked password" in v for v in job.violations)


def test_debug_logging_shows_outputs_and_env_masked_or_not(tmp_path, secret):
    (tmp_path / "s").write_text(secret)
    read = f"S=$(cat {tmp_path / 's'}); "
    allow = {"allow_outputs": {"pw": {"password"}}, "allow_env": {"E": {"password"}}}
    job = Job(tmp_path / "job", debug=True, **allow)
    job.run(read + 'echo "::add-mask::$S"; echo "pw=$S" >> "$GITHUB_OUTPUT"; echo "E=$S" >> "$GITHUB_ENV"')
    assert "##[debug]Set output pw = ***" in job.text() and "##[debug]E='***'" in job.text()
    leaky = Job(tmp_path / "job2", debug=True, strict=False, **allow)
    leaky.run(read + 'echo "pw=$S" >> "$GITHUB_OUTPUT"')
    assert any("unmasked password" in v for v in leaky.violations)
    quiet = Job(tmp_path / "job3", strict=False, **allow)  # without debug logging the runner shows no output values
    quiet.run(read + 'echo "pw=$S" >> "$GITHUB_OUTPUT"')
    assert quiet.violations == []
