"""The workspace opens every preset's world and a case ingested from real-world formats: every
view answers, for every network and for an entity of every kind found."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from scamtrace.detect.runner import detect
from scamtrace.ingest.pipeline import ingest
from scamtrace.workspace.server import AppSettings, CaseSource, create_app
from tests.conftest import make_case
from tests.workspace.conftest import PASSWORD, log_in

SAMPLES = Path(__file__).resolve().parents[1] / "ingest" / "samples"
PRESETS = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "scamtrace" / "simulate"
                                  / "scenarios").glob("*.yaml"))  # fmt: skip


def _views(client: TestClient, case_id: str, findings: Path) -> list[str]:
    """Every view of the case, for each network and an entity of each kind: the URLs that did
    not answer 200."""
    from tests.detect.conftest import read_rows

    base = f"/cases/{quote(case_id)}"
    urls = [base, f"{base}/map", f"{base}/map.json", f"{base}/triage?list=leads",
            f"{base}/triage?list=flagged", f"{base}/handover"]
    if any(not r["network_id"] for r in read_rows(findings / "entities.csv")):
        urls.append(f"{base}/networks/-")  # the entities not linked to a network
    for row in read_rows(findings / "networks.csv"):
        net = quote(row["network_id"], safe="")
        urls += [f"{base}/networks/{net}", f"{base}/networks/{net}/graph",
                 f"{base}/networks/{net}/graph.json", f"{base}/timeline?network={net}",
                 f"{base}/timeline.json?network={net}"]  # fmt: skip
    seen: set[str] = set()
    for row in read_rows(findings / "entities.csv"):
        if row["kind"] in seen:
            continue
        seen.add(row["kind"])
        kind, value = quote(row["kind"], safe=""), quote(row["value"], safe="")
        urls += [f"{base}/entities/{kind}/{value}", f"{base}/search?q={value}",
                 f"{base}/timeline.json?entity={kind}:{value}"]
    failed = []
    for url in urls:
        answer = client.get(url)
        if answer.status_code != 200:
            failed.append(f"{url}: {answer.status_code} {answer.text[:200]}")
        elif url.endswith("/graph.json"):
            # where the graph's nodes lead (one of each kind): a page, never a 404
            hrefs = {n["data"]["kind"]: n["data"]["href"]
                     for n in answer.json()["elements"]["nodes"] if n["data"].get("href")}
            for href in hrefs.values():
                page = client.get(href)
                if page.status_code != 200:
                    failed.append(f"{href} (from {url}): {page.status_code}")
    return failed


def _serve(tmp: Path, case: Path, findings: Path) -> list[str]:
    app = create_app(AppSettings(cases=[CaseSource(case.name, findings, case)],
                                 state_dir=tmp / "state"))  # fmt: skip
    ws = app.workspace
    ws.store.add_user("ivy", ws.auth.hash_password(PASSWORD), "investigator", ["*"])
    try:
        with TestClient(app) as client:
            log_in(client, "ivy")
            return _views(client, case.name, findings)
    finally:
        ws.close()


@pytest.mark.parametrize("preset", PRESETS)
def test_every_view_of_every_preset_answers(tmp_path: Path, preset: str) -> None:
    case = make_case(tmp_path, preset, preset, seed=4, scale=0.01)
    findings = tmp_path / "findings"
    detect(case, findings)
    assert _serve(tmp_path, case, findings) == []


def test_every_view_of_an_ingested_case_answers(tmp_path: Path) -> None:
    """Asterisk's Master.csv and ISO 20022 payments, as a carrier and a bank export them."""
    sources = [SAMPLES / "asterisk" / "Master.csv", SAMPLES / "iso20022" / "pacs008_v08.xml",
               SAMPLES / "iso20022" / "camt053_v08.xml"]  # fmt: skip
    staged = tmp_path / "exports"
    staged.mkdir()
    for source in sources:
        shutil.copy(source, staged / source.name)
    case = tmp_path / "ingested"
    ingest([str(staged)], case, holder_country="ES")
    findings = tmp_path / "findings"
    detect(case, findings)
    assert _serve(tmp_path, case, findings) == []
