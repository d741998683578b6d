"""The two-agency exchange against fused data: F1 per entity kind, and what it cost.

Simulates each world, splits it by holder country, and scores four sets of findings against
``truth/``: ``fused`` (detect on everything, as if one agency held it all), ``A alone`` (the
victims' country's half), ``exchange`` (A's half merged with B's answer: what A can name) and
``exchange + leads`` (also counting the numbers A holds only as keyed hashes, compared by
hashing the truth with the case key). Also prints the request and answer sizes and times.

    python benchmarks/exchange_quality.py                        # seed and hard, seeds 1-3
    python benchmarks/exchange_quality.py --presets seed --seeds 0 --scale 0.1 --markdown
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from scamtrace.core import contract
from scamtrace.detect.runner import detect
from scamtrace.evaluate import evaluate, score_identified
from scamtrace.share.exchange.answer import write_answer
from scamtrace.share.exchange.leads import write_exchange_leads
from scamtrace.share.exchange.merge import merge_answer
from scamtrace.share.exchange.request import write_request
from scamtrace.simulate.config import load_scenario
from scamtrace.simulate.split import split_case
from scamtrace.simulate.world import build_world, write_world

TEST_SCALE = {"seed": 0.01, "hard": 0.02}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--presets", default="seed,hard")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--scale", type=float, help="override every preset's scale")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="scamtrace-exchange-"))
    key = bytes.fromhex(secrets.token_hex(32))
    kinds = contract.TRUTH_ENTITY_KINDS
    quality = Table(title="F1 per kind: fused / A alone / after the exchange (named) / "
                          "named + leads by keyed hash")  # fmt: skip
    cost = Table(title="what crossed the border, and how long each step took")
    for col in ("world", "findings", *kinds):
        quality.add_column(col)
    for col in ("world", "request calls", "request MB", "matched", "lines disclosed",
                "lines as pseudonyms", "answer calls", "answer MB", "re-identified",
                "leads", "request s", "answer s", "merge s"):  # fmt: skip
        cost.add_column(col)
    try:
        for preset in args.presets.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                scale = args.scale or TEST_SCALE.get(preset)
                label = f"{preset} seed {seed}" + (f" scale {scale:g}" if scale else "")
                _world(work, preset, seed, scale, key, label, quality, cost)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.markdown:
        for t in (quality, cost):
            print("| " + " | ".join(str(c.header) for c in t.columns) + " |")
            print("|" + "---|" * len(t.columns))
            for row in zip(*(c._cells for c in t.columns), strict=True):
                print("| " + " | ".join(str(v) for v in row) + " |")
            print()
    else:
        Console().print(quality, cost)


def _world(work: Path, preset: str, seed: int, scale: float | None, key: bytes, label: str,
           quality: Table, cost: Table) -> None:  # fmt: skip
    fused = work / f"{preset}-{seed}"
    write_world(build_world(load_scenario(preset, seed=seed, scale=scale)), fused)
    halves = split_case(fused)
    victim = _victim_country(fused)
    a = halves[victim]
    b = next(p for c, p in halves.items() if c != victim)
    detect(fused, work / "f-fused", overwrite=True)
    detect(a, work / "f-A", overwrite=True)
    t0 = time.perf_counter()
    rq = write_request(work / "f-A", a, key, work / "request.json", overwrite=True)
    t1 = time.perf_counter()
    an = write_answer(work / "request.json", b, key, work / "answer.json", overwrite=True)
    t2 = time.perf_counter()
    mg = merge_answer(work / "answer.json", a, key, work / "merged", overwrite=True)
    t3 = time.perf_counter()
    detect(work / "merged", work / "f-merged", overwrite=True)
    leads = write_exchange_leads(work / "merged", work / "f-merged")
    rows = {
        "fused": evaluate(work / "f-fused", fused).kinds,
        "A alone": evaluate(work / "f-A", a).kinds,
        "exchange": evaluate(work / "f-merged", work / "merged").kinds,
        "exchange + leads": score_identified(work / "f-merged", work / "merged", key),
    }
    for name, scores in rows.items():
        quality.add_row(label, name, *(f"{scores[k].f1:.3f}" for k in contract.TRUTH_ENTITY_KINDS))
    mb = 1 / 1_000_000
    cost.add_row(label, f"{rq.calls:,}", f"{(work / 'request.json').stat().st_size * mb:.1f}",
                 f"{an.matched:,}", str(an.lines_disclosed), str(an.lines_pseudonymous),
                 f"{an.calls_returned:,}", f"{(work / 'answer.json').stat().st_size * mb:.1f}",
                 f"{mg.resolved:,} of {mg.numbers:,}", f"{leads:,}", f"{t1 - t0:.1f}",
                 f"{t2 - t1:.1f}", f"{t3 - t2:.1f}")  # fmt: skip
    for path in (fused, *halves.values(), work / "merged"):
        shutil.rmtree(path, ignore_errors=True)


def _victim_country(case: Path) -> str:
    from scamtrace.core.casefolder import holder_countries

    return holder_countries(case)[0]


if __name__ == "__main__":
    main()
