"""The rules that keep the layout honest (docs/adr/0012-core-and-one-way-stages.md).

- ``core`` imports nothing else from scamtrace;
- stages import only down the flow: ingest -> enrich -> detect -> report / share;
- the runtime never imports ``simulate`` or training code, not even by accident at import time;
- the files of a findings folder are named only by ``core/findings.py``, the one module that
  reads and writes it.

The import graph is read from the source with ``ast`` (every import, also those inside
functions), so a rule breaks the moment a line that breaks it is written.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "scamtrace"

#: Which other parts each part may import (``core`` and the package root are always allowed).
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "ingest": frozenset(),
    "enrich": frozenset(),
    "language": frozenset(),
    "reputation": frozenset(),
    "detect": frozenset({"enrich", "language", "reputation"}),
    "report": frozenset(),
    "share": frozenset({"detect", "enrich", "report"}),
    "evaluate": frozenset({"share"}),  # what an exchange identified, by keyed hash
    "simulate": frozenset(),
    # The scoring service reads findings and reuses the batch thresholds where they mean the
    # same thing (serve/settings.py); it never runs the batch detectors.
    "serve": frozenset({"detect"}),
    # The investigator workspace shows findings through the report's view layer and hands a case
    # over through share; it never runs the detectors itself.
    "workspace": frozenset({"report", "share"}),
    "cli": frozenset({"ingest", "enrich", "detect", "language", "reputation", "report", "share",
                      "evaluate", "simulate", "serve", "workspace"}),
}
#: Tools beside the flow: they make worlds and models; the runtime never loads them.
TOOLS = ("scamtrace.simulate", "scamtrace.language.training")
#: Modules that make up the tools and may therefore import them.
TOOL_USERS = ("scamtrace.simulate", "scamtrace.language.training")
#: The one module that names the files of a findings folder.
FINDINGS_MODULE = "scamtrace.core.findings"
#: A case folder has a ``rejected.csv`` of its own, written by ingest (not a findings file).
CASE_FILES = {"scamtrace.ingest": frozenset({"rejected.csv"})}
#: A simulated case's ground truth (``truth/entities.csv``) shares names with findings tables.
TRUTH = "truth/"


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module
    line: int
    top_level: bool  # False when the import sits inside a function (runs only when called)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts).removesuffix(".__init__")


def imports() -> Iterator[Import]:
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        inside = {id(n) for f in ast.walk(tree)
                  if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
                  for n in ast.walk(f)}  # fmt: skip
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module]
                if node.module == "scamtrace":  # from scamtrace import core, simulate...
                    targets = [f"scamtrace.{a.name}" for a in node.names
                               if (PACKAGE / a.name).is_dir()
                               or (PACKAGE / f"{a.name}.py").is_file()]  # fmt: skip
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for target in targets:
                if target.startswith("scamtrace"):
                    yield Import(module, target, node.lineno, id(node) not in inside)


def part(module: str) -> str:
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else ""


def test_the_graph_is_read() -> None:
    found = list(imports())
    assert any(i.module == "scamtrace.cli" and part(i.target) == "detect" for i in found)
    assert any(not i.top_level for i in found)  # lazy imports are seen too


def test_core_imports_nothing_else_from_scamtrace() -> None:
    bad = [i for i in imports() if part(i.module) == "core"
           and part(i.target) not in ("core", "")]  # fmt: skip
    assert not bad, bad


def test_stages_import_only_down_the_flow() -> None:
    bad = []
    for i in imports():
        source, target = part(i.module), part(i.target)
        if target in ("", "core", source) or i.module.startswith(TOOL_USERS):
            continue
        if source not in ALLOWED:
            bad.append(f"{i.module}: no rule for the part {source!r}")
        elif target not in ALLOWED[source]:
            bad.append(f"{i.module}:{i.line} imports {i.target}")
    assert not bad, "\n".join(bad)


def test_the_runtime_never_imports_tools_at_import_time() -> None:
    bad = [f"{i.module}:{i.line} imports {i.target}" for i in imports()
           if i.top_level and i.target.startswith(TOOLS)
           and not i.module.startswith(TOOL_USERS)]  # fmt: skip
    assert not bad, "\n".join(bad)


def test_loading_every_runtime_module_loads_no_tool() -> None:
    runtime = sorted(module_name(p) for p in PACKAGE.rglob("*.py")
                     if not module_name(p).startswith(TOOL_USERS))  # fmt: skip
    code = ("import importlib, sys\n"
            f"for m in {runtime!r}: importlib.import_module(m)\n"
            f"print(sorted(m for m in sys.modules if m.startswith({TOOLS!r})))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=PACKAGE.parent)  # fmt: skip
    assert done.stdout.strip() == "[]", done.stdout


def findings_file_names() -> frozenset[str]:
    from scamtrace.core import contract, findings

    return frozenset({findings.SUMMARY, *map(findings.table_file, contract.FINDINGS_TABLES)})


def test_findings_files_are_named_only_by_the_findings_module() -> None:
    names = findings_file_names()
    assert {"entities.csv", "evidence.csv", "summary.json"} <= names  # the rule sees them
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        if module == FINDINGS_MODULE or module.startswith(TOOL_USERS):
            continue
        allowed = next((f for m, f in CASE_FILES.items() if module.startswith(m)), frozenset())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                # a whole name, or the end of a path written in an f-string or a join
                named = {n for n in names if node.value == n
                         or (node.value.endswith("/" + n) and not node.value.endswith(TRUTH + n))}
                bad += [f"{module}:{node.lineno} names {n}" for n in named - allowed]
    assert not bad, "\n".join(bad)
