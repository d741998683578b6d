"""A small synthetic world of lines: two communities (fraud lines call among themselves more)
and behaviour features that separate them only partly, so graph and labels both matter."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from scamtrace.reputation.graph import FeatureBlock, symmetric
from scamtrace.reputation.sichuan import SichuanData


def synthetic(n: int = 400, fraud_share: float = 0.3, seed: int = 0) -> SichuanData:
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < fraud_share).astype(np.int8)
    same = labels[:, None] == labels[None, :]
    p = np.where(same & (labels[:, None] == 1), 0.08, np.where(same, 0.02, 0.005))
    edges = np.triu(rng.random((n, n)) < p, k=1)
    adjacency = symmetric(sp.csr_matrix(edges.astype(np.float64)))
    signal = labels[:, None] * np.array([1.5, 1.0, 0.5])
    values = np.column_stack([signal + rng.normal(size=(n, 3)), rng.normal(size=(n, 3))])
    values[rng.random(values.shape) < 0.02] = np.nan  # real features have holes
    names = tuple(f"f{i}" for i in range(values.shape[1]))
    return SichuanData(FeatureBlock(names, values), labels, adjacency)
