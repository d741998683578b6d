"""The benchmark's split: 20 / 20 / 60, stratified, disjoint, the same for the same seed."""

from __future__ import annotations

import numpy as np
import pytest

from scamtrace.reputation.sichuan import split_protocol


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_sizes_stratification_and_disjointness(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = (rng.random(6106) < 0.321).astype(np.int8)
    split = split_protocol(labels, seed)
    n = len(labels)
    parts = (split.train, split.validation, split.test)
    for part, share in zip(parts, (0.2, 0.2, 0.6), strict=True):
        assert abs(len(part) - share * n) <= 2
        # each part holds the fraud share of the whole, to within one or two lines
        assert abs(labels[part].sum() - labels.mean() * len(part)) <= 2
    together = np.concatenate(parts)
    assert len(np.unique(together)) == len(together) == n  # disjoint, and covers every line


def test_same_seed_same_split_other_seed_other_split() -> None:
    labels = (np.arange(1000) % 3 == 0).astype(np.int8)
    a, b, c = split_protocol(labels, 3), split_protocol(labels, 3), split_protocol(labels, 4)
    for name in ("train", "validation", "test"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.train, c.train)
