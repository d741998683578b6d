"""The workspace's pages over a simulated case: search, entity pages, triage, verdicts and
their export, paging, hand-over; and a case whose every field is hostile, shown as text."""

from __future__ import annotations

import html
import io
import json
import re
import zipfile
from pathlib import Path
from urllib.parse import quote

import phonenumbers
from starlette.testclient import TestClient

from scamtrace.core.verdicts import latest, parse_verdicts
from scamtrace.share.package import verify_package
from scamtrace.workspace.server import WorkspaceApp
from scamtrace.workspace.web import entity_url
from tests.workspace.conftest import HOSTILE, IBAN, UNESCAPED, Login, csrf_of
from tests.workspace.test_access import entity_of


def evidence_count(app: WorkspaceApp, case: str, kind: str, value: str) -> int:
    with app.workspace.cases[case].cursor() as cur:
        return int(cur.execute("SELECT count(*) FROM evidence WHERE kind = ? AND value = ?",
                               [kind, value]).fetchall()[0][0])  # fmt: skip


def test_search_finds_a_number_written_any_way(app: WorkspaceApp, login: Login) -> None:
    client = login("vic")
    for kind in ("victim_phone", "caller_number"):
        _, value = entity_of(app, "small", kind)
        number = phonenumbers.parse(value)
        national = phonenumbers.national_significant_number(number)
        for q in (value, "00" + value[1:], national,
                  phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
                  phonenumbers.format_number(number,
                                             phonenumbers.PhoneNumberFormat.INTERNATIONAL)):
            page = client.get("/cases/small/search", params={"q": q})
            assert page.status_code == 200
            assert f'href="{html.escape(entity_url("small", kind, value))}"' in page.text, q
    rows, _ = app.workspace.store.audit_rows("small", 500, 0)
    assert any(r["action"] == "search" and r["user_name"] == "vic" for r in rows)


def test_search_finds_an_iban_with_spaces_and_records_by_id(app: WorkspaceApp,
                                                            login: Login) -> None:  # fmt: skip
    client = login("ivy")
    spaced = " ".join(IBAN[i:i + 4] for i in range(0, len(IBAN), 4)).lower()
    page = client.get("/cases/hostile/search", params={"q": spaced})
    assert html.escape(entity_url("hostile", "mule_account", IBAN)) in page.text
    # a transfer by its id, an IP, a call id of the small case's records
    with app.workspace.cases["small"].cursor() as cur:
        call_id, ip = cur.execute("SELECT call_id, source_ip FROM case_voip_cdr "
                                  "ORDER BY call_id LIMIT 1").fetchall()[0]  # fmt: skip
        tx_id = cur.execute("SELECT tx_id FROM case_transfers ORDER BY tx_id LIMIT 1").fetchall()
    for q in (str(call_id), str(ip), str(tx_id[0][0])):
        page = client.get("/cases/small/search", params={"q": q})
        assert "Nothing found" not in page.text and html.escape(q) in page.text


def test_the_entity_page_shows_the_records_behind_it(app: WorkspaceApp, login: Login) -> None:
    client = login("rita")
    kind, value = entity_of(app, "small", "sip_account")
    page = client.get(entity_url("small", kind, value))
    assert page.status_code == 200
    total = evidence_count(app, "small", kind, value)
    assert f"Evidence ({total:,})" in page.text
    with app.workspace.cases["small"].cursor() as cur:
        calls = int(cur.execute("SELECT count(*) FROM case_voip_cdr WHERE sip_account = ?",
                                [value]).fetchall()[0][0])  # fmt: skip
    assert calls > 0 and f"Calls (VoIP records) ({calls:,})" in page.text
    # paged on the server: at most a page of each table
    assert page.text.count("<tr>") < 5 * 50 + 40
    rows, _ = app.workspace.store.audit_rows("small", 500, 0)
    assert any(r["action"] == "view_entity" and r["target"] == f"{kind}:{value}"
               and r["user_name"] == "rita" for r in rows)  # fmt: skip
    assert client.get(entity_url("small", kind, value + "x")).status_code == 404


