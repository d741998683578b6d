"""Benchmark: indicator extraction and script grouping on simulated transcripts and complaints;
print texts/s, and how well the script groups match the simulator's call kinds.

Worlds are simulated first (not timed) unless ``--case`` points at case folders with ``truth/``.
Extraction runs over every transcript and complaint narrative, repeated until at least
``--min-texts`` texts went through; grouping over each world's transcripts as they are.

    python benchmarks/language_indicators.py                        # small, seeds 1 and 2
    python benchmarks/language_indicators.py --scenario es-victims --seeds 1
    python benchmarks/language_indicators.py --sweep                # thresholds 0.4 to 0.8
    python benchmarks/language_indicators.py --case cases/a cases/b
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from scamtrace.language.indicators import extract, extract_table
from scamtrace.language.scripts import DEFAULT_THRESHOLD, script_groups
from scamtrace.simulate.config import load_scenario
from scamtrace.simulate.text import SCAM_KINDS
from scamtrace.simulate.world import build_world, write_world

STAGES = ("neighbor", "police", "official")


class World(NamedTuple):
    case: Path
    transcripts: pa.Table
    reports: pa.Table
    kinds: list[str]  # the true kind of each transcript
    country: str  # the holder's


def read_case(case: Path) -> World:
    transcripts = pq.read_table(case / "transcripts.parquet")
    reports = pq.read_table(case / "reports.parquet")
    with (case / "truth" / "transcripts.csv").open(encoding="utf-8") as f:
        truth = {(r["source"], r["call_id"]): r["kind"] for r in csv.DictReader(f)}
    keys = zip(
        transcripts.column("source").to_pylist(),
        transcripts.column("call_id").to_pylist(),
        strict=True,
    )
    kinds = [truth[k] for k in keys]
    holder = json.loads((case / "holder.json").read_text(encoding="utf-8"))
    return World(case, transcripts, reports, kinds, str(holder["country"]))


def quality(groups: Sequence[int], kinds: Sequence[str]) -> dict[str, float]:
    members: dict[int, list[str]] = defaultdict(list)
    for group, kind in zip(groups, kinds, strict=True):
        if group >= 0:
            members[group].append(kind)
    majority = {g: Counter(m).most_common(1)[0] for g, m in members.items()}
    grouped = sum(len(m) for m in members.values()) or 1
    scam = [g for g, (kind, _) in majority.items() if kind in SCAM_KINDS]
    in_scam = sum(len(members[g]) for g in scam) or 1
    honest = sum(k not in SCAM_KINDS for k in kinds) or 1
    stage_calls = [(g, k) for g, k in zip(groups, kinds, strict=True) if k in STAGES]
    return {
        "groups": len(members),
        "purity": sum(n for _, n in majority.values()) / grouped,
        "scam purity": sum(majority[g][1] for g in scam) / in_scam,
        "honest in scam groups": sum(k not in SCAM_KINDS for g in scam for k in members[g])
        / honest,
        "stage calls grouped": sum(g >= 0 and majority[g][0] == k for g, k in stage_calls)
        / max(1, len(stage_calls)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--case", type=Path, nargs="*", help="existing case folders")
    parser.add_argument("--scenario", default="small")
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--scale", type=float, default=None)
    parser.add_argument("--min-texts", type=int, default=20_000)
    parser.add_argument("--sweep", action="store_true", help="grouping at thresholds 0.4-0.8")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="scamtrace-language-bench-"))
    try:
        cases = list(args.case or [])
        if not cases:
            for seed in args.seeds:
                out = work / f"{args.scenario}-{seed}"
                scenario = load_scenario(args.scenario, seed=seed, scale=args.scale)
                write_world(build_world(scenario), out)
                cases.append(out)
        worlds = [read_case(case) for case in cases]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    cores = os.cpu_count() or 1
    speed = Table(title="indicators and script groups: speed")
    speed.add_column("measure")
    speed.add_column("texts", justify="right")
    speed.add_column("texts/s", justify="right")
    speed.add_column("indicators", justify="right")

    region = worlds[0].country
    for label, column in (("transcripts", "text"), ("complaints", "narrative")):
        tables = [w.transcripts if column == "text" else w.reports for w in worlds]
        base = pa.concat_tables(t.select([column, "language"]) for t in tables)
        repeat = max(1, -(-args.min_texts // max(1, base.num_rows)))
        table = pa.concat_tables([base] * repeat)
        started = time.perf_counter()
        found = extract_table(table, column, "language", region)
        seconds = time.perf_counter() - started
        speed.add_row(f"extract_table, {label}", f"{table.num_rows:,}",
                      f"{table.num_rows / seconds:,.0f}", f"{found.num_rows:,}")  # fmt: skip
        texts = base.column(column).to_pylist()
        langs = base.column("language").to_pylist()
        started = time.perf_counter()
        n = sum(
            len(extract(t or "", lang or "", region)) for t, lang in zip(texts, langs, strict=True)
        )
        seconds = time.perf_counter() - started
        speed.add_row(f"extract, one by one, {label}", f"{len(texts):,}",
                      f"{len(texts) / seconds:,.0f}", f"{n:,}")  # fmt: skip

    thresholds = [0.4, 0.5, 0.6, 0.7, 0.8] if args.sweep else [DEFAULT_THRESHOLD]
    grouping = Table(title="script groups against the simulator's call kinds")
    for col in ("world", "threshold", "texts", "texts/s", "groups", "purity", "scam purity",
                "honest in scam groups", "stage calls grouped"):  # fmt: skip
        grouping.add_column(col, justify="right" if col != "world" else "left")
    for case, transcripts, _, kinds, _ in worlds:
        texts = transcripts.column("text").to_pylist()  # grouped as they are, not repeated
        for threshold in thresholds:
            started = time.perf_counter()
            groups = script_groups(texts, threshold)
            seconds = time.perf_counter() - started
            q = quality(groups, kinds)
            speed.add_row(f"script_groups, {case.name}, threshold {threshold}", f"{len(texts):,}",
                          f"{len(texts) / seconds:,.0f}", f"{q['groups']:,.0f} groups")  # fmt: skip
            grouping.add_row(
                case.name, f"{threshold}", f"{len(texts):,}", f"{len(texts) / seconds:,.0f}",
                f"{q['groups']:,.0f}", f"{q['purity']:.3f}", f"{q['scam purity']:.3f}",
                f"{q['honest in scam groups']:.3f}", f"{q['stage calls grouped']:.3f}",
            )  # fmt: skip

    speed.caption = f"{platform.machine()}, {cores} cores, Python {platform.python_version()}"
    console = Console(width=150)
    console.print(speed)
    console.print(grouping)


if __name__ == "__main__":
    main()
