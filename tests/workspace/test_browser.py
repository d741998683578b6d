"""The workspace in a real browser (Debian's chromium driven by Playwright), started the way a
user starts it: ``scamtrace app-user add`` then ``scamtrace app`` on loopback.

One story, as an investigator works a case: log in, open the case, find a victim by a number
typed in national format, open a network's graph and expand it from a center, confirm a lead
and reject a flagged entity, run ``detect`` again with the workspace's verdicts URL and see
both verdicts honoured, export the signed package and verify it. With ``SCAMTRACE_SCREENSHOTS``
set to a folder, a screenshot of each view is written there (``docs/screenshots`` is made so).
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import phonenumbers
import pytest

from scamtrace.detect.runner import detect
from tests.conftest import make_case

CHROMIUM = os.environ.get("SCAMTRACE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "a long pass phrase for the browser test"
SHOTS = os.environ.get("SCAMTRACE_SCREENSHOTS", "")

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).is_file(),
                                reason="Debian's chromium is not installed (.ci/apt-packages)")


def _cli(*args: str, env: dict[str, str] | None = None) -> list[str]:
    return [sys.executable, "-c", "from scamtrace.cli import main; main()", *args]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@dataclass
class Served:
    url: str
    case: Path
    findings: Path
    case_id: str
    root: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("browser")
    case = make_case(root, "small-b", "small", seed=3, scale=0.02)
    findings = root / "findings"
    detect(case, findings)
    state = root / "state"
    env = {**os.environ, "SCAMTRACE_APP_PASSWORD": PASSWORD}
    subprocess.run(_cli("app-user", "add", "ana", "--role", "investigator", "--case", "*",
                        "--state", str(state)), env=env, check=True, capture_output=True)
    port = _free_port()
    log = (root / "app.log").open("wb")
    process = subprocess.Popen(_cli("app", str(case), "--findings", str(findings), "--state",
                                    str(state), "--host", "127.0.0.1", "--port", str(port)),
                               env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/login", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((root / "app.log").read_text(errors="replace"))
            time.sleep(0.2)
        yield Served(url, case, findings, case.name, root)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _shot(page: object, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=False)  # type: ignore[attr-defined]


def test_an_investigator_works_a_case_in_the_browser(served: Served) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    entities = _rows(served.findings / "entities.csv")
    leads = _rows(served.findings / "leads.csv")
    victim = next(e["value"] for e in entities if e["kind"] == "victim_paid")
    national = phonenumbers.format_number(phonenumbers.parse(victim),
                                          phonenumbers.PhoneNumberFormat.NATIONAL)  # fmt: skip
    assert not national.startswith("+")
    line = max((e for e in entities if e["kind"] == "sip_account"),
               key=lambda e: float(e["score"]))["value"]
    lead = next(r for r in leads if r["kind"] in ("caller_number", "sip_account", "mule_account"))
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 860},
                                      accept_downloads=True)  # fmt: skip
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda e: problems.append(str(e)))
        # a verdict asks once before it is recorded; the investigator says yes
        page.on("dialog", lambda d: d.accept())
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
                if r.status >= 400 else None)  # fmt: skip
        try:
            # log in
            page.goto(f"{served.url}/cases/{served.case_id}")
            assert "/login" in page.url
            _shot(page, "login")
            page.fill("input[name=name]", "ana")
            page.fill("input[name=password]", PASSWORD)
            page.click("form.login button[type=submit]")
            page.wait_for_url(f"**/cases/{served.case_id}")
            # the case: networks ranked
            assert page.locator("table").first.is_visible()
            network = _rows(served.findings / "networks.csv")[0]["network_id"]
            assert network in page.content()
            _shot(page, "case")
            # find a victim by the number typed as a local would
            page.fill("form.search input[name=q]", national)
            with page.expect_navigation():
                page.click("form.search button[type=submit]")
            with page.expect_navigation():
                page.click(f"main a[href*='/entities/'][href$='{victim.replace('+', '%2B')}']")
            assert victim in page.inner_text("h1") or victim in page.inner_text("main")
            _shot(page, "entity")
            # the network's graph, expanded from a center's group of members
            page.goto(f"{served.url}/cases/{served.case_id}/networks/{network}/graph")
            page.wait_for_selector(".viz-graph[data-state='drawn']", timeout=30_000)
            count = "document.querySelector('.viz-graph').cytoscape.nodes().length"
            before = page.evaluate(count)
            opened = page.evaluate(
                "(() => { const cy = document.querySelector('.viz-graph').cytoscape;"
                " const g = cy.nodes().filter(n => n.data('aggregate') &&"
                " cy.nodes('[kind = \"center\"]').some(c => n.data('expand').includes('|' +"
                " c.data('value') + '|'))).first();"
                " if (g.empty()) { return false; } g.emit('tap'); return true; })()")
            assert opened, "no center's group of members to open"
            page.wait_for_function(f"n => {count} > n", arg=before, timeout=30_000)
            page.wait_for_selector(".viz-graph[data-state='drawn']", timeout=30_000)
            _shot(page, "graph")
            page.goto(f"{served.url}/cases/{served.case_id}/map")
            page.wait_for_selector(".viz-map[data-state='drawn']", timeout=30_000)
            _shot(page, "map")
            page.goto(f"{served.url}/cases/{served.case_id}/timeline?network={network}")
            page.wait_for_selector(".viz-timeline[data-state='drawn']", timeout=30_000)
            _shot(page, "timeline")
            # triage: confirm the lead, reject the strongest line
            page.goto(f"{served.url}/cases/{served.case_id}/triage?list=leads&status=all")
            _shot(page, "triage")
            hidden = page.locator(f"input[name=value][value='{lead['value']}']")
            row = page.locator("tr", has=hidden)
            row.locator("button[value=confirmed]").first.click()
            sync_api.expect(row.locator("td", has_text="confirmed")).to_be_visible()
            page.goto(f"{served.url}/cases/{served.case_id}/entities/sip_account/{line}")
            page.locator("button[value=rejected]").first.click()
            sync_api.expect(page.locator("main .verdict.rejected")).to_be_visible()
            # the verdicts URL for detect
            page.goto(f"{served.url}/cases/{served.case_id}/triage")
            with page.expect_navigation():
                page.click("form[action$='/export-token'] button")
            found = re.search(r"https?://[^\s\"'<]+/verdicts\.csv\?token=[A-Za-z0-9_\-]+",
                              page.inner_text("main"))  # fmt: skip
            assert found, page.inner_text("main")
            verdicts_url = found.group(0)
            # hand-over: the signed package and the workspace's public key
            page.goto(f"{served.url}/cases/{served.case_id}/handover")
            _shot(page, "handover")
            with page.expect_download() as got:
                page.click("a[href$='/handover/package']")
            package = served.root / "case.zip"
            got.value.save_as(package)
            with page.expect_download() as got_key:
                page.click("a[href$='/handover/signing-key.pub']")
            pubkey = served.root / "workspace.pub"
            got_key.value.save_as(pubkey)
            assert problems == [], "\n".join(problems)
        finally:
            context.close()
            browser.close()
    # detect again, with the analysts' verdicts read from the workspace
    again = served.root / "findings-again"
    result = subprocess.run(_cli("detect", str(served.case), "--out", str(again),
                                 "--verdicts", verdicts_url),
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    flagged = {(e["kind"], e["value"]): e for e in _rows(again / "entities.csv")
               if float(e["score"]) >= 0.5}  # fmt: skip
    confirmed = flagged.get((lead["kind"], lead["value"]))
    assert confirmed is not None and float(confirmed["score"]) == 1.0
    assert confirmed["reason"].startswith("Confirmed by ana")
    assert ("sip_account", line) not in flagged
    assert ("sip_account", line) in {(e["kind"], e["value"]) for e in entities}
    # the package (a zip of the package folder) verifies against the key the verifier names
    unpacked = served.root / "package"
    with zipfile.ZipFile(package) as archive:
        archive.extractall(unpacked)
    folder = next(p.parent for p in unpacked.rglob("manifest.json"))
    verified = subprocess.run(_cli("share", "verify", str(folder), "--pubkey", str(pubkey)),
                              capture_output=True, text=True)  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr
