"""Findings as a STIX 2.1 bundle, and back.

Mapping (see docs/adr/0006-sharing-standards.md):
- a network is a ``threat-actor`` (``crime-syndicate``) with its ``campaign`` (attributed-to the
  actor, targeting the victims' country as a ``location``);
- a call center is an ``infrastructure`` located-at a ``location``, used by the actor and the
  campaign, and consisting of its lines: SIP accounts (``user-account``), source IPs
  (``ipv4-addr``/``ipv6-addr``, belonging to an ``autonomous-system`` where its number is known:
  a centers.csv column ``asn_number``; the packaged IP database gives AS names, not numbers)
  and presented caller numbers;
- phone numbers and bank accounts are new SCO types declared by ``extension-definition`` objects
  (STIX has none for them): ``x-scamtrace-phone-number`` and ``x-scamtrace-bank-account``;
- every flagged indicator entity is an ``indicator`` (pattern on its observable) that indicates
  the actor, with a ``sighting`` counting the records behind it;
- the project's own columns (score, labels, counts) travel in one property extension,
  ``scamtrace-finding``, as the findings' exact strings, so that import gives the same rows;
- every object carries the chosen TLP marking.
Victims (personal data) are written only on ``reveal``, as ``identity`` objects the campaign
targets.

The few top-level objects are made with ``stix2`` classes; the per-entity objects (hundreds of
thousands in a full case) are written as plain dicts because ``stix2`` re-parses every indicator
pattern (about 0.2 ms an object); tests check the whole bundle with ``stix2`` and the validator.
"""

from __future__ import annotations

import ipaddress
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scamtrace.core.accounts import is_iban
from scamtrace.core.errors import FindingsError
from scamtrace.core.findings import EvidenceSpan, evidence_spans
from scamtrace.share.export.base import (
    VICTIM_KINDS,
    Findings,
    Row,
    check_tlp,
    load_findings,
)

StixObject = dict[str, Any]

PHONE_TYPE = "x-scamtrace-phone-number"
BANK_ACCOUNT_TYPE = "x-scamtrace-bank-account"
PHONE_EXTENSION = "extension-definition--799af7c6-d6a0-4658-8636-2fe4a9777587"
BANK_ACCOUNT_EXTENSION = "extension-definition--0e878c31-0400-4ee2-b147-c82e4e623fe0"
FINDING_EXTENSION = "extension-definition--83ae1099-e96e-47a6-b4f2-d3dfa976a56a"
PROJECT_IDENTITY = "identity--2e831f89-d782-4970-9177-45a23b1ce454"
EXTENSIONS_CREATED = "2026-11-28T00:00:00.000Z"
#: Namespace of deterministic SCO identifiers (STIX 2.1, section 2.9).
SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")

_KIND_LABEL = {
    "caller_number": "presented caller number (may be spoofed)",
    "sip_account": "SIP account that dialled scam calls",
    "source_ip": "source IP of scam calls",
    "mule_account": "mule account that received victims' money",
}


@dataclass(frozen=True)
class StixExport:
    path: Path
    objects: int
    indicators: int
    victims: int


def tlp_marking(level: str) -> StixObject:
    """The ``stix2`` TLP marking-definition for ``level`` (TLP 1.0, the one ``stix2`` ships;
    ``clear`` is TLP 2.0's name for ``white``)."""
    import stix2

    by_level = {"white": stix2.TLP_WHITE, "clear": stix2.TLP_WHITE, "green": stix2.TLP_GREEN,
                "amber": stix2.TLP_AMBER, "red": stix2.TLP_RED}  # fmt: skip
    return _plain(by_level[check_tlp(level)])


