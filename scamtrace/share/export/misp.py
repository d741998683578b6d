"""Findings as MISP events and a MISP feed folder, made offline with ``pymisp``.

One event per network (and one for indicators tied to no network):
- presented caller numbers: ``phone-number`` attributes (``to_ids`` off: a spoofed caller ID
  may belong to an uninvolved subscriber, so it is a lead, not a blocking rule);
- source IPs: ``ip-src`` attributes;
- SIP accounts: ``phone`` objects (a VoIP line), with first and last seen;
- mule accounts: ``bank-account`` objects (``iban`` or ``account``, the bank where the case
  folder tells it);
- victims (``phone-number``, category ``Person``) and account holders only on ``reveal``.

What ``share misp-import`` reads back: every attribute made from a finding carries machine tags
``scamtrace:kind="..."``, ``scamtrace:center-id="..."`` and ``scamtrace:score="0.87"`` (the
score to :data:`SCORE_DECIMALS` decimals, so that a MISP instance holds at most a hundred score
tags); each event of a network is tagged ``scamtrace:network-id="..."`` and holds a
``scamtrace-network`` object (the networks row) and one ``scamtrace-call-center`` object per
call center (the centers row), custom object templates defined below, their attributes the
rows' columns as exact strings.

The feed folder is what MISP's feed generator writes: one ``<event uuid>.json`` per event,
``manifest.json`` and ``hashes.csv`` (``md5,event uuid`` per attribute value). MISP feed hashes
are unkeyed MD5, which anyone can reverse for a phone number by trying the numbering plan, so a
victim's number is never written to a feed, in the clear or hashed, unless ``reveal`` is given;
the feed is checked for that before it is written.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from scamtrace.core.accounts import is_iban
from scamtrace.core.errors import FindingsError
from scamtrace.core.findings import EvidenceSpan, evidence_spans
from scamtrace.share.export.base import (
    VICTIM_KINDS,
    Findings,
    Row,
    case_accounts,
    check_case_dir,
    check_tlp,
    load_findings,
    victim_leaks,
    victim_number_forms,
)

#: Namespace of the organisation UUID derived from its name (same name, same UUID).
ORG_NAMESPACE = uuid.UUID("5b0c5d3f-8f43-4a52-9a53-2f8f5c6b7d10")
TLP_TAGS = {"white": "tlp:white", "clear": "tlp:clear", "green": "tlp:green",
            "amber": "tlp:amber", "red": "tlp:red"}  # fmt: skip
#: Decimals of the score in an entity's ``scamtrace:score`` tag.
SCORE_DECIMALS = 2
TAG_NAMESPACE = "scamtrace"
#: The custom object templates of the findings' centers and networks rows (table -> name, uuid).
ROW_OBJECTS = {
    "centers": ("scamtrace-call-center", "3f6c1a52-0d7e-4d8e-9f0a-6b1c2d3e4f51"),
    "networks": ("scamtrace-network", "3f6c1a52-0d7e-4d8e-9f0a-6b1c2d3e4f52"),
}


SIP_PREFIX = "SIP account "


@dataclass(frozen=True)
class MispExport:
    folder: Path
    events: int
    attributes: int
    objects: int
    victims: int


def build_events(
    findings: Findings, *, reveal: bool = False, tlp: str = "amber", org: str = "scamtrace user",
    case_dir: Path | None = None,
) -> list[Any]:
    """The MISP events (``pymisp.MISPEvent``) of ``findings``."""
    from pymisp import MISPEvent, MISPOrganisation

    tag = TLP_TAGS[check_tlp(tlp)]
    orgc = MISPOrganisation()
    orgc.from_dict(name=org, uuid=str(uuid.uuid5(ORG_NAMESPACE, org)))
    spans = evidence_spans(findings.folder)
    rows = findings.shareable_entities(reveal)
    mules = {r["value"] for r in rows if r["kind"] == "mule_account"}
    kyc = case_accounts(case_dir, mules)
    networks = {r["network_id"]: r for r in findings.networks}
    centers = {r["center_id"]: r for r in findings.centers}
    by_network: dict[str, list[Row]] = {}
    for row in rows:
        by_network.setdefault(row.get("network_id", ""), []).append(row)
    event_date = _event_date(findings)
    centers_of: dict[str, list[Row]] = {}
    for row in findings.centers:
        centers_of.setdefault(row.get("network_id", ""), []).append(row)
    events = []
    for net in sorted(set(by_network) | set(networks) | set(centers_of),
                      key=lambda n: (n == "", len(n), n)):  # fmt: skip
        event = MISPEvent()
        event.info = _event_info(net, networks.get(net), findings.victim_country)
        event.Orgc = orgc
        event.date = event_date
        event.threat_level_id = 2
        event.analysis = 1
        event.add_tag(tag)
        if net:
            event.add_tag(machine_tag("network-id", net))
        if net in networks:
            _add_row_object(event, "networks", networks[net], findings)
        for center in centers_of.get(net, []):
            _add_row_object(event, "centers", center, findings)
        for row in by_network.get(net, []):
            made = _add_entity(event, row, spans.get((row["kind"], row["value"])), centers, kyc,
                               reveal)  # fmt: skip
            if made is not None:
                for name, value in _entity_tags(row):
                    made.add_tag(machine_tag(name, value))
        events.append(event)
    return events


def machine_tag(predicate: str, value: str) -> str:
    """A MISP machine tag ``scamtrace:predicate="value"``."""
    return f'{TAG_NAMESPACE}:{predicate}="{value.replace(chr(34), chr(39))}"'


def _entity_tags(row: Row) -> list[tuple[str, str]]:
    tags = [("kind", row["kind"])]
    if row.get("center_id"):
        tags.append(("center-id", row["center_id"]))
    with contextlib.suppress(ValueError):  # a row without a score shares none
        tags.append(("score", f"{float(row.get('score', '')):.{SCORE_DECIMALS}f}"))
    return tags


def row_template(table: str, columns: list[str]) -> dict[str, Any]:
    """The MISP object template (as in the misp-objects repository) of a findings row."""
    name, template_uuid = ROW_OBJECTS[table]
    attributes = {c: {"misp-attribute": "text", "ui-priority": 1, "disable_correlation": True,
                      "description": f"the {c} column of the findings' {table}.csv"}
                  for c in [*columns, "columns"]}  # fmt: skip
    key = "center_id" if table == "centers" else "network_id"
    return {"name": name, "uuid": template_uuid, "version": 1, "meta-category": "misc",
            "description": f"One row of a scamtrace findings {table}.csv, as exact strings; "
                           "'columns' is the CSV header.",
            "attributes": attributes, "required": [key]}  # fmt: skip


def _add_row_object(event: Any, table: str, row: Row, findings: Findings) -> None:
    from pymisp import MISPObject

    columns = findings.columns.get(table) or list(row)
    row_object = MISPObject(ROW_OBJECTS[table][0], strict=True,
                            misp_objects_template_custom=row_template(table, columns))
    for column in columns:
        if row.get(column, "") != "":
            row_object.add_attribute(column, row[column], disable_correlation=True)
    row_object.add_attribute("columns", ",".join(columns), disable_correlation=True)
    event.add_object(row_object)


def write_feed(
    findings_dir: Path, out: Path, *, reveal: bool = False, tlp: str = "amber",
    org: str = "scamtrace user", case_dir: Path | None = None,
) -> MispExport:
    """Write the MISP feed folder ``out`` for the findings folder ``findings_dir``."""
    check_case_dir(case_dir)
    findings = load_findings(findings_dir)
    events = build_events(findings, reveal=reveal, tlp=tlp, org=org, case_dir=case_dir)
    victims = findings.victim_values()
    manifest: dict[str, Any] = {}
    hashes: list[str] = []
    files: dict[str, str] = {}
    attributes = objects = 0
    for event in events:
        feed = event.to_feed(with_meta=True)["Event"]
        event_hashes = feed.pop("_hashes")
        manifest.update(feed.pop("_manifest"))
        hashes += [f"{h},{event.uuid}" for h in event_hashes]
        files[f"{event.uuid}.json"] = json.dumps({"Event": feed}, ensure_ascii=False)
        attributes += len(feed.get("Attribute", []))
        objects += len(feed.get("Object", []))
    if not reveal:
        _refuse_victims(files, hashes, victims)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text + "\n", encoding="utf-8")
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False) + "\n",
                                       encoding="utf-8")  # fmt: skip
    (out / "hashes.csv").write_text("".join(f"{h}\n" for h in hashes), encoding="utf-8")
    shown = sum(r["kind"] in VICTIM_KINDS for r in findings.shareable_entities(reveal))
    return MispExport(out, len(events), attributes, objects, shown)


def _add_entity(event: Any, row: Row, span: EvidenceSpan | None, centers: dict[str, Row],
                kyc: dict[str, Row], reveal: bool) -> Any:  # fmt: skip
    """Add the attribute or object of one finding; return the attribute that holds its value
    (None for a victim left out)."""
    kind, value, reason = row["kind"], row["value"], row.get("reason", "")
    center = row.get("center_id", "")
    where = f"call center {center}: " if center else ""
    seen = {"first_seen": span.first, "last_seen": span.last} if span and span.first else {}
    if kind == "caller_number":
        return event.add_attribute("phone-number", value, category="Financial fraud", to_ids=False,
                            comment=f"presented caller ID (may be spoofed) {where}{reason}",
                            **seen)  # fmt: skip
    elif kind == "source_ip":
        asn = centers.get(center, {}).get("asn", "")
        return event.add_attribute("ip-src", value, category="Network activity", to_ids=True,
                            comment=f"source of scam calls, {where}{asn}; {reason}",
                            **seen)  # fmt: skip
    elif kind == "sip_account":
        line = event.add_object(name="phone", comment=f"VoIP (SIP) line, {where}{reason}")
        held = line.add_attribute("text", f"{SIP_PREFIX}{value}")
        if span and span.first:
            line.add_attribute("first-seen", span.first)
            line.add_attribute("last-seen", span.last)
        return held
    elif kind == "mule_account":
        account = event.add_object(name="bank-account", comment=f"mule account: {reason}")
        held = account.add_attribute("iban" if is_iban(value) else "account", value, to_ids=True)
        record = kyc.get(value, {})
        if record.get("bank"):
            account.add_attribute("institution-name", record["bank"])
        if record.get("opened_on"):
            account.add_attribute("opened", record["opened_on"])
        if reveal and record.get("holder_id"):
            account.add_attribute("client-number", record["holder_id"])
        account.add_attribute("text", reason)
        return held
    if reveal:
        label = "paid the network" if kind == "victim_paid" else "answered scam calls"
        return event.add_attribute("phone-number", value, category="Person", to_ids=False,
                            disable_correlation=False, comment=f"victim who {label}: {reason}")
    return None


def _refuse_victims(files: dict[str, str], hashes: list[str], victims: set[str]) -> None:
    """Fail closed: a victim's number in a feed written without ``reveal`` is a bug."""
    import hashlib

    for name, text in files.items():
        leaked = victim_leaks(text, victims)
        if leaked:
            raise FindingsError(f"refusing to write {name}: it would name {len(leaked)} victim "
                                "number(s); use --reveal only where that is lawful")  # fmt: skip
    digests = {hashlib.md5(f.encode()).hexdigest() for f in victim_number_forms(victims)}
    if any(line.split(",", 1)[0] in digests for line in hashes):
        raise FindingsError("refusing to write hashes.csv: it would hold MD5s of victim numbers")


