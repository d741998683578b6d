"""Line behaviour from call records, and the graph of lines that called the same people."""

from __future__ import annotations

import duckdb
import numpy as np

from scamtrace.reputation.features import BEHAVIOUR, line_behaviour

SOURCE = "SELECT * FROM calls"


def _db(rows: list[tuple[str, int, int, bool, int]]) -> duckdb.DuckDBPyConnection:
    db = duckdb.connect()
    db.execute("CREATE TABLE calls (line VARCHAR, callee BIGINT, t BIGINT, answered BOOLEAN, "
               "duration_s BIGINT, device VARCHAR, presented VARCHAR)")  # fmt: skip
    db.executemany("INSERT INTO calls VALUES (?, ?, ?, ?, ?, 'gw1', ?)", [[*r, r[0]] for r in rows])
    return db


def test_fan_out_first_contacts_and_no_talk_time_without_an_answer() -> None:
    day = 86400
    rows = [("dialler", 100 + i, i * 60, False, 0) for i in range(10)]  # ten new people
    rows += [("family", 500, d * day, True, 600) for d in range(4)]  # one person, again
    rows += [("family", 100, 20 * day, True, 300)]  # someone the dialler called first
    lines = line_behaviour(_db(rows), SOURCE, hub_lines=5)
    assert lines.keys == ["dialler", "family"]
    v = dict(zip(BEHAVIOUR, lines.behaviour.values.T, strict=True))
    assert v["callees_per_call"].tolist() == [1.0, 0.4]
    assert v["first_contact_share"].tolist() == [1.0, 0.2]
    assert v["answer_rate"].tolist() == [0.0, 1.0]
    assert np.isnan(v["talk_mean"][0]) and v["talk_mean"][1] == 540
    # both called 100: linked
    assert lines.graph[0, 1] == 1 and lines.graph.nnz == 2


def test_a_callee_called_by_many_lines_links_none_of_them() -> None:
    rows = [(f"line{i}", 7, i, True, 30) for i in range(6)]  # a hotline everyone calls
    rows += [("line0", 8, 100, True, 30), ("line1", 8, 101, True, 30)]
    lines = line_behaviour(_db(rows), SOURCE, hub_lines=5)
    assert lines.graph.nnz == 2  # only line0 - line1, through callee 8
