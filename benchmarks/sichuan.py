"""Number reputation on the Sichuan telecom-fraud data: the ablation behind the README table.

The issue's floor (untuned gradient boosting, cut at 0.5), then every variant of the line scorer
(feature groups: behaviour, graph structure, neighbour aggregates, train-label neighbourhood) under
the GAT-COBO protocol, seeds 0..N-1: test AUC, macro-F1, F1 of the fraud class and G-mean (mean ±
std, %), validation AUC (what chose the default variant), and fit + score seconds per seed (label
features, fitting, scoring all lines; the label-free graph features are computed once and shown
apart).

``--ceiling`` adds a diagnostic row that is NOT a result: the behaviour features plus the fraud
share of each line's neighbours computed from EVERY label, test labels included. It bounds what
any neighbour-label feature could add; it chooses nothing.

    python benchmarks/sichuan.py --data ../shared/data/sichuan
    python benchmarks/sichuan.py --data ../shared/data/sichuan --seeds 10 --ceiling --markdown
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from scamtrace.reputation.graph import FeatureBlock, degree
from scamtrace.reputation.model import LineScorer, ScorerSettings
from scamtrace.reputation.sichuan import (
    DEFAULT_VARIANT,
    METRICS,
    VARIANTS,
    GraphCache,
    SichuanData,
    benchmark,
    choose_threshold,
    load_sichuan,
    metrics,
    split_protocol,
)

Row = tuple[str, list[dict[str, float]], list[float], list[float]]


def _floor(data: SichuanData, seeds: int) -> Row:
    """The issue's floor: untuned gradient boosting on the behaviour features, cut at 0.5."""
    x, y = data.behaviour.values, data.labels
    tests, vals, fits = [], [], []
    for seed in range(seeds):
        split = split_protocol(y, seed)
        t0 = time.perf_counter()
        model = HistGradientBoostingClassifier(random_state=seed).fit(x[split.train],
                                                                      y[split.train])  # fmt: skip
        score = model.predict_proba(x)[:, 1]
        fits.append(time.perf_counter() - t0)
        tests.append(metrics(y[split.test], score[split.test], 0.5))
        vals.append(metrics(y[split.validation], score[split.validation], 0.5)["auc"])
    return "floor: untuned GBM, cut 0.5", tests, vals, fits


def _ceiling(data: SichuanData, seeds: int) -> Row:
    """Diagnostic only: neighbour fraud share from all labels (see the module docstring)."""
    adj, y = data.adjacency, data.labels.astype(np.float64)
    deg = degree(adj)
    share = np.where(deg > 0, (adj @ y) / np.maximum(deg, 1), np.nan)
    x = FeatureBlock.join([data.behaviour, FeatureBlock(("all_label_share",),
                                                        share[:, None])]).values  # fmt: skip
    tests, vals, fits = [], [], []
    for seed in range(seeds):
        split = split_protocol(data.labels, seed)
        t0 = time.perf_counter()
        scorer = LineScorer(ScorerSettings(), seed).fit(
            x[split.train], data.labels[split.train], x[split.validation],
            data.labels[split.validation])  # fmt: skip
        score = scorer.predict(x)
        fits.append(time.perf_counter() - t0)
        cut = choose_threshold(data.labels[split.validation], score[split.validation])
        tests.append(metrics(data.labels[split.test], score[split.test], cut))
        vals.append(metrics(data.labels[split.validation], score[split.validation], cut)["auc"])
    return "ceiling: all labels (NOT a result)", tests, vals, fits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/sichuan"))
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--ceiling", action="store_true", help="add the diagnostic row")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    data = load_sichuan(args.data)
    cache = GraphCache(data)
    rows: list[Row] = []
    with threadpool_limits(1):
        rows.append(_floor(data, args.seeds))
        for name in args.variants.split(","):
            result = benchmark(data, args.seeds, name, cache)
            rows.append((name, [r.test for r in result.seeds],
                         [r.validation_auc for r in result.seeds],
                         [r.fit_s for r in result.seeds]))  # fmt: skip
        if args.ceiling:
            rows.append(_ceiling(data, args.seeds))
    header = ["variant", *METRICS, "val AUC", "fit s/seed"]
    lines = []
    for name, tests, vals, fits in rows:
        cells = [f"{np.mean([t[m] for t in tests]):.2f} ± {np.std([t[m] for t in tests]):.2f}"
                 for m in METRICS]  # fmt: skip
        label = f"{name} (default)" if name == DEFAULT_VARIANT else name
        lines.append([label, *cells, f"{np.mean(vals):.2f}", f"{np.mean(fits):.2f}"])
    title = (f"Sichuan, {args.seeds} seeds, test sets (%); label-free graph features once: "
             f"{cache.seconds:.1f} s")  # fmt: skip
    if args.markdown:
        print(f"{title}\n")
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for line in lines:
            print("| " + " | ".join(line) + " |")
        return
    table = Table(title=title)
    for col in header:
        table.add_column(col, justify="left" if col == "variant" else "right")
    for line in lines:
        table.add_row(*line)
    Console().print(table)
    for name in args.variants.split(","):
        print(f"  {name}: {VARIANTS[name].description}")


if __name__ == "__main__":
    main()
