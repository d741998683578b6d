"""Number reputation inside detection: every dialling line (SIP account, caller number seen
from abroad) is scored by how much its behaviour and its place in the call graph resemble the
lines already known to be fraud: those other detectors flagged and those named in complaints.

The labels are few and noisy, and only of fraud (nobody confirms a line honest), so the scorer
treats every other line as unlabelled and scores each known line by a model that never saw its
own label. With no known line at all it falls back to how unusual a line is, and adds nothing
to the findings. Its score is corroborating evidence: it adds a reason to a line the model
finds like known fraud, and lifts by ``reputation_lift`` a line whose own behaviour already
scored at least ``reputation_floor``; on its own it flags nothing: a line under the flag
threshold stays under it (at most :data:`UNDER_FLAG`).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from threadpoolctl import threadpool_limits

from scamtrace.core.contract import FLAG_THRESHOLD
from scamtrace.core.sql import run
from scamtrace.detect.detector import Detector, TableSpec
from scamtrace.detect.labels import held
from scamtrace.detect.settings import REPUTATION_MIN_LINES, DetectSettings
from scamtrace.enrich.case import Case
from scamtrace.reputation.features import Lines, carrier_source, line_behaviour, voip_source
from scamtrace.reputation.graph import (
    FeatureBlock,
    KnownLabels,
    label_features,
    neighbour_features,
    structure_features,
)
from scamtrace.reputation.model import ScorerSettings, score_with_labels

#: Small and quick: detection scores lines on every run, and the quality comes from the labels.
DETECT_SCORER = ScorerSettings(fixed_iter=100, folds=3, max_rows=3000)

#: (entity kind, table of behavioural scores, SQL of its key as text for a row ``t``)
TARGETS = (
    ("sip_account", "sip_scores", "t.sip_account"),
    ("caller_number", "number_scores", "CAST(t.caller AS VARCHAR)"),
)


#: How the notes name each kind of line.
LINES = {"sip_account": "SIP accounts", "caller_number": "caller numbers seen from abroad"}

LINE_REPUTATION = TableSpec.of("line_reputation", kind="VARCHAR", key="VARCHAR",
                               reputation="DOUBLE", mode="VARCHAR")  # fmt: skip


def score_reputation(case: Case, s: DetectSettings) -> list[str]:
    """Create ``line_reputation(kind, key, reputation, mode)`` and add its evidence to
    ``sip_scores`` and ``number_scores``. Returns what was skipped, and why (a small or partial
    case may hold too few lines or known fraud lines to learn from; the rest of detection does
    not need this step)."""
    db = case.db
    skipped: list[str] = []
    run(db, "CREATE OR REPLACE TABLE line_reputation (kind VARCHAR, key VARCHAR, "
            "reputation DOUBLE, mode VARCHAR)")  # fmt: skip
    if not s.reputation:
        return skipped
    sources = {}
    if case.has("voip_cdr"):
        sources["sip_account"] = voip_source()
    if case.has("carrier_cdr"):
        sources["caller_number"] = carrier_source("carrier_calls")
    for kind, source in sources.items():
        lines = line_behaviour(db, source, short_call_s=s.short_call_s)
        if len(lines.keys) < REPUTATION_MIN_LINES:
            skipped.append(f"learned line reputation of {LINES[kind]}: {len(lines.keys)} "
                           "lines, too few to learn from")  # fmt: skip
            continue
        known = _known_fraud(case, kind, lines.keys)
        with threadpool_limits(1):  # small fits: threads only wait on each other
            scores = score_with_labels(_features(lines, known), known.index,
                                       settings=DETECT_SCORER)  # fmt: skip
        if scores.mode == "unsupervised":
            skipped.append(f"learned line reputation of {LINES[kind]}: {scores.note}")
        scored = pa.table({"kind": pa.array([kind] * len(lines.keys)),
                           "key": pa.array(lines.keys, pa.string()),
                           "reputation": pa.array(scores.score, pa.float64()),
                           "mode": pa.array([scores.mode] * len(lines.keys))})  # fmt: skip
        db.register("reputation_batch", scored)
        run(db, "INSERT INTO line_reputation SELECT * FROM reputation_batch")
        db.unregister("reputation_batch")
    for kind, table, key in TARGETS:
        _add_evidence(case, s, kind, table, key)
    return skipped


def _features(lines: Lines, known: KnownLabels) -> np.ndarray:
    """Behaviour, graph structure, neighbours' behaviour, and known-fraud neighbours."""
    blocks = [lines.behaviour]
    if lines.graph.nnz:
        blocks += [structure_features(lines.graph, embedding=4),
                   neighbour_features(lines.graph, lines.behaviour),
                   label_features(lines.graph, known)]  # fmt: skip
    return FeatureBlock.join(blocks).values


def _known_fraud(case: Case, kind: str, keys: list[str]) -> KnownLabels:
    """Lines other detectors flagged, and lines named in complaints (for SIP accounts: those
    that presented a named number)."""
    if kind == "sip_account":
        sql = f"""
            SELECT sip_account FROM sip_scores WHERE score >= {FLAG_THRESHOLD}
            UNION SELECT DISTINCT v.sip_account FROM voip_cdr v
            JOIN complaint_numbers r ON r.number = v.from_number
        """  # fmt: skip
    else:
        sql = f"""
            SELECT CAST(caller AS VARCHAR) FROM number_scores WHERE score >= {FLAG_THRESHOLD}
            UNION SELECT CAST(number AS VARCHAR) FROM complaint_numbers
        """  # fmt: skip
    # a line an analyst rejected is no known fraud line, whatever else named it (labels.py)
    sql = f"SELECT * FROM ({sql}) EXCEPT SELECT * FROM {held(kind)}"
    named = {str(r[0]) for r in run(case.db, sql)}
    index = np.array([i for i, k in enumerate(keys) if k in named], dtype=np.int64)
    return KnownLabels.positives(index)


#: The highest score corroboration can give a line that its own behaviour left under the flag.
UNDER_FLAG = round(FLAG_THRESHOLD - 0.01, 2)


def _add_evidence(case: Case, s: DetectSettings, kind: str, table: str, key: str) -> None:
    run(case.db, f"""
        UPDATE {table} AS t SET
            -- corroboration: a flagged line gains confidence; a line under the flag gains at
            -- most up to just under it, so reputation never flags a line on its own
            score = CASE WHEN t.score >= {FLAG_THRESHOLD}
                         THEN least(1.0, t.score + {s.reputation_lift})
                         WHEN t.score >= {s.reputation_floor}
                         THEN greatest(t.score, least({UNDER_FLAG}, t.score + {s.reputation_lift}))
                         ELSE t.score END,
            reason = t.reason || printf('; behaves like the known fraud lines (reputation %.2f '
                                        'from calling pattern and call graph)', r.reputation)
        FROM line_reputation r
        WHERE r.kind = '{kind}' AND r.key = {key}
          AND r.mode <> 'unsupervised' AND r.reputation >= {s.reputation_min}
    """)  # fmt: skip


DETECTOR = Detector(
    name="number_reputation", step="number reputation", progress=0.72,
    needs=("voip_cdr", "carrier_calls", "sip_scores", "number_scores", "complaint_numbers",
           "labels"),
    makes=(LINE_REPUTATION,), run=score_reputation, updates=("sip_scores", "number_scores"),
)  # fmt: skip