def _event_info(net: str, row: Row | None, country: str) -> str:
    if not net:
        return "scamtrace: telephone-fraud indicators tied to no one network"
    if row is None:
        return f"scamtrace: telephone-fraud network {net}"
    return (f"scamtrace: telephone-fraud network {net}: {row.get('centers')} call center(s) "
            f"calling {country or 'victims'}, {row.get('victims')} victims, "
            f"{row.get('victims_paid')} paid, loss {row.get('loss')} {row.get('currency')}")


def _event_date(findings: Findings) -> date:
    firsts = [r["first_seen"][:10] for r in findings.centers if r.get("first_seen")]
    created = str(findings.summary.get("created_at") or "")[:10]
    text = min(firsts) if firsts else created
    try:
        return date.fromisoformat(text)
    except ValueError:
        return date.today()


def import_feed(folder: Path) -> Findings:
    """The findings rows a feed folder written by :func:`write_feed` carries: entities from
    the tagged attributes, centers and networks from the row objects. Any problem is an error
    naming the file."""
    if not folder.is_dir():
        raise FindingsError(f"{folder}: not a MISP feed folder")
    paths = sorted(p for p in folder.glob("*.json") if p.name != "manifest.json")
    if not paths:
        raise FindingsError(f"{folder}: not a MISP feed folder (no event files)")
    tables: dict[str, list[Row]] = {"entities": [], "centers": [], "networks": []}
    columns: dict[str, list[str]] = {}
    for path in paths:
        try:
            _read_event(path, tables, columns)
        except FindingsError:
            raise
        except Exception as exc:  # pymisp raises many kinds on a feed it cannot read
            raise FindingsError(f"{path}: not an event written by scamtrace share misp "
                                f"({type(exc).__name__}: {str(exc)[:120]})") from exc  # fmt: skip
    return Findings.imported(tables, columns)


