"""Score a findings folder against a simulated case's ground truth (``truth/``).

Per entity kind: precision, recall and F1 of the flagged values (score >= 0.5). Grouping: the
adjusted Rand index of ``center_id`` and of ``network_id`` over the true members that were
found, reported two ways: over the members the findings placed in a center (or network), with
the share of members placed, and strictly, where an unplaced member is a cluster of its own.
After an exchange between two agencies, :func:`score_identified` scores what the requesting
side identified, its leads by keyed hash included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from scamtrace.core import contract
from scamtrace.core import findings as findings_folder
from scamtrace.share.exchange.keys import keyed

#: Kinds whose values are phone numbers: compared by keyed hash after an exchange.
PHONE_KINDS = frozenset({"caller_number", "victim_phone", "victim_paid"})


@dataclass(frozen=True)
class KindScore:
    truth: int
    flagged: int
    true_positives: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.flagged if self.flagged else 0.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.truth if self.truth else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict[str, float | int]:
        return {**asdict(self), "precision": self.precision, "recall": self.recall, "f1": self.f1}


@dataclass(frozen=True)
class Grouping:
    """ARI of one labelling over the true members that were found."""

    ari: float
    members: int
    placed: int
    ari_strict: float

    @property
    def placed_share(self) -> float:
        return self.placed / self.members if self.members else 0.0

    def to_dict(self) -> dict[str, float | int]:
        return {**asdict(self), "placed_share": self.placed_share}


@dataclass(frozen=True)
class Evaluation:
    kinds: dict[str, KindScore]
    centers: Grouping
    networks: Grouping
    transfers: KindScore | None = None
    transfer_recall: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kinds": {k: v.to_dict() for k, v in self.kinds.items()},
            "centers": self.centers.to_dict(),
            "networks": self.networks.to_dict(),
            "transfers": self.transfers.to_dict() if self.transfers else None,
            "transfer_recall": self.transfer_recall,
        }


def adjusted_rand_index(truth: Sequence[object], found: Sequence[object]) -> float:
    """Hubert and Arabie's adjusted Rand index of two labellings of the same items (1.0 for
    identical partitions, about 0 for chance; scikit-learn's conventions for trivial cases)."""
    if len(truth) != len(found):
        raise ValueError("labellings differ in length")
    if len(truth) <= 1:
        return 1.0
    return _ari_codes(_codes(truth), _codes(found))


