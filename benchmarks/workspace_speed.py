"""Benchmark: how long the workspace's pages, graph, timeline and map take on one case.

Times opening the case (:class:`~scamtrace.workspace.data.CaseData`: the findings tables read,
the case tables registered as views), the graph of the largest network (as drawn first, then
with a line and a victim count opened), the first page of that network's timeline and of a
line's, and the map. Each step runs ``--repeat`` times (the first is the cold one); prints the
first and the best time of each. The issue's targets: the case opens in under 2 s, a network's
graph in under 1 s. Then the pages an investigator opens, served by the workspace itself
(Starlette's test client: the whole app, logged in, no network): the case (networks ranked),
a network's entities, the triage queue, a search by a victim's number in national format and
that victim's entity page.

    python benchmarks/workspace_speed.py --case cases/seed --findings findings/seed
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scamtrace.workspace.data import CaseData
from scamtrace.workspace.geo import map_data
from scamtrace.workspace.graph import network_graph
from scamtrace.workspace.timeline import timeline


def timed(step: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = step()
        times.append(time.perf_counter() - started)
    return times[0], min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", type=Path, required=True, help="the case folder")
    parser.add_argument("--findings", type=Path, required=True, help="its findings folder")
    parser.add_argument("--network", help="the network to draw (default: the largest)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    repeat = max(1, args.repeat)

    rows: list[tuple[str, float, float, str]] = []
    started = time.perf_counter()
    data = CaseData("bench", args.findings, args.case).open()
    rows.append(("open the case", time.perf_counter() - started, time.perf_counter() - started,
                 f"{len(data.case_tables)} case tables"))
    with data.cursor() as cur:
        calls = sum(int(cur.execute(f"SELECT count(*) FROM case_{t}").fetchall()[0][0])
                    for t in data.case_tables if t.endswith("_cdr"))
        network = args.network or cur.execute(
            "SELECT network_id FROM networks ORDER BY TRY_CAST(victims AS BIGINT) DESC NULLS LAST "
            "LIMIT 1").fetchall()[0][0]
        victims = cur.execute("SELECT count(DISTINCT value) FROM entities "
                              "WHERE kind = 'victim_phone'").fetchall()[0][0]

    first, best, graph = timed(lambda: network_graph(data, network), repeat)
    nodes = graph["elements"]["nodes"]
    rows.append((f"graph of {network}", first, best,
                 f"{len(nodes)} nodes, {len(graph['elements']['edges'])} edges"))
    line = next((n["data"]["expand"] for n in nodes if n["data"]["kind"] == "sip_account"), None)
    count = max((n["data"] for n in nodes if n["data"]["aggregate"]),
                key=lambda d: d["count"], default=None)
    expand = [tuple(e.split(":", 1)) for e in (line, count and count["expand"]) if e]
    first, best, opened = timed(lambda: network_graph(data, network, expand=expand), repeat)
    rows.append(("graph, a line and a count opened", first, best,
                 f"{len(opened['elements']['nodes'])} nodes"))
    first, best, page = timed(lambda: timeline(data, network_id=network, limit=200), repeat)
    rows.append(("timeline of the network, page 1", first, best, f"{page['total']} events"))
    if line:
        kind, value = line.split(":", 1)
        first, best, page = timed(lambda: timeline(data, entity=(kind, value), limit=200),
                                  repeat)
        rows.append(("timeline of a line, page 1", first, best, f"{page['total']} events"))
    first, best, shown = timed(lambda: map_data(data), repeat)
    rows.append(("map", first, best, f"{len(shown['regions'])} regions"))
    data.close()
    rows.extend(pages(args.case, args.findings, network, repeat))

    print(f"case {args.case} ({calls:,} call records, {victims:,} victims); "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print(f"{'step':<44} {'first s':>8} {'best s':>8}  what")
    for name, first_s, best_s, what in rows:
        print(f"{name:<44} {first_s:>8.3f} {best_s:>8.3f}  {what}")


def pages(case: Path, findings: Path, network: str, repeat: int
          ) -> list[tuple[str, float, float, str]]:  # fmt: skip
    """The workspace's own pages, timed through the ASGI app with a logged-in session."""
    import re
    import tempfile

    import phonenumbers
    from starlette.testclient import TestClient

    from scamtrace.core.findings import read_text
    from scamtrace.workspace.server import AppSettings, CaseSource, create_app

    password = "benchmark pass phrase"
    out: list[tuple[str, float, float, str]] = []
    with tempfile.TemporaryDirectory() as state:
        # the first start converts the findings to Parquet in the state folder; a later start
        # (the everyday one) reads that copy
        for start in ("first start", "next start"):
            started = time.perf_counter()
            app = create_app(AppSettings(cases=[CaseSource(case.name, findings, case)],
                                         state_dir=Path(state)))  # fmt: skip
            with TestClient(app) as client:
                answer = client.get(f"/cases/{case.name}")  # the login page: nothing opened
                app.workspace.cases[case.name].open()
                out.append((f"{start}: the app up, the case open", time.perf_counter() - started,
                            time.perf_counter() - started, f"HTTP {answer.status_code}"))
            app.workspace.close()
        app = create_app(AppSettings(cases=[CaseSource(case.name, findings, case)],
                                     state_dir=Path(state)))  # fmt: skip
        ws = app.workspace
        ws.store.add_user("bench", ws.auth.hash_password(password), "investigator", ["*"])
        with TestClient(app) as client:
            login = client.get("/login").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', login)
            client.post("/login", data={"name": "bench", "password": password,
                                        "csrf": csrf.group(1) if csrf else "", "next": "/cases"})
            base = f"/cases/{case.name}"
            # from the file, not the app: the case page below is the first to open the case
            entities = read_text(findings, "entities")
            victim = next(str(v) for k, v in zip(entities["kind"].to_pylist(),
                                                 entities["value"].to_pylist(), strict=True)
                          if k == "victim_paid")  # fmt: skip
            national = phonenumbers.format_number(phonenumbers.parse(victim),
                                                  phonenumbers.PhoneNumberFormat.NATIONAL)
            for name, url in (
                ("page: the case, networks ranked", base),
                (f"page: network {network}, first page", f"{base}/networks/{network}"),
                ("page: triage, flagged", f"{base}/triage?list=flagged"),
                ("page: search a national number", f"{base}/search?q={national}"),
                ("page: that victim's entity page",
                 f"{base}/entities/victim_paid/{victim.replace('+', '%2B')}"),
            ):
                first, best, answer = timed(lambda url=url: client.get(url), repeat)
                out.append((name, first, best, f"HTTP {answer.status_code}, "
                                               f"{len(answer.content) / 1024:,.0f} KiB"))
        ws.close()
    return out


if __name__ == "__main__":
    main()
