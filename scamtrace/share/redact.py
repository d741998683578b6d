"""The findings folder of a case package made without ``--reveal``: no personal data in any file.

``detect`` writes the agency's own findings: every victim's number, the callee of every call
behind a finding, the victims' own bank accounts. A package made without ``--reveal`` travels
to other agencies, so its ``findings/`` is rewritten on the way in:

- the gang's infrastructure flagged in ``entities.csv`` (presented caller numbers that are not
  a victim's own, SIP accounts, source IPs, mule accounts: the indicators the exports share)
  stays as it is;
- every other phone number, account, SIP account or address, wherever it is written (a value
  column, a sentence of ``reason`` or ``detail``, a rejected row), becomes a keyed pseudonym:
  ``phone-``, ``account-``, ``line-`` or ``ip-`` and the first 80 bits of
  ``HMAC-SHA256(k, kind + ":" + value)``, so rows that named one victim still join on one
  pseudonym (an entity, its evidence, its payment);
- ``k`` is derived (HKDF-SHA256) from the agency's Ed25519 signing key, which never leaves the
  agency: a recipient cannot test a guess (hashing a numbering plan gives nothing without the
  key), while the agency can re-identify any pseudonym it is asked about by hashing its own
  findings with the same key (:func:`pseudonym_key`);
- ``report.html`` is rendered again from the rewritten tables; a file of a kind this module
  cannot rewrite (neither CSV nor JSON) is left out and named in the manifest.

The package then checks every byte it holds for the victims' numbers in any digit form and
refuses to be written if one is found (fail closed).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scamtrace.core.accounts import IBAN_PATTERN
from scamtrace.core.errors import FindingsError
from scamtrace.core.formulas import neutral, restore
from scamtrace.share.export.base import VICTIM_KINDS, Findings, victim_leaks

#: Hex digits kept of each pseudonym: 80 bits, no collision among a case's numbers.
PSEUDONYM_HEX = 20
_INFO = b"scamtrace case package pseudonyms/1"

#: Columns that hold the holders' own record keys (call ids, transaction ids) or the project's
#: labels and counts, never a subscriber's data: kept so a court can find each record.
_VERBATIM = frozenset({
    "kind", "score", "network_id", "center_id", "source", "record_id", "time", "tx_id",
    "script_id", "call_ids", "table", "file", "line", "field", "amount", "currency", "channel",
    "first_seen", "last_seen", "country", "region", "lines", "calls", "victims", "victims_paid",
    "loss", "mule_accounts", "centers", "numbers", "languages", "scam_type", "asn",
})  # fmt: skip
_ACCOUNT_COLUMNS = ("payer_account", "payee_account")
#: A phone or account number written in text: 7 or more digits standing alone (not part of a
#: record id such as C0000152111, nor the integer part of an amount such as 1692906.71).
_NUMBER = re.compile(r"(?<![0-9A-Za-z.])(\+?)(\d{7,})(?![0-9A-Za-z]|\.\d)")
_IBAN = re.compile(rf"(?<![0-9A-Za-z]){IBAN_PATTERN}(?![0-9A-Za-z])")
_CALL = re.compile(
    r"^(?P<head>(?:answered \d+ s|not answered): )(?P<caller>\S+) -> (?P<callee>\S+)"
    r"(?: via (?P<account>\S+) from (?P<ip>\S+))?(?P<tail>.*)$", re.DOTALL,
)  # fmt: skip
_PREFIX = {"phone": "phone", "account": "account", "line": "line", "ip": "ip", "other": "id"}
_DOMAIN_OF_KIND = {"caller_number": "phone", "victim_phone": "phone", "victim_paid": "phone",
                   "sip_account": "line", "source_ip": "ip", "mule_account": "account"}  # fmt: skip


def pseudonym_key(signing_key: Any) -> bytes:
    """The pseudonym key of an agency: HKDF-SHA256 of its Ed25519 private key's raw bytes."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    raw = signing_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                    serialization.NoEncryption())  # fmt: skip
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(raw)


@dataclass
class Redaction:
    """What :func:`redact_findings` did."""

    pseudonyms: int = 0
    withheld: list[str] = field(default_factory=list)

    def manifest(self) -> dict[str, Any]:
        return {
            "personal_data": "pseudonymised",
            "pseudonym": f"<kind>-HMAC-SHA256(agency key, '<kind>:' + value), first "
                         f"{PSEUDONYM_HEX} hex digits; the key is derived from the signing key "
                         "and never leaves the agency",
            "pseudonyms": self.pseudonyms,
            "withheld": self.withheld,
        }  # fmt: skip


