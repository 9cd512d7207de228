"""The careful file reader and the strict JSON parser every credential, record, token and policy file goes through."""

from __future__ import annotations

import json
import os

import pytest

from ecr_ci import _files


def test_a_file_that_reports_size_zero_is_still_read_whole():
    """/proc files say st_size 0: the cap is enforced on what is read, not on what stat says."""
    data = _files.read_regular("/proc/self/status")
    assert data is not None and b"Name:" in data
    assert os.stat("/proc/self/status").st_size == 0


def test_the_cap_is_exact(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    assert _files.read_regular(path, limit=100) == b"x" * 100
    with pytest.raises(_files.BadFile, match="larger than 99 bytes"):
        _files.read_regular(path, limit=99)


def test_missing_is_none_and_a_dangling_link_too(tmp_path):
    assert _files.read_regular(tmp_path / "absent") is None
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    assert _files.read_regular(tmp_path / "link") is None


@pytest.mark.parametrize("depth", [1, 10, _files.MAX_DEPTH])
def test_nesting_up_to_the_limit_parses(depth):
    assert _files.loads_strict("[" * depth + "]" * depth) is not None


@pytest.mark.parametrize("depth", [_files.MAX_DEPTH + 1, 900, 5000, 200_000])
def test_nesting_past_the_limit_is_refused_without_recursion_error(depth):
    with pytest.raises(_files.BadFile, match=f"deeper than {_files.MAX_DEPTH}"):
        _files.loads_strict('{"a": ' + "[" * depth + "]" * depth + "}")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("NaN", "literal NaN"),
        ('{"a": [1, Infinity]}', "literal Infinity"),
        ('{"a": -Infinity}', "literal -Infinity"),
        ('{"a": 1, "a": 2}', "appears twice"),
        ('{"a": {"b": 1, "b": 1}}', "appears twice"),
        ("{", "not valid JSON \\(line 1, column 2"),
        ("\ufeff{}", "not valid JSON"),
    ],
)
def test_non_strict_json_is_refused_with_the_reason(text, reason):
    with pytest.raises(_files.BadFile, match=reason):
        _files.loads_strict(text)


def test_what_is_written_reads_back_strictly_and_equal():
    data = {"auths": {"h": {"auth": "eDp5"}}, "n": 1e308, "t": "caf\u00e9\u2028", "l": [[[]]]}
    text = _files.dumps_strict(data)
    assert text.isascii() and text.endswith("}\n")
    assert _files.loads_strict(text) == data == json.loads(text)
    with pytest.raises(_files.BadFile, match="standard JSON"):
        _files.dumps_strict({"x": float("nan")})


def test_not_utf8_names_the_byte():
    with pytest.raises(_files.BadFile, match="byte 3 is 0xff"):
        _files.decode_utf8(b"ab\xffcd")
