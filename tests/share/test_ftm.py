"""FollowTheMoney: every line loads and validates in followthemoney with cleaning on (a value
that followthemoney would drop or change fails), references resolve, and victims and holders
appear only on --reveal."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from followthemoney import model
from typer.testing import CliRunner

from scamtrace.cli import app
from scamtrace.share.export.base import load_findings, victim_leaks
from scamtrace.share.export.ftm import validation_problems, write_ftm


def _load(text: str) -> list[Any]:
    proxies = []
    for line in text.splitlines():
        entity = json.loads(line)
        problems = validation_problems(entity)
        assert not problems, (entity["id"], problems[:5])
        proxy = model.get_proxy(entity, cleaned=False)
        assert proxy.to_dict()["properties"] == entity["properties"]  # nothing dropped
        proxies.append(proxy)
    return proxies


def test_the_validator_catches_an_invalid_phone_or_date() -> None:
    good = {"id": "call-1", "schema": "Call", "properties": {
        "date": ["2026-11-02T10:00:00"], "callerNumber": ["+8613800138000"]}}  # fmt: skip
    assert validation_problems(good) == []
    _load(json.dumps(good))
    for prop, bad in (("callerNumber", "+1234"), ("date", "2026-13-45")):
        entity = {**good, "properties": {**good["properties"], prop: [bad]}}
        problems = validation_problems(entity)
        assert len(problems) == 1 and repr(bad) in problems[0], problems
        with pytest.raises(AssertionError):
            _load(json.dumps(entity))
    assert validation_problems({"id": "p", "schema": "Person", "properties": {}}) == [
        "Person: required property 'name' missing"]  # fmt: skip
    assert validation_problems({"id": "x", "schema": "NoSuchSchema", "properties": {}})


def test_every_line_loads_validates_and_links(standards_findings: Path, small_case: Path) -> None:
    done = CliRunner().invoke(app, ["share", "ftm", str(standards_findings), str(small_case),
                                    "--out", "-"])  # fmt: skip
    assert done.exit_code == 0
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    proxies = _load("\n".join(lines))
    ids = {p.id for p in proxies}
    assert len(ids) == len(proxies)
    schemata = {p.schema.name for p in proxies}
    assert {"Organization", "Membership", "UserAccount", "Call", "BankAccount", "Payment",
            "Note"} <= schemata  # fmt: skip
    dangling = [(p.schema.name, prop.name) for p in proxies for prop, value in p.itervalues()
                if prop.type.name == "entity" and value not in ids]  # fmt: skip
    assert not dangling
    findings = load_findings(standards_findings)
    users = {p.first("username") for p in proxies if p.schema.name == "UserAccount"}
    assert users == {r["value"] for r in findings.entities if r["kind"] == "sip_account"}
    payments = [p for p in proxies if p.schema.name == "Payment"]
    assert {p.first("transactionNumber") for p in payments} == {r["tx_id"] for r in
                                                                findings.transfers}  # fmt: skip
    banks = {p.first("bankName") for p in proxies if p.schema.name == "BankAccount"}
    assert banks - {None}  # the case folder tells the banks
    victims = {r["value"] for r in findings.victims()}
    assert not victim_leaks("\n".join(lines), victims)
    assert not any(p.schema.name == "Person" for p in proxies)


def test_reveal_adds_victims_and_holders(trimmed_findings: Path, small_case: Path) -> None:
    out = io.StringIO()
    write_ftm(trimmed_findings, out, small_case, reveal=True)
    proxies = _load(out.getvalue())
    findings = load_findings(trimmed_findings)
    victims = {r["value"] for r in findings.victims()}
    phones = {v for p in proxies if p.schema.name == "Person" for v in p.get("phone")}
    assert victims <= phones
    owned = [p for p in proxies if p.schema.name == "Ownership"]
    assert owned and all(p.first("role") == "account holder" for p in owned)
    assert any(p.get("receiverNumber") for p in proxies if p.schema.name == "Call")
