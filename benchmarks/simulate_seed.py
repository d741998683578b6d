"""Benchmark: simulate the full seed scenario and print rows/s and peak memory.

Target (issue 2): at least 20 million carrier records in under 3 minutes and 6 GB on 2 cores.

    python benchmarks/simulate_seed.py                  # full seed scenario, scale 1
    python benchmarks/simulate_seed.py --scale 0.1 --scenario hard
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from scamtrace.simulate.config import load_scenario
from scamtrace.simulate.world import build_world, write_world


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--scenario", default="seed")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--format", default="parquet", choices=["parquet", "csv"])
    parser.add_argument("--keep", type=Path, help="write the case here and keep it")
    args = parser.parse_args()

    scenario = load_scenario(args.scenario, seed=args.seed, scale=args.scale)
    workdir = Path(tempfile.mkdtemp(prefix="scamtrace-bench-"))
    out = args.keep or workdir / "case"
    started = time.perf_counter()
    world = build_world(scenario)
    built = time.perf_counter()
    result = write_world(world, out, fmt=args.format, overwrite=True)
    done = time.perf_counter()
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    size_mb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1024**2
    shutil.rmtree(workdir, ignore_errors=True)

    total = done - started
    rows = sum(result.rows.values())
    table = Table(title=f"simulate {args.scenario} scale {args.scale:g} seed {args.seed} "
                        f"({args.format})")  # fmt: skip
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row(
        "machine",
        f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}",
    )
    for name, n in result.rows.items():
        table.add_row(f"rows: {name}", f"{n:,}")
    table.add_row("build (s)", f"{built - started:.1f}")
    table.add_row("write (s)", f"{done - built:.1f}")
    table.add_row("total wall time (s)", f"{total:.1f}")
    table.add_row("carrier rows/s", f"{result.rows['carrier_cdr'] / total:,.0f}")
    table.add_row("all rows/s", f"{rows / total:,.0f}")
    table.add_row("peak memory (GB)", f"{peak_gb:.2f}")
    table.add_row("case folder (MB)", f"{size_mb:,.0f}")
    table.add_row("paying victims", f"{result.truth['victim_paid']:,}")
    table.add_row("loss (EUR)", f"{result.loss_eur:,.0f}")
    for rule in result.naive_rules:
        table.add_row(f"naive F1: {rule['rule']} ({rule['kind']})", f"{rule['f1']:.3f}")
    Console().print(table)


if __name__ == "__main__":
    main()
