"""The network graph: structure, aggregates, expansion, time window, layout, hostile values."""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from scamtrace.core.phones import to_e164
from scamtrace.workspace.data import CaseData
from scamtrace.workspace.graph import (
    PAGE_SIZE,
    GraphError,
    entity_href,
    graph_query,
    network_graph,
)
from tests.workspace.conftest import World


def rows(path: Path, name: str) -> list[dict[str, str]]:
    with (path / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def case_table(viz_world: World, name: str) -> str:
    """A DuckDB source for one table of the case folder, whatever its format."""
    parquet = viz_world.case_dir / f"{name}.parquet"
    if parquet.is_file():
        return f"read_parquet('{parquet}')"
    return f"read_csv('{viz_world.case_dir / f'{name}.csv'}', all_varchar=true, header=true)"


def networks(viz_world: World) -> list[str]:
    return [r["network_id"] for r in rows(viz_world.findings_dir, "networks")]


def nodes(graph: dict[str, Any]) -> list[dict[str, Any]]:
    return [n["data"] for n in graph["elements"]["nodes"]]


def edges(graph: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["data"] for e in graph["elements"]["edges"]]


def drawn(graph: dict[str, Any], kind: str) -> set[str]:
    return {n["value"] for n in nodes(graph) if n["kind"] == kind and not n["aggregate"]}


def test_the_graph_holds_the_networks_centers_and_lines(viz_world: World) -> None:
    entities = rows(viz_world.findings_dir, "entities")
    centers = rows(viz_world.findings_dir, "centers")
    for nid in networks(viz_world):
        graph = network_graph(viz_world.data, nid)
        assert drawn(graph, "network") == {nid}
        # the network's centers, and any center detect put one of its entities in
        referenced = {e["center_id"] for e in entities if e["network_id"] == nid} - {""}
        assert drawn(graph, "center") == {c["center_id"] for c in centers
                                          if c["network_id"] == nid} | referenced
        lines = {e["value"] for e in entities
                 if e["network_id"] == nid and e["kind"] == "sip_account"}
        assert drawn(graph, "sip_account") == lines
        assert len(nodes(graph)) <= 400
        ids = {n["id"] for n in nodes(graph)}
        assert all(e["source"] in ids and e["target"] in ids for e in edges(graph))


def test_victims_are_counts_that_add_up_to_the_networks_victims(viz_world: World) -> None:
    entities = rows(viz_world.findings_dir, "entities")
    for network in rows(viz_world.findings_dir, "networks"):
        nid = network["network_id"]
        graph = network_graph(viz_world.data, nid)
        victims = [n for n in nodes(graph) if n["kind"] == "victim_phone"]
        assert all(n["aggregate"] for n in victims)
        assert sum(n["count"] for n in victims) == int(network["victims"])
        per_center = Counter(e["center_id"] for e in entities
                             if e["network_id"] == nid and e["kind"] == "victim_phone")
        assert {n["center_id"]: n["count"] for n in victims} == dict(per_center)
        paid = [n for n in nodes(graph) if n["kind"] == "victim_paid"]
        assert sum(n["count"] for n in paid) == int(network["victims_paid"])


def test_past_the_budget_entities_become_counts_that_add_up(viz_world: World) -> None:
    entities = rows(viz_world.findings_dir, "entities")
    nid = networks(viz_world)[0]
    mine = [e for e in entities if e["network_id"] == nid]
    # the network, its centers and one count per (center, kind) are always drawn
    floor = (1 + len({e["center_id"] for e in mine} - {""})
             + len({(e["center_id"], e["kind"]) for e in mine}))
    graph = network_graph(viz_world.data, nid, max_nodes=floor + 20)
    assert graph["truncated"]
    assert floor + 10 < len(nodes(graph)) <= floor + 20
    for kind in ("caller_number", "sip_account", "source_ip", "mule_account"):
        total = sum(1 for e in entities if e["network_id"] == nid and e["kind"] == kind)
        counted = sum(n["count"] for n in nodes(graph) if n["kind"] == kind and n["aggregate"])
        assert len(drawn(graph, kind)) + counted == total


def test_opening_an_aggregate_draws_its_members_page_by_page(viz_world: World) -> None:
    nid = networks(viz_world)[0]
    graph = network_graph(viz_world.data, nid)
    aggregate = max((n for n in nodes(graph) if n["kind"] == "victim_phone"),
                    key=lambda n: n["count"])
    assert aggregate["count"] > PAGE_SIZE
    first = network_graph(viz_world.data, nid, expand=[tuple(aggregate["expand"].split(":", 1))])
    page1 = {n["value"] for n in nodes(first)
             if n["kind"] == "victim_phone" and not n["aggregate"]}
    assert len(page1) == PAGE_SIZE
    rest = next(n for n in nodes(first) if n["id"] == aggregate["id"])
    assert rest["count"] == aggregate["count"] - PAGE_SIZE
    second = network_graph(viz_world.data, nid, expand=[tuple(aggregate["expand"].split(":", 1)),
                                                    tuple(rest["expand"].split(":", 1))])
    page2 = {n["value"] for n in nodes(second)
             if n["kind"] == "victim_phone" and not n["aggregate"]} - page1
    assert len(page2) == PAGE_SIZE
    members = {e["value"] for e in rows(viz_world.findings_dir, "entities")
               if e["network_id"] == nid and e["kind"] == "victim_phone"
               and e["center_id"] == aggregate["center_id"]}
    assert page1 | page2 <= members


def test_a_lines_neighbours_are_the_addresses_and_numbers_of_its_calls(viz_world: World) -> None:
    nid = networks(viz_world)[0]
    line = sorted(drawn(network_graph(viz_world.data, nid), "sip_account"))[0]
    graph = network_graph(viz_world.data, nid, expand=[("sip_account", line)])
    me = f"sip_account:{line}"
    calls = duckdb.connect().execute(
        f"SELECT CAST(source_ip AS VARCHAR), CAST(from_number AS VARCHAR), "
        f"CAST(to_number AS VARCHAR) FROM {case_table(viz_world, 'voip_cdr')} "
        f"WHERE CAST(sip_account AS VARCHAR) = ?", [line]).fetchall()
    ips = {ip for ip, _, _ in calls}
    numbers = {to_e164(n, "ES") for _, a, b in calls for n in (a, b)} | {
        "+" + "".join(ch for ch in n if ch.isdigit()) for _, a, b in calls for n in (a, b) if n}
    ties = [e for e in edges(graph) if me in (e["source"], e["target"])
            and e["relation"] != "member"]
    assert ties
    by_id = {n["id"]: n for n in nodes(graph)}
    for e in ties:
        other = by_id[e["target"] if e["source"] == me else e["source"]]
        if other["kind"] == "source_ip":
            assert other["value"] in ips
        elif other["kind"] != "more":
            assert other["value"] in numbers
    # the address edges count the line's calls from each address
    weights = {by_id[e["target"]]["value"]: e["weight"] for e in ties
               if e["relation"] == "called_from"}
    assert weights == dict(Counter(ip for ip, _, _ in calls if ip in weights))


def test_a_mule_accounts_neighbours_are_its_payers_and_payees(viz_world: World) -> None:
    nid = networks(viz_world)[0]
    mule = sorted(drawn(network_graph(viz_world.data, nid), "mule_account"))[0]
    graph = network_graph(viz_world.data, nid, expand=[("mule_account", mule)])
    me = f"mule_account:{mule}"
    pairs = duckdb.connect().execute(
        f"SELECT CAST(payer_account AS VARCHAR), CAST(payee_account AS VARCHAR) "
        f"FROM {case_table(viz_world, 'transfers')} WHERE CAST(payer_account AS VARCHAR) = ? "
        f"OR CAST(payee_account AS VARCHAR) = ?", [mule, mule]).fetchall()
    payees = {b for a, b in pairs if a == mule}
    payers = {a for a, b in pairs if b == mule}
    by_id = {n["id"]: n for n in nodes(graph)}
    ties = [e for e in edges(graph) if e["relation"] == "paid" and me in (e["source"],
                                                                          e["target"])]
    assert ties
    for e in ties:
        if e["source"] == me:
            assert by_id[e["target"]]["value"] in payees
        elif not by_id[e["source"]]["aggregate"]:
            assert by_id[e["source"]]["value"] in payers


def test_a_caller_numbers_victims_are_those_it_called(viz_world: World) -> None:
    nid = networks(viz_world)[0]
    number = sorted(drawn(network_graph(viz_world.data, nid), "caller_number"))[0]
    graph = network_graph(viz_world.data, nid, expand=[("caller_number", number)])
    country = json.loads((viz_world.case_dir / "holder.json").read_text())["country"]
    called = {to_e164(callee, country) for caller, callee in duckdb.connect().execute(
        f"SELECT CAST(caller_number AS VARCHAR), CAST(called_number AS VARCHAR) "
        f"FROM {case_table(viz_world, 'carrier_cdr')}").fetchall()
        if to_e164(caller, country) == number}
    me = f"caller_number:{number}"
    by_id = {n["id"]: n for n in nodes(graph)}
    out = {by_id[e["target"]]["value"] for e in edges(graph)
           if e["source"] == me and e["relation"] == "called"}
    assert out and out <= called


def test_the_time_window_keeps_only_what_happened_inside(viz_world: World) -> None:
    nid = networks(viz_world)[0]
    centers = [c for c in rows(viz_world.findings_dir, "centers") if c["network_id"] == nid]
    first = min(datetime.fromisoformat(c["first_seen"].replace("Z", "+00:00")) for c in centers)
    since, until = first + timedelta(days=7), first + timedelta(days=14)
    whole = network_graph(viz_world.data, nid)
    part = network_graph(viz_world.data, nid, since=since, until=until)
    # an entity is drawn in a window when its evidence holds a record inside it
    active = {(r["kind"], r["value"]) for r in rows(viz_world.findings_dir, "evidence")
              if since <= datetime.fromisoformat(r["time"].replace("Z", "+00:00")) < until}
    for kind in ("caller_number", "sip_account", "source_ip", "mule_account"):
        assert {(kind, v) for v in drawn(part, kind)} <= active
    assert drawn(part, "caller_number")
    calls = duckdb.connect().execute(
        f"SELECT CAST(sip_account AS VARCHAR), CAST(source_ip AS VARCHAR), count(*) "
        f"FROM {case_table(viz_world, 'voip_cdr')} WHERE TRY_CAST(start_time AS TIMESTAMPTZ) >= ? "
        f"AND TRY_CAST(start_time AS TIMESTAMPTZ) < ? GROUP BY ALL", [since, until]).fetchall()
    inside = {(line, ip): n for line, ip, n in calls}
    by_id = {n["id"]: n for n in nodes(part)}
    ties = [e for e in edges(part) if e["relation"] == "called_from"]
    assert ties
    for e in ties:
        key = (by_id[e["source"]]["value"], by_id[e["target"]]["value"])
        assert e["weight"] == inside[key]
    victims = sum(n["count"] for n in nodes(part) if n["kind"] == "victim_phone")
    assert 0 < victims < sum(n["count"] for n in nodes(whole) if n["kind"] == "victim_phone")
    nothing = network_graph(viz_world.data, nid, since=first - timedelta(days=400),
                            until=first - timedelta(days=300))
    assert not [e for e in edges(nothing) if e["relation"] != "member"]


def test_kinds_filter_keeps_the_kinds_asked_and_the_structure(viz_world: World) -> None:
    nid = networks(viz_world)[0]
    graph = network_graph(viz_world.data, nid, kinds=["sip_account"])
    assert {n["kind"] for n in nodes(graph)} <= {"network", "center", "sip_account"}
    assert drawn(graph, "sip_account")


def test_the_same_question_draws_the_same_picture(viz_world: World) -> None:
    nid = networks(viz_world)[0]
    expand = [("sip_account", sorted(drawn(network_graph(viz_world.data, nid), "sip_account"))[0])]
    one = network_graph(viz_world.data, nid, expand=expand)
    again = CaseData(viz_world.data.case_id, viz_world.findings_dir, viz_world.case_dir).open()
    try:
        two = network_graph(again, nid, expand=expand)
    finally:
        again.close()
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)
    positions = [(n["position"]["x"], n["position"]["y"]) for n in one["elements"]["nodes"]]
    assert len(set(positions)) == len(positions)


