"""The line scorer: gradient boosting on behaviour and graph features when labels exist, an
unsupervised behaviour score when they do not.

Three cases, because the labels a case holds differ:

- fraud and normal labels (the Sichuan benchmark, a carrier's confirmed cases): a histogram
  gradient-boosting classifier, stopped early on a validation set when one is given;
- fraud labels only (lines named in victim reports, lines other detectors flagged): every other
  line is treated as unlabelled-normal and each line is scored by a model that did not see its
  own label (K-fold, out of fold), so a named line's score says what its behaviour says; the
  score is rescaled by the mean score of the known fraud lines (Elkan & Noto, 2008);
- no labels: how unusual a line is among all lines (isolation forest), as a rank in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from sklearn.ensemble import HistGradientBoostingClassifier, IsolationForest
from sklearn.model_selection import StratifiedKFold, train_test_split

Matrix = NDArray[np.float64]
Vector = NDArray[np.float64]


@dataclass(frozen=True)
class ScorerSettings:
    """Small trees, a slow learning rate and feature subsampling: 1,200 training lines are few,
    and these settings were fixed before the benchmark's test sets were looked at."""

    learning_rate: float = 0.03
    max_leaf_nodes: int = 7
    min_samples_leaf: int = 20
    l2_regularization: float = 5.0
    max_features: float = 0.3
    max_iter: int = 2000
    patience: int = 100
    fixed_iter: int = 300
    folds: int = 5
    min_per_class: int = 5
    max_rows: int | None = None


@dataclass
class LineScorer:
    """A binary classifier of lines; :meth:`fit` with an optional validation set for early
    stopping."""

    settings: ScorerSettings = field(default_factory=ScorerSettings)
    seed: int = 0
    model: HistGradientBoostingClassifier | None = None
    columns: NDArray[np.bool_] | None = None

    def fit(self, x: Matrix, y: NDArray[np.integer], x_val: Matrix | None = None,
            y_val: NDArray[np.integer] | None = None) -> LineScorer:  # fmt: skip
        s = self.settings
        # scikit-learn cannot bin a feature with no value at all among the rows it fits on
        # (every line of a small case may lack, say, answered calls); such a feature says
        # nothing, so it is left out here and in predict.
        self.columns = np.asarray(~np.isnan(x).all(axis=0), dtype=bool)
        x = self._columns(x)
        if x_val is not None:
            x_val = self._columns(x_val)
        early = x_val is not None and y_val is not None and len(np.unique(y_val)) == 2
        self.model = HistGradientBoostingClassifier(
            learning_rate=s.learning_rate, max_leaf_nodes=s.max_leaf_nodes,
            min_samples_leaf=s.min_samples_leaf, l2_regularization=s.l2_regularization,
            max_features=s.max_features, max_iter=s.max_iter if early else s.fixed_iter,
            early_stopping=early, n_iter_no_change=s.patience, scoring="loss",
            random_state=self.seed,
        )  # fmt: skip
        if early:
            self.model.fit(x, y, X_val=x_val, y_val=y_val)
        else:
            self.model.fit(x, y)
        return self

    def predict(self, x: Matrix) -> Vector:
        if self.model is None:
            raise RuntimeError("LineScorer.predict before fit")
        return np.asarray(self.model.predict_proba(self._columns(x))[:, 1], dtype=np.float64)

    def _columns(self, x: Matrix) -> Matrix:
        if self.columns is None or self.columns.all():
            return x
        if not self.columns.any():  # no feature at all: a constant one, the model learns the prior
            return np.zeros((x.shape[0], 1))
        return x[:, self.columns]


@dataclass(frozen=True)
class Scores:
    """A score in [0, 1] per line and how it was obtained (``supervised``,
    ``positive-unlabelled`` or ``unsupervised``)."""

    score: Vector
    mode: str
    #: why the score is ``unsupervised``: too few labels, too few lines or no feature that
    #: varies (empty when the labels were learned from)
    note: str = ""


def unsupervised_score(x: Matrix, seed: int = 0) -> Vector:
    """How unusual each line is among all lines, as a rank in [0, 1] (1 = most unusual)."""
    n = x.shape[0]
    if n < 3:
        return np.zeros(n)
    forest = IsolationForest(n_estimators=200, random_state=seed).fit(np.nan_to_num(x))
    anomaly = -forest.score_samples(np.nan_to_num(x))
    return rank01(anomaly)


