"""The GitHub adapter's runner-file and workflow-command writing, read back the way the runner reads them."""

from __future__ import annotations

import pytest

from ecr_ci.adapters import github
from tests.e2e.gha_runner import parse_command, parse_file_command


def test_multiline_values_survive_the_heredoc_blocks(tmp_path):
    path = tmp_path / "out"
    values = {"a": "one", "b": "two\nlines\nEOF\nghadelimiter_x", "c": "", "d": "x=y<<z"}
    github.append(str(path), values)
    github.append(str(path), {"e": "later"})
    assert parse_file_command(path.read_text()) == {**values, "e": "later"}


@pytest.mark.parametrize("data", ["plain", "two\nlines", "100% done\r\n", "::add-mask::x"])
def test_command_data_is_one_line_and_comes_back_unchanged(capsys, data):
    github.command("error", data, title="a: b, c")
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert parse_command(out.rstrip("\n")) == ("error", {"title": "a: b, c"}, data)


def test_a_plain_line_cannot_start_a_command(capsys):
    github.say("bad input 'x\n::add-mask::y'")
    (line,) = capsys.readouterr().out.splitlines()
    assert parse_command(line) is None
