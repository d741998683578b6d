"""Detection quality over presets and seeds: F1 per entity kind and ARI, as a table.

Simulates each world (at the scale the tests use unless ``--scale``), runs ``detect`` on all of
it, on the carrier's records plus reports alone, and on a bank's accounts and transfers alone,
and scores each against ``truth/``.

    python benchmarks/quality.py                          # small and hard, seeds 1-3
    python benchmarks/quality.py --presets seed --seeds 0 --scale 1
    python benchmarks/quality.py --presets hard --coverage 1,0.75,0.5,0.25   # centers unseen
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from itertools import product
from pathlib import Path

from rich.console import Console
from rich.table import Table

from scamtrace.core import contract
from scamtrace.detect.runner import detect
from scamtrace.evaluate import evaluate
from scamtrace.simulate.config import load_scenario
from scamtrace.simulate.split import single_holder_views
from scamtrace.simulate.world import build_world, write_world

TEST_SCALE = {"small": None, "hard": 0.05, "seed": 0.05, "es-victims": 0.05}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--presets", default="small,hard,es-victims")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--scale", type=float, help="override every preset's scale")
    parser.add_argument("--coverage", default="",
                        help="shares of the centers at the held VoIP provider, e.g. 0.5,0.25 "
                             "(default: the preset's, every center)")  # fmt: skip
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="scamtrace-quality-"))
    table = Table(title="detection quality (flagged = score >= 0.5)")
    for col in ("world", "inputs", *contract.TRUTH_ENTITY_KINDS, "ARI centers (strict)",
                "ARI networks (strict)"):
        table.add_column(col, justify="left" if col in ("world", "inputs") else "right")
    try:
        coverages: list[float | None] = [float(c) for c in args.coverage.split(",") if c]
        coverages = coverages or [None]
        for preset, seed, coverage in product(args.presets.split(","),
                                              (int(s) for s in args.seeds.split(",")),
                                              coverages):  # fmt: skip
            scale = args.scale or TEST_SCALE.get(preset)
            case = work / f"{preset}-{seed}"
            write_world(build_world(load_scenario(preset, seed=seed, scale=scale,
                                                  center_coverage=coverage)), case)  # fmt: skip
            label = f"{preset} seed {seed}" + (f" scale {scale:g}" if scale else "")
            label += f" coverage {coverage:g}" if coverage is not None else ""
            _row(table, label, "all", case, work / "f")
            partial = work / "partial"
            partial.mkdir()
            for name in ("carrier_cdr.parquet", "reports.parquet", "holder.json"):
                (partial / name).symlink_to(case / name)
            (partial / "truth").symlink_to(case / "truth")
            _row(table, label, "carrier+reports", partial, work / "f")
            shutil.rmtree(partial)
            bank = single_holder_views(case, work / "views")["bank"]
            _row(table, label, "bank", bank, work / "f")
            shutil.rmtree(work / "views")
            shutil.rmtree(case)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.markdown:
        print("| " + " | ".join(c.header for c in table.columns) + " |")
        print("|" + "---|" * len(table.columns))
        for i in range(table.row_count):
            print("| " + " | ".join(str(c._cells[i]) for c in table.columns) + " |")
    else:
        Console(width=200).print(table)


def _row(table: Table, label: str, inputs: str, case: Path, out: Path) -> None:
    detect(case, out, overwrite=True)
    q = evaluate(out, case)
    f1 = [f"{q.kinds[k].f1:.3f}" for k in contract.TRUTH_ENTITY_KINDS]
    aris = [f"{g.ari:.3f} ({g.ari_strict:.3f})" if g.placed else "-"
            for g in (q.centers, q.networks)]  # fmt: skip
    table.add_row(label, inputs, *f1, *aris)


if __name__ == "__main__":
    main()