def test_a_verdict_is_stored_audited_and_exported(app: WorkspaceApp, login: Login) -> None:
    client = login("ivy")
    kind, value = entity_of(app, "small", "caller_number")
    page = client.get(entity_url("small", kind, value))
    response = client.post("/cases/small/decide", data={
        "kind": kind, "value": value, "verdict": "rejected", "note": "a bank's own line",
        "csrf": csrf_of(page.text), "next": "https://evil.example/"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/cases/small"
    stored = app.workspace.store.verdicts("small", kind, value)
    assert [(v.verdict, v.analyst, v.note) for v in stored] == [
        ("rejected", "ivy", "a bank's own line")]
    assert stored[0].evidence_count == evidence_count(app, "small", kind, value) > 0
    assert stored[0].evidence_last is not None
    rows, _ = app.workspace.store.audit_rows("small", 500, 0)
    assert any(r["action"] == "verdict" and r["target"] == f"{kind}:{value}"
               and r["user_name"] == "ivy" for r in rows)  # fmt: skip
    export = client.get("/cases/small/verdicts.csv")
    assert export.status_code == 200
    got = latest(parse_verdicts(export.text, "export"))[(kind, value)]
    assert got.verdict == "rejected" and got.evidence_count == stored[0].evidence_count
    # the entity page and the triage filters show it
    assert "rejected" in client.get(entity_url("small", kind, value)).text
    flagged = client.get("/cases/small/triage", params={
        "list": "flagged", "status": "rejected", "kind": kind})  # fmt: skip
    assert html.escape(entity_url("small", kind, value)) in flagged.text
    open_ones = client.get("/cases/small/triage", params={
        "list": "flagged", "status": "open", "kind": kind, "limit": 500})  # fmt: skip
    assert html.escape(entity_url("small", kind, value)) not in open_ones.text


def test_the_export_token_reads_the_verdicts_and_nothing_else(app: WorkspaceApp,
                                                              login: Login) -> None:  # fmt: skip
    client = login("ivy")
    kind, value = entity_of(app, "small", "mule_account")
    csrf = csrf_of(client.get("/cases/small/triage").text)
    client.post("/cases/small/decide", data={"kind": kind, "value": value,
                                             "verdict": "confirmed", "csrf": csrf})
    made = client.post("/cases/small/export-token", data={"csrf": csrf})
    url = html.unescape(re.search(r'<code class="secret">([^<]+)</code>', made.text).group(1))
    token = url.split("token=", 1)[1]
    with TestClient(app) as anonymous:
        export = anonymous.get(f"/cases/small/verdicts.csv?token={token}")
        assert export.status_code == 200
        assert latest(parse_verdicts(export.text, "url"))[(kind, value)].verdict == "confirmed"
        assert anonymous.get("/cases/small/verdicts.csv?token=nope").status_code == 404
        assert anonymous.get(f"/cases/hostile/verdicts.csv?token={token}").status_code == 404
        assert anonymous.get(f"/cases/small/triage?token={token}",
                             follow_redirects=False).status_code == 303  # fmt: skip
        client.post("/cases/small/export-token", data={"csrf": csrf})  # revokes the first
        assert anonymous.get(f"/cases/small/verdicts.csv?token={token}").status_code == 404


def test_notes_and_assignments(app: WorkspaceApp, login: Login) -> None:
    client = login("rita")
    kind, value = entity_of(app, "small", "source_ip")
    csrf = csrf_of(client.get("/cases/small/triage").text)
    client.post("/cases/small/note", data={"kind": kind, "value": value, "text": "ask the ISP",
                                           "csrf": csrf})  # fmt: skip
    client.post("/cases/small/assign", data={"kind": kind, "value": value, "assignee": "ivy",
                                             "csrf": csrf})  # fmt: skip
    assert client.post("/cases/small/assign", data={"kind": kind, "value": value,
                                                    "assignee": "nobody", "csrf": csrf},
                       follow_redirects=False).status_code == 400  # fmt: skip
    page = client.get(entity_url("small", kind, value)).text
    assert "ask the ISP" in page and "Assigned to ivy." in page
    assigned = client.get("/cases/small/triage", params={"list": "flagged", "status": "assigned"})
    assert html.escape(entity_url("small", kind, value)) in assigned.text


def test_tables_page_on_the_server(app: WorkspaceApp, login: Login) -> None:
    client = login("vic")
    first = client.get("/cases/small/networks/N1", params={"kind": "caller_number", "limit": 5})
    second = client.get("/cases/small/networks/N1", params={"kind": "caller_number", "limit": 5,
                                                            "offset": 5})  # fmt: skip
    link = re.compile(r'<a href="/cases/small/entities/caller_number/([^"]+)"')
    one, two = link.findall(first.text), link.findall(second.text)
    assert len(one) == 5 and len(two) == 5 and not set(one) & set(two)
    assert "next →" in first.text and "← previous" in second.text
    triage = client.get("/cases/small/triage", params={"list": "flagged", "status": "all",
                                                       "limit": 7})  # fmt: skip
    assert triage.text.count('<a href="/cases/small/entities/') == 7


def test_the_networks_are_ranked_as_the_report_ranks_them(app: WorkspaceApp,
                                                          login: Login) -> None:  # fmt: skip
    client = login("vic")
    page = client.get("/cases/small").text
    shown = re.findall(r'<a href="/cases/small/networks/([^"]+)">Network', page)
    with app.workspace.cases["small"].cursor() as cur:
        ranked = [r[0] for r in cur.execute("SELECT network_id FROM networks").fetchall()]
    assert shown == ranked  # detect writes networks.csv in the contract's order


def test_hostile_values_are_shown_as_text_on_every_page(app: WorkspaceApp, login: Login) -> None:
    client = login("ivy")
    reviewer = login("rita")
    h0, h1, h2, h3 = HOSTILE
    entities = [("mule_account", IBAN), ("caller_number", "+8613800138000"),
                ("sip_account", h0), (h1, h2), ("caller_number", h3)]
    csrf = csrf_of(client.get("/cases/hostile").text)
    for kind, value in entities[:2]:
        client.post("/cases/hostile/note", data={"kind": kind, "value": value, "text": h0 + h1,
                                                 "csrf": csrf})  # fmt: skip
        client.post("/cases/hostile/decide", data={"kind": kind, "value": value, "note": h2 + h3,
                                                   "verdict": "confirmed", "csrf": csrf})
    pages = {path: client.get(path) for path in (
        "/cases", "/cases/hostile", "/cases/hostile/networks/" + quote(h0, safe=""),
        "/cases/hostile/networks/-", "/cases/hostile/triage?status=all",
        "/cases/hostile/triage?list=flagged&status=all", "/cases/hostile/handover",
        "/cases/hostile/map", "/cases/hostile/timeline?entity=" + quote(f"sip_account:{h0}"),
        "/cases/hostile/networks/" + quote(h0, safe="") + "/graph",
        *(f"/cases/hostile/search?q={quote(h)}" for h in (*HOSTILE, IBAN)),
        *(entity_url("hostile", k, v) for k, v in entities))}  # fmt: skip
    pages["audit"] = reviewer.get("/cases/hostile/audit")
    for path, response in pages.items():
        assert response.status_code == 200, path
        for bad in UNESCAPED:
            assert bad not in response.text, (path, bad)
    for kind, value in entities:  # each entity's own page shows its value as text
        assert html.escape(value) in pages[entity_url("hostile", kind, value)].text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages["/cases/hostile"].text
    assert "{{7*7}}" in pages[entity_url("hostile", h1, h2)].text
    assert html.escape(h0 + h1) in pages[entity_url("hostile", "mule_account", IBAN)].text
    assert html.escape(h0) in pages["audit"].text
    export = client.get("/cases/hostile/verdicts.csv")
    assert {v.note for v in parse_verdicts(export.text, "x")} == {h2 + h3}


def test_hand_over_downloads(app: WorkspaceApp, login: Login, tmp_path: Path) -> None:
    client = login("ivy")
    stix = client.get("/cases/small/handover/stix")
    assert stix.status_code == 200 and "attachment" in stix.headers["content-disposition"]
    bundle = json.loads(stix.content)
    assert bundle["type"] == "bundle" and any(o["type"] == "indicator" for o in bundle["objects"])
    ftm = client.get("/cases/small/handover/ftm")
    assert ftm.status_code == 200 and all(json.loads(line)["schema"]
                                          for line in ftm.text.splitlines())  # fmt: skip
    misp = zipfile.ZipFile(io.BytesIO(client.get("/cases/small/handover/misp").content))
    assert "manifest.json" in misp.namelist()
    package = client.get("/cases/small/handover/package")
    assert package.status_code == 200
    zipfile.ZipFile(io.BytesIO(package.content)).extractall(tmp_path / "pkg")
    pubkey = tmp_path / "agency.pub"
    pubkey.write_bytes(client.get("/cases/small/handover/signing-key.pub").content)
    result = verify_package(tmp_path / "pkg", pubkey)
    assert result.ok, result.problems
    (tmp_path / "pkg" / "findings" / "entities.csv").write_text("kind,value\n")
    assert not verify_package(tmp_path / "pkg", pubkey).ok
    rows, _ = app.workspace.store.audit_rows("small", 500, 0)
    assert {"stix", "ftm", "misp", "package"} <= {r["target"] for r in rows
                                                 if r["action"] == "handover"}  # fmt: skip
    assert client.get("/cases/small/handover/nope").status_code == 404


def test_graph_map_and_timeline_routes(app: WorkspaceApp, login: Login) -> None:
    client = login("vic")
    for path in ("/cases/small/networks/N1/graph.json", "/cases/small/map.json",
                 "/cases/small/timeline.json?network=N1"):
        response = client.get(path)
        assert response.status_code == 200 and isinstance(response.json(), dict)
    assert client.get("/cases/small/networks/N404/graph").status_code == 404
    answer = client.get("/cases/small/timeline.json?network=N1&since=yesterday")
    assert answer.status_code == 400 and "since" in answer.text
