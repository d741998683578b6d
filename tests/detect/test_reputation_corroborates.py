"""Reputation only corroborates: it lifts a line's score, never across the flag threshold."""

from __future__ import annotations

from pathlib import Path

import pytest

from scamtrace.core.contract import FLAG_THRESHOLD
from scamtrace.core.sql import connect, run
from scamtrace.detect.number_reputation import TARGETS, UNDER_FLAG, _add_evidence
from scamtrace.detect.settings import DetectSettings
from scamtrace.enrich.case import Case


@pytest.mark.parametrize(("own", "after"), [
    (0.45, UNDER_FLAG),            # was lifted to 0.50: flagged by reputation alone
    (FLAG_THRESHOLD - 0.005, FLAG_THRESHOLD - 0.005),  # never lowered either
    (0.35, 0.40),                  # corroborated, still a lead
    (0.20, 0.20),                  # under the floor: a reason, no lift
    (0.80, 0.85),                  # flagged by its own behaviour: more confidence
    (0.98, 1.00),
])  # fmt: skip
def test_reputation_never_lifts_a_line_across_the_flag(own: float, after: float) -> None:
    db = connect()
    run(db, f"CREATE TABLE number_scores AS SELECT 8613800138000::BIGINT AS caller, "
            f"{own}::DOUBLE AS score, 'presented on 9 calls' AS reason")  # fmt: skip
    run(db, "CREATE TABLE line_reputation AS SELECT 'caller_number' AS kind, "
            "'8613800138000' AS key, 0.97::DOUBLE AS reputation, 'supervised' AS mode")
    case = Case(Path("."), db, "CN", {})
    kind, table, key = next(t for t in TARGETS if t[0] == "caller_number")
    _add_evidence(case, DetectSettings(), kind, table, key)
    ((score, reason),) = run(db, "SELECT score, reason FROM number_scores")
    assert score == pytest.approx(after)
    assert (score >= FLAG_THRESHOLD) == (own >= FLAG_THRESHOLD)
    assert "behaves like the known fraud lines (reputation 0.97" in reason


@pytest.mark.parametrize(("behaviour", "complaints", "after"), [
    (0.40, 0, 0.40),    # a corroborated lead, no complaint: was raised to a flagged 0.50
    (0.40, 1, 0.50),    # a complaint naming it raises it
    (0.80, 0, 0.80),
    (0.80, 1, 0.85),
    (None, 1, 0.45),    # one complaint alone: a lead
])  # fmt: skip
def test_only_a_complaint_raises_a_score(behaviour: float | None, complaints: int,
                                         after: float) -> None:  # fmt: skip
    from scamtrace.detect.complaints import combine_sql

    db = connect()
    value = "NULL::DOUBLE" if behaviour is None else f"{behaviour}::DOUBLE"
    ((score,),) = run(db, f"SELECT {combine_sql(value, str(complaints), 0.45)}")
    assert score == pytest.approx(after)