class Pseudonymiser:
    """Keeps the shared indicators, replaces every other identifier by its keyed pseudonym."""

    def __init__(self, key: bytes, findings: Findings) -> None:
        self.key = key
        self.keep: dict[str, set[str]] = {}
        for row in findings.shareable_entities(reveal=False):
            self.keep.setdefault(row["kind"], set()).add(row["value"])
        self.phones = self.keep.get("caller_number", set())
        self.accounts = self.keep.get("mule_account", set())
        self.made: set[str] = set()

    def pseudonym(self, domain: str, value: str) -> str:
        digest = hmac.new(self.key, f"{domain}:{value}".encode(), hashlib.sha256).hexdigest()
        made = f"{_PREFIX[domain]}-{digest[:PSEUDONYM_HEX]}"
        self.made.add(made)
        return made

    def entity(self, kind: str, value: str) -> str:
        """The value of an entity of ``kind``: itself if it is a shared indicator."""
        if not value or value in self.keep.get(kind, ()):
            return value
        if kind in VICTIM_KINDS:
            return self.pseudonym("phone", value)
        return self.pseudonym(_DOMAIN_OF_KIND.get(kind, "other"), value)

    def account(self, value: str) -> str:
        return value if not value or value in self.accounts else self.pseudonym("account", value)

    def text(self, text: str) -> str:
        """Free text with every number or IBAN that is not a shared indicator replaced."""
        call = _CALL.match(text)
        if call is not None:
            via = ""
            if call["account"] is not None:
                via = (f" via {self.entity('sip_account', call['account'])} from "
                       f"{self.entity('source_ip', call['ip'])}")  # fmt: skip
            text = (f"{call['head']}{self._phone(call['caller'])} -> "
                    f"{self._phone(call['callee'])}{via}{self.text(call['tail'])}")  # fmt: skip
            return text
        text = _NUMBER.sub(self._number, text)
        return _IBAN.sub(lambda m: self.account(m.group(0)), text)

    def _phone(self, value: str) -> str:
        if value in self.phones or not any(c.isdigit() for c in value):
            return value  # a shared caller number, or "withheld"
        return self.pseudonym("phone", value) if value.startswith("+") else self._number_text(
            value)  # fmt: skip

    def _number_text(self, value: str) -> str:
        return _NUMBER.sub(self._number, value) if _NUMBER.search(value) else \
            self.pseudonym("phone", value)  # fmt: skip

    def _number(self, match: re.Match[str]) -> str:
        written = match.group(0)
        if written in self.phones or written in self.accounts:
            return written
        if match.group(1):
            return self.pseudonym("phone", written)
        return self.pseudonym("account", written)


def redact_findings(source: Path, target: Path, findings: Findings, key: bytes) -> Redaction:
    """Write ``source`` (a findings folder) to ``target`` without personal data."""
    from scamtrace.report import REPORT_NAME, write_report

    p = Pseudonymiser(key, findings)
    done = Redaction()
    target.mkdir(parents=True)
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if path.is_symlink():
            done.withheld.append(f"findings/{rel.as_posix()}")
            continue
        if not path.is_file():
            continue
        if path.suffix == ".csv":
            out = target / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            _redact_csv(path, out, p)
        elif path.suffix == ".json":
            out = target / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            _redact_json(path, out, p)
        elif rel.as_posix() != REPORT_NAME:
            done.withheld.append(f"findings/{rel.as_posix()}")
    if (source / REPORT_NAME).is_file():
        write_report(target)
    done.pseudonyms = len(p.made)
    return done


def _redact_csv(source: Path, out: Path, p: Pseudonymiser) -> None:
    try:
        _rewrite_csv(source, out, p)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise FindingsError(f"{source}: not a readable UTF-8 CSV file, cannot be "
                            f"pseudonymised: {str(exc)[:200]}") from exc


def _rewrite_csv(source: Path, out: Path, p: Pseudonymiser) -> None:
    with source.open(encoding="utf-8", newline="") as fh, \
            out.open("w", encoding="utf-8", newline="") as dst:  # fmt: skip
        reader = csv.reader(fh)
        writer = csv.writer(dst, lineterminator="\n")
        header = next(reader, None)
        if header is None:
            return
        writer.writerow(header)
        rules = [_rule(name, header, p) for name in header]
        kind_at = header.index("kind") if "kind" in header else None
        for row in reader:
            kind = restore(row[kind_at]) if kind_at is not None and kind_at < len(row) else ""
            writer.writerow([neutral(rules[i](restore(cell), kind)) if i < len(rules) else
                             neutral(p.text(restore(cell))) for i, cell in enumerate(row)])


def _rule(name: str, header: list[str], p: Pseudonymiser) -> Callable[[str, str], str]:
    """How one column of a findings CSV is rewritten (given a cell and its row's kind)."""
    if name == "value" and "kind" in header:
        return lambda cell, kind: p.entity(kind, cell)
    if name in _ACCOUNT_COLUMNS:
        return lambda cell, _kind: p.account(cell)
    if name in _VERBATIM:
        return lambda cell, _kind: cell
    return lambda cell, _kind: p.text(cell)


def _redact_json(source: Path, out: Path, p: Pseudonymiser) -> None:
    def walk(obj: Any) -> Any:
        if isinstance(obj, str):
            return p.text(obj)
        if isinstance(obj, list):
            return [walk(v) for v in obj]
        if isinstance(obj, dict):
            return {k: walk(v) for k, v in obj.items()}
        return obj

    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise FindingsError(f"{source}: not readable JSON, cannot be pseudonymised: "
                            f"{str(exc)[:200]}") from exc
    out.write_text(json.dumps(walk(data), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def victim_leaks_in(folder: Path, victims: set[str]) -> list[str]:
    """Files under ``folder`` whose text names one of ``victims`` (E.164) in any digit form."""
    leaking = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        text = path.read_bytes().decode("utf-8", errors="replace")
        if victim_leaks(text, victims):
            leaking.append(path.relative_to(folder).as_posix())
    return leaking
