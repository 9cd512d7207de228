"""The action as a job checks it out, for the end-to-end tests and the benchmark.

Once the shared bootstrap (``bootstrap/bootstrap.sh``) is in this tree, that is the checkout itself. Until then,
:func:`checkout` makes a copy of ``actions/ecr-login`` beside a stand-in bootstrap that prints the development
environment's ``ecr-ci``, after checking that the action hands it its own checkout (``--from <checkout>``) as
the real one would build from there.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STUB = """#!/bin/sh
[ "$1" = --from ] && [ "$(cd "$2" && pwd -P)" = "$(cd "$(dirname "$0")/.." && pwd -P)" ] || {
  echo "bootstrap stand-in: expected --from <checkout>, got $*" >&2; exit 2; }
printf '%s\\n' {ecr_ci}
"""


def real_bootstrap() -> bool:
    return (ROOT / "bootstrap" / "bootstrap.sh").exists()


def checkout(scratch: Path) -> Path:
    """The action directory to run: the real one with the real bootstrap, else a stand-in tree in ``scratch``."""
    if real_bootstrap():
        return ROOT / "actions" / "ecr-login"
    (scratch / "actions" / "ecr-login").mkdir(parents=True)
    shutil.copy(ROOT / "actions" / "ecr-login" / "action.yml", scratch / "actions" / "ecr-login")
    (scratch / "bootstrap").mkdir()
    stub = scratch / "bootstrap" / "bootstrap.sh"
    stub.write_text(STUB.replace("{ecr_ci}", shlex.quote(str(Path(sys.executable).with_name("ecr-ci")))))
    stub.chmod(0o755)
    return scratch / "actions" / "ecr-login"
