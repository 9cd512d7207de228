"""Reading files that someone else may have put in the way: only regular files, never more than a cap, strict JSON.

Every file ecr-ci reads on a user's behalf (a docker config, ecr-ci's record beside it, an identity token file, a
GitHub event file, a trust policy) goes through :func:`read_regular`: a FIFO would block the read forever, a link
to an endless device would fill memory, a directory or a socket cannot be read at all, so anything but a regular
file (links followed) of at most ``limit`` bytes is refused with the reason, before a byte is read. The file is
opened non-blocking and checked again on the open descriptor, so swapping it between the check and the read
changes nothing.

:func:`loads_strict` parses JSON as RFC 8259 defines it: no ``NaN``/``Infinity`` literals, no duplicate member
names (the parse would silently keep one), no nesting past :data:`MAX_DEPTH`, UTF-8 only. :func:`dumps_strict`
writes nothing a strict parser would refuse. Both raise :class:`BadFile`, whose message is the reason alone; the
caller says which file and what to do, in its own error type.
"""

from __future__ import annotations

import json
import os
import stat

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a credential-helper cache hit
if TYPE_CHECKING:
    from typing import Any

MiB = 1 << 20
MAX_BYTES = 4 * MiB  # a docker config with thousands of registries is well under 1 MiB
MAX_DEPTH = 64  # docker and podman configs nest 3 deep; a policy document 5


class BadFile(ValueError):
    """The file is not something ecr-ci will read; ``str()`` is why, without the path."""


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _not_regular(path: str, mode: int) -> BadFile:
    through = ""
    if os.path.islink(path):
        through = f" (through a link to {os.path.realpath(path)})"
    return BadFile(f"is {_kind(mode)}{through}, not a regular file")


def read_regular(path: str | os.PathLike[str], *, limit: int = MAX_BYTES) -> bytes | None:
    """The bytes of ``path``; ``None`` if it does not exist; :class:`BadFile` if it is not a regular file (links
    followed), is larger than ``limit`` bytes, or cannot be opened."""
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise BadFile(f"cannot be read ({e.strerror or e.__class__.__name__})") from None
    if not stat.S_ISREG(st.st_mode):
        raise _not_regular(path, st.st_mode)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise BadFile(f"cannot be read ({e.strerror or e.__class__.__name__})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # swapped since the check above
            raise _not_regular(path, st.st_mode)
        chunks: list[bytes] = []
        size = 0
        while True:  # never trust st_size: /proc files say 0, a growing file says too little
            chunk = os.read(fd, min(1 << 16, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise BadFile(f"is larger than {_size(limit)}, more than any such file needs")
        return b"".join(chunks)
    except OSError as e:
        raise BadFile(f"cannot be read ({e.strerror or e.__class__.__name__})") from None
    finally:
        os.close(fd)


def _size(n: int) -> str:
    return f"{n // MiB} MiB" if n >= MiB and n % MiB == 0 else f"{n} bytes"


def decode_utf8(data: bytes) -> str:
    """``data`` as text; :class:`BadFile` naming the first offending byte if it is not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadFile(f"is not UTF-8 text (byte {e.start + 1} is 0x{data[e.start]:02x})") from None


def _refuse_constant(word: str) -> Any:
    raise BadFile(f"is not standard JSON (the literal {word} is not JSON; write a number or a string)")


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise BadFile(f"is ambiguous JSON (the name {ascii(key)} appears twice in one object; keep one)")
        found[key] = value
    return found


def loads_strict(text: str) -> Any:
    """Parse ``text`` as strict JSON (see the module docstring); :class:`BadFile` says what is wrong and where."""
    try:
        data = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique)
    except RecursionError:
        raise BadFile(f"nests deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as e:
        raise BadFile(f"is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    if _depth(data) > MAX_DEPTH:
        raise BadFile(f"nests deeper than {MAX_DEPTH} levels")
    return data


def _depth(data: Any) -> int:
    """Nesting depth of a parsed document, without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                return depth
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
    return deepest


def load_strict(path: str | os.PathLike[str], *, limit: int = MAX_BYTES) -> Any:
    """:func:`read_regular` then :func:`loads_strict`; ``None`` when the file does not exist, ``{}`` when it is
    empty or only whitespace (a file a tool created and never filled)."""
    data = read_regular(path, limit=limit)
    if data is None:
        return None
    text = decode_utf8(data)
    if not text.strip():
        return {}
    return loads_strict(text)


def dumps_strict(data: Any) -> str:
    """``data`` as tab-indented JSON (what docker writes), ASCII-only; refuses non-finite numbers."""
    try:
        return json.dumps(data, indent="\t", allow_nan=False) + "\n"
    except ValueError as e:
        raise BadFile(f"cannot be written as standard JSON ({e})") from None
