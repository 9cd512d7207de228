"""The GitLab CI/CD component (``gitlab/``): generated from the settings schema, valid for GitLab, injection-proof.

The component's pipelines run for real in ``tests/e2e/test_gitlab.py``; these tests hold the files themselves:
no drift from ``settings.yaml``, both YAML documents and every README example valid against GitLab's CI schema
(``check-jsonschema --builtin-schema vendor.gitlab-ci``, which can't read a two-document file: split at ``---``),
every input mapped once into ``variables:`` and never into a script, and each input's regex agreeing with the
settings schema on good and bad values.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from ecr_ci import gen_gitlab

GITLAB = gen_gitlab.ROOT / "gitlab"
HIDDEN = ".$[[ inputs.job-prefix ]]"
GLOBAL_KEYWORDS = {"default", "include", "stages", "variables", "workflow", "image", "services", "cache",
                   "before_script", "after_script"}  # fmt: skip


class _GitLabLoader(yaml.SafeLoader):
    """A safe loader that reads GitLab's ``!reference [job, key]`` as ``("!reference", [job, key])``."""


_GitLabLoader.add_constructor(
    "!reference",
    lambda loader, node: ("!reference", loader.construct_sequence(node)),  # type: ignore[arg-type]
)


def documents(text: str) -> list[Any]:
    return list(yaml.load_all(text, Loader=_GitLabLoader))  # noqa: S506 - a SafeLoader subclass


def template_docs() -> tuple[dict[str, Any], dict[str, Any]]:
    spec, jobs = documents(gen_gitlab.TEMPLATE.read_text())
    return spec, jobs


def readme_examples() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", (GITLAB / "README.md").read_text(), re.S)


