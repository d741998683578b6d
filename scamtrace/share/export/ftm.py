"""Findings as FollowTheMoney entities (JSON lines), for Aleph and other investigators' tools.

- a network and each call center: ``Organization`` (a center is a ``Membership`` of its
  network), with an ``Address`` where the region is known;
- SIP accounts: ``UserAccount`` owned by their call center;
- source IPs: a ``Note`` on the call center naming the address (FtM has no IP entity);
- calls behind the findings (``evidence.csv``): ``Call`` from the center, with the presented
  number; the callee's number only on ``reveal``;
- mule accounts and the accounts money was layered into: ``BankAccount``; their holders from
  the case folder (``Person`` or ``LegalEntity`` with an ``Ownership``) only on ``reveal``;
- fraud transfers: ``Payment`` between the accounts. Without ``reveal`` the victim who paid is
  one ``LegalEntity`` per network standing for its undisclosed victims, and money moved between
  mule accounts is booked from and to the network, whose accounts they are.
- victims (``Person`` with their phone) only on ``reveal``;
- presented caller numbers: the ``phone`` of their call center, and a ``Note`` each (with the
  number as ``phoneMentioned``) so that every finding has an entity of its own.

What ``share ftm-import`` reads back: the entity that stands for a findings row (a network's or
center's ``Organization``, a finding's ``UserAccount``, ``Note``, ``BankAccount`` or ``Person``)
carries the row as one keyword, ``scamtrace-finding:`` followed by compact JSON of
``{"table", "row"}`` (and ``"columns"``, the CSV header, for centers and networks), the row's
cells as the exact strings of the findings CSV.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from scamtrace.core.accounts import is_iban
from scamtrace.core.errors import FindingsError
from scamtrace.core.findings import read_evidence
from scamtrace.share.export.base import (
    VICTIM_KINDS,
    Findings,
    Row,
    case_accounts,
    check_case_dir,
    load_findings,
)

ID_PREFIX = "scamtrace"
#: The prefix of the keyword that carries a findings row.
FINDING_KEYWORD = "scamtrace-finding:"
_CALL = re.compile(
    r"^(?:answered (?P<duration>\d+) s|not answered): (?P<caller>\S+) -> (?P<callee>\S+)"
    r"(?: via (?P<account>\S+) from (?P<ip>\S+))?$"
)


@dataclass(frozen=True)
class FtmExport:
    entities: int
    by_schema: dict[str, int]


class _Builder:
    """Makes proxies with ids derived from the case and the thing they stand for."""

    def __init__(self, scope: str) -> None:
        from followthemoney import model

        self.model = model
        self.scope = scope
        self.made: dict[str, Any] = {}

    def entity(self, schema: str, *key: str, **props: Any) -> Any:
        proxy = self.model.make_entity(schema)
        proxy.make_id(ID_PREFIX, self.scope, schema, *key)
        if proxy.id in self.made:
            proxy = self.made[proxy.id]
        else:
            self.made[proxy.id] = proxy
        for prop, value in props.items():
            if value not in (None, "", []):
                proxy.add(prop, value)
        return proxy


def ftm_entities(findings: Findings, case_dir: Path | None = None, *,
                 reveal: bool = False) -> Iterator[dict[str, Any]]:  # fmt: skip
    """The FtM entities (as dicts) of ``findings``; ``case_dir`` adds banks and, on ``reveal``,
    the holders of the accounts."""
    scope = str(findings.summary.get("case") or (findings.folder or "case"))
    b = _Builder(scope)
    orgs: dict[str, Any] = {}
    for row in findings.networks:
        net = row["network_id"]
        orgs[net] = b.entity(
            "Organization", "network", net, name=f"telephone-fraud network {net}",
            description=(f"{row.get('centers')} call center(s), {row.get('victims')} victims, "
                         f"{row.get('victims_paid')} paid, loss {row.get('loss')} "
                         f"{row.get('currency')}; found by scamtrace"),
            topics="crime.fraud",
        )  # fmt: skip
        orgs[net].add("keywords", finding_keyword("networks", row, findings.columns))
    centers: dict[str, Any] = {}
    for row in findings.centers:
        cid, net = row["center_id"], row.get("network_id", "")
        center = b.entity(
            "Organization", "center", cid, name=f"call center {cid}", country=row.get("country"),
            description=(f"call center of network {net or '?'}: {row.get('lines')} lines, "
                         f"{row.get('calls')} calls, {row.get('victims')} victims, seen "
                         f"{row.get('first_seen')} to {row.get('last_seen')}; network "
                         f"{row.get('asn') or 'unknown'}"),
            topics="crime.fraud",
        )  # fmt: skip
        center.add("keywords", finding_keyword("centers", row, findings.columns))
        centers[cid] = center
        if row.get("region"):
            place = b.entity("Address", "center", cid, full=f"{row['region']}, {row['country']}",
                             region=row["region"], country=row.get("country"))  # fmt: skip
            center.add("addressEntity", place.id)
        if net in orgs:
            b.entity("Membership", "center", cid, net, member=center.id,
                     organization=orgs[net].id, role="call center")  # fmt: skip
    accounts_by_value: dict[str, Any] = {}

    def owner_of(row: Row) -> Any:
        return centers.get(row.get("center_id", "")) or orgs.get(row.get("network_id", ""))

    for row in findings.shareable_entities(reveal):
        kind, value, reason = row["kind"], row["value"], row.get("reason", "")
        owner = owner_of(row)
        made = None
        if kind == "sip_account":
            made = b.entity("UserAccount", kind, value, username=value,
                            service="SIP (VoIP provider)", owner=owner.id if owner else None,
                            description=reason)  # fmt: skip
        elif kind == "source_ip":
            made = b.entity("Note", kind, value, name=f"source IP {value}", ipMentioned=value,
                            entity=owner.id if owner else None, description=reason)  # fmt: skip
        elif kind == "caller_number":
            if owner is not None:
                owner.add("phone", value)
            made = b.entity("Note", kind, value, name=f"presented caller number {value}",
                            phoneMentioned=value, entity=owner.id if owner else None,
                            description=reason)  # fmt: skip
        elif kind == "mule_account":
            made = accounts_by_value[value] = b.entity(
                "BankAccount", value, accountNumber=value, iban=value if is_iban(value) else None,
                accountType="mule account", description=reason)  # fmt: skip
        elif kind in VICTIM_KINDS:
            made = b.entity("Person", "victim", value, name=f"victim {value}", phone=value,
                            description=reason)  # fmt: skip
        if made is not None:
            made.add("keywords", finding_keyword("entities", row, findings.columns))
    _money(b, findings, orgs, accounts_by_value, case_dir, reveal)
    yield from (p.to_dict() for p in b.made.values())
    yield from _calls(b, findings, centers, orgs, reveal)


def finding_keyword(table: str, row: Row, columns: dict[str, list[str]]) -> str:
    """The keyword that carries one findings row (and, for centers and networks, the header)."""
    carried: dict[str, Any] = {"table": table, "row": row}
    if table != "entities":
        carried["columns"] = columns.get(table) or list(row)
    return FINDING_KEYWORD + json.dumps(carried, ensure_ascii=False, separators=(",", ":"))


def validation_problems(entity: dict[str, Any]) -> list[str]:
    """What is wrong with one FtM entity (a dict as written): an unknown schema or property,
    a required property missing, or a value that followthemoney's cleaning changes or drops
    (an invalid phone number or date, say). Empty when the entity is valid."""
    from followthemoney import model

    schema = model.get(str(entity.get("schema")))
    if schema is None:
        return [f"unknown schema {entity.get('schema')!r}"]
    problems: list[str] = []
    properties = entity.get("properties") or {}
    for name, values in properties.items():
        prop = schema.get(name)
        if prop is None:
            problems.append(f"{schema.name}: unknown property {name!r}")
            continue
        for value in values:
            cleaned = prop.type.clean(value, proxy=None)
            if cleaned is None or cleaned != value:
                problems.append(f"{schema.name}.{name}: {value!r} is not a valid "
                                f"{prop.type.name} (cleaned: {cleaned!r})")  # fmt: skip
    problems += [f"{schema.name}: required property {p!r} missing" for p in schema.required
                 if not properties.get(p)]  # fmt: skip
    return problems


def write_ftm(findings_dir: Path, out: IO[str], case_dir: Path | None = None, *,
              reveal: bool = False) -> FtmExport:  # fmt: skip
    """Write the FtM entities of a findings folder as JSON lines to ``out``."""
    check_case_dir(case_dir)
    by_schema: dict[str, int] = {}
    for entity in ftm_entities(load_findings(findings_dir), case_dir, reveal=reveal):
        out.write(json.dumps(entity, ensure_ascii=False, sort_keys=True) + "\n")
        by_schema[entity["schema"]] = by_schema.get(entity["schema"], 0) + 1
    return FtmExport(sum(by_schema.values()), by_schema)


def _calls(b: _Builder, findings: Findings, centers: dict[str, Any], orgs: dict[str, Any],
           reveal: bool) -> Iterator[dict[str, Any]]:  # fmt: skip
    """``Call`` entities for the call records in ``evidence.csv`` behind the lines found."""
    if findings.folder is None:
        return
    rows = read_evidence(findings.folder)
    if not rows:
        return
    entity_of = {(r["kind"], r["value"]): r for r in findings.entities}
    victims = set() if reveal else findings.victim_values()
    done: set[str] = set()
    for ev in rows:
        if ev["source"] not in ("carrier_cdr", "voip_cdr") or ev["kind"] not in (
                "caller_number", "sip_account"):  # fmt: skip
            continue
        match = _CALL.match(ev.get("detail", ""))
        if match is None:
            continue
        key = f"{match['caller']}|{match['callee']}|{ev['time'][:16]}"
        record = f"{ev['source']}:{ev['record_id']}"
        if key in done or record in done:
            continue
        done |= {key, record}
        found = entity_of.get((ev["kind"], ev["value"]), {})
        if match["account"]:
            found = entity_of.get(("sip_account", match["account"]), found)
        caller = centers.get(found.get("center_id", "")) or orgs.get(found.get("network_id", ""))
        call = b.model.make_entity("Call")
        call.make_id(ID_PREFIX, b.scope, "Call", ev["source"], ev["record_id"])
        if match["caller"] != "withheld" and match["caller"] not in victims:
            call.add("callerNumber", match["caller"])
        call.add("date", ev["time"])
        call.add("recordId", ev["record_id"])
        call.add("duration", match["duration"] or "0")
        if caller is not None:
            call.add("caller", caller.id)
        if reveal:
            call.add("receiverNumber", match["callee"])
        via = f" via SIP account {match['account']} from {match['ip']}" if match["account"] else ""
        call.add("description", f"{ev['source']} record {ev['record_id']}{via}")
        yield call.to_dict()


def _money(b: _Builder, findings: Findings, orgs: dict[str, Any], accounts: dict[str, Any],
           case_dir: Path | None, reveal: bool) -> None:  # fmt: skip
    """``Payment`` entities for the fraud transfers, between ``BankAccount`` entities."""
    victim_accounts = findings.victim_accounts()
    gang_accounts = {v for r in findings.transfers for v in (r.get("payer_account", ""),
                     r.get("payee_account", ""))} - victim_accounts - {""}  # fmt: skip
    known = case_accounts(case_dir, gang_accounts | (victim_accounts if reveal else set()))
    for value in sorted(gang_accounts | (victim_accounts if reveal else set())):
        record = known.get(value, {})
        account = b.entity("BankAccount", value, accountNumber=value,
                           iban=value if is_iban(value) else None, bankName=record.get("bank"),
                           country=record.get("country"), openingDate=record.get("opened_on"))
        accounts[value] = account
        if reveal and record.get("holder_id"):
            schema = "Person" if record.get("kind") == "personal" else "LegalEntity"
            holder = b.entity(schema, "holder", record["holder_id"],
                              name=f"account holder {record['holder_id']}",
                              phone=record.get("holder_phone"),
                              idNumber=record["holder_id"])  # fmt: skip
            b.entity("Ownership", "holder", value, owner=holder.id, asset=account.id,
                     role="account holder")  # fmt: skip
    stand_ins: dict[str, Any] = {}

    def party(account: str, net: str) -> Any:
        holder = known.get(account, {}).get("holder_id")
        if reveal and holder:
            schema = "Person" if known[account].get("kind") == "personal" else "LegalEntity"
            return b.entity(schema, "holder", holder)
        if account in victim_accounts or not account:
            if net not in stand_ins:
                stand_ins[net] = b.entity("LegalEntity", "victims", net,
                                          name=f"victims of network {net or '?'} (not disclosed)")
            return stand_ins[net]
        return orgs.get(net) or party("", net)

    for row in findings.transfers:
        net = row.get("network_id", "")
        payer, payee = row.get("payer_account", ""), row.get("payee_account", "")
        payment = b.entity(
            "Payment", row["tx_id"], transactionNumber=row["tx_id"], amount=row.get("amount"),
            currency=row.get("currency"), date=row.get("time"), purpose=row.get("kind"),
            description=row.get("reason"), payer=party(payer, net).id,
            beneficiary=party(payee, net).id,
        )  # fmt: skip
        if payer in accounts:
            payment.add("payerAccount", accounts[payer].id)
        if payee in accounts:
            payment.add("beneficiaryAccount", accounts[payee].id)


def import_ftm(lines: Iterable[str], where: str) -> Findings:
    """The findings rows that the FtM entities of ``lines`` (JSON lines written by
    :func:`write_ftm`) carry in their ``scamtrace-finding:`` keywords; ``where`` names the
    source in errors, with the line."""
    tables: dict[str, list[Row]] = {"entities": [], "centers": [], "networks": []}
    columns: dict[str, list[str]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entity = json.loads(line)
            keywords = (entity.get("properties") or {}).get("keywords") or []
            for keyword in keywords:
                if not keyword.startswith(FINDING_KEYWORD):
                    continue
                carried = json.loads(keyword.removeprefix(FINDING_KEYWORD))
                table, row = carried["table"], carried["row"]
                if table not in tables or not isinstance(row, dict):
                    raise ValueError(f"no findings table {table!r}")
                tables[table].append({str(k): str(v) for k, v in row.items()})
                if table != "entities":
                    columns[table] = [str(c) for c in carried.get("columns") or row]
        except (ValueError, TypeError, AttributeError, KeyError, RecursionError) as exc:
            raise FindingsError(f"{where}: line {number}: not an entity written by scamtrace "
                                f"share ftm ({type(exc).__name__}: {str(exc)[:120]})") from exc
    return Findings.imported(tables, columns)