def _codes(labels: Sequence[object] | np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Labels as dense integer codes 0..k-1 (equal labels, equal codes)."""
    arr = np.asarray(labels)
    if arr.dtype == object:
        arr = arr.astype(str)
    return np.unique(arr, return_inverse=True)[1].reshape(-1)


def _ari_codes(t: np.ndarray[Any, Any], f: np.ndarray[Any, Any]) -> float:
    """ARI of two labellings given as non-negative integer codes, from the non-empty cells of
    their contingency table (vectorised; memory grows with the items, not clusters squared)."""
    n = int(t.size)
    if n <= 1:
        return 1.0
    t, f = t.astype(np.int64), f.astype(np.int64)
    cells = np.unique(t * (int(f.max()) + 1) + f, return_counts=True)[1]

    def pairs(x: np.ndarray[Any, Any]) -> int:
        x = x[x > 1].astype(np.int64)
        return int((x * (x - 1) // 2).sum())

    index = pairs(cells)
    rows, cols = pairs(np.bincount(t)), pairs(np.bincount(f))
    total = n * (n - 1) // 2
    # scikit-learn's form on the pair confusion matrix, exact in integers until the division
    fp, fn = cols - index, rows - index
    tn = total - index - fp - fn
    if fn == 0 and fp == 0:  # identical partitions, including both trivial
        return 1.0
    return 2.0 * (index * tn - fn * fp) / ((index + fn) * (fn + tn) + (index + fp) * (fp + tn))


def _load(db: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    """``table`` (every column text, as the findings module reads it) as DuckDB table
    ``name``."""
    db.register(f"_{name}", table)
    db.execute(f"CREATE TABLE {name} AS SELECT * FROM _{name}").fetchall()
    db.unregister(f"_{name}")


def _truth_path(case_dir: Path, name: str) -> Path:
    """``truth/<name>.csv`` of a simulated case: the true entities or transfers."""
    return case_dir / "truth" / f"{name}.csv"


def _truth(case_dir: Path, name: str, columns: tuple[str, ...]) -> pa.Table:
    """``truth/<name>.csv`` of a simulated case, ``columns`` as text."""
    path = _truth_path(case_dir, name)
    return findings_folder.read_csv_text(path, columns).select(list(columns))


def _found(findings_dir: Path, name: str, columns: tuple[str, ...]) -> pa.Table:
    """Findings table ``name``, ``columns`` as the text written."""
    return findings_folder.read_text(findings_dir, name, columns).select(list(columns))


def evaluate(findings_dir: Path, case_dir: Path) -> Evaluation:
    """Score ``findings_dir`` against ``case_dir/truth``."""
    db = duckdb.connect()
    _load(db, "truth", _truth(case_dir, "entities", contract.TRUTH_ENTITIES))
    _load(db, "found_all", _found(findings_dir, "entities", contract.FINDINGS_ENTITIES))
    db.execute(f"""
        CREATE TABLE found AS SELECT * FROM found_all
        WHERE TRY_CAST(score AS DOUBLE) >= {contract.FLAG_THRESHOLD}
    """).fetchall()  # fmt: skip
    counts = db.execute("""
        SELECT kind, count(t.value), count(f.value), count(t.value) FILTER (f.value IS NOT NULL)
        FROM (SELECT DISTINCT kind, value FROM truth) t
        FULL JOIN (SELECT DISTINCT kind, value FROM found) f USING (kind, value)
        GROUP BY kind
    """).fetchall()
    got = {k: KindScore(int(t), int(f), int(tp)) for k, t, f, tp in counts}
    kinds = {k: got.get(k, KindScore(0, 0, 0)) for k in contract.TRUTH_ENTITY_KINDS}
    groups = {g: _grouping(db, g) for g in ("center_id", "network_id")}
    transfers, recall = _transfers(db, findings_dir, case_dir)
    return Evaluation(kinds, groups["center_id"], groups["network_id"], transfers, recall)


def _grouping(db: duckdb.DuckDBPyConnection, column: str) -> Grouping:
    # One member per true (kind, value) with a label that was flagged; where the findings list
    # it twice, the label of its highest-scored row. Labels become integer codes in SQL.
    got = db.execute(f"""
        WITH members AS (
            SELECT min(t.{column}) AS truth_label,
                   arg_max(f.{column}, TRY_CAST(f.score AS DOUBLE)) AS found_label
            FROM truth t JOIN found f USING (kind, value)
            WHERE t.{column} <> '' GROUP BY t.kind, t.value
        )
        SELECT dense_rank() OVER (ORDER BY truth_label) - 1 AS t,
               dense_rank() OVER (ORDER BY found_label) - 1 AS f,
               found_label <> '' AS placed
        FROM members
    """).fetchnumpy()  # fmt: skip
    truth = np.asarray(got["t"], dtype=np.int64)
    found = np.asarray(got["f"], dtype=np.int64)
    placed = np.asarray(got["placed"], dtype=bool)
    # strictly, each unplaced member is a cluster of its own: codes past every found label
    strict = found.copy()
    strict[~placed] = found.max(initial=-1) + 1 + np.arange(int((~placed).sum()))
    return Grouping(
        ari=_ari_codes(_codes(truth[placed]), _codes(found[placed])),
        members=int(truth.size),
        placed=int(placed.sum()),
        ari_strict=_ari_codes(truth, strict),
    )


def _transfers(
    db: duckdb.DuckDBPyConnection, findings_dir: Path, case_dir: Path
) -> tuple[KindScore | None, dict[str, float]]:
    found = findings_folder.table_path(findings_dir, "transfers")
    if not (found.is_file() and _truth_path(case_dir, "transfers").is_file()):
        return None, {}
    _load(db, "truth_tx", _truth(case_dir, "transfers", contract.TRUTH_TRANSFERS))
    _load(db, "found_tx_all", _found(findings_dir, "transfers", contract.FINDINGS_TRANSFERS))
    db.execute(f"""
        CREATE TABLE found_tx AS SELECT DISTINCT tx_id FROM found_tx_all
        WHERE TRY_CAST(score AS DOUBLE) >= {contract.FLAG_THRESHOLD}
    """).fetchall()  # fmt: skip
    row = db.execute("""
        SELECT (SELECT count(DISTINCT tx_id) FROM truth_tx), (SELECT count(*) FROM found_tx),
               (SELECT count(DISTINCT t.tx_id) FROM truth_tx t JOIN found_tx USING (tx_id))
    """).fetchall()[0]
    per_kind = db.execute("""
        SELECT t.kind, avg((f.tx_id IS NOT NULL)::INT) FROM truth_tx t
        LEFT JOIN found_tx f USING (tx_id) GROUP BY t.kind
    """).fetchall()
    return KindScore(int(row[0]), int(row[1]), int(row[2])), {str(k): float(v) for k, v in per_kind}


def score_identified(findings: Path, case_dir: Path, key: bytes) -> dict[str, KindScore]:
    """Precision, recall and F1 per kind of what A identified after the exchange: flagged
    entities by value, plus the exchange leads by keyed hash (truth numbers are hashed with
    the case key to compare). Only for simulated cases, which have ``truth/``."""
    truth: dict[str, set[str]] = {k: set() for k in contract.TRUTH_ENTITY_KINDS}
    for r in _truth(case_dir, "entities", ("kind", "value")).to_pylist():
        truth.setdefault(r["kind"], set()).add(r["value"])
    found: dict[str, set[str]] = {k: findings_folder.flagged(findings, k) for k in truth}
    extra: dict[str, set[str]] = {k: set() for k in truth}
    for r in findings_folder.read_rows(findings, "exchange_leads")[1]:
        extra.setdefault(r["kind"], set()).add(r["value"].removeprefix("hmac:"))
    scores: dict[str, KindScore] = {}
    for kind, values in truth.items():
        got = found.get(kind, set())
        if kind in PHONE_KINDS:
            values = set(keyed(key, "phone", values).values())
            got = set(keyed(key, "phone", got).values()) | extra.get(kind, set())
        scores[kind] = KindScore(len(values), len(got), len(values & got))
    return scores
