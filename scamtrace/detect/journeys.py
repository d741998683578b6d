"""Victim journeys: subscribers who answered scam calls, and how the script escalated.

The script moves a victim from a 'neighbour' to a 'policeman' to an 'official', each from a
different number and often days apart. A subscriber who answered one scam call is a victim;
one contacted by several lines of the operation over several days was walked through it.
"""

from __future__ import annotations

from scamtrace.core.sql import run
from scamtrace.detect.detector import Detector, TableSpec
from scamtrace.detect.labels import apply_scores, held_numbers
from scamtrace.detect.settings import (
    CONFIRMED_BONUS,
    JOURNEY_MIN_DAYS,
    JOURNEY_MIN_LINES,
    DetectSettings,
)
from scamtrace.enrich.case import Case

VICTIMS = TableSpec.of(
    "victims", phone="BIGINT", score="NUMERIC", first_t="BIGINT", last_t="BIGINT",
    calls="BIGINT", lines="BIGINT", days="BIGINT", reason="VARCHAR",
)  # fmt: skip


def find_victims(case: Case, s: DetectSettings) -> None:
    """Create ``victims(phone, score, first_t, last_t, calls, lines, days, reason)``."""
    walked = f"lines >= {JOURNEY_MIN_LINES} AND days >= {JOURNEY_MIN_DAYS}"
    run(case.db, f"""
        CREATE OR REPLACE TABLE victims AS
        WITH a AS (
            SELECT callee AS phone, max(score) AS score, min(t) AS first_t, max(t) AS last_t,
                   count(*) AS calls, count(DISTINCT caller) AS lines,
                   count(DISTINCT t // 86400) AS days, max(duration_s) AS longest
            FROM scam_calls WHERE answered AND callee IS NOT NULL GROUP BY callee
        )
        SELECT phone, least(1.0, score + CASE WHEN {walked} THEN {CONFIRMED_BONUS} ELSE 0 END)
                   AS score, first_t, last_t, calls, lines, days,
               CASE WHEN {walked} THEN
                        printf('answered %d scam calls from %d different numbers over %d days '
                               '(longest %d s)', calls, lines, days, longest)
                    ELSE printf('answered %d scam call(s), longest %d s', calls, longest) END
                   AS reason
        FROM a
    """)  # fmt: skip
    # A victim an analyst rejected pays no mule account; a confirmed one's payments count fully.
    run(case.db, f"DELETE FROM victims WHERE phone IN {held_numbers('victim_phone')}")
    apply_scores(case, "victims", "victim_phone", "CAST(t.phone AS VARCHAR)")


DETECTOR = Detector(
    name="journeys", step="victims", progress=0.55, needs=("scam_calls", "labels"),
    makes=(VICTIMS,), run=find_victims,
)