def test_unknown_networks_and_malformed_expansions_are_refused(viz_world: World) -> None:
    with pytest.raises(GraphError, match="no network"):
        network_graph(viz_world.data, "N999")
    with pytest.raises(GraphError, match="aggregate"):
        network_graph(viz_world.data, networks(viz_world)[0], expand=[("aggregate", "x")])


def test_query_parameters_become_arguments() -> None:
    args = graph_query([("expand", "source_ip:2001:db8::1"), ("expand", "aggregate:0|C01|x"),
                        ("kinds", "sip_account,source_ip"), ("since", "2016-07-01T10:00"),
                        ("until", "2016-07-02")])
    assert args["expand"] == [("source_ip", "2001:db8::1"), ("aggregate", "0|C01|x")]
    assert args["kinds"] == ["sip_account", "source_ip"]
    assert args["since"] == datetime(2016, 7, 1, 10, tzinfo=UTC)
    assert args["until"] == datetime(2016, 7, 2, tzinfo=UTC)
    with pytest.raises(GraphError, match="since"):
        graph_query([("since", "yesterday")])
    with pytest.raises(GraphError, match="expand"):
        graph_query([("expand", "nocolon")])


HOSTILE = "<img src=x onerror=alert(1)>"


def test_hostile_values_come_back_as_plain_strings(viz_world: World, tmp_path: Path) -> None:
    findings = tmp_path / "findings"
    shutil.copytree(viz_world.findings_dir, findings)
    nid = networks(viz_world)[0]
    center = next(c["center_id"] for c in rows(findings, "centers") if c["network_id"] == nid)
    header = (findings / "entities.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    with (findings / "entities.csv").open("a", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, restval="")
        writer.writerow({"kind": "sip_account", "value": HOSTILE, "score": "0.99",
                         "network_id": nid, "center_id": center, "reason": "a hostile value"})
        writer.writerow({"kind": "mule_account", "value": '"/><script>alert(2)</script>',
                         "score": "0.99", "network_id": nid, "reason": "another"})
    data = CaseData("case <b>", findings, viz_world.case_dir).open()
    try:
        graph = network_graph(data, nid)
    finally:
        data.close()
    node = next(n for n in nodes(graph) if n["value"] == HOSTILE)
    assert node["label"] == HOSTILE and node["kind"] == "sip_account"
    assert node["href"] == entity_href("case <b>", "sip_account", HOSTILE)
    assert "<" not in node["href"] and ">" not in node["href"]
    assert node["href"].startswith("/cases/case%20%3Cb%3E/entities/sip_account/")
    assert '"/><script>alert(2)</script>' in drawn(graph, "mule_account")
    text = json.dumps(graph)
    assert json.loads(text) == graph
