"""The line scorer with fraud and normal labels, with fraud labels only, and with none."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from scamtrace.reputation.model import rank01, score_with_labels
from scamtrace.reputation.sichuan import VARIANTS, GraphCache, choose_threshold, metrics, run_seed
from tests.reputation.synthetic import synthetic


def test_no_labels_falls_back_to_an_unsupervised_score() -> None:
    data = synthetic()
    scores = score_with_labels(data.behaviour.values, np.array([], dtype=np.int64))
    assert scores.mode == "unsupervised"
    assert scores.score.shape == (data.size,)
    assert scores.score.min() >= 0 and scores.score.max() <= 1
    # fraud lines are the unusual ones here, so even without labels they rank higher
    assert roc_auc_score(data.labels, scores.score) > 0.6


def test_fraud_labels_only_score_the_rest_and_each_named_line_out_of_fold() -> None:
    data = synthetic(seed=3)
    fraud = np.flatnonzero(data.labels == 1)[:30]
    wrongly_named = np.flatnonzero(data.labels == 0)[:5]  # complaints are sometimes wrong
    named = np.concatenate([fraud, wrongly_named])
    scores = score_with_labels(data.behaviour.values, named, seed=0)
    assert scores.mode == "positive-unlabelled"
    rest = np.setdiff1d(np.arange(data.size), named)
    assert roc_auc_score(data.labels[rest], scores.score[rest]) > 0.7  # best possible ~0.9
    # scored out of fold, a wrongly named line is judged by its behaviour, not by its label
    assert np.median(scores.score[wrongly_named]) < np.median(scores.score[fraud])


def test_supervised_run_beats_chance_by_far_with_graph_and_labels() -> None:
    data = synthetic(n=600, seed=4)
    result = run_seed(data, 0, VARIANTS["all"], GraphCache(data))
    assert result.test["auc"] > 90
    assert 0 <= result.test["g_mean"] <= 100


def test_threshold_maximises_macro_f1_on_validation() -> None:
    y = np.array([0, 0, 0, 1, 1, 1])
    score = np.array([0.1, 0.2, 0.35, 0.3, 0.8, 0.9])
    threshold = choose_threshold(y, score)
    assert threshold in (0.3, 0.8)
    m = metrics(y, score, 0.3)
    assert m["auc"] == 100 * roc_auc_score(y, score)
    assert m["f1_fraud"] == 100 * (2 * 3 / (2 * 3 + 1))


def test_rank01_keeps_order_within_zero_to_one_and_shares_ties() -> None:
    r = rank01(np.array([5.0, 1.0, 5.0, 3.0]))
    assert r[1] == 0 and r[1] < r[3] < r[0]
    assert r[0] == r[2] == (2 + 3) / 2 / 3  # the tied top two share ranks 2 and 3 of 0..3
    assert rank01(np.array([2.0, 9.0])).tolist() == [0.0, 1.0]


def test_same_seed_same_result() -> None:
    data = synthetic(n=300, seed=5)
    first = run_seed(data, 1, VARIANTS["all"], GraphCache(data))
    again = run_seed(data, 1, VARIANTS["all"], GraphCache(data))
    assert first.test == again.test and first.threshold == again.threshold


def test_a_feature_with_no_value_among_the_lines_is_left_out() -> None:
    # Was: scikit-learn's ValueError (window shape cannot be larger than input array shape)
    # when a fold's lines all lacked a feature, as on the first 2,000 rows of a small world.
    data = synthetic(n=300, seed=6)
    x = data.behaviour.values.copy()
    x[:, 0] = np.nan
    x[: len(x) // 2, 1] = np.nan
    fraud = np.flatnonzero(data.labels == 1)[:20]
    scores = score_with_labels(x, fraud, seed=0)
    assert scores.mode == "positive-unlabelled" and scores.note == ""
    assert np.isfinite(scores.score).all()


def test_too_few_lines_to_learn_from_fall_back_and_say_why() -> None:
    # 30 lines: no tree can split a fold of 20 (two leaves of 20), so every line would get
    # the prior, and the positive-unlabelled rescaling a score of 1
    data = synthetic(n=30, seed=7)
    fraud = np.arange(6)
    scores = score_with_labels(data.behaviour.values, fraud, seed=0)
    assert scores.mode == "unsupervised"
    assert "30 lines" in scores.note and "needed to learn from" in scores.note
    few = score_with_labels(data.behaviour.values, fraud[:2], seed=0)
    assert few.mode == "unsupervised" and "2 known fraud lines" in few.note
    flat = np.zeros((300, 4))
    flat[:, 1] = np.nan
    same = score_with_labels(flat, np.arange(20), seed=0)
    assert same.mode == "unsupervised" and "varies" in same.note