def _read_event(path: Path, tables: dict[str, list[Row]], columns: dict[str, list[str]]) -> None:
    from pymisp import MISPEvent

    from scamtrace.share.safeio import read_json

    raw = read_json(path, "MISP event", FindingsError)
    if not isinstance(raw, dict) or not isinstance(raw.get("Event"), dict):
        raise FindingsError(f"{path}: not a MISP event (no 'Event')")
    event = MISPEvent()
    event.from_dict(**raw)
    network = _tags(event.tags).get("network-id", "")
    by_name = {name: table for table, (name, _) in ROW_OBJECTS.items()}
    for misp_object in event.objects:
        table = by_name.get(misp_object.name)
        if table is None:
            continue
        row = {a.object_relation: str(a.value) for a in misp_object.attributes}
        header = [c for c in row.pop("columns", "").split(",") if c]
        columns[table] = header or columns.get(table) or list(row)
        tables[table].append(row)
    held = list(event.attributes) + [a for o in event.objects for a in o.attributes]
    for attribute in held:
        tags = _tags(attribute.tags)
        if "kind" not in tags:
            continue
        value = str(attribute.value)
        if tags["kind"] == "sip_account":
            value = value.removeprefix(SIP_PREFIX)
        tables["entities"].append({
            "kind": tags["kind"], "value": value, "score": tags.get("score", ""),
            "network_id": network, "center_id": tags.get("center-id", ""), "reason": "",
        })  # fmt: skip


def _tags(tags: list[Any]) -> dict[str, str]:
    """``{predicate: value}`` of the ``scamtrace:`` machine tags among ``tags``."""
    found: dict[str, str] = {}
    prefix = f"{TAG_NAMESPACE}:"
    for tag in tags:
        name = str(getattr(tag, "name", ""))
        predicate, sep, quoted = name.removeprefix(prefix).partition("=")
        if name.startswith(prefix) and sep and len(quoted) >= 2 and quoted[0] == quoted[-1] == '"':
            found[predicate] = quoted[1:-1]
    return found
