"""Benchmark: run ``scamtrace detect`` on the full seed scenario; print wall time, peak memory
and the ratio to one plain DuckDB group-by pass over the same carrier table.

Target (issue 3): under 2 minutes and 8 GB on a 2-core machine, with at least 20 million
carrier records and the bank data. The case is simulated first (not timed) unless ``--case``
points at one; detection runs in a child process so its peak memory is its own.

    python benchmarks/detect_seed.py                      # simulate seed scale 1, then detect
    python benchmarks/detect_seed.py --case cases/seed    # an existing case folder
    python benchmarks/detect_seed.py --scale 0.1 --scenario hard --only carrier_cdr,reports
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--case", type=Path, help="existing case folder (else simulate)")
    parser.add_argument("--scenario", default="seed")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", help="comma-separated tables to keep (others removed)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="scamtrace-bench-"))
    case = args.case or workdir / "case"
    if args.case is None:
        subprocess.run([sys.executable, "-m", "scamtrace.cli", "simulate", "--scenario",
                        args.scenario, "--scale", str(args.scale), "--seed", str(args.seed),
                        "--out", str(case)], check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    if args.only:
        keep = set(args.only.split(","))
        partial = workdir / "partial"
        partial.mkdir()
        for item in case.iterdir():
            if item.is_dir() or item.stem in keep or item.name == "holder.json":
                (partial / item.name).symlink_to(item.resolve())
        case = partial

    carrier = next(case.glob("carrier_cdr.*"), None)
    groupby_s = float("nan")
    if carrier is not None:
        reader = "read_parquet" if carrier.suffix == ".parquet" else "read_csv"
        started = time.perf_counter()
        duckdb.sql(f"SELECT caller_number, count(*), count(DISTINCT called_number), "
                   f"sum(duration_s) FROM {reader}('{carrier}') GROUP BY 1").fetchall()  # fmt: skip
        groupby_s = time.perf_counter() - started

    findings = workdir / "findings"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "scamtrace.cli", "detect", str(case), "--out",
                    str(findings)], check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    detect_s = time.perf_counter() - started
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    summary = json.loads((findings / "summary.json").read_text())
    quality = None
    if (case / "truth").is_dir():
        from scamtrace.evaluate import evaluate

        quality = evaluate(findings, case).to_dict()
    shutil.rmtree(workdir, ignore_errors=True)

    rows = summary["rows_read"]
    table = Table(title=f"detect on {args.case or f'{args.scenario} scale {args.scale:g}'}"
                        f"{' (' + args.only + ')' if args.only else ''}")  # fmt: skip
    table.add_column("measure")
    table.add_column("value", justify="right")
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
    table.add_row("machine", f"{machine}Python {platform.python_version()}")
    for name, n in rows.items():
        table.add_row(f"rows: {name}", f"{n:,}")
    table.add_row("detect wall time (s)", f"{detect_s:.1f}")
    for stage, seconds in summary["timings_s"].items():
        table.add_row(f"  {stage} (s)", f"{seconds:.1f}")
    table.add_row("peak memory (GB)", f"{peak_gb:.2f}")
    table.add_row("DuckDB group-by pass over carrier_cdr (s)", f"{groupby_s:.1f}")
    table.add_row("detect / group-by", f"{detect_s / groupby_s:.1f}x")
    if quality:
        for kind, m in quality["kinds"].items():
            table.add_row(f"F1 {kind}", f"{m['f1']:.3f}")
        for grouping in ("centers", "networks"):
            g = quality[grouping]
            value = f"{g['ari']:.3f}; {g['ari_strict']:.3f}" if g["placed"] else "-"
            table.add_row(f"ARI {grouping} (placed {g['placed_share']:.1%}; strict)", value)
    Console().print(table)


if __name__ == "__main__":
    main()
