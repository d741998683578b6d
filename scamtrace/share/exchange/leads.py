"""The leads an exchange leaves: numbers B's flagged lines called or presented that A does not
hold. A lists them among its findings by keyed hash (``exchange_leads.csv``); a domestic network
that holds the case key names those of its subscribers (:func:`resolve_leads`)."""

from __future__ import annotations

from pathlib import Path

from scamtrace.core import contract
from scamtrace.core import findings as findings_folder
from scamtrace.core.casefolder import ensure_apart
from scamtrace.share.exchange.keys import phone_hashes
from scamtrace.share.exchange.merge import extra_numbers
from scamtrace.share.exchange.messages import ExchangeError
from scamtrace.share.exchange.request import flagged
from scamtrace.share.safeio import refuse_existing

LEADS_TABLE = contract.FINDINGS_EXCHANGE_LEADS_TABLE.name
LEAD_COLUMNS = tuple(contract.FINDINGS_EXCHANGE_LEADS_TABLE.column_names)


def resolve_leads(unresolved: Path, numbers: Path, country: str, key: bytes, out: Path,
                  *, overwrite: bool = False) -> int:
    """A domestic network's side of a lookup: of its own ``numbers``, those whose keyed hash
    is among A's ``unresolved`` leads, written one a line to ``out``; returns how many. What
    it learns is only which of its subscribers A's case concerns."""
    ensure_apart(out, unresolved, numbers)
    refuse_existing(out, overwrite, ExchangeError)
    _, rows = findings_folder.read_csv_rows(unresolved, required=("hash",))
    wanted = {r["hash"] for r in rows}
    hashed = phone_hashes(key, extra_numbers(numbers, country))
    found = sorted(f"+{n}" for n, h in hashed.items() if h in wanted)
    findings_folder.write_rows(out, ("number",), ((n,) for n in found))
    return len(found)


def write_exchange_leads(merged: Path, findings: Path) -> int:
    """``FINDINGS/exchange_leads.csv``: the numbers A could not name that flagged lines called
    (answered: victims) or presented (caller IDs), by keyed hash; returns how many."""
    source = merged / "exchange" / "unresolved.csv"
    if not source.is_file():
        return 0
    lines = flagged(findings, "sip_account")
    out: list[tuple[str, str, str, int, str]] = []
    _, unresolved = findings_folder.read_csv_rows(
        source, required=("hash", "role", "lines", "calls", "answered"))
    for r in unresolved:
        by = [line for line in r["lines"].split(";") if line in lines]
        if not by:
            continue
        if r["role"] == "called" and int(r["answered"]) > 0:
            out.append(("victim_phone", f"hmac:{r['hash']}", ";".join(by), int(r["calls"]),
                        f"answered {r['answered']} call(s) from flagged line(s) "
                        f"{', '.join(by[:3])}; number not held here: resolve with the "
                        "case key at its domestic network"))  # fmt: skip
        elif r["role"] == "caller_id" and int(r["calls"]) > 0:
            out.append(("caller_number", f"hmac:{r['hash']}", ";".join(by), int(r["calls"]),
                        f"presented on {r['calls']} call(s) by flagged line(s) "
                        f"{', '.join(by[:3])}; number not held here"))  # fmt: skip
    findings_folder.write_rows(findings_folder.table_path(findings, LEADS_TABLE), LEAD_COLUMNS,
                               out)  # fmt: skip
    return len(out)
