"""The graph of lines: its structure, what a line's neighbours do, and what the known labels
around a line say.

Label features are the one place where a label can leak into the features of a line that is
being scored. They are computed only from a :class:`KnownLabels`, which holds the labels of the
training lines and nothing else, and never from a line's own label: a line has no edge to itself
and two-hop walks back to the line itself are taken out.
"""

from __future__ import annotations

from dataclasses import dataclass

import igraph as ig
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.linalg import svds

from scamtrace.core.errors import ScamtraceError

Matrix = NDArray[np.float64]
Index = NDArray[np.int64]


class LabelLeakError(ScamtraceError):
    """A label feature was asked to use labels of lines outside the training set."""


@dataclass(frozen=True)
class FeatureBlock:
    """Columns of features with their names, one row per line."""

    names: tuple[str, ...]
    values: Matrix

    @staticmethod
    def join(blocks: list[FeatureBlock]) -> FeatureBlock:
        names = tuple(n for b in blocks for n in b.names)
        return FeatureBlock(names, np.column_stack([b.values for b in blocks]))


@dataclass(frozen=True)
class KnownLabels:
    """Labels (1 fraud, 0 normal) of the lines whose label may be used, and only those."""

    index: Index
    label: NDArray[np.int8]

    def __post_init__(self) -> None:
        if self.index.shape != self.label.shape:
            raise ScamtraceError("known labels: one label per index")
        if len(np.unique(self.index)) != len(self.index):
            raise ScamtraceError("known labels: an index is given twice")
        if not np.isin(self.label, (0, 1)).all():
            raise ScamtraceError("known labels: labels are 0 (normal) or 1 (fraud)")

    @classmethod
    def take(cls, labels: NDArray[np.integer], index: NDArray[np.integer]) -> KnownLabels:
        """Copy ``labels[index]``: the only labels the features of this run may see."""
        idx = np.asarray(index, dtype=np.int64).copy()
        return cls(idx, np.asarray(labels)[idx].astype(np.int8))

    @classmethod
    def positives(cls, index: NDArray[np.integer]) -> KnownLabels:
        idx = np.unique(np.asarray(index, dtype=np.int64))
        return cls(idx, np.ones(len(idx), dtype=np.int8))

    def guard(self, forbidden: NDArray[np.integer]) -> None:
        """Raise :class:`LabelLeakError` if a label of a ``forbidden`` line (validation, test)
        is among the known ones."""
        overlap = np.intersect1d(self.index, np.asarray(forbidden, dtype=np.int64))
        if len(overlap):
            raise LabelLeakError(
                f"label features would use the labels of {len(overlap)} lines outside training "
                f"(first: line {int(overlap[0])})"
            )


def symmetric(adjacency: sp.spmatrix | sp.sparray) -> sp.csr_matrix:
    """The undirected, unweighted graph of ``adjacency`` without self-loops."""
    a = sp.csr_matrix(adjacency, dtype=np.float64)
    a = ((a + a.T) > 0).astype(np.float64)
    a.setdiag(0)
    a.eliminate_zeros()
    return sp.csr_matrix(a)


def degree(adj: sp.csr_matrix) -> Matrix:
    return np.asarray(adj.sum(axis=1)).ravel()


def structure_features(adj: sp.csr_matrix, embedding: int = 8, seed: int = 0) -> FeatureBlock:
    """Label-free structure: degree, PageRank, k-core, local clustering and a spectral
    embedding (truncated SVD of the adjacency)."""
    n = adj.shape[0]
    deg = degree(adj)
    upper = sp.triu(adj, k=1).tocoo()
    graph = ig.Graph(n=n, edges=np.column_stack([upper.row, upper.col]).tolist())
    pagerank = np.round(np.asarray(graph.pagerank(), dtype=np.float64) * n, 8)
    core = np.asarray(graph.coreness(), dtype=np.float64)
    clustering = np.nan_to_num(
        np.asarray(graph.transitivity_local_undirected(mode="zero"), dtype=np.float64)
    )
    names = ["log_degree", "pagerank", "k_core", "clustering"]
    columns = [np.log1p(deg), pagerank, core, clustering]
    k = min(embedding, n - 2)
    if k >= 1 and adj.nnz:
        # Of the plain adjacency: the normalised one has singular value 1 once per connected
        # component, a degenerate subspace whose basis ARPACK picks at random.
        rng = np.random.default_rng(seed)
        u, s, _ = svds(adj, k=k, v0=rng.random(n))
        order = np.argsort(-s)
        # the sign of a singular vector is arbitrary; fix it so that runs agree
        vectors = u[:, order] * np.sign(u[:, order].sum(axis=0) + 1e-12)
        # ARPACK's last digits vary from run to run; the model should not
        vectors = np.round(vectors, 8)
        names += [f"spectral_{i}" for i in range(k)]
        columns += list(vectors.T)
    return FeatureBlock(tuple(names), np.column_stack(columns))


def neighbour_features(adj: sp.csr_matrix, block: FeatureBlock) -> FeatureBlock:
    """Per feature: mean, max and standard deviation over the neighbours, and the line's own
    value minus the neighbours' mean. NaN for a line without neighbours."""
    x = np.nan_to_num(block.values)
    deg = degree(adj)
    lonely = deg == 0
    walk = sp.diags(1.0 / np.maximum(deg, 1.0)) @ adj
    mean = walk @ x
    std = np.sqrt(np.maximum(walk @ (x * x) - mean * mean, 0.0))
    top = np.full_like(x, np.nan)
    starts = adj.indptr[:-1][~lonely]
    for j in range(x.shape[1]):  # one vectorised pass per column, not per line
        top[~lonely, j] = np.maximum.reduceat(x[adj.indices, j], starts)
    own_minus = block.values - mean
    for m in (mean, std, own_minus):
        m[lonely] = np.nan
    names = [f"nb_{stat}_{n}" for stat in ("mean", "max", "std", "own_minus_mean")
             for n in block.names]  # fmt: skip
    return FeatureBlock(tuple(names), np.column_stack([mean, top, std, own_minus]))


def label_features(adj: sp.csr_matrix, known: KnownLabels) -> FeatureBlock:
    """What the known labels around each line say: known fraud and known normal neighbours,
    the fraud share among known neighbours, and the same over two hops (walks that return to
    the line itself are taken out, so a known line never sees its own label)."""
    n = adj.shape[0]
    fraud = np.zeros(n)
    seen = np.zeros(n)
    fraud[known.index] = known.label
    seen[known.index] = 1.0
    deg = degree(adj)
    fraud_1 = adj @ fraud
    seen_1 = adj @ seen
    # A^2 has deg(i) on its diagonal: the walks i -> j -> i, which carry i's own label.
    fraud_2 = adj @ fraud_1 - deg * fraud
    seen_2 = adj @ seen_1 - deg * seen
    with np.errstate(divide="ignore", invalid="ignore"):
        share_1 = np.where(seen_1 > 0, fraud_1 / seen_1, np.nan)
        share_2 = np.where(seen_2 > 0, fraud_2 / seen_2, np.nan)
    names = ("known_fraud_neighbours", "known_normal_neighbours", "known_fraud_share",
             "known_fraud_share_2hop", "known_fraud_per_neighbour")  # fmt: skip
    per_neighbour = fraud_1 / np.maximum(deg, 1.0)
    return FeatureBlock(names, np.column_stack(
        [fraud_1, seen_1 - fraud_1, share_1, share_2, per_neighbour]))  # fmt: skip
