"""The case report from a small hand-made findings folder.

Two networks: N1 with two centers in Spain, five SIP accounts, a victim paying a mule account
that forwards the money to a second mule who withdraws it at an ATM; N2 with one center in
Portugal and no transfers. One SIP account's reason and one evidence detail carry HTML that
must come out as text.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from scamtrace.report import render_report, write_report

EVIL = "<script>alert(1)</script>"
EVIL_DETAIL = '<img src=x onerror="alert(2)">'

ENTITIES = [
    ("sip_account", "sip1001", "0.95", "N1", "C01", "placed 900 calls to 850 numbers"),
    ("sip_account", "sip1002", "0.91", "N1", "C01", EVIL),
    ("sip_account", "sip1003", "0.80", "N1", "C02", "rotated 12 caller IDs"),
    ("sip_account", "sip1004", "0.70", "N1", "C02", "rotated 9 caller IDs"),
    ("sip_account", "sip1005", "0.55", "N1", "C02", "rotated 4 caller IDs"),
    ("source_ip", "88.1.2.3", "0.9", "N1", "C01", "shared by two dialling accounts"),
    ("mule_account", "ES0001MULE", "0.9", "N1", "", "received money from 1 victim"),
    ("mule_account", "ES0002MULE", "0.8", "N1", "", "received money from ES0001MULE"),
    ("victim_paid", "+34600000001", "0.85", "N1", "", "paid ES0001MULE after 3 calls"),
    ("victim_phone", "+351910000001", "0.7", "N2", "C03", "answered a long call from C03"),
    ("caller_number", "+8613900000001", "0.6", "", "", "named in 1 complaint(s)"),
]
EVIDENCE = [
    ("sip_account", "sip1001", "voip_cdr", "V00001", "2016-07-01T08:00:00Z", "answered 150 s"),
    ("sip_account", "sip1001", "voip_cdr", "V00002", "2016-07-01T08:03:00Z", "not answered"),
    ("sip_account", "sip1002", "voip_cdr", "V00003", "2016-07-01T08:06:00Z", EVIL_DETAIL),
    ("sip_account", "sip1005", "voip_cdr", "V09999", "2016-07-01T09:00:00Z", "lowest one"),
    ("mule_account", "ES0001MULE", "transfers", "T1", "2016-07-03T10:00:00Z", "1,000.00 EUR"),
    ("victim_phone", "+351910000001", "carrier_cdr", "C00077", "2016-08-01T10:00:00Z", "call"),
]
TRANSFERS = [
    ("T1", "0.9", "N1", "victim_payment", "2016-07-03T10:00:00Z", "ES9999VICTIM", "ES0001MULE",
     "1000.00", "EUR", "online", "a victim paid a mule account after scam calls"),
    ("T2", "0.9", "N1", "victim_payment", "2016-07-04T10:00:00Z", "ES9998VICTIM", "ES0001MULE",
     "11345.67", "EUR", "branch", "a victim paid a mule account after scam calls"),
    ("T3", "0.8", "N1", "layering", "2016-07-04T12:00:00Z", "ES0001MULE", "ES0002MULE",
     "12000.00", "EUR", "online", "a mule account moved money to another mule"),
    ("T4", "0.8", "N1", "cash_out", "2016-07-05T09:00:00Z", "ES0002MULE", "",
     "11900.00", "EUR", "atm", "money left the mule accounts"),
]  # fmt: skip
CENTERS = [
    ("C01", "N1", "ES", "Madrid", "2016-07-01T08:00:00Z", "2016-07-20T18:00:00Z", "3", "900",
     "40", "3", "1", "Telefonica"),
    ("C02", "N1", "ES", "", "2016-07-10T08:00:00Z", "2016-08-02T18:00:00Z", "2", "300", "9",
     "2", "1", "Digi"),
    ("C03", "N2", "PT", "Lisboa", "2016-08-01T08:00:00Z", "2016-08-05T18:00:00Z", "1", "50",
     "3", "1", "1", "MEO"),
]  # fmt: skip
NETWORKS = [
    ("N1", "2", "5", "49", "2", "12345.67", "EUR", "2"),
    ("N2", "1", "1", "3", "0", "0", "EUR", "0"),
]
SUMMARY = {
    "case": "hand-made case",
    "created_at": "2016-09-01T12:00:00Z",
    "inputs_used": ["carrier_cdr", "voip_cdr", "accounts", "transfers", "transcripts"],
    "inputs_missing": ["reports"],
    "not_possible": {"reports": "confirmation from victims' complaints"},
    "rows_read": {"carrier_cdr": 1000, "voip_cdr": 1200, "transfers": 40},
    "rows_set_aside": {"carrier_cdr": 3, "voip_cdr": 0, "transfers": 0},
    "flagged": {"sip_account": 5, "mule_account": 2},
    "networks": 2,
    "centers": 3,
    "timings_s": {"total": 1.5},
}
HEADERS = {
    "entities": ("kind", "value", "score", "network_id", "center_id", "reason"),
    "evidence": ("kind", "value", "source", "record_id", "time", "detail"),
    "transfers": ("tx_id", "score", "network_id", "kind", "time", "payer_account",
                  "payee_account", "amount", "currency", "channel", "reason"),
    "centers": ("center_id", "network_id", "country", "region", "first_seen", "last_seen",
                "lines", "calls", "victims", "sip_accounts", "source_ips", "asn"),
    "networks": ("network_id", "centers", "lines", "victims", "victims_paid", "loss",
                 "currency", "mule_accounts"),
}  # fmt: skip
ROWS: dict[str, list[tuple[str, ...]]] = {
    "entities": ENTITIES,
    "evidence": EVIDENCE,
    "transfers": TRANSFERS,
    "centers": CENTERS,
    "networks": NETWORKS,
}


def _write(path: Path, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(header)
        out.writerows(rows)


@pytest.fixture
def findings(tmp_path: Path) -> Path:
    folder = tmp_path / "findings"
    folder.mkdir()
    for name, header in HEADERS.items():
        _write(folder / f"{name}.csv", header, ROWS[name])
    (folder / "rejected.csv").write_text("table,file,line,field,value,reason\n", "utf-8")
    (folder / "summary.json").write_text(json.dumps(SUMMARY), "utf-8")
    return folder


def _assert_self_contained(doc: str) -> None:
    low = doc.lower()
    for bad in ("http://", "https://", "<script src", "<link", "@import", "url("):
        assert bad not in low, bad
    assert low.startswith("<!doctype html>")
    assert low.count("<html") == 1 and low.rstrip().endswith("</html>")
    assert low.count("<script") == 1  # the report's own few lines, nothing from the data


def test_write_report_writes_one_self_contained_file(findings: Path) -> None:
    (findings / "report.html").write_text("old", "utf-8")
    path = write_report(findings)
    assert path == findings / "report.html"
    doc = path.read_text("utf-8")
    _assert_self_contained(doc)
    assert "<style>" in doc and "@media print" in doc
    assert doc != "old" and "hand-made case" in doc
    assert [p.name for p in findings.iterdir() if p.name.startswith(".")] == []  # no temp left


def test_header_names_case_inputs_and_rows_set_aside(findings: Path) -> None:
    doc = render_report(findings)
    assert "Case report: hand-made case" in doc
    assert "2016-09-01 12:00:00 UTC" in doc
    missing = doc.split("Not available for this case")[1].split("</div>")[0]
    assert "<b>reports</b>" in missing
    assert "confirmation from victims&#x27; complaints" in missing
    assert "<b>voip_cdr</b>" in doc.split("Inputs used")[1].split("</tr>")[0]
    assert "3 rows were set aside" in doc
    assert "rejected.csv" in doc


def test_networks_centers_and_losses(findings: Path) -> None:
    doc = render_report(findings)
    for nid in ("N1", "N2"):
        assert f"Network {nid}" in doc
    for cid in ("C01", "C02", "C03"):
        assert cid in doc
    assert "12,345.67 EUR" in doc  # N1's loss, in the overview and the network section
    assert doc.count("12,345.67 EUR") >= 2
    overview = doc.split('id="overview"')[1].split("</section>")[0]
    assert overview.index("N1") < overview.index("N2")
    assert "Madrid" in doc and "Lisboa" in doc
    # N2 has no transfers: said plainly in its section
    n2 = doc.split("<h2>Network N2</h2>")[1].split("</section>")[0]
    assert "No flagged transfers for this network." in n2
    # entities not tied to any network get their own section
    assert "Not linked to a network" in doc and "+8613900000001" in doc


def test_timeline_has_one_bar_per_center_on_a_shared_axis(findings: Path) -> None:
    doc = render_report(findings)
    assert doc.count('<svg class="timeline"') == 2
    n1 = doc.split("<h2>Network N1</h2>")[1].split("</svg>")[0]
    n2 = doc.split("<h2>Network N2</h2>")[1].split("</svg>")[0]
    assert n1.count("<rect") == 2 and n2.count("<rect") == 1
    # shared axis: the same tick labels in both networks' timelines
    ticks1 = [t.split(">")[1] for t in n1.split('class="axis"')[1:]]
    ticks2 = [t.split(">")[1] for t in n2.split('class="axis"')[1:]]
    assert ticks1 and ticks1 == ticks2
    assert "ES Madrid · 2016-07-01 – 2016-07-20" in n1


def test_mule_chain_follows_money_from_victims_to_cash_out(findings: Path) -> None:
    doc = render_report(findings)
    n1 = doc.split("<h2>Network N1</h2>")[1].split("</section>")[0]
    chains = n1.split("Mule chains")[1].split("Flagged entities")[0]
    assert "12,345.67 EUR" in chains  # paid into ES0001MULE by two victims
    assert "12,000.00 EUR" in chains  # moved on to ES0002MULE
    assert "11,900.00 EUR" in chains  # cashed out
    tree = chains.split('<ul class="tree">')[1].split("<h4>")[0]
    assert tree.index("ES0001MULE") < tree.index("ES0002MULE") < tree.index("cashed out")
    assert "by atm" in tree
    layer_2 = chains.split("Layering: money moved between accounts")[1].split("</table>")[0]
    assert "ES0001MULE" in layer_2 and "ES0002MULE" in layer_2
    assert "Layer 2" in chains


def test_untrusted_values_are_escaped(findings: Path) -> None:
    doc = render_report(findings)
    assert EVIL not in doc
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in doc
    assert "<img" not in doc
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in doc
    _assert_self_contained(doc)


def test_evil_network_and_center_ids_are_escaped(findings: Path) -> None:
    evil_net = 'N"><b>x'
    network = (evil_net, "1", "1", "1", "0", "5", "<i>EUR</i>", "0")
    center = ("<u>C9</u>", evil_net, "<svg>", "", "x", "y", "1", "1", "1", "1", "1", "<a>")
    _write(findings / "networks.csv", HEADERS["networks"], [network])
    _write(findings / "centers.csv", HEADERS["centers"], [center])
    doc = render_report(findings)
    for bad in ("<b>x", "<i>EUR", "<u>C9", "<svg>", "<a>"):
        assert bad not in doc
    _assert_self_contained(doc)


def test_entities_above_the_limit_are_cut_with_a_note(findings: Path) -> None:
    doc = render_report(findings, max_entities=3)
    sip = doc.split("SIP accounts (")[2].split("<h4>")[0]  # [1] is the flagged counts
    assert "sip1001" in sip and "sip1002" in sip and "sip1003" in sip
    assert "sip1004" not in doc and "sip1005" not in doc
    assert "and 2 more" in sip
    assert "V09999" not in doc  # no evidence for entities not shown
    assert "and 2 more" not in render_report(findings)


def test_evidence_is_collapsible_and_capped(findings: Path) -> None:
    doc = render_report(findings)
    row = doc.split("<code>sip1001</code>")[1].split("</details>")[0]
    assert "<details><summary>2 evidence records</summary>" in row
    assert "V00001" in row and "V00002" in row and "VoIP call record" in row
    assert "2016-07-01 08:00:00 UTC" in row
    capped = render_report(findings, max_evidence=1)
    row = capped.split("<code>sip1001</code>")[1].split("</details>")[0]
    assert "V00001" in row and "V00002" not in row
    assert "and 1 more records in evidence.csv" in row


def test_optional_files_absent(findings: Path) -> None:
    (findings / "evidence.csv").unlink()
    (findings / "transfers.csv").unlink()
    doc = write_report(findings).read_text("utf-8")
    _assert_self_contained(doc)
    note = doc.split("Not in the findings folder:")[1].split("</p>")[0]
    assert "evidence.csv" in note and "transfers.csv" in note
    assert "the money flows cannot be shown" in doc
    assert "transfers.csv is not in the findings folder." in doc
    assert "<details>" not in doc
    assert "sip1001" in doc and "12,345.67 EUR" in doc


@pytest.mark.parametrize("name", sorted(HEADERS))
def test_header_only_tables(findings: Path, name: str) -> None:
    _write(findings / f"{name}.csv", HEADERS[name], [])
    doc = render_report(findings)
    _assert_self_contained(doc)
    if name == "networks":
        assert "No fraud network was identified" in doc
    if name == "centers":
        assert "No call center was identified for this network." in doc
        assert "<svg" not in doc


def test_empty_folder(tmp_path: Path) -> None:
    doc = write_report(tmp_path).read_text("utf-8")
    _assert_self_contained(doc)
    assert "summary.json is missing" in doc
    assert "No fraud network was identified" in doc


def test_zero_byte_and_malformed_files(findings: Path) -> None:
    (findings / "evidence.csv").write_text("", "utf-8")
    with (findings / "entities.csv").open("a", encoding="utf-8") as fh:
        fh.write("sip_account,too,few\n")
    (findings / "summary.json").write_text("{not json", "utf-8")
    doc = render_report(findings)
    _assert_self_contained(doc)
    assert "1 malformed row of entities.csv" in doc
    assert "summary.json could not be read" in doc
    assert "sip1001" in doc


def test_scripts_are_listed_with_values_escaped_once(findings: Path) -> None:
    header = ("script_id", "network_id", "scam_type", "calls", "numbers", "sip_accounts",
              "centers", "languages", "first_seen", "last_seen", "example", "call_ids")  # fmt: skip
    row = ("S<1>", "N1", "bank", "12", "3", "2", "1", "es", "<b>&", "", "a / <i>b</i>",
           "c1;c2;c3;c4;c5;c6")  # fmt: skip
    _write(findings / "scripts.csv", header, [row])
    doc = render_report(findings)
    n1 = doc.split("<h2>Network N1</h2>")[1].split("</section>")[0]
    scripts = n1.split("Scripts read on its calls")[1].split("</table>")[0]
    assert "<td>S&lt;1&gt;</td>" in scripts
    assert "<td>&lt;b&gt;&amp;</td>" in scripts  # the period, escaped once
    assert "a<br>&lt;i&gt;b&lt;/i&gt;" in scripts
    assert "calls: c1, c2, c3, c4, c5 ..." in scripts
    assert "Scripts read" not in doc.split("<h2>Network N2</h2>")[1]