def check_jsonschema(*files: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or shutil.which("check-jsonschema")
    assert exe, "check-jsonschema is in the test extra (make venv)"
    return subprocess.run(
        [exe, "--builtin-schema", "vendor.gitlab-ci", "--data-transform", "gitlab-ci", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )


# -- generated, no drift --------------------------------------------------------------------------------------
def test_template_and_readme_match_the_settings_schema():
    stale = [p.name for p, text in gen_gitlab.outputs().items() if p.read_text(encoding="utf-8") != text]
    assert not stale, f"{stale} differ from ecr_ci/settings.yaml: run python -m ecr_ci.gendocs"


def test_a_changed_setting_is_drift(monkeypatch):
    real = gen_gitlab.load_yaml_schema

    def changed():
        data = real()
        data["settings"]["duration"]["description"] = "Changed."
        return data

    monkeypatch.setattr(gen_gitlab, "load_yaml_schema", changed)
    outputs = gen_gitlab.outputs()
    assert outputs[gen_gitlab.TEMPLATE] != gen_gitlab.TEMPLATE.read_text()
    assert "description: Changed.\n" in outputs[gen_gitlab.TEMPLATE]
    assert "| `duration` | number | `3600` | Changed. |" in outputs[gen_gitlab.README]


def test_readme_integrity_is_the_templates():
    import base64
    import hashlib

    digest = base64.b64encode(hashlib.sha256(gen_gitlab.TEMPLATE.read_bytes()).digest()).decode()
    assert f"integrity: sha256-{digest}" in (GITLAB / "README.md").read_text()


# -- valid for GitLab ---------------------------------------------------------------------------------------------
def test_both_documents_every_readme_example_and_the_release_pipeline_pass_gitlabs_schema(tmp_path):
    spec, jobs = gen_gitlab.TEMPLATE.read_text().split("\n---\n")
    files = [tmp_path / "spec.yml", tmp_path / "jobs.yml", GITLAB / ".gitlab-ci.yml"]
    files[0].write_text(spec + "\n")
    files[1].write_text(jobs)
    examples = readme_examples()
    assert len(examples) >= 6  # component, project, remote, !reference, dind, kaniko
    for i, example in enumerate(examples):
        files.append(tmp_path / f"readme-{i}.yml")
        files[-1].write_text(example)
    proc = check_jsonschema(*files)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "broken",
    [
        "spec:\n  inputs:\n    x:\n      type: list\n",  # an input type GitLab doesn't have
        "include:\n  - remote: https://example.com/t.yml\n    integrity: sha256-short=\njob:\n  script: [x]\n",
        "job:\n  extends: .ecr-login\n  before_script: !reference .ecr-login\n  script: [x]\n",
    ],
)
def test_the_schema_check_can_fail(tmp_path, broken):
    bad = tmp_path / "bad.yml"
    bad.write_text(broken)
    assert check_jsonschema(bad).returncode != 0


def test_readme_examples_include_the_component_three_ways_and_use_the_hidden_job():
    text = "\n".join(readme_examples())
    for form in ("- component: $CI_SERVER_FQDN/", "- project: ", "- remote: https://", "integrity: sha256-"):
        assert form in text
    assert "!reference [.ecr-login, before_script]" in text
    assert "docker:27-dind" in text and "/kaniko/executor" in text
    for example in readme_examples():
        (doc,) = documents(example)
        users = [job for name, job in doc.items() if isinstance(job, dict) and "script" in job]
        assert users and all(job.get("extends") == ".ecr-login" for job in users)


# -- inputs: mapped once, never in a script -----------------------------------------------------------------------
def test_every_input_is_a_variable_and_nothing_else_interpolates_one():
    spec, jobs = template_docs()
    inputs = spec["spec"]["inputs"]
    assert set(jobs) == {HIDDEN}, "one hidden job, no global keywords"
    assert not set(jobs) & GLOBAL_KEYWORDS
    job = jobs[HIDDEN]
    mapped = {}
    for var, value in job["variables"].items():
        text = value["value"] if isinstance(value, dict) else value
        (name,) = re.fullmatch(r"\$\[\[ inputs\.([\w-]+) \]\]", text).groups()
        assert var == gen_gitlab.input_variable(name)
        if inputs[name]["type"] == "string":
            assert value == {"value": text, "expand": False}, f"{var}: a $ in the value must stay a $"
        mapped[name] = var
    assert set(mapped) == set(inputs)
    assert job["id_tokens"] == {"AWS_ID_TOKEN": {"aud": "$[[ inputs.audience ]]"}}
    assert inputs["audience"]["default"] == "sts.amazonaws.com"
    assert job["stage"] == "$[[ inputs.stage ]]"
    script = "\n".join(job["before_script"])
    assert "$[[" not in script, "an input interpolated into a script is shell injection"
    # Outside `variables:`, `id_tokens:`, `stage:` and the job's own name, no input appears anywhere.
    rest = {k: v for k, v in job.items() if k not in ("variables", "id_tokens", "stage")}
    assert "$[[" not in yaml.safe_dump(rest)


def test_the_script_names_each_input_variable_in_double_quotes_only():
    _, jobs = template_docs()
    script = "\n".join(jobs[HIDDEN]["before_script"])
    for use in re.finditer(r".?\$\{?ECR_CI_INPUT_\w+", script):
        assert use.group(0)[0] == '"', f"unquoted {use.group(0)!r}: word splitting and globbing"


def test_inputs_are_the_settings_with_a_gitlab_name_plus_the_adapter_inputs():
    spec, _ = template_docs()
    data = gen_gitlab.load_yaml_schema()
    expected = [s["names"]["gitlab"] for s in data["settings"].values() if (s.get("names") or {}).get("gitlab")]
    expected += list(data["adapter_inputs"]["gitlab"])
    assert list(spec["spec"]["inputs"]) == expected
    for name in ("role-arn", "region", "registries", "audience", "session-name", "job-prefix", "stage"):
        assert name in spec["spec"]["inputs"]
    assert "default" not in spec["spec"]["inputs"]["registries"]  # mandatory: GitLab refuses a pipeline without it


# -- each regex agrees with the settings schema ------------------------------------------------------------------
SAMPLES = {
    "role-arn": ["arn:aws:iam::123456789012:role/ci", "arn:aws-cn:iam::123456789012:role/a/b", "",
                 "arn:aws:iam::12345:role/x", "arn:aws:iam::123456789012:user/x", 'x"; touch /tmp/pwned; echo "',
                 "$(id)", "arn:aws:iam::123456789012:role/ci\nextra"],
    "region": ["eu-west-1", "us-gov-west-1", "", "EU-WEST-1", "eu-west", "$(id)"],
    "session-name": ["gitlab-1-2", "ab", "", "a", "has space", "x" * 65, "$(id)"],
    "write": ["docker", "docker,podman", "docker, helm", "kaniko", "", "docker,bogus", "dock", "$(id)"],
    "managed-session-policies": ["", "arn:aws:iam::aws:policy/ReadOnlyAccess",
                                 "arn:aws:iam::123456789012:policy/a,arn:aws:iam::aws:policy/b",
                                 "arn:aws:iam::x:policy/a"],
    "audience": ["sts.amazonaws.com", "sts.amazonaws.com.cn", "has space", "x\ty"],
    "job-prefix": ["ecr-login", "ecr-login-prod", "a", ".dot", "has space", 'x"; touch /tmp/pwned; echo "'],
    "stage": ["test", "build image", " lead", "trail ", ""],
}  # fmt: skip


def _schema_accepts(spec: dict[str, Any], raw: str) -> bool:
    schema = spec["schema"]
    if raw == "" and schema.get("type") == "array" and "default" in schema:
        return True  # an empty list input is "not given": the default applies
    types = [schema["type"]] if isinstance(schema["type"], str) else schema["type"]
    value: object = raw
    if "array" in types:
        value = [part.strip() for part in re.split(r"[,\n]", raw) if part.strip()]
    elif "null" in types and raw == "":
        value = None
    try:
        jsonschema.validate(value, schema)
    except jsonschema.ValidationError:
        return False
    return True


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_input_regex_accepts_exactly_what_the_settings_schema_accepts(name):
    spec, _ = template_docs()
    declared = spec["spec"]["inputs"][name]
    regex = declared["regex"]
    assert regex.startswith("^") and regex.endswith("$"), "GitLab's regexes are unanchored by default"
    source = {n: s for n, s, _ in gen_gitlab.inputs()}[name]
    verdicts = {value: (re.search(regex, value) is not None, _schema_accepts(source, value)) for value in SAMPLES[name]}
    disagree = {v: d for v, d in verdicts.items() if d[0] != d[1]}
    assert not disagree, f"{name}: (regex, schema) verdicts differ: {disagree}"
    assert any(r for r, _ in verdicts.values()) and not all(r for r, _ in verdicts.values())


def test_regexes_use_only_what_re2_supports():
    spec, _ = template_docs()
    for name, declared in spec["spec"]["inputs"].items():
        regex = declared.get("regex", "")
        assert not re.search(r"\(\?[=!<]|\\[1-9]|[*+?}]\+", regex), f"{name}: lookaround or backreference: {regex}"


def test_options_and_types_follow_the_schema():
    spec, _ = template_docs()
    inputs = spec["spec"]["inputs"]
    assert inputs["duration"] == {"type": "number", "default": 3600, "description": inputs["duration"]["description"]}
    assert inputs["install-python"]["type"] == "boolean"
    assert inputs["install"]["options"] == ["auto", "never", "always"]


def test_readme_lists_every_input():
    spec, _ = template_docs()
    readme = (GITLAB / "README.md").read_text()
    for name in spec["spec"]["inputs"]:
        assert f"| `{name}` |" in readme


def fake_bootstrap(tmp_path: Path, **override: str) -> Path:
    src = tmp_path / "bootstrap"
    src.mkdir()
    files = {
        "requirements.lock": "attrs==1 \\\n    --hash=sha256:00\n",
        "_build.py": "import sys\n\n\tprint('tab and trailing space ')  \n",
        "bootstrap.sh": '#!/bin/sh\ncat <<EOF\nnested $HOME\nEOF\necho "$@"\n',
    } | override
    for name, text in files.items():
        (src / name).write_text(text)
    return src


def test_the_bootstrap_is_embedded_byte_for_byte(tmp_path):
    src = fake_bootstrap(tmp_path)
    rendered = gen_gitlab.render_template(gen_gitlab.TEMPLATE.read_text(), bootstrap_dir=src)
    _, jobs = documents(rendered)
    script = "\n".join(jobs[HIDDEN]["before_script"])
    for name in gen_gitlab.BOOTSTRAP_FILES:
        head = f"cat > \"$ECR_CI_BOOTSTRAP_DIR/{name}\" <<'{gen_gitlab.HEREDOC}'\n"
        body = script.split(head, 1)[1].split(f"\n{gen_gitlab.HEREDOC}\n", 1)[0] + "\n"
        assert body == (src / name).read_text(), name
    # Run the generated lines: the shell writes the three files exactly.
    out = tmp_path / "out"
    out.mkdir()
    start = script.index("# BEGIN generated: bootstrap")
    block = script[start : script.index("# END generated: bootstrap")]
    subprocess.run(["sh", "-c", block], env={"ECR_CI_BOOTSTRAP_DIR": str(out), "PATH": os.defpath}, check=True)
    for name in gen_gitlab.BOOTSTRAP_FILES:
        assert (out / name).read_bytes() == (src / name).read_bytes()


def test_the_checked_in_template_embeds_the_repositorys_bootstrap():
    if not gen_gitlab.BOOTSTRAP_DIR.is_dir():
        pytest.skip("bootstrap/ is not in this checkout yet")
    shipped = {p.name for p in gen_gitlab.BOOTSTRAP_DIR.iterdir() if p.is_file() and p.suffix != ".ps1"}
    assert shipped <= set(gen_gitlab.BOOTSTRAP_FILES), (
        f"bootstrap.sh may need {shipped - set(gen_gitlab.BOOTSTRAP_FILES)}"
    )
    for name in gen_gitlab.BOOTSTRAP_FILES:
        assert (gen_gitlab.BOOTSTRAP_DIR / name).read_text() in gen_gitlab.TEMPLATE.read_text().replace(
            "\n      ", "\n"
        )


@pytest.mark.parametrize(
    "override",
    [{"bootstrap.sh": f"echo hi\n{gen_gitlab.HEREDOC}\nrm -rf /\n"}, {"_build.py": "x = 1\n   \ny = 2\n"}],
)
def test_files_the_template_cannot_hold_exactly_are_refused(tmp_path, override):
    with pytest.raises(ValueError, match="here-document|embed"):
        gen_gitlab.render_template(gen_gitlab.TEMPLATE.read_text(), bootstrap_dir=fake_bootstrap(tmp_path, **override))


def test_readme_examples_give_only_inputs_the_component_has_and_every_required_one():
    # GitLab refuses an include with an unknown input; gitlab-ci-local does not, so check it here.
    spec, _ = template_docs()
    inputs = spec["spec"]["inputs"]
    required = {name for name, d in inputs.items() if "default" not in d}
    for example in readme_examples():
        (doc,) = documents(example)
        for inc in doc["include"]:
            given = set(inc.get("inputs", {}))
            assert given <= set(inputs), f"unknown inputs {given - set(inputs)} in:\n{example}"
            assert required <= given, f"missing {required - given} in:\n{example}"
            for name, value in inc["inputs"].items():
                if "regex" in inputs[name]:
                    assert re.search(inputs[name]["regex"], str(value)), f"{name}: {value!r} fails its regex"
                if "options" in inputs[name]:
                    assert value in inputs[name]["options"]


# -- the before_script's install branch, run by sh on an image-like PATH --------------------------------------------
def before_script(tmp_path: Path, path_tools: dict[str, str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the hidden job's before_script with ``sh`` and a PATH holding only ``path_tools`` (name: target)."""
    _, jobs = template_docs()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, target in path_tools.items():
        link = bin_dir / name
        if target.startswith("#!"):
            link.write_text(target)
            link.chmod(0o755)
        else:
            link.symlink_to(target)
    script = "set -e\n" + "\n".join(jobs[HIDDEN]["before_script"])
    base = {"PATH": str(bin_dir), "ECR_CI_INPUT_INSTALL": "auto", "ECR_CI_INPUT_INSTALL_PYTHON": "true",
            "ECR_CI_INPUT_INSTALL_FROM": "", "ECR_CI_INPUT_INSTALL_CACHE_DIR": "", "TMPDIR": str(tmp_path)}  # fmt: skip
    sh = shutil.which("sh") or "/bin/sh"
    return subprocess.run([sh, "-c", script], env=base | env, capture_output=True, text=True, timeout=60)


CORE_TOOLS = {name: shutil.which(name) or f"/bin/{name}" for name in ("mktemp", "cat", "date", "rm")}


def test_no_python_and_install_python_false_is_one_clear_error(tmp_path):
    proc = before_script(tmp_path, CORE_TOOLS, {"ECR_CI_INPUT_INSTALL_PYTHON": "false"})
    assert proc.returncode == 1
    assert "no Python 3.10 or later and component input install-python is false" in proc.stderr


def test_no_python_and_no_package_manager_names_the_ones_it_tried(tmp_path):
    proc = before_script(tmp_path, CORE_TOOLS, {})
    assert proc.returncode == 1
    assert "none of apk, apt-get, dnf, microdnf" in proc.stderr


def test_install_never_without_ecr_ci_fails_before_installing_anything(tmp_path):
    proc = before_script(tmp_path, CORE_TOOLS, {"ECR_CI_INPUT_INSTALL": "never"})
    assert proc.returncode == 1 and "install is 'never'" in proc.stderr
    assert "ecr_ci_install" not in proc.stdout


def test_an_image_without_python_gets_it_from_its_package_manager(tmp_path):
    # An Alpine-like image: `apk` is the only way to Python. This apk links the machine's python3 into PATH, as
    # `apk add python3` would install it, and records what it was asked for.
    log = tmp_path / "apk.log"
    apk = f'#!/bin/sh\necho "$@" >> {log}\nln -s {sys.executable} {tmp_path}/bin/python3\n'
    proc = before_script(tmp_path, CORE_TOOLS | {"apk": apk, "ln": shutil.which("ln") or "/bin/ln"}, {})
    assert log.read_text().split() == ["add", "--no-cache", "-q", "python3", "py3-pip"]
    assert "installing python3 with its package manager" in proc.stderr
    # Then the embedded bootstrap runs (here a template generated without bootstrap/ says so and stops).
    if not gen_gitlab.BOOTSTRAP_DIR.is_dir():
        assert proc.returncode == 1 and "generated without bootstrap/" in proc.stderr


@pytest.mark.parametrize(("debug", "warned"), [("true", True), ("false", False), ("", False)])
def test_ci_debug_trace_is_warned_about(tmp_path, debug, warned):
    proc = before_script(tmp_path, CORE_TOOLS, {"ECR_CI_INPUT_INSTALL": "never", "CI_DEBUG_TRACE": debug})
    assert ("WARNING: CI_DEBUG_TRACE is on" in proc.stderr) is warned


def test_the_release_job_releases_plain_semver_tags_only():
    (doc,) = documents((GITLAB / ".gitlab-ci.yml").read_text())
    job = doc["release"]
    (rule,) = job["rules"]
    pattern = re.fullmatch(r"\$CI_COMMIT_TAG =~ /(.*)/", rule["if"]).group(1)
    for tag, released in [("1.2.3", True), ("0.1.0", True), ("10.0.12", True), ("v1.2.3", False), ("1.2", False),
                          ("01.2.3", False), ("1.2.3-rc1", False), ("1.2.3\nx", False)]:  # fmt: skip
        assert (re.search(pattern, tag) is not None) is released, tag
    assert job["release"]["tag_name"] == "$CI_COMMIT_TAG"
