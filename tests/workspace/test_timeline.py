"""The timeline: pages in time order without overlap, counts that add up, the window."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pytest

from scamtrace.workspace.graph import GraphError
from scamtrace.workspace.timeline import SOURCES, timeline, timeline_query
from tests.workspace.conftest import World
from tests.workspace.test_graph import case_table, networks, rows


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_pages_follow_each_other_in_time_order_without_overlap(viz_world: World) -> None:
    # the smallest network whose money detect followed
    with_money = {r["network_id"] for r in rows(viz_world.findings_dir, "transfers")}
    nid = [n for n in networks(viz_world) if n in with_money][-1]
    first = timeline(viz_world.data, network_id=nid, limit=40)
    assert first["total"] > 120
    seen: list[tuple[str, str]] = []
    times: list[str] = []
    for offset in (0, 40, 80):
        page = timeline(viz_world.data, network_id=nid, limit=40, offset=offset)
        assert page["total"] == first["total"] and len(page["events"]) == 40
        seen += [(e["source"], e["record_id"]) for e in page["events"]]
        times += [e["time"] for e in page["events"]]
    assert len(set(seen)) == len(seen)
    assert times == sorted(times)
    assert {s for s, _ in seen} <= set(SOURCES)
    last = timeline(viz_world.data, network_id=nid, limit=40, offset=first["total"] - 5)
    assert len(last["events"]) == 5
    assert sum(d["count"] for d in first["days"]) == first["total"]
    by_source = {s: sum(d["count"] for d in first["days"] if d["source"] == s) for s in SOURCES}
    assert by_source["voip_cdr"] > 0 and by_source["transfers"] > 0


def test_a_lines_timeline_is_every_call_it_placed(viz_world: World) -> None:
    nid = networks(viz_world)[0]
    line = sorted(e["value"] for e in rows(viz_world.findings_dir, "entities")
                  if e["network_id"] == nid and e["kind"] == "sip_account")[0]
    result = timeline(viz_world.data, entity=("sip_account", line), limit=1000)
    calls = duckdb.connect().execute(
        f"SELECT CAST(call_id AS VARCHAR) FROM {case_table(viz_world, 'voip_cdr')} "
        f"WHERE CAST(sip_account AS VARCHAR) = ?", [line]).fetchall()
    voip = {e["record_id"] for e in result["events"] if e["source"] == "voip_cdr"}
    assert voip == {c for (c,) in calls}
    assert all({"kind": "sip_account", "value": line} in e["entities"]
               for e in result["events"] if e["source"] == "voip_cdr")


def test_a_mule_accounts_timeline_is_its_payments(viz_world: World) -> None:
    nid = networks(viz_world)[0]
    mule = sorted(e["value"] for e in rows(viz_world.findings_dir, "entities")
                  if e["network_id"] == nid and e["kind"] == "mule_account")[0]
    result = timeline(viz_world.data, entity=("mule_account", mule))
    paid = duckdb.connect().execute(
        f"SELECT count(*) FROM {case_table(viz_world, 'transfers')} "
        f"WHERE CAST(payer_account AS VARCHAR) = ? OR CAST(payee_account AS VARCHAR) = ?",
        [mule, mule]).fetchall()[0][0]
    assert sum(1 for e in result["events"] if e["source"] == "transfers") == paid > 0
    assert all(mule in e["detail"] for e in result["events"] if e["source"] == "transfers")


def test_the_window_keeps_the_events_inside(viz_world: World) -> None:
    nid = networks(viz_world)[0]
    whole = timeline(viz_world.data, network_id=nid, limit=1)
    start = when(whole["events"][0]["time"])
    since, until = start + timedelta(days=3), start + timedelta(days=5)
    part = timeline(viz_world.data, network_id=nid, since=since, until=until, limit=1000)
    assert 0 < part["total"] < whole["total"]
    assert all(since <= when(e["time"]) < until for e in part["events"])
    days = {d["day"] for d in whole["days"]
            if since.date() <= datetime.fromisoformat(d["day"]).date() <= until.date()}
    assert {d["day"] for d in part["days"]} <= days
    assert sum(d["count"] for d in part["days"]) == part["total"]


def test_a_network_or_an_entity_not_both(viz_world: World) -> None:
    with pytest.raises(GraphError):
        timeline(viz_world.data)
    with pytest.raises(GraphError):
        timeline(viz_world.data, network_id="N1", entity=("sip_account", "x"))
    assert timeline(viz_world.data, entity=("sip_account", "<script>x</script>"))["total"] == 0


def test_query_parameters_become_arguments() -> None:
    args = timeline_query([("since", "2016-07-01"), ("limit", "50"), ("offset", "100")])
    assert args["limit"] == 50 and args["offset"] == 100 and args["since"].year == 2016
    with pytest.raises(GraphError, match="offset"):
        timeline_query([("offset", "-1")])
