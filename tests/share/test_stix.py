"""STIX 2.1: the bundle validates, carries the case's structure, and imports back unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import stix2
from stix2validator import ValidationOptions, validate_file
from typer.testing import CliRunner

from scamtrace.cli import app
from scamtrace.core.errors import FindingsError
from scamtrace.share.export.base import load_findings, victim_leaks
from scamtrace.share.export.stix import (
    FINDING_EXTENSION,
    PHONE_EXTENSION,
    PHONE_TYPE,
    export_stix,
    import_stix,
    read_bundle,
    sco_id,
    write_stix,
)
from tests.share.conftest import row_set


def test_export_then_import_gives_the_same_findings(standards_findings: Path,
                                                    tmp_path: Path) -> None:  # fmt: skip
    bundle, back = tmp_path / "case.stix.json", tmp_path / "back"
    runner = CliRunner()
    done = runner.invoke(app, ["share", "stix", str(standards_findings), "--out", str(bundle),
                               "--reveal", "--tlp", "red"])  # fmt: skip
    assert done.exit_code == 0, done.output
    done = runner.invoke(app, ["share", "stix-import", str(bundle), "--out", str(back)])
    assert done.exit_code == 0, done.output
    original, imported = load_findings(standards_findings), load_findings(back)
    assert len(original.entities) > 20_000
    for table in ("entities", "centers", "networks"):
        assert row_set(getattr(imported, table)) == row_set(getattr(original, table)), table
    assert imported.columns["centers"] == original.columns["centers"]


def test_without_reveal_the_bundle_names_no_victim(standards_findings: Path) -> None:
    findings = load_findings(standards_findings)
    bundle = export_stix(findings, tlp="amber")
    text = json.dumps(bundle)
    victims = {r["value"] for r in findings.victims()}
    assert victims and not victim_leaks(text, victims)
    assert not [o for o in bundle["objects"] if o.get("identity_class") == "individual"]
    assert row_set(import_stix(bundle).entities) == row_set(findings.shareable_entities(False))
    revealed = json.dumps(export_stix(findings, reveal=True))
    assert victim_leaks(revealed, victims) == victims  # the check above can fail


def test_bundle_passes_the_stix_validator_and_parses(trimmed_findings: Path,
                                                     tmp_path: Path) -> None:  # fmt: skip
    path = write_stix(trimmed_findings, tmp_path / "b.json", reveal=True, tlp="amber").path
    results = validate_file(str(path), ValidationOptions(version="2.1"))
    errors = [str(e) for o in results.object_results for e in o.errors]
    assert results.is_valid and not errors, errors[:5]
    parsed = stix2.parse(path.read_text(encoding="utf-8"), allow_custom=True)
    objects = [json.loads(o.serialize()) if hasattr(o, "serialize") else dict(o)
               for o in parsed.objects]  # fmt: skip
    types = {o["type"] for o in objects}
    assert {"threat-actor", "campaign", "infrastructure", "location", "ipv4-addr",
            "user-account", PHONE_TYPE, "x-scamtrace-bank-account", "extension-definition",
            "indicator", "sighting", "relationship", "marking-definition",
            "identity"} <= types  # fmt: skip
    actors = [o for o in objects if o["type"] == "threat-actor"]
    assert len(actors) == 2 and all(a["threat_actor_types"] == ["crime-syndicate"] for a in actors)
    amber = stix2.TLP_AMBER.id
    unmarked = [o["id"] for o in objects if o["type"] != "marking-definition"
                and o["id"] != "identity--2e831f89-d782-4970-9177-45a23b1ce454"
                and o["type"] != "extension-definition"
                and amber not in o.get("object_marking_refs", [])]  # fmt: skip
    assert not unmarked
    phones = [o for o in objects if o["type"] == PHONE_TYPE]
    assert all(o["extensions"][PHONE_EXTENSION]["extension_type"] == "new-sco" for o in phones)
    rels = {(o["relationship_type"], o["source_ref"].split("--")[0], o["target_ref"].split("--")[0])
            for o in objects if o["type"] == "relationship"}  # fmt: skip
    assert {("attributed-to", "campaign", "threat-actor"),
            ("uses", "threat-actor", "infrastructure"),
            ("located-at", "infrastructure", "location"),
            ("indicates", "indicator", "threat-actor"),
            ("consists-of", "infrastructure", "ipv4-addr"),
            ("targets", "campaign", "identity")} <= rels  # fmt: skip
    centers = [o for o in objects if o["type"] == "infrastructure"]
    assert len(centers) == 16
    assert all(o["extensions"][FINDING_EXTENSION]["table"] == "centers" for o in centers)


def test_observable_ids_are_the_ones_stix2_derives() -> None:
    assert sco_id("ipv4-addr", {"value": "62.82.28.62"}) == stix2.IPv4Address(
        value="62.82.28.62").id  # fmt: skip
    assert sco_id("user-account", {"user_id": "sip1", "account_type": "sip"}) == stix2.UserAccount(
        user_id="sip1", account_type="sip").id  # fmt: skip


def test_tlp_levels_and_bad_input(standards_findings: Path, tmp_path: Path) -> None:
    findings = load_findings(standards_findings)
    findings.entities = findings.entities[:5]
    red = export_stix(findings, tlp="red")
    assert red["objects"][0]["id"] == stix2.TLP_RED.id
    with pytest.raises(FindingsError, match="TLP"):
        export_stix(findings, tlp="purple")
    (tmp_path / "x.json").write_text("[1, 2]")
    with pytest.raises(FindingsError, match=r"x\.json"):
        read_bundle(tmp_path / "x.json")
    with pytest.raises(FindingsError, match="not a findings folder"):
        load_findings(tmp_path)


def test_autonomous_systems_where_their_number_is_known(trimmed_findings: Path,
                                                        tmp_path: Path) -> None:  # fmt: skip
    findings = load_findings(trimmed_findings)
    findings.columns["centers"].append("asn_number")
    for n, row in enumerate(findings.centers):
        row["asn_number"] = str(64_500 + n % 3)  # private-use AS numbers
    bundle = export_stix(findings)
    systems = [o for o in bundle["objects"] if o["type"] == "autonomous-system"]
    assert sorted(o["number"] for o in systems) == [64_500, 64_501, 64_502]
    belongs = [o for o in bundle["objects"] if o.get("relationship_type") == "belongs-to"]
    ips = [r for r in findings.entities if r["kind"] == "source_ip" and r["center_id"]]
    assert len(belongs) == len(ips) > 0
    path = tmp_path / "as.json"
    path.write_text(json.dumps(bundle))
    results = validate_file(str(path), ValidationOptions(version="2.1"))
    assert results.is_valid
    assert row_set(import_stix(bundle).centers) == row_set(findings.centers)
