"""The one settings schema: precedence, coercion, one-line errors, and the fast path agreeing with jsonschema."""

import itertools

import pytest
from jsonschema import Draft202012Validator

from ecr_ci import settings as s
from ecr_ci.errors import ConfigError


def test_schema_is_a_valid_json_schema_per_setting_and_defaults_validate():
    for name, spec in s.specs().items():
        Draft202012Validator.check_schema(spec["schema"])
        assert spec["description"].strip(), name
        if "default" in spec["schema"]:
            assert Draft202012Validator(spec["schema"]).is_valid(spec["schema"]["default"]), name
        assert spec.get("commands"), name
        flag = "--" + ("no-" if spec["schema"].get("default") is True else "") + name.replace("_", "-")
        renamed = {("registries", "--registry"), ("debug", "--verbose")}
        assert spec["cli"] == flag or (name, spec["cli"]) in renamed, name


def test_settings_dataclass_has_exactly_the_schema_settings():
    fields = set(s.Settings.__dataclass_fields__) - {"origin", "surface"}
    assert fields == set(s.specs())
    defaults = s.Settings()
    for name, spec in s.specs().items():
        if "default" in spec["schema"]:
            assert getattr(defaults, name) == spec["schema"]["default"], name


def test_flag_beats_env_twin_beats_fallback_beats_default():
    env = {"ECR_CI_REGION": "eu-west-1", "AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "ap-south-1"}
    assert s.resolve({"region": "us-east-2"}, env, command="login").region == "us-east-2"
    assert s.resolve({}, env, command="login").region == "eu-west-1"
    del env["ECR_CI_REGION"]
    got = s.resolve({}, env, command="login")
    assert got.region == "us-west-2"
    assert got.where("region") == "AWS_REGION"
    assert s.resolve({}, {}, command="login").region is None


def test_arrays_split_on_commas_and_newlines_and_repeat():
    got = s.resolve({"registries": ["1.example,2.example", " 3.example "]}, {}, command="login")
    assert got.registries == ["1.example", "2.example", "3.example"]
    got = s.resolve({}, {"ECR_CI_REGISTRIES": "012345678901\n123456789012,\n"}, command="login")
    assert got.registries == ["012345678901", "123456789012"]


def test_strict_booleans():
    assert s.resolve({}, {"ECR_CI_JSON": "true"}, command="login").json is True
    assert s.resolve({}, {"ECR_CI_JSON": "False"}, command="login").json is False
    with pytest.raises(ConfigError, match=r"^settings: ECR_CI_JSON = 'yes' is not a boolean \(use true or false\)$"):
        s.resolve({}, {"ECR_CI_JSON": "yes"}, command="login")


@pytest.mark.parametrize(
    ("flags", "env", "expected"),
    [
        (
            {"duration": "100"},
            {},
            "settings: --duration = 100 is invalid (must be between 900 and 43200; set --duration or ECR_CI_DURATION)",
        ),
        ({}, {"ECR_CI_DURATION": "1h"}, "settings: ECR_CI_DURATION = '1h' is not a whole number"),
        (
            {"role_arn": "my-role"},
            {},
            "settings: --role-arn = 'my-role' is invalid (expected something like arn:aws:iam::123456789012:role/",
        ),
        (
            {},
            {"AWS_ROLE_ARN": "arn:aws:iam::123:role/x"},
            "settings: AWS_ROLE_ARN = 'arn:aws:iam::123:role/x' is invalid",
        ),
        ({"oidc": "circleci"}, {}, "settings: --oidc = 'circleci' is invalid (must be one of auto, github, gitlab"),
        (
            {"session_name": "a"},
            {},
            "settings: --session-name = 'a' is invalid (expected something like gha-1234567890-1",
        ),
        ({"write": ["docker,docker"]}, {}, "settings: --write = ['docker', 'docker'] is invalid"),
        ({"write": ["podmn"]}, {}, "settings: --write = 'podmn' is invalid (must be one of docker, podman"),
        ({"deadline": "0"}, {}, "settings: --deadline = 0.0 is invalid"),
        ({"region": "US-EAST-1"}, {}, "settings: --region = 'US-EAST-1' is invalid"),
    ],
)
def test_bad_values_give_one_line_naming_setting_value_and_rule(flags, env, expected):
    with pytest.raises(ConfigError) as e:
        s.resolve(flags, env, command="login")
    assert str(e.value).startswith(expected)
    assert "\n" not in str(e.value)
    assert e.value.exit_code == 2


def test_settings_of_other_commands_are_not_read():
    got = s.resolve({}, {"ECR_CI_DURATION": "5"}, command="logout")  # logout takes no duration
    assert got.duration == 3600


# Values that probe every keyword the schema uses; the fast path must agree with jsonschema on each.
PROBES = [
    None,
    True,
    False,
    0,
    1,
    899,
    900,
    3600,
    43200,
    43201,
    0.5,
    -1,
    901.5,
    "",
    "x",
    "true",
    "us-east-1",
    "US-EAST-1",
    "eu-central-2",
    "ab",
    "a" * 65,
    "a b",
    "docker",
    "podman",
    "arn:aws:iam::123456789012:role/ci",
    "arn:aws-cn:iam::123456789012:role/path/ci",
    "arn:aws:iam::12345678901:role/x",
    "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "AWS_ID_TOKEN",
    "1BAD",
    [],
    ["docker"],
    ["docker", "docker"],
    ["docker", "helm"],
    ["x"],
    [""],
    [1],
    ["arn:aws:iam::aws:policy/ReadOnlyAccess"] * 11,
    {"a": 1},
    "auto",
]


@pytest.mark.parametrize("name", sorted(s.specs()))
def test_fast_validation_agrees_with_jsonschema(name):
    schema = s.specs()[name]["schema"]
    oracle = Draft202012Validator(schema)
    for value in itertools.chain(PROBES, [schema.get("default")]):
        fast = s.fast_valid(schema, value)
        assert fast is None or fast == oracle.is_valid(value), (name, value)


def test_fast_validation_defers_to_jsonschema_for_other_keywords():
    assert s.fast_valid({"type": "string", "format": "uri"}, "x") is None
    assert s.fast_valid({"type": "array", "items": {"const": 1}}, [1]) is None
