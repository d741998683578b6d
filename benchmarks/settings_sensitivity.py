"""How detection moves when each setting is halved and doubled, as a table.

Every threshold of ``DetectSettings`` and the fixed cuts of ``detect/settings.py`` that decide
what is a call center, a victim or a network (the 60 s 'engaged' cut, the Leiden resolution...)
is set to half and to twice its value, one at a time, and the same worlds are detected again.
A setting whose halving or doubling moves nothing is not fitted to our simulator; one that
moves a lot says how much the world's behaviour, not our choice, must decide it.

    python benchmarks/settings_sensitivity.py                       # small 1, hard 1 at 5%
    python benchmarks/settings_sensitivity.py --worlds small:1 --only short_call_s,RESOLUTION
    python benchmarks/settings_sensitivity.py --worlds hard:1:0.05:0.5 --only HANDOFF_TALK_S
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from scamtrace.core import contract
from scamtrace.detect import settings as settings_module
from scamtrace.detect.runner import detect
from scamtrace.detect.settings import DetectSettings
from scamtrace.evaluate import Evaluation, evaluate
from scamtrace.simulate.config import load_scenario
from scamtrace.simulate.world import build_world, write_world

#: Settings that size the evidence kept or switch a step, not a threshold: not varied.
NOT_THRESHOLDS = {"evidence_per_entity", "evidence_per_call_entity", "reputation"}
#: Fixed cuts of detect/settings.py that the issue asked to justify the same way.
CONSTANTS = ("ENGAGED_S", "HANDOFF_WINDOW_S", "HANDOFF_TALK_S", "HANDOFF_MIN_VICTIMS",
             "LIST_GAP", "LIST_WINDOW_S", "UNKNOWN_RUN_SHARE", "TIMING_SHARE", "RESOLUTION",
             "MIN_COMMUNITY")  # fmt: skip
KINDS = contract.TRUTH_ENTITY_KINDS


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--worlds", default="small:1,hard:1:0.05",
                        help="preset:seed[:scale[:coverage]], comma-separated")  # fmt: skip
    parser.add_argument("--only", help="comma-separated setting names (default: all)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    names = [n for n in DetectSettings.model_fields if n not in NOT_THRESHOLDS] + list(CONSTANTS)
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    work = Path(tempfile.mkdtemp(prefix="scamtrace-sensitivity-"))
    try:
        cases = []
        for spec in args.worlds.split(","):
            preset, seed, *rest = spec.split(":")
            scale = float(rest[0]) if rest and rest[0] else None
            coverage = float(rest[1]) if len(rest) > 1 and rest[1] else None
            case = work / spec.replace(":", "-")
            sc = load_scenario(preset, seed=int(seed), scale=scale, center_coverage=coverage)
            write_world(build_world(sc), case)
            cases.append(case)
        table = Table(title="detection when one setting is halved or doubled "
                            "(F1 per kind and ARI of networks, mean over the worlds)")  # fmt: skip
        for col in ("setting", "value", *KINDS, "ARI networks"):
            table.add_column(col, justify="left" if col == "setting" else "right")
        started = time.perf_counter()
        table.add_row("(as set)", "", *_scores(cases, work, DetectSettings()))
        for name in names:
            base = _value(name)
            for factor in (0.5, 2.0):
                value = _scaled(name, base, factor)
                if value == base:
                    continue
                with _constant(name, value):
                    s = _settings(name, value)
                    if s is None:
                        continue
                    table.add_row(name, f"{value:g} ({factor:g}x)", *_scores(cases, work, s))
                print(f"{name} x{factor:g} done ({time.perf_counter() - started:.0f} s)",
                      file=sys.stderr, flush=True)  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.markdown:
        print("| " + " | ".join(str(c.header) for c in table.columns) + " |")
        print("|" + "---|" * len(table.columns))
        for i in range(table.row_count):
            print("| " + " | ".join(str(c._cells[i]) for c in table.columns) + " |")
    else:
        Console(width=200).print(table)


def _value(name: str) -> float:
    if name in CONSTANTS:
        return float(getattr(settings_module, name))
    return float(getattr(DetectSettings(), name))


def _scaled(name: str, base: float, factor: float) -> float:
    value = base * factor
    if isinstance(_default(name), int):
        value = float(max(1, round(value)))
    field = DetectSettings.model_fields.get(name)
    shares = ("share", "score", "uniqueness", "reputation_", "TIMING_SHARE")
    if any(k in name for k in shares) or (field is not None and "le=1" in repr(field.metadata)):
        value = min(value, 1.0)
    return value


def _default(name: str) -> object:
    if name in CONSTANTS:
        return getattr(settings_module, name)
    return getattr(DetectSettings(), name)


def _settings(name: str, value: float) -> DetectSettings | None:
    if name in CONSTANTS:
        return DetectSettings()
    cast = int(value) if isinstance(_default(name), int) else value
    try:
        return DetectSettings(**{name: cast})
    except ValidationError:
        return None


@contextmanager
def _constant(name: str, value: float) -> Iterator[None]:
    """Set a module constant of detect/settings.py everywhere it was imported by name."""
    if name not in CONSTANTS:
        yield
        return
    old = getattr(settings_module, name)
    new = type(old)(value)
    patched = [m for m in list(sys.modules.values())
               if m is not None and getattr(m, "__name__", "").startswith("scamtrace.detect")
               and getattr(m, name, None) is old]  # fmt: skip
    for m in patched:
        setattr(m, name, new)
    try:
        yield
    finally:
        for m in patched:
            setattr(m, name, old)


def _scores(cases: list[Path], work: Path, s: DetectSettings) -> list[str]:
    runs: list[Evaluation] = []
    for case in cases:
        out = work / "findings"
        detect(case, out, settings=s, overwrite=True)
        runs.append(evaluate(out, case))
    f1 = [sum(r.kinds[k].f1 for r in runs) / len(runs) for k in KINDS]
    ari = sum(r.networks.ari for r in runs) / len(runs)
    return [f"{v:.3f}" for v in f1] + [f"{ari:.3f}"]


if __name__ == "__main__":
    main()
