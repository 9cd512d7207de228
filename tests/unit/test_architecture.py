"""The picture of docs/architecture.md, held to the code: layers, no import cycles, a core blind to the CI."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
CI_VARIABLE = re.compile(r"\b(GITHUB|ACTIONS|RUNNER|CI|GITLAB|JENKINS|BUILD)_[A-Z0-9_]*")


def test_import_linter_contracts_are_kept():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    proc = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout and "layers" not in proc.stderr


def _cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    found: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.find_modules_directly_imported_by(m)):
            if n not in modules:
                continue
            if state.get(n) == 1:
                found.append([*stack[stack.index(n) :], n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(modules):
        if m not in state:
            visit(m)
    return found


def test_no_import_cycle_counting_function_level_imports():
    graph = grimp.build_graph("ecr_ci")
    cycles = _cycles(graph, set(graph.modules))
    assert cycles == [], "\n".join(" -> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for m in ("p", "p.a", "p.b"):
        graph.add_module(m)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.a")
    assert _cycles(graph, {"p.a", "p.b"}) == [["p.a", "p.b", "p.a"]]


def test_the_core_names_no_ci_variable():
    hits = [
        f"{path.relative_to(ROOT)}:{n}: {m.group(0)}"
        for path in sorted((ROOT / "ecr_ci" / "core").rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        for m in CI_VARIABLE.finditer(line)
    ]
    assert hits == []


def test_the_ci_variable_pattern_catches_them():
    assert CI_VARIABLE.search('env.get("GITHUB_RUN_ID")') and CI_VARIABLE.search("'CI_JOB_ID'")
    assert not CI_VARIABLE.search('"ECR_CI_CACHE"')
