"""Two operators' clocks, set to one: the VoIP provider's times read on the carrier's clock.

A carrier record and the VoIP provider's record of the same call are stamped by two switches.
Switches without a time source drift, and a minute between two operators' clocks is seen in
practice; then no call links within the matching tolerance, and the whole chain from line to
victim breaks. The offset is measured from the calls themselves, day by day: true pairs (the
same dialled number on both sides) pile up at it, chance pairs spread over the whole search
window. The most common offset finds the peak; the median of the pairs within the tolerance of
it places it, from the true pairs almost alone, so the same calls give the same offset
whatever it is. The VoIP times are then moved by it, and ``summary.json`` says by how much.
"""

from __future__ import annotations

from scamtrace.core.sql import run
from scamtrace.enrich.case import Case

#: VoIP records sampled to measure the offset, and the pairs a day needs to have its own.
OFFSET_SAMPLE = 50_000
OFFSET_MIN_PAIRS = 100


def align_voip_clock(case: Case, search_s: int, tolerance_s: int) -> dict[str, int]:
    """Measure the VoIP clock's offset from the carrier's (per day, else over all days) and
    move ``voip_cdr.start_time`` onto the carrier's clock. Returns the offset over all days
    and how many days had one of their own that differed from it (empty without both)."""
    if not (case.has("carrier_cdr") and case.has("voip_cdr")):
        return {}
    rows = case.count("SELECT count(*) FROM voip_cdr")
    step = max(1, -(-rows // OFFSET_SAMPLE))
    run(case.db, f"""
        CREATE OR REPLACE TEMP TABLE clock_offset AS
        WITH pairs AS (
            SELECT v.start_time // 86400 AS day, c.start_time - v.start_time AS off
            FROM (SELECT * FROM voip_cdr WHERE _line % {step} = 0) v
            JOIN carrier_cdr c ON c.called_number = v.to_number
             AND c.start_time BETWEEN v.start_time - {search_s} AND v.start_time + {search_s}
        ), peak AS (
            SELECT day, mode(off ORDER BY off) AS at FROM pairs GROUP BY day
            UNION ALL SELECT NULL, mode(off ORDER BY off) FROM pairs
        ), near AS (
            SELECT k.day, p.off FROM peak k JOIN pairs p
              ON (k.day IS NULL OR p.day = k.day)
             AND p.off BETWEEN k.at - {tolerance_s} AND k.at + {tolerance_s}
        )
        SELECT day, CAST(round(median(off)) AS BIGINT) AS offset_s, count(*) AS pairs
        FROM near GROUP BY day HAVING count(*) >= {OFFSET_MIN_PAIRS} OR day IS NULL
    """)  # fmt: skip
    overall = run(case.db, "SELECT offset_s FROM clock_offset WHERE day IS NULL")
    if not overall or overall[0][0] is None:
        return {}
    offset = int(overall[0][0])
    days = case.count(f"SELECT count(*) FROM clock_offset WHERE day IS NOT NULL "
                      f"AND offset_s <> {offset}")  # fmt: skip
    # Offsets within the tolerance are what linking always allowed for: the times are left as
    # written unless a clock is really off.
    if abs(offset) > tolerance_s or days:
        run(case.db, f"""
            UPDATE voip_cdr SET start_time = start_time + o.offset_s FROM (
                SELECT v._line, coalesce(d.offset_s, {offset}) AS offset_s FROM voip_cdr v
                LEFT JOIN clock_offset d ON d.day = v.start_time // 86400
            ) o WHERE o._line = voip_cdr._line AND abs(o.offset_s) > {tolerance_s}
        """)  # fmt: skip
    run(case.db, "DROP TABLE clock_offset")
    return {"offset_s": offset, "days_with_their_own": days}
