"""The Sichuan telecom-fraud benchmark under the protocol of the GAT-COBO paper's code.

Data: ``all_feat_with_label.csv`` (one row per user: 55 behaviour features and ``label``) and
``node_adj_sparse.npz`` (user-user graph, row *i* is node *i*), as in ``shared/data/sichuan``.

Protocol (``gen_mask`` in GAT-COBO's ``main.py``, with the seed as ``random_state`` and both
cuts stratified): 20% of the users train, 20% validation, 60% test. The whole graph and every
user's features are visible; labels come from the training users only. Validation labels
choose when boosting stops and the decision threshold; test labels are read only to score.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.model_selection import train_test_split

from scamtrace.core.errors import ScamtraceError
from scamtrace.reputation.graph import (
    FeatureBlock,
    KnownLabels,
    label_features,
    neighbour_features,
    structure_features,
    symmetric,
)
from scamtrace.reputation.model import LineScorer, ScorerSettings

FEATURES_FILE = "all_feat_with_label.csv"
GRAPH_FILE = "node_adj_sparse.npz"
METRICS = ("auc", "macro_f1", "f1_fraud", "g_mean")


class DatasetError(ScamtraceError):
    """The benchmark data cannot be found or read."""


@dataclass(frozen=True)
class SichuanData:
    behaviour: FeatureBlock
    labels: NDArray[np.int8]
    adjacency: sp.csr_matrix

    @property
    def size(self) -> int:
        return len(self.labels)


def load_sichuan(folder: Path) -> SichuanData:
    """Read the two files; a clear error names what is missing or inconsistent."""
    table_path, graph_path = folder / FEATURES_FILE, folder / GRAPH_FILE
    for path in (table_path, graph_path):
        if not path.is_file():
            raise DatasetError(
                f"{path}: not found; --data must be the folder holding {FEATURES_FILE} and "
                f"{GRAPH_FILE} (the Sichuan data of GAT-COBO, see shared/data/sichuan/README.md)"
            )
    try:
        frame = pl.read_csv(table_path, infer_schema_length=None)
    except pl.exceptions.PolarsError as exc:
        raise DatasetError(f"{table_path}: cannot be read as CSV: {exc}") from exc
    if "label" not in frame.columns:
        raise DatasetError(f"{table_path}: line 1: no 'label' column")
    names = [c for c in frame.columns if c not in ("label", "phone_no_m")]
    try:
        values = frame.select(names).cast(pl.Float64).to_numpy()
    except pl.exceptions.PolarsError as exc:
        raise DatasetError(f"{table_path}: a feature column is not numeric: {exc}") from exc
    labels = frame["label"].to_numpy()
    bad = np.flatnonzero(~np.isin(labels, (0, 1)))
    if len(bad):
        raise DatasetError(f"{table_path}: line {int(bad[0]) + 2}: field label: expected 0 or 1")
    try:
        adjacency = symmetric(sp.load_npz(graph_path))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{graph_path}: not a scipy sparse matrix: {exc}") from exc
    if adjacency.shape != (len(labels), len(labels)):
        raise DatasetError(f"{graph_path}: shape {adjacency.shape} does not match the "
                           f"{len(labels)} rows of {table_path}")  # fmt: skip
    return SichuanData(FeatureBlock(tuple(names), values), labels.astype(np.int8), adjacency)


@dataclass(frozen=True)
class Split:
    train: NDArray[np.int64]
    validation: NDArray[np.int64]
    test: NDArray[np.int64]


def split_protocol(labels: NDArray[np.integer], seed: int, train: float = 0.2,
                   validation: float = 0.2) -> Split:  # fmt: skip
    """Stratified train / validation / test indices, the same for the same seed."""
    index = np.arange(len(labels), dtype=np.int64)
    train_idx, rest = train_test_split(index, train_size=train, stratify=labels,
                                       random_state=seed, shuffle=True)  # fmt: skip
    val_idx, test_idx = train_test_split(rest, train_size=validation / (1 - train),
                                         stratify=labels[rest], random_state=seed,
                                         shuffle=True)  # fmt: skip
    return Split(np.sort(train_idx), np.sort(val_idx), np.sort(test_idx))


def choose_threshold(y: NDArray[np.integer], score: NDArray[np.float64]) -> float:
    """The score cut that maximises macro-F1 on (validation) labels ``y``."""
    order = np.argsort(-score, kind="stable")
    s, t = score[order], y[order].astype(np.int64)
    pos, n = int(t.sum()), len(t)
    tp = np.cumsum(t)  # predicting the first k+1 as fraud
    fp = np.arange(1, n + 1) - tp
    fn, tn = pos - tp, (n - pos) - fp
    f1_pos = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    f1_neg = 2 * tn / np.maximum(2 * tn + fn + fp, 1)
    macro = (f1_pos + f1_neg) / 2
    # only cut between distinct scores
    last_of_value = np.r_[s[1:] != s[:-1], True]
    k = int(np.flatnonzero(last_of_value)[np.argmax(macro[last_of_value])])
    return float(s[k])


def metrics(y: NDArray[np.integer], score: NDArray[np.float64], threshold: float
            ) -> dict[str, float]:  # fmt: skip
    """AUC, macro-F1, F1 of the fraud class and G-mean (sqrt of TPR x TNR), in percent."""
    predicted = (score >= threshold).astype(np.int64)
    tpr = float(np.mean(predicted[y == 1] == 1))
    tnr = float(np.mean(predicted[y == 0] == 0))
    return {
        "auc": 100 * float(roc_auc_score(y, score)),
        "macro_f1": 100 * float(f1_score(y, predicted, average="macro")),
        "f1_fraud": 100 * float(f1_score(y, predicted)),
        "g_mean": 100 * float(np.sqrt(tpr * tnr)),
    }


@dataclass(frozen=True)
class Variant:
    """Which feature groups the scorer gets."""

    name: str
    structure: bool = False
    neighbours: bool = False
    labels: bool = False
    description: str = ""


VARIANTS = {
    v.name: v
    for v in (
        Variant("behaviour", description="the 55 behaviour features alone"),
        Variant("+structure", structure=True,
                description="+ degree, PageRank, k-core, clustering, spectral embedding"),
        Variant("+neighbours", neighbours=True,
                description="+ neighbours' mean, max, std, own minus mean of each feature"),
        Variant("+labels", labels=True,
                description="+ known fraud / normal neighbours, fraud share 1 and 2 hops "
                            "(train labels only)"),
        Variant("+structure+labels", structure=True, labels=True,
                description="structure and train-label features"),
        Variant("all", structure=True, neighbours=True, labels=True,
                description="every feature group"),
    )
}  # fmt: skip
DEFAULT_VARIANT = "behaviour"  # the best mean validation AUC in the ablation (README)


@dataclass
class GraphCache:
    """Label-free graph features, computed once per dataset and shared by every seed."""

    data: SichuanData
    blocks: dict[str, FeatureBlock] = field(default_factory=dict)
    seconds: float = 0.0

    def get(self, name: str) -> FeatureBlock:
        if name not in self.blocks:
            t0 = time.perf_counter()
            if name == "structure":
                self.blocks[name] = structure_features(self.data.adjacency)
            else:
                self.blocks[name] = neighbour_features(self.data.adjacency, self.data.behaviour)
            self.seconds += time.perf_counter() - t0
        return self.blocks[name]


def features_for(data: SichuanData, split: Split, variant: Variant, cache: GraphCache
                 ) -> FeatureBlock:  # fmt: skip
    """The feature matrix of one run; label features from the training labels alone."""
    blocks = [data.behaviour]
    if variant.structure:
        blocks.append(cache.get("structure"))
    if variant.neighbours:
        blocks.append(cache.get("neighbours"))
    if variant.labels:
        known = KnownLabels.take(data.labels, split.train)
        known.guard(np.concatenate([split.validation, split.test]))
        blocks.append(label_features(data.adjacency, known))
    return FeatureBlock.join(blocks)


@dataclass(frozen=True)
class SeedResult:
    seed: int
    test: dict[str, float]
    validation_auc: float
    fit_s: float
    threshold: float


def run_seed(data: SichuanData, seed: int, variant: Variant, cache: GraphCache,
             settings: ScorerSettings | None = None) -> SeedResult:  # fmt: skip
    """One seed: split, features, fit (early stopping on validation), threshold on validation,
    score on test. ``fit_s`` covers label features, fitting and scoring every line."""
    split = split_protocol(data.labels, seed)
    t0 = time.perf_counter()
    x = features_for(data, split, variant, cache).values
    y = data.labels
    scorer = LineScorer(settings or ScorerSettings(), seed)
    scorer.fit(x[split.train], y[split.train], x[split.validation], y[split.validation])
    score = scorer.predict(x)
    fit_s = time.perf_counter() - t0
    threshold = choose_threshold(y[split.validation], score[split.validation])
    return SeedResult(
        seed, metrics(y[split.test], score[split.test], threshold),
        100 * float(roc_auc_score(y[split.validation], score[split.validation])), fit_s,
        threshold,
    )  # fmt: skip


@dataclass(frozen=True)
class BenchResult:
    variant: str
    seeds: list[SeedResult]
    graph_s: float

    def summary(self) -> dict[str, object]:
        """``{"auc": {"mean", "std"}, "macro_f1": ..., "f1_fraud": ..., "g_mean": ...}`` in
        percent, plus fit time and what was run."""
        out: dict[str, object] = {}
        for name in METRICS:
            values = np.array([r.test[name] for r in self.seeds])
            out[name] = {"mean": round(float(values.mean()), 2),
                         "std": round(float(values.std()), 2)}  # fmt: skip
        fit = np.array([r.fit_s for r in self.seeds])
        val = np.array([r.validation_auc for r in self.seeds])
        out["fit_s"] = {"mean": round(float(fit.mean()), 3), "max": round(float(fit.max()), 3)}
        out["graph_features_s"] = round(self.graph_s, 3)
        out["validation_auc"] = {"mean": round(float(val.mean()), 2),
                                 "std": round(float(val.std()), 2)}  # fmt: skip
        out["variant"] = self.variant
        out["seeds"] = [r.seed for r in self.seeds]
        return out


def benchmark(data: SichuanData, seeds: int = 10, variant: str = DEFAULT_VARIANT,
              cache: GraphCache | None = None,
              progress: Callable[[int, int], None] | None = None) -> BenchResult:  # fmt: skip
    """Run ``variant`` over seeds ``0 .. seeds-1``."""
    if variant not in VARIANTS:
        raise ScamtraceError(f"unknown variant {variant!r}; one of {', '.join(VARIANTS)}")
    if seeds < 1:
        raise ScamtraceError("--seeds: at least 1")
    cache = cache or GraphCache(data)
    results = []
    for seed in range(seeds):
        results.append(run_seed(data, seed, VARIANTS[variant], cache))
        if progress is not None:
            progress(seed + 1, seeds)
    return BenchResult(variant, results, cache.seconds)


def run_benchmark(folder: Path, seeds: int = 10, variant: str = DEFAULT_VARIANT,
                  progress: Callable[[int, int], None] | None = None,
                  threads: int = 1) -> dict[str, object]:  # fmt: skip
    """Load the data and run :func:`benchmark`; the summary with the number of lines.

    One thread by default: fits on 1,200 rows are too small to gain from more, and OpenMP
    threads that wait on each other on a busy 2-core machine cost several times the work."""
    from threadpoolctl import threadpool_limits

    data = load_sichuan(folder)
    with threadpool_limits(threads):
        summary = benchmark(data, seeds, variant, progress=progress).summary()
    summary["lines"] = data.size
    summary["threads"] = threads
    return summary
