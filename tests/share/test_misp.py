"""MISP: the feed is what MISP's feed generator writes, loads back with pymisp, and holds no
victim's number, in the clear or as an MD5, unless --reveal."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
from pymisp import MISPEvent
from typer.testing import CliRunner

from scamtrace.cli import app
from scamtrace.core.errors import FindingsError
from scamtrace.share.export.base import load_findings, victim_number_forms
from scamtrace.share.export.misp import write_feed
from tests.share.conftest import read_rows


def _events(feed: Path) -> list[MISPEvent]:
    events = []
    for path in sorted(feed.glob("*.json")):
        if path.name == "manifest.json":
            continue
        event = MISPEvent()
        event.load_file(str(path))
        assert path.stem == event.uuid
        events.append(event)
    return events


def _victim_hits(feed: Path, victims: set[str]) -> tuple[set[str], set[str]]:
    """Victims whose number is in any file of the feed in any written form (E.164, digits,
    00-international, national, with spaces or dashes), and those whose number in any form
    has its MD5 in hashes.csv."""
    import phonenumbers

    digits = {v.lstrip("+"): v for v in victims}
    nsn = {phonenumbers.national_significant_number(phonenumbers.parse(v)): v for v in victims}
    text = "\n".join(p.read_text(encoding="utf-8") for p in feed.iterdir())
    joined = re.sub(r"(?<=\d)[ \-](?=\d)", "", text)
    clear: set[str] = set()
    for run in set(re.findall(r"\d{7,}", joined)):
        for cut in (run, run.removeprefix("00"), run.removeprefix("0")):
            clear |= {digits[cut]} if cut in digits else set()
            clear |= {nsn[cut]} if cut in nsn else set()
    md5s = {line.split(",")[0] for line in (feed / "hashes.csv").read_text().splitlines()}
    hashed = set()
    for victim in victims:
        forms = victim_number_forms({victim})
        if any(hashlib.md5(f.encode()).hexdigest() in md5s for f in forms):
            hashed.add(victim)
    return clear, hashed


def test_feed_loads_back_and_matches_the_feed_format(standards_findings: Path, small_case: Path,
                                                     tmp_path: Path) -> None:  # fmt: skip
    feed = tmp_path / "feed"
    done = CliRunner().invoke(app, ["share", "misp", str(standards_findings), "--out", str(feed),
                                    "--case", str(small_case), "--tlp", "green"])  # fmt: skip
    assert done.exit_code == 0, done.output
    events = _events(feed)
    manifest = json.loads((feed / "manifest.json").read_text())
    assert set(manifest) == {e.uuid for e in events} and len(events) >= 2
    lines = list(csv.reader((feed / "hashes.csv").open()))
    assert {(h, u) for h, u in lines} == {(h, e.uuid) for e in events
                                          for h in e.attributes_hashes("md5")}  # fmt: skip
    findings = load_findings(standards_findings)
    networks = {r["network_id"] for r in findings.networks}
    assert {n for n in networks if any(f"network {n}:" in e.info for e in events)} == networks
    types = {a.type for e in events for a in e.attributes}
    objects = {o.name for e in events for o in e.objects}
    assert {"phone-number", "ip-src"} <= types and {"phone", "bank-account"} <= objects
    assert all(any(t.name == "tlp:green" for t in e.tags) for e in events)
    accounts = {a.value for e in events for o in e.objects if o.name == "bank-account"
                for a in o.attributes if a.type in ("bank-account-nr", "iban")}  # fmt: skip
    assert accounts == {r["value"] for r in findings.entities if r["kind"] == "mule_account"}
    banks = {a.value for e in events for o in e.objects for a in o.attributes
             if a.object_relation == "institution-name"}  # fmt: skip
    assert banks  # from the case folder's accounts table
    ips = {a.value for e in events for a in e.attributes if a.type == "ip-src"}
    assert ips == {r["value"] for r in findings.entities if r["kind"] == "source_ip"}


def test_no_victim_number_in_the_feed_unless_revealed(standards_findings: Path,
                                                      tmp_path: Path) -> None:  # fmt: skip
    victims = {r["value"] for r in load_findings(standards_findings).victims()}
    assert len(victims) > 1000
    write_feed(standards_findings, tmp_path / "closed")
    assert _victim_hits(tmp_path / "closed", victims) == (set(), set())
    write_feed(standards_findings, tmp_path / "open", reveal=True)
    clear, hashed = _victim_hits(tmp_path / "open", victims)
    assert victims <= clear and victims <= hashed  # the check above can fail


def test_a_victim_number_in_a_reason_is_refused(standards_findings: Path, tmp_path: Path) -> None:
    folder = tmp_path / "findings"
    shutil.copytree(standards_findings, folder, ignore=shutil.ignore_patterns("evidence.csv"))
    rows = read_rows(folder / "entities.csv")
    victim = next(r["value"] for r in rows if r["kind"] == "victim_paid")
    mule = next(r for r in rows if r["kind"] == "mule_account")
    mule["reason"] += f"; received from {victim[3:]}"  # national form, no country code
    with (folder / "entities.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(FindingsError, match="victim"):
        write_feed(folder, tmp_path / "feed")
    assert not (tmp_path / "feed").exists()


def test_a_victims_number_spoofed_as_caller_id_stays_home(trimmed_findings: Path,
                                                          tmp_path: Path) -> None:  # fmt: skip
    import io
    import json as json_module

    from scamtrace.share.export.ftm import write_ftm
    from scamtrace.share.export.stix import export_stix

    folder = tmp_path / "findings"
    shutil.copytree(trimmed_findings, folder)
    rows = read_rows(folder / "entities.csv")
    victim = next(r["value"] for r in rows if r["kind"] == "victim_phone")
    caller = next(r for r in rows if r["kind"] == "caller_number" and r["network_id"])
    caller["value"] = victim  # the gang presented a victim's own number
    with (folder / "entities.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    write_feed(folder, tmp_path / "feed")
    assert _victim_hits(tmp_path / "feed", {victim}) == (set(), set())
    stix_text = json_module.dumps(export_stix(load_findings(folder)))
    ftm_text = io.StringIO()
    write_ftm(folder, ftm_text)
    for text in (stix_text, ftm_text.getvalue()):
        assert victim.lstrip("+") not in text
    write_feed(folder, tmp_path / "open", reveal=True)
    assert _victim_hits(tmp_path / "open", {victim})[0] == {victim}
