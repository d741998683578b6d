"""Behaviour of a line from call records, computed in DuckDB: how many people it calls and how,
when, for how long, and from how many devices and caller IDs.

The same columns for both sides, so that one scorer serves both:

- a SIP account of a VoIP provider (``voip_cdr``): device = source IP, presented = caller ID;
- a caller number seen by the victims' carrier (``carrier_calls``, the calls from abroad that
  present a local number): device = ingress trunk, presented = the number itself.

These are the checklist of the Sichuan features (fan-out, distinct counterparties, calls per
counterparty, duration statistics, hour and day spread, handset churn) on contract tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from scamtrace.reputation.graph import FeatureBlock, symmetric

#: Behaviour columns, in order; each is one SQL aggregate over a line's calls.
BEHAVIOUR: dict[str, str] = {
    "log_calls": "ln(1 + count(*))",
    "log_callees": "ln(1 + count(DISTINCT callee))",
    "callees_per_call": "count(DISTINCT callee) / count(*)",
    "first_contact_share": "avg(first_contact::INT)",
    "answer_rate": "avg(answered::INT)",
    "talk_mean": "avg(CASE WHEN answered THEN duration_s END)",
    "talk_median": "median(CASE WHEN answered THEN duration_s END)",
    "talk_max": "max(CASE WHEN answered THEN duration_s END)",
    "talk_std": "stddev_samp(CASE WHEN answered THEN duration_s END)",
    "short_share": "avg((answered AND duration_s < {short}) :: INT)",
    "hours": "count(DISTINCT hour(to_timestamp(t)))",
    "hour_std": "stddev_samp(hour(to_timestamp(t)))",
    "night_share": "avg((hour(to_timestamp(t)) < 7 OR hour(to_timestamp(t)) >= 22)::INT)",
    "days": "count(DISTINCT CAST(to_timestamp(t) AS DATE))",
    "span_days": "(max(t) - min(t)) / 86400.0",
    "calls_per_day": "count(*) / count(DISTINCT CAST(to_timestamp(t) AS DATE))",
    "devices": "count(DISTINCT device)",
    "presented_ids": "count(DISTINCT presented)",
}


@dataclass(frozen=True)
class Lines:
    """Lines (``keys``), their behaviour, and the graph of lines that called the same people."""

    keys: list[str]
    behaviour: FeatureBlock
    graph: sp.csr_matrix


def voip_source() -> str:
    """``voip_cdr`` as the calls of SIP-account lines."""
    return """
        SELECT sip_account AS line, to_number AS callee, start_time AS t,
               sip_status = 200 AS answered, coalesce(duration_s, 0) AS duration_s,
               source_ip AS device, CAST(from_number AS VARCHAR) AS presented
        FROM voip_cdr WHERE to_number IS NOT NULL AND sip_account <> ''
    """


def carrier_source(table: str = "carrier_calls") -> str:
    """Carrier records (by default the calls from abroad) as the calls of caller-number lines."""
    return f"""
        SELECT CAST(caller_number AS VARCHAR) AS line, called_number AS callee,
               start_time AS t, answered, coalesce(duration_s, 0) AS duration_s,
               ingress_trunk AS device, CAST(caller_number AS VARCHAR) AS presented
        FROM {table} WHERE caller_number IS NOT NULL AND called_number IS NOT NULL
    """  # fmt: skip


def line_behaviour(db: duckdb.DuckDBPyConnection, source: str, *, short_call_s: int = 240,
                   hub_lines: int = 50) -> Lines:  # fmt: skip
    """Behaviour per line of ``source`` (SQL with columns line, callee, t, answered,
    duration_s, device, presented) and the graph of lines sharing a callee.

    A callee reached by more than ``hub_lines`` lines (a hotline, a shop) links nothing: it
    says nothing about who works together and would make the graph dense."""
    aggregates = ",\n".join(f"{sql.format(short=int(short_call_s))} AS {name}"
                            for name, sql in BEHAVIOUR.items())  # fmt: skip
    frame = db.execute(f"""
        WITH calls AS (
            SELECT *, t = min(t) OVER (PARTITION BY callee) AS first_contact FROM ({source})
        )
        SELECT line, {aggregates} FROM calls GROUP BY line ORDER BY line
    """).fetchnumpy()  # fmt: skip
    keys = [str(k) for k in frame["line"]]
    values = np.column_stack([_floats(frame[name]) for name in BEHAVIOUR]
                             ) if keys else np.zeros((0, len(BEHAVIOUR)))  # fmt: skip
    edges = db.execute(f"""
        WITH pairs AS (SELECT DISTINCT line, callee FROM ({source})),
        hubs AS (SELECT callee FROM pairs GROUP BY callee HAVING count(*) > {int(hub_lines)})
        SELECT line, callee FROM pairs ANTI JOIN hubs USING (callee)
    """).fetchnumpy()  # fmt: skip
    return Lines(keys, FeatureBlock(tuple(BEHAVIOUR), values),
                 _shared_callees(keys, edges["line"], edges["callee"]))  # fmt: skip


def _floats(column: NDArray[np.generic]) -> NDArray[np.float64]:
    """DuckDB hands NULLs over as a masked array; they are NaN here (a line with no answered
    call has no talk time, which is not a talk time of 0)."""
    return np.ma.filled(np.ma.asarray(column, dtype=np.float64), np.nan)


def _shared_callees(keys: list[str], lines: NDArray[np.object_], callees: NDArray[np.int64]
                    ) -> sp.csr_matrix:  # fmt: skip
    n = len(keys)
    if n == 0 or len(lines) == 0:
        return sp.csr_matrix((n, n))
    position = {k: i for i, k in enumerate(keys)}
    rows = np.fromiter((position[str(x)] for x in lines), dtype=np.int64, count=len(lines))
    _, cols = np.unique(np.asarray(callees), return_inverse=True)
    incidence = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, int(cols.max()) + 1))
    return symmetric(incidence @ incidence.T)