def rank01(values: Vector) -> Vector:
    """Ranks scaled to [0, 1], ties sharing their mean rank."""
    n = len(values)
    if n < 2:
        return np.zeros(n)
    order = values.argsort(kind="stable")
    ranks = np.empty(n)
    ranks[order] = np.arange(n, dtype=np.float64)
    # ties: the mean of their ranks
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return np.asarray(sums[inverse] / counts[inverse] / (n - 1), dtype=np.float64)


def score_with_labels(
    x: Matrix,
    fraud: NDArray[np.integer],
    normal: NDArray[np.integer] | None = None,
    *,
    seed: int = 0,
    settings: ScorerSettings | None = None,
) -> Scores:
    """Score every row of ``x`` from the rows known to be fraud (and, if given, known normal).

    With too few labels of a class, too few rows for a tree to split, or no feature that varies,
    there is nothing to learn from: falls back to :func:`unsupervised_score` and says why.
    Each labelled row is scored out of fold, by a model that never saw its label.
    """
    s = settings or ScorerSettings()
    n = x.shape[0]
    fraud = np.unique(np.asarray(fraud, dtype=np.int64))
    if normal is None:
        y = np.zeros(n, dtype=np.int64)
        y[fraud] = 1
        rows = np.arange(n)
        mode = "positive-unlabelled"
    else:
        normal = np.setdiff1d(np.asarray(normal, dtype=np.int64), fraud)
        rows = np.concatenate([fraud, normal])
        y = np.zeros(n, dtype=np.int64)
        y[fraud] = 1
        mode = "supervised"
    counts = np.bincount(y[rows], minlength=2)
    if counts.min() < s.min_per_class:
        have = (f"{counts[1]} known fraud lines, at least {s.min_per_class}" if normal is None
                else f"{counts[1]} fraud and {counts[0]} normal lines, at least "
                     f"{s.min_per_class} of each")  # fmt: skip
        note = f"{have} needed to learn from"
        return Scores(unsupervised_score(x, seed), "unsupervised", note)
    folds = max(2, min(s.folds, int(counts.min())))
    if len(rows) * (folds - 1) // folds < 2 * s.min_samples_leaf:
        # no tree can split fewer rows than two leaves need: every line would get the prior,
        # which the positive-unlabelled rescaling below turns into a score of 1 for all
        return Scores(
            unsupervised_score(x, seed),
            "unsupervised",
            f"{len(rows)} lines, at least {_min_rows(s, folds)} needed to learn from",
        )
    if not _varies(x[rows]).any():
        return Scores(
            unsupervised_score(x, seed),
            "unsupervised",
            "no feature of the lines varies, nothing to learn from",
        )
    if s.max_rows is not None and len(rows) > s.max_rows:
        # a stratified sample learns as well and keeps detection fast on many lines
        keep, _ = train_test_split(rows, train_size=s.max_rows, stratify=y[rows],
                                   random_state=seed)  # fmt: skip
        rows = np.sort(keep)
    score = np.zeros(n)
    if len(rows) < n:
        score = LineScorer(s, seed).fit(x[rows], y[rows]).predict(x)
    splits = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for fit_part, held_part in splits.split(rows, y[rows]):
        model = LineScorer(s, seed).fit(x[rows[fit_part]], y[rows[fit_part]])
        score[rows[held_part]] = model.predict(x[rows[held_part]])
    if normal is None:
        # Elkan & Noto (2008): a model of "labelled" scores a fraud line about c, the mean
        # score of the labelled fraud lines; dividing by c estimates P(fraud).
        c = float(score[fraud].mean())
        score = np.minimum(1.0, score / max(c, 1e-6))
    return Scores(score, mode)


def _min_rows(s: ScorerSettings, folds: int) -> int:
    """The fewest labelled rows whose folds leave a tree enough rows to split once."""
    need = 2 * s.min_samples_leaf
    return -(-need * folds // (folds - 1))


def _varies(x: Matrix) -> NDArray[np.bool_]:
    """Columns holding at least two distinct values (NaN aside)."""
    missing = np.isnan(x)
    low = np.where(missing, np.inf, x).min(axis=0, initial=np.inf)
    high = np.where(missing, -np.inf, x).max(axis=0, initial=-np.inf)
    return np.asarray(high > low)
