"""Documentation generated from the settings schema must not drift from it."""

from ecr_ci import gendocs, settings


def test_readme_settings_table_matches_the_schema():
    assert gendocs.main(["--check"]) == 0


def test_table_has_a_row_per_setting_with_its_env_twin():
    table = gendocs.settings_table()
    for name in settings.specs():
        assert f"| `{name}` |" in table and f"`{settings.env_twin(name)}" in table


def test_readme_opens_with_the_two_commands():
    head = (gendocs.Path(gendocs.__file__).resolve().parent.parent / "README.md").read_text().split("\n## ")[0]
    assert "make demo" in head and "make test" in head


def test_compiled_schema_is_the_parse_of_the_yaml():
    import json

    assert json.loads(settings.COMPILED_PATH.read_text()) == settings.load_yaml_schema()
