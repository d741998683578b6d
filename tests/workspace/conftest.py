"""Fixtures for the workspace: a small simulated world detected once, a hand-made case whose
every field holds a hostile value, and logged-in clients of each role."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from scamtrace.detect.runner import detect
from scamtrace.workspace.data import CaseData
from scamtrace.workspace.server import AppSettings, CaseSource, WorkspaceApp, create_app
from tests.conftest import make_case

PASSWORD = "correct horse battery staple"
HOSTILE = ('<script>alert(1)</script>', '" onmouseover="alert(2)', "{{7*7}}", "'><img src=x>")
"""Values that would run as script or markup, or be evaluated by a template, if not escaped."""
UNESCAPED = ("<script>alert(1)", '" onmouseover="alert(2)', "<img src=x>", ">49<")
"""What a page would hold if a hostile value escaped into markup."""
IBAN = "DE89370400440532013000"


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The small world (seed 1) at scale 0.02 and its findings."""
    root = tmp_path_factory.mktemp("workspace")
    case = make_case(root, "small-ws", "small", seed=1, scale=0.02)
    findings = root / "findings"
    detect(case, findings)
    return case, findings


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="session")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A hand-made case and findings with a hostile value in every text field (ids, kinds,
    values, reasons, details, narratives, transcripts), and one IBAN mule account."""
    root = tmp_path_factory.mktemp("hostile")
    case, findings = root / "hostile-case", root / "findings"
    h0, h1, h2, h3 = HOSTILE
    net = h0
    entities = [
        {"kind": "mule_account", "value": IBAN, "score": "0.9", "network_id": net,
         "center_id": h1, "reason": h0},
        {"kind": "caller_number", "value": "+8613800138000", "score": "0.8", "network_id": net,
         "center_id": h1, "reason": h2},
        {"kind": "sip_account", "value": h0, "score": "0.95", "network_id": net,
         "center_id": h1, "reason": h3},
        {"kind": h1, "value": h2, "score": "0.7", "network_id": "", "center_id": "",
         "reason": h1},
    ]  # fmt: skip
    _write(findings / "entities.csv", entities)
    _write(findings / "leads.csv", [
        {"kind": "caller_number", "value": h3, "score": "0.45", "network_id": net,
         "center_id": h1, "reason": h0}])  # fmt: skip
    _write(findings / "evidence.csv", [
        {"kind": e["kind"], "value": e["value"], "source": "carrier_cdr", "record_id": h0,
         "time": "2016-07-01T10:00:00Z", "detail": h1} for e in entities] + [
        {"kind": "mule_account", "value": IBAN, "source": "transfers", "record_id": "T1",
         "time": "2016-07-02T10:00:00Z", "detail": h2}])  # fmt: skip
    _write(findings / "networks.csv", [
        {"network_id": net, "centers": "1", "lines": "1", "victims": "2", "victims_paid": "1",
         "loss": "100.00", "currency": h2, "mule_accounts": "1", "joined_by": h1}])  # fmt: skip
    _write(findings / "centers.csv", [
        {"center_id": h1, "network_id": net, "country": h0, "region": h2,
         "first_seen": "2016-07-01T00:00:00Z", "last_seen": "2016-07-09T00:00:00Z",
         "lines": "1", "calls": "3", "victims": "2", "sip_accounts": "1", "source_ips": "1",
         "asn": h3}])  # fmt: skip
    _write(findings / "transfers.csv", [
        {"tx_id": "T1", "score": "0.9", "network_id": net, "kind": "victim_payment",
         "time": "2016-07-02T10:00:00Z", "payer_account": h3, "payee_account": IBAN,
         "amount": "100.00", "currency": "EUR", "channel": h0, "reason": h1}])  # fmt: skip
    (findings / "summary.json").write_text(json.dumps({"case": h0, "created_at": h1}))
    _write(case / "carrier_cdr.csv", [
        {"call_id": h0, "start_time": "2016-07-01T10:00:00Z", "caller_number": "13800138000",
         "called_number": h1, "duration_s": "60", "answered": "true", "ingress_trunk": h2,
         "ingress_country": h3}])  # fmt: skip
    _write(case / "transfers.csv", [
        {"tx_id": "T1", "time": "2016-07-02T10:00:00Z", "payer_account": h3,
         "payee_account": IBAN, "amount": "100.00", "currency": "EUR", "channel": h0}])
    _write(case / "reports.csv", [
        {"report_id": h2, "filed_at": "2016-07-03T10:00:00Z", "victim_phone": h1,
         "reported_numbers": "+8613800138000", "reported_accounts": IBAN,
         "amount_lost": "100", "currency": "EUR", "language": h3, "narrative": h0}])  # fmt: skip
    _write(case / "transcripts.csv", [
        {"call_id": h0, "source": "carrier_cdr", "language": h2, "text": h0 + h1}])
    (case / "holder.json").write_text(json.dumps({"country": "CN"}))
    return case, findings


Login = Callable[[str], TestClient]


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def log_in(client: TestClient, name: str, password: str = PASSWORD) -> TestClient:
    page = client.get("/login")
    response = client.post("/login", data={"name": name, "password": password,
                                           "csrf": csrf_of(page.text), "next": "/cases"},
                           follow_redirects=False)  # fmt: skip
    assert response.status_code == 303, response.text
    return client


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, world: tuple[Path, Path],
        hostile: tuple[Path, Path]) -> Iterator[WorkspaceApp]:  # fmt: skip
    """The workspace over the small world (case ``small``) and the hostile case
    (``hostile``), with one user of each role and one with access to ``hostile`` only."""
    state = tmp_path_factory.mktemp("state")
    settings = AppSettings(cases=[CaseSource("small", world[1], world[0]),
                                  CaseSource("hostile", hostile[1], hostile[0])],
                           state_dir=state)  # fmt: skip
    application = create_app(settings)
    ws = application.workspace
    for name, role, cases in (("ivy", "investigator", ["*"]), ("rita", "reviewer", ["*"]),
                              ("vic", "viewer", ["small", "hostile"]),
                              ("otto", "investigator", ["hostile"])):  # fmt: skip
        ws.store.add_user(name, ws.auth.hash_password(PASSWORD), role, cases)
    yield application
    ws.close()


@pytest.fixture
def login(app: WorkspaceApp) -> Iterator[Login]:
    clients: list[TestClient] = []

    def make(name: str) -> TestClient:
        client = TestClient(app)
        clients.append(client)
        return log_in(client, name)

    yield make
    for client in clients:
        client.close()


@dataclass
class World:
    case_dir: Path
    findings_dir: Path
    data: CaseData


#: (name, scenario, format, seed): parquet and CSV case folders, two seeds.
WORLDS = (("small-1", "small", "parquet", 1), ("small-2-csv", "small", "csv", 2))


@pytest.fixture(scope="session", params=WORLDS, ids=[w[0] for w in WORLDS])
def viz_world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    name, scenario, fmt, seed = request.param
    root = tmp_path_factory.mktemp("workspace")
    case = make_case(root, name, scenario, fmt=fmt, seed=seed, scale=0.03)
    findings = root / f"{name}-findings"
    detect(case, findings)
    data = CaseData(name, findings, case).open()
    yield World(case, findings, data)
    data.close()
