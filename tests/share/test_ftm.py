"""FollowTheMoney: every line loads and validates in followthemoney, references resolve, and
victims and holders appear only on --reveal."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from followthemoney import model
from typer.testing import CliRunner

from scamtrace.cli import app
from scamtrace.share.export.base import load_findings, victim_leaks
from scamtrace.share.export.ftm import write_ftm


def _load(text: str) -> list[Any]:
    proxies = []
    for line in text.splitlines():
        proxy = model.get_proxy(json.loads(line), cleaned=False)  # re-validates every value
        proxy.schema.validate(proxy.to_dict())
        missing = [p for p in proxy.schema.required if not proxy.get(p)]
        assert not missing, (proxy.schema.name, missing)
        proxies.append(proxy)
    return proxies


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
