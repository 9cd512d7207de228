"""The Jenkins library's generated files match their sources, and the adapter's answer protocol with the step.

The step itself (``jenkins/vars/ecrLogin.groovy``) is run end to end by ``tests/e2e/test_jenkins.py``; here: the
drift checks of ``ecr_ci.gen_jenkins`` (help text, the generated block of the step, the bundled bootstrap copies)
and what ``ecr-ci adapter jenkins`` prints and leaves behind when the input is bad (no network is reached).
"""

from __future__ import annotations

import re

import pytest

from ecr_ci import gen_jenkins
from ecr_ci.adapters import base
from ecr_ci.adapters import jenkins as adapter

ROLE = "arn:aws:iam::123456789012:role/ci-push"
HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


def test_generated_files_match_their_sources():
    stale = [
        str(p.relative_to(gen_jenkins.ROOT))
        for p, text in gen_jenkins.outputs().items()
        if not p.is_file() or p.read_text(encoding="utf-8") != text
    ]
    assert not stale, f"run python -m ecr_ci.gen_jenkins: {stale}"
    assert not gen_jenkins.stale_resources()


def test_resources_are_real_files_and_the_bootstrap_copies_are_exact():
    copies = {p: t for p, t in gen_jenkins.outputs().items() if p.parent == gen_jenkins.RESOURCES}
    for path, text in copies.items():
        assert not path.is_symlink() and path.read_text(encoding="utf-8") == text
        assert text == (gen_jenkins.ROOT / "bootstrap" / path.name).read_text(encoding="utf-8")
    for path in gen_jenkins.LIBRARY.rglob("*"):
        assert not path.is_symlink(), f"{path}: Jenkins rejects libraries containing symlinks"
    # The step names the bootstrap after its digest; none without a bootstrap.
    version = gen_jenkins.bootstrap_version(copies)
    assert (version == "") == (not copies)
    assert f"return '{version}'" in gen_jenkins.STEP.read_text(encoding="utf-8")


def test_every_argument_is_in_the_help_and_the_step_and_maps_to_its_input_variable():
    help_text = gen_jenkins.HELP.read_text(encoding="utf-8")
    step = gen_jenkins.STEP.read_text(encoding="utf-8")
    block = step.split(gen_jenkins.START, 1)[1].split(gen_jenkins.END, 1)[0]
    names = re.findall(r"'([A-Za-z]+)'", block.split("bootstrapVersion")[0])
    expected = list(base.setting_inputs("jenkins")) + list(base.own_inputs("jenkins"))
    assert names == expected and "roleArn" in names and "idTokenCredentialsId" in names
    for name in names:
        assert re.search(rf"^  {name}: ", help_text, re.M), name
        assert re.fullmatch(r"ECR_CI_INPUT_[A-Z0-9_]+", base.input_variable(name))
    assert "registries: list of strings (or one comma-separated string) (required)" in help_text


def test_a_changed_schema_changes_the_outputs(monkeypatch):
    schema = gen_jenkins.load_yaml_schema()
    schema["adapter_inputs"]["jenkins"]["extraThing"] = {"description": "x", "schema": {"type": "string"}}
    monkeypatch.setattr(gen_jenkins, "load_yaml_schema", lambda: schema)
    out = gen_jenkins.outputs()
    assert "'extraThing'" in out[gen_jenkins.STEP] and "  extraThing: string (required)" in out[gen_jenkins.HELP]
    assert out[gen_jenkins.STEP] != gen_jenkins.STEP.read_text(encoding="utf-8")


def test_the_step_source_without_markers_is_refused():
    with pytest.raises(ValueError, match="generated block"):
        gen_jenkins.step_source("def call(Map args = [:], Closure body) { }\n", ["roleArn"], "")


def _adapter(capsys, tmp_path, **inputs):
    env = {base.input_variable(k): v for k, v in inputs.items()}
    env.update(ECR_CI_JENKINS_TMP=str(tmp_path / "ws@tmp"), HOME=str(tmp_path), JENKINS_URL="https://j.example/")
    code = adapter.main(env)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("inputs", "named"),
    [
        ({"roleArn": "arn:aws:iam::12:role/x", "registries": HOST}, "roleArn"),
        ({"roleArn": ROLE}, "registries"),
        ({"roleArn": ROLE, "registries": HOST, "duration": "5"}, "duration"),
        ({"roleArn": ROLE, "registries": HOST, "write": "docker,floppy"}, "write"),
        ({"roleArn": ROLE, "registries": HOST, "sessionName": "a b"}, "sessionName"),
    ],
)
def test_bad_input_is_one_error_line_naming_the_argument_and_leaves_no_directory(capsys, tmp_path, inputs, named):
    code, out, err = _adapter(capsys, tmp_path, **inputs)
    assert code == 2
    assert out.count("\n") == 1 and out.startswith("error ecrLogin") and named in out
    assert not re.search(r"--[a-z]", out), "a CLI flag in a Jenkins error"
    assert "ecrLogin: error:" in err
    tmp = tmp_path / "ws@tmp"
    assert not tmp.exists() or not list(tmp.iterdir())


def test_a_bound_credential_outside_jenkins_is_refused(capsys, tmp_path):
    env_inputs = {"roleArn": ROLE, "registries": HOST, "idTokenCredentialsId": "aws-oidc"}
    env = {base.input_variable(k): v for k, v in env_inputs.items()}
    env.update(ECR_CI_JENKINS_TMP=str(tmp_path / "t"), HOME=str(tmp_path))
    assert adapter.main(env) == 2
    out = capsys.readouterr().out
    assert out.startswith("error ecrLogin: JENKINS_URL is not set")


def test_an_abort_during_the_login_removes_the_block_directory(capsys, tmp_path, monkeypatch):
    # Jenkins aborts a build by sending SIGTERM, which the adapter turns into KeyboardInterrupt.
    import ecr_ci.core.flow

    seen = []

    def aborted(settings, env, identity, **kwargs):
        seen.append(env["DOCKER_CONFIG"])
        # What the adapter hands the core: the block's own docker config, no token cache, the build's session name.
        assert settings.docker_config == env["DOCKER_CONFIG"] and settings.cache is False
        assert identity is None and kwargs["session_name"] is None  # no JOB_NAME/BUILD_NUMBER here
        raise KeyboardInterrupt

    monkeypatch.setattr(ecr_ci.core.flow, "login", aborted)
    code, out, err = _adapter(capsys, tmp_path, roleArn=ROLE, registries=HOST)
    assert code == 130 and out == "" and "interrupted" in err
    assert seen and not (tmp_path / "ws@tmp" / seen[0]).exists()
    assert not list((tmp_path / "ws@tmp").iterdir())


def test_sigterm_becomes_keyboard_interrupt():
    with pytest.raises(KeyboardInterrupt):
        adapter._terminated(15, None)