def sco_id(sco_type: str, contributing: dict[str, Any]) -> str:
    """A deterministic SCO id: UUIDv5 of the canonical JSON of its id-contributing properties."""
    canonical = json.dumps(contributing, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{sco_type}--{uuid.uuid5(SCO_NAMESPACE, canonical)}"


def new_id(sdo_type: str) -> str:
    return f"{sdo_type}--{uuid.uuid4()}"


def extension_definitions() -> list[StixObject]:
    """The project identity and the three extension definitions every bundle carries."""
    import stix2

    project = stix2.Identity(
        id=PROJECT_IDENTITY, created=EXTENSIONS_CREATED, modified=EXTENSIONS_CREATED,
        name="scamtrace", identity_class="system",
        description="Open-source tools to find and trace telephone-fraud call-center networks.",
    )  # fmt: skip
    phone = stix2.ExtensionDefinition(
        id=PHONE_EXTENSION, created_by_ref=PROJECT_IDENTITY, created=EXTENSIONS_CREATED,
        modified=EXTENSIONS_CREATED, name=PHONE_TYPE, version="1.0.0",
        extension_types=["new-sco"],
        description="A telephone number in E.164 form, as presented or dialled.",
        schema=("SCO x-scamtrace-phone-number: required 'value' (string, E.164, e.g. "
                "+8613800138000); id: UUIDv5 of {\"value\": value}."),
    )  # fmt: skip
    bank = stix2.ExtensionDefinition(
        id=BANK_ACCOUNT_EXTENSION, created_by_ref=PROJECT_IDENTITY, created=EXTENSIONS_CREATED,
        modified=EXTENSIONS_CREATED, name=BANK_ACCOUNT_TYPE, version="1.0.0",
        extension_types=["new-sco"],
        description="A bank account or card number.",
        schema=("SCO x-scamtrace-bank-account: required 'account_number' (string, as the bank "
                "keeps it); optional 'iban' (string, when the number is a valid IBAN); id: "
                "UUIDv5 of {\"account_number\": account_number}."),
    )  # fmt: skip
    finding = stix2.ExtensionDefinition(
        id=FINDING_EXTENSION, created_by_ref=PROJECT_IDENTITY, created=EXTENSIONS_CREATED,
        modified=EXTENSIONS_CREATED, name="scamtrace-finding", version="1.0.0",
        extension_types=["property-extension"],
        description="The scamtrace findings row an object was made from.",
        schema=("Property extension on indicator, identity, infrastructure and threat-actor: "
                "'table' (entities, centers or networks), the row's columns as strings exactly "
                "as in the findings CSV (kind, score, network_id, center_id, ...; empty ones "
                "left out), 'columns' (the CSV header, on centers and networks) and "
                "'observable_ref' (the SCO an indicator is about)."),
    )  # fmt: skip
    return [_plain(project), _plain(phone), _plain(bank), _plain(finding)]


def export_stix(findings: Findings, *, tlp: str = "amber", reveal: bool = False,
                agency: str = "scamtrace user") -> StixObject:  # fmt: skip
    """The STIX 2.1 bundle of ``findings`` (victims only when ``reveal``)."""
    objects: list[StixObject] = []
    stix_objects(findings, objects.append, tlp=tlp, reveal=reveal, agency=agency)
    return {"type": "bundle", "id": new_id("bundle"), "objects": objects}


class _Sink:
    """Hands each object on as it is made (a list's append, or a writer)."""

    def __init__(self, emit: Callable[[StixObject], None]) -> None:
        self.append = emit

    def __iadd__(self, more: list[StixObject]) -> _Sink:
        for obj in more:
            self.append(obj)
        return self


def stix_objects(
    findings: Findings, emit: Callable[[StixObject], None], *, tlp: str = "amber",
    reveal: bool = False, agency: str = "scamtrace user",
) -> dict[str, int]:
    """Make the objects of the bundle of ``findings`` and hand each to ``emit``; return the
    number of indicators and victims."""
    import stix2

    marking = tlp_marking(tlp)
    marks = [marking["id"]]
    now = _now()
    me = _plain(stix2.Identity(name=agency, identity_class="organization",
                               object_marking_refs=marks))  # fmt: skip
    objects = _Sink(emit)
    objects += [marking, *extension_definitions(), me]
    spans = evidence_spans(findings.folder)
    first_seen = min((r["first_seen"] for r in findings.centers if r.get("first_seen")),
                     default=str(findings.summary.get("created_at") or now))  # fmt: skip

    def relate(source: str, rel: str, target: str) -> None:
        objects.append({"type": "relationship", "spec_version": "2.1", "id": new_id("relationship"),
                        "created": now, "modified": now, "relationship_type": rel,
                        "source_ref": source, "target_ref": target,
                        "object_marking_refs": marks})  # fmt: skip

    victim_land: str | None = None
    if findings.victim_country:
        land = stix2.Location(name=f"victims' country {findings.victim_country}",
                              country=findings.victim_country, object_marking_refs=marks)
        objects.append(_plain(land))
        victim_land = str(land.id)
    actors: dict[str, str] = {}
    campaigns: dict[str, str] = {}
    for row in findings.networks:
        net = row["network_id"]
        actor = stix2.ThreatActor(
            name=f"telephone-fraud network {net}", threat_actor_types=["crime-syndicate"],
            roles=["agent"], primary_motivation="personal-gain", goals=["defraud victims by phone"],
            description=_network_text(row), object_marking_refs=marks,
            extensions={FINDING_EXTENSION: _finding_ext("networks", row, findings, "networks")},
        )  # fmt: skip
        campaign = stix2.Campaign(name=f"scam calls of network {net}", object_marking_refs=marks,
                                  objective="make victims pay into mule accounts by impersonating "
                                            "neighbours, police and officials")  # fmt: skip
        objects += [_plain(actor), _plain(campaign)]
        actors[net], campaigns[net] = str(actor.id), str(campaign.id)
        relate(campaigns[net], "attributed-to", actors[net])
        if victim_land:
            relate(campaigns[net], "targets", victim_land)
    centers: dict[str, str] = {}
    systems: dict[str, str] = {}
    seen_scos: set[str] = set()
    for row in findings.centers:
        infra = stix2.Infrastructure(
            name=f"call center {row['center_id']}", infrastructure_types=["phishing"],
            description=_center_text(row), object_marking_refs=marks,
            **{k: row[k] for k in ("first_seen", "last_seen") if row.get(k)},
            extensions={FINDING_EXTENSION: _finding_ext("centers", row, findings, "centers")},
        )  # fmt: skip
        objects.append(_plain(infra))
        centers[row["center_id"]] = str(infra.id)
        if row.get("country"):
            place = stix2.Location(name=f"call center {row['center_id']}", country=row["country"],
                                   object_marking_refs=marks,
                                   **({"region": row["region"]} if row.get("region") else {}))
            objects.append(_plain(place))
            relate(str(infra.id), "located-at", str(place.id))
        if row.get("asn_number", "").isdigit():
            system: StixObject = {"type": "autonomous-system", "spec_version": "2.1",
                      "number": int(row["asn_number"]), "object_marking_refs": marks,
                      **({"name": row["asn"]} if row.get("asn") else {})}  # fmt: skip
            system["id"] = sco_id("autonomous-system", {"number": system["number"]})
            if system["id"] not in seen_scos:
                seen_scos.add(system["id"])
                objects.append(system)
            systems[row["center_id"]] = system["id"]
        if row.get("network_id") in actors:
            relate(actors[row["network_id"]], "uses", str(infra.id))
            relate(campaigns[row["network_id"]], "uses", str(infra.id))
    indicators = victims = 0
    for row in findings.shareable_entities(reveal):
        net, center = row.get("network_id", ""), row.get("center_id", "")
        if row["kind"] in VICTIM_KINDS:
            person: StixObject = {
                      "type": "identity", "spec_version": "2.1", "id": new_id("identity"),
                      "created": now, "modified": now, "name": f"victim {row['value']}",
                      "identity_class": "individual", "contact_information": row["value"],
                      "description": row.get("reason", ""), "object_marking_refs": marks,
                      "extensions": {FINDING_EXTENSION: _finding_ext("entities", row)}}  # fmt: skip
            objects.append(person)
            victims += 1
            if net in campaigns:
                relate(campaigns[net], "targets", person["id"])
            continue
        sco, pattern = observable(row["kind"], row["value"], marks)
        if sco["id"] not in seen_scos:
            seen_scos.add(sco["id"])
            objects.append(sco)
        span = spans.get((row["kind"], row["value"]))
        ext = _finding_ext("entities", row)
        ext["observable_ref"] = sco["id"]
        indicator: StixObject = {
            "type": "indicator", "spec_version": "2.1", "id": new_id("indicator"),
            "created": now, "modified": now,
            "name": f"{_KIND_LABEL.get(row['kind'], row['kind'])}: {row['value']}",
            "description": row.get("reason", ""), "indicator_types": ["malicious-activity"],
            "pattern": pattern, "pattern_type": "stix", "pattern_version": "2.1",
            "valid_from": span.first if span and span.first else first_seen,
            "confidence": _confidence(row.get("score", "")), "object_marking_refs": marks,
            "extensions": {FINDING_EXTENSION: ext},
        }  # fmt: skip
        objects.append(indicator)
        indicators += 1
        if net in actors:
            relate(indicator["id"], "indicates", actors[net])
        if center in centers:
            relate(centers[center], "consists-of", sco["id"])
        if center in systems and row["kind"] == "source_ip":
            relate(sco["id"], "belongs-to", systems[center])
        if span:
            objects.append(_sighting(indicator["id"], span, me["id"], marks, now))
    return {"indicators": indicators, "victims": victims}


def write_stix(findings_dir: Path, out: Path, *, tlp: str = "amber", reveal: bool = False,
               agency: str = "scamtrace user") -> StixExport:  # fmt: skip
    """Export the findings folder ``findings_dir`` as a STIX bundle file ``out``, written object
    by object so that a large case never holds the whole bundle in memory."""
    findings = load_findings(findings_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with out.open("w", encoding="utf-8") as fh:
        fh.write(f'{{"type": "bundle", "id": "{new_id("bundle")}", "objects": [')

        def emit(obj: StixObject) -> None:
            nonlocal written
            fh.write(("\n" if written == 0 else ",\n") + json.dumps(obj, ensure_ascii=False))
            written += 1

        counts = stix_objects(findings, emit, tlp=tlp, reveal=reveal, agency=agency)
        fh.write("\n]}\n")
    return StixExport(out, written, counts["indicators"], counts["victims"])


def observable(kind: str, value: str, marks: list[str]) -> tuple[StixObject, str]:
    """The SCO of one indicator entity and the STIX pattern that matches it."""
    quoted = value.replace("\\", "\\\\").replace("'", "\\'")
    if kind == "source_ip":
        try:
            version = ipaddress.ip_address(value).version
        except ValueError as exc:
            raise FindingsError(f"source_ip {value!r} is not an IP address") from exc
        sco_type = "ipv6-addr" if version == 6 else "ipv4-addr"
        props: dict[str, Any] = {"value": value}
        pattern = f"[{sco_type}:value = '{quoted}']"
        extensions: dict[str, Any] = {}
    elif kind == "sip_account":
        sco_type = "user-account"
        props = {"user_id": value, "account_type": "sip"}
        pattern = f"[user-account:user_id = '{quoted}' AND user-account:account_type = 'sip']"
        extensions = {}
    elif kind == "mule_account":
        sco_type = BANK_ACCOUNT_TYPE
        props = {"account_number": value}
        pattern = f"[{BANK_ACCOUNT_TYPE}:account_number = '{quoted}']"
        extensions = {BANK_ACCOUNT_EXTENSION: {"extension_type": "new-sco"}}
    else:
        sco_type = PHONE_TYPE
        props = {"value": value}
        pattern = f"[{PHONE_TYPE}:value = '{quoted}']"
        extensions = {PHONE_EXTENSION: {"extension_type": "new-sco"}}
    sco: StixObject = {"type": sco_type, "spec_version": "2.1", "id": sco_id(sco_type, props),
                       **props, "object_marking_refs": marks}  # fmt: skip
    if kind == "mule_account" and is_iban(value):
        sco["iban"] = value
    if extensions:
        sco["extensions"] = extensions
    return sco, pattern


def import_stix(bundle: StixObject) -> Findings:
    """The findings rows a bundle written by :func:`export_stix` carries."""
    if bundle.get("type") != "bundle" or not isinstance(bundle.get("objects"), list):
        raise FindingsError("not a STIX bundle (no 'type': 'bundle' with 'objects')")
    by_id = {o.get("id"): o for o in bundle["objects"] if isinstance(o, dict)}
    tables: dict[str, list[Row]] = {"entities": [], "centers": [], "networks": []}
    columns: dict[str, list[str]] = {}
    for obj in bundle["objects"]:
        ext = (obj.get("extensions") or {}).get(FINDING_EXTENSION)
        if not isinstance(ext, dict) or ext.get("table") not in tables:
            continue
        table = ext["table"]
        row = {k: str(v) for k, v in ext.items()
               if k not in ("extension_type", "table", "columns", "observable_ref")}  # fmt: skip
        if table == "entities":
            row["value"] = _entity_value(obj, ext, by_id)
            row["reason"] = obj.get("description", "")
        else:
            columns[table] = list(ext.get("columns") or columns.get(table) or [])
        tables[table].append(row)
    return Findings.imported(tables, columns)


def read_bundle(path: Path) -> StixObject:
    from scamtrace.share.safeio import read_json

    bundle = read_json(path, "STIX bundle", FindingsError)
    if not isinstance(bundle, dict):
        raise FindingsError(f"{path}: not a STIX bundle")
    return bundle


def import_stix_file(path: Path) -> Findings:
    """The findings rows of the bundle file ``path``; any problem is an error naming it."""
    bundle = read_bundle(path)
    try:
        return import_stix(bundle)
    except FindingsError as exc:
        raise FindingsError(f"{path}: {exc}") from exc
    except (TypeError, AttributeError, KeyError, ValueError) as exc:
        # A bundle some other tool wrote, with a field of a type this one never writes.
        raise FindingsError(f"{path}: not a bundle written by scamtrace share stix "
                            f"({type(exc).__name__}: {str(exc)[:120]})") from exc


def _entity_value(obj: StixObject, ext: dict[str, Any], by_id: dict[Any, StixObject]) -> str:
    if obj.get("type") == "identity":
        return str(obj.get("contact_information", ""))
    sco = by_id.get(ext.get("observable_ref"))
    if sco is None:
        raise FindingsError(f"{obj.get('id')}: observable_ref {ext.get('observable_ref')} is not "
                            "in the bundle")  # fmt: skip
    for prop in ("value", "user_id", "account_number"):
        if prop in sco:
            return str(sco[prop])
    raise FindingsError(f"{sco.get('id')}: no value")


def _finding_ext(table: str, row: Row, findings: Findings | None = None,
                 columns_of: str | None = None) -> dict[str, Any]:  # fmt: skip
    skip = ("value", "reason") if table == "entities" else ()
    ext: dict[str, Any] = {"extension_type": "property-extension", "table": table}
    ext.update({k: v for k, v in row.items() if v != "" and k not in skip})
    if findings is not None and columns_of:
        ext["columns"] = findings.columns.get(columns_of) or list(row)
    return ext


def _sighting(indicator: str, span: EvidenceSpan, where: str, marks: list[str],
              now: str) -> StixObject:  # fmt: skip
    sighting: StixObject = {
        "type": "sighting", "spec_version": "2.1", "id": new_id("sighting"), "created": now,
        "modified": now, "sighting_of_ref": indicator, "count": min(span.records, 999_999_999),
        "where_sighted_refs": [where], "object_marking_refs": marks,
        "description": "records of the case behind this finding (first ones kept as evidence)",
    }  # fmt: skip
    if span.first:
        sighting["first_seen"] = span.first
    if span.last and span.last != span.first:
        sighting["last_seen"] = span.last
    return sighting


def _confidence(score: str) -> int:
    try:
        return max(0, min(100, round(float(score) * 100)))
    except ValueError:
        return 0


def _network_text(row: Row) -> str:
    return (f"Network {row.get('network_id')}: {row.get('centers', '?')} call center(s), "
            f"{row.get('lines', '?')} lines, {row.get('victims', '?')} victims who answered, "
            f"{row.get('victims_paid', '?')} who paid, loss {row.get('loss', '?')} "
            f"{row.get('currency', '')} into {row.get('mule_accounts', '?')} mule accounts.")


def _center_text(row: Row) -> str:
    return (f"Call center {row.get('center_id')} of network {row.get('network_id') or '?'} in "
            f"{row.get('country') or '?'}: {row.get('lines', '?')} lines, "
            f"{row.get('calls', '?')} calls, {row.get('victims', '?')} victims; network "
            f"{row.get('asn') or 'unknown'}.")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + "000Z"


def _plain(obj: Any) -> StixObject:
    """A ``stix2`` object as the plain JSON dict it serialises to."""
    plain: StixObject = json.loads(obj.serialize())
    return plain
