"""The runtime never imports the simulator or the classifier's training code (issue 14): a
missing model must stop ``detect`` and ``classify`` with an error, never run the simulator."""

from __future__ import annotations

import json
import subprocess
import sys

RUNTIME = (
    "scamtrace.cli",
    "scamtrace.detect.runner",
    "scamtrace.detect.texts",
    "scamtrace.language",
    "scamtrace.language.classifier",
    "scamtrace.language.early",
    "scamtrace.language.indicators",
    "scamtrace.language.scripts",
)
TOOLS = ("scamtrace.simulate", "scamtrace.language.train")  # .train also matches .training


def imported_after(modules: tuple[str, ...], prefixes: tuple[str, ...]) -> list[str]:
    """The modules starting with one of ``prefixes`` loaded by importing ``modules`` in a fresh
    interpreter."""
    code = (
        f"import importlib, json, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({prefixes!r}))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)  # fmt: skip
    found: list[str] = json.loads(done.stdout)
    return found


def test_runtime_imports_neither_simulate_nor_training() -> None:
    assert imported_after(RUNTIME, TOOLS) == []


def test_the_check_sees_an_import_of_training() -> None:
    """The probe itself works: importing the training code is seen."""
    found = imported_after(("scamtrace.language.training.train",), TOOLS)
    assert "scamtrace.language.training.train" in found
    assert "scamtrace.language.training.corpus" in found
