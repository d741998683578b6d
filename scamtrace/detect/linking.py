"""Cross-view linking: tie each carrier record to the VoIP provider's record of the same call.

The two rows share no key. They are matched on the dialled number and a start time within a
tolerance, one to one, nearest first, so a spoofed caller ID on the victims' side is tied to the
SIP account and source IP that really placed the call.
"""

from __future__ import annotations

from scamtrace.core.sql import run
from scamtrace.detect.detector import Detector, TableSpec
from scamtrace.detect.settings import DetectSettings
from scamtrace.enrich.case import Case

CALL_LINK = TableSpec.of("call_link", c_line="BIGINT", v_line="BIGINT", dt="BIGINT")


def link_calls(case: Case, settings: DetectSettings) -> int:
    """Create ``call_link(c_line, v_line, dt)``; returns how many calls were linked."""
    tol = settings.link_tolerance_s
    if not (case.has("carrier_cdr") and case.has("voip_cdr")):
        run(case.db, "CREATE OR REPLACE TABLE call_link (c_line BIGINT, v_line BIGINT, dt BIGINT)")
        return 0
    run(case.db, f"""
        CREATE OR REPLACE TABLE call_link AS
        WITH pairs AS (
            SELECT c._line AS c_line, v._line AS v_line,
                   abs(c.start_time - v.start_time) AS dt
            FROM carrier_cdr c JOIN voip_cdr v
              ON c.called_number = v.to_number
             AND c.start_time BETWEEN v.start_time - {tol} AND v.start_time + {tol}
        ), ranked AS (
            SELECT *, row_number() OVER (PARTITION BY c_line ORDER BY dt, v_line) AS rc,
                      row_number() OVER (PARTITION BY v_line ORDER BY dt, c_line) AS rv
            FROM pairs
        )
        SELECT c_line, v_line, dt FROM ranked WHERE rc = 1 AND rv = 1
    """)  # fmt: skip
    return case.count("SELECT count(*) FROM call_link")


DETECTOR = Detector(
    name="linking", step="linking carrier and VoIP records", progress=0.3,
    needs=("carrier_cdr", "voip_cdr"), makes=(CALL_LINK,), run=link_calls,
)  # fmt: skip
