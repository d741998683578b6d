"""One view layer: the workspace's network page and ``report.html`` show the same entities of a
network, with the same scores and reasons, drawn by the same templates."""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import quote

from scamtrace.report.render import render_report
from tests.detect.conftest import read_rows
from tests.workspace.conftest import Login

#: One row of the report's entity table: value (linked in the app), score, center, reason.
ROW = re.compile(r'<tr(?: class="has-ev")?><td>(?:<a href="[^"]*">)?<code>(.*?)</code>(?:</a>)?'
                 r"</td><td class=n>(.*?)</td><td>(?:<a [^>]*>)?(.*?)(?:</a>)?</td><td>(.*?)</td>"
                 r"</tr>")  # fmt: skip


def _rows(text: str) -> set[tuple[str, ...]]:
    return {tuple(html.unescape(cell) for cell in m.groups()) for m in ROW.finditer(text)}


def _section(report: str, network_id: str) -> str:
    """The report's section of one network."""
    sections = re.split(r'(?=<section class="network")', report)
    title = f"<h2>Network {html.escape(network_id)}</h2>"
    found = [s for s in sections if title in s]
    assert len(found) == 1, title
    return found[0]


def test_the_app_and_the_report_show_the_same_entities(
    login: Login, world: tuple[Path, Path]
) -> None:
    _, findings = world
    report = render_report(findings, max_entities=10_000, max_evidence=0)
    client = login("ivy")
    networks = [r["network_id"] for r in read_rows(findings / "networks.csv")]
    assert networks
    for network_id in networks[:2]:
        in_report = _rows(_section(report, network_id))
        in_app: set[tuple[str, ...]] = set()
        for kind in ("sip_account", "source_ip", "mule_account"):
            page = client.get(f"/cases/small/networks/{quote(network_id)}?kind={kind}&limit=500")
            assert page.status_code == 200
            in_app |= _rows(page.text)
        shown_kinds = {r["value"] for r in read_rows(findings / "entities.csv")
                       if r["network_id"] == network_id
                       and r["kind"] in ("sip_account", "source_ip", "mule_account")}
        assert in_app, network_id
        assert {row[0] for row in in_app} == shown_kinds
        assert in_app <= in_report
