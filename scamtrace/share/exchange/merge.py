"""Agency A's side of an answer: the calls of B's lines as ``voip_cdr`` rows of a new case
folder beside A's own tables, the numbers A holds re-identified, the others kept as leads
(``exchange/unresolved.csv``)."""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from scamtrace.core import contract
from scamtrace.core.casefolder import (
    HOLDER,
    CaseFolderWriter,
    ensure_apart,
    holder_countries,
    read_holder,
)
from scamtrace.core.findings import neutral_row
from scamtrace.core.phones import to_e164
from scamtrace.core.sql import connect, run
from scamtrace.enrich.case import open_case
from scamtrace.share.exchange.answer import ANSWER_CALLS
from scamtrace.share.exchange.keys import check_key, phone_hashes
from scamtrace.share.exchange.messages import ExchangeError, columns_of, iso, mapped, read_message

#: The columns of ``exchange/unresolved.csv``.
UNRESOLVED_COLUMNS = tuple(contract.EXCHANGE_UNRESOLVED_TABLE.column_names)


@dataclass(frozen=True)
class MergeStats:
    calls: int
    numbers: int
    resolved: int
    unresolved: int
    lines_disclosed: int


def own_numbers(case_dir: Path) -> set[int]:
    """Every phone number A's case holds (E.164 digits): the numbers it may re-identify."""
    case = open_case(case_dir, tables=("carrier_cdr", "accounts", "reports"))
    try:
        rows = run(case.db, """
            SELECT caller_number FROM carrier_cdr UNION SELECT called_number FROM carrier_cdr
            UNION SELECT holder_phone FROM accounts UNION SELECT victim_phone FROM reports
        """)
        reported = run(case.db, "SELECT reported_numbers FROM reports")
        country = case.table_country.get("reports", case.country)
    finally:
        case.db.close()
    numbers = {int(r[0]) for r in rows if r[0] is not None}
    for (cell,) in reported:
        for part in str(cell or "").split(";"):
            e164 = to_e164(part, country)
            if e164:
                numbers.add(int(e164[1:]))
    return numbers


def extra_numbers(path: Path, country: str) -> set[int]:
    """Numbers A lawfully holds beyond its case (one a line, or the first CSV column), such
    as another domestic network's answer to a lookup: more hashes A may re-identify."""
    numbers: set[int] = set()
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for line_no, row in enumerate(csv.reader(fh), start=1):
                if not row or not row[0].strip():
                    continue
                e164 = to_e164(row[0], country)
                if e164 is None:
                    if line_no == 1:
                        continue  # a header
                    raise ExchangeError(f"{path}: line {line_no}: field 1: not a phone "
                                        f"number: {row[0][:40]!r}")  # fmt: skip
                numbers.add(int(e164[1:]))
    except OSError as exc:
        raise ExchangeError(f"{path}: cannot read: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ExchangeError(f"{path}: not UTF-8 text (byte {exc.start + 1} of a line)") from exc
    except csv.Error as exc:
        raise ExchangeError(f"{path}: not a readable CSV file: {exc}") from exc
    return numbers


def merge_answer(
    answer_path: Path, case_dir: Path, key: bytes, out: Path, *, overwrite: bool = False,
    numbers: Path | None = None,
) -> MergeStats:
    """A's case plus B's answer as ``voip_cdr`` rows, in a new case folder ``out``."""
    ensure_apart(out, answer_path, case_dir, numbers)
    raw = read_message(answer_path, "answer")
    check_key(raw, key, answer_path)
    calls = columns_of(raw, "calls", ANSWER_CALLS, answer_path)
    if (case_dir / "voip_cdr.parquet").exists() or (case_dir / "voip_cdr.csv").exists():
        raise ExchangeError(f"{case_dir}: already holds voip_cdr; merge into the half that "
                            "lacks the provider's records")  # fmt: skip
    held = own_numbers(case_dir)
    if numbers is not None:
        held |= extra_numbers(numbers, holder_countries(case_dir)[0])
    mine = {h: f"+{n}" for n, h in phone_hashes(key, held).items()}
    to = calls.column("to").cast(pa.string()).combine_chunks()
    frm = calls.column("from").cast(pa.string()).combine_chunks()
    hashes = set(pc.unique(pa.concat_arrays([to, frm]).drop_null()).to_pylist())
    resolved = hashes & mine.keys()
    prefix = pa.scalar(f"{raw.get('answering_country') or 'B'}-")
    voip = pa.table({
        "call_id": pc.binary_join_element_wise(prefix, calls.column("call_id").cast(pa.string()),
                                               ""),
        "start_time": pc.multiply(calls.column("t").cast(pa.int64()), 1_000_000)
                        .cast(pa.timestamp("us")).cast(contract.TIME),
        "sip_account": calls.column("line").cast(pa.string()),
        "source_ip": calls.column("source_ip").cast(pa.string()),
        "user_agent": calls.column("user_agent").cast(pa.string()),
        # A number A cannot re-identify stays out of the case (as a withheld one would); it
        # is kept as a lead in exchange/unresolved.csv.
        "from_number": mapped(frm, mine).fill_null(""),
        "to_number": mapped(to, mine).fill_null(""),
        "duration_s": calls.column("duration_s").cast(pa.int64()),
        "sip_status": calls.column("sip_status").cast(pa.int64()),
    })  # fmt: skip
    with CaseFolderWriter(out, overwrite=overwrite, subfolders=("exchange",)) as w:
        for item in sorted(case_dir.iterdir()):
            if item.is_file() and item.name != HOLDER:
                shutil.copyfile(item, w.path(item.name))
            elif item.is_dir() and item.name == "truth":
                shutil.copytree(item, w.path("truth"))
        holder = read_holder(case_dir) or {}
        tables = dict(holder.get("tables") or {})
        tables["voip_cdr"] = str(raw.get("answering_country") or holder.get("country", ""))
        w.write_json(HOLDER, {**holder, "tables": tables})
        w.sink(contract.VOIP_CDR, "parquet").write(voip)
        shutil.copyfile(answer_path, w.path("exchange/answer.json"))
        _write_unresolved(w, calls, hashes - resolved)
    return MergeStats(calls.num_rows, len(hashes), len(resolved), len(hashes - resolved),
                      _disclosed(raw.get("lines")))  # fmt: skip


def _disclosed(lines: object) -> int:
    """How many lines an answer discloses (0 for a field that is not a list of lines)."""
    if not isinstance(lines, list):
        return 0
    return sum(1 for line in lines if isinstance(line, dict) and line.get("disclosed"))


def _write_unresolved(w: CaseFolderWriter, calls: pa.Table, unresolved: set[str]) -> None:
    """Numbers B's lines called or showed that are not A's own: leads for A to resolve with
    its other domestic networks (each can hash its own subscribers with the case key)."""
    db = connect(threads=1)
    try:
        db.register("calls", calls.select(["to", "from", "line", "t", "sip_status"]))
        db.register("unresolved", pa.table({"h": pa.array(sorted(unresolved), pa.string())}))
        rows = db.sql("""
            WITH roles AS (
                SELECT "to" AS h, 'called' AS role, line, t, sip_status = 200 AS answered,
                       true AS counted FROM calls
                UNION ALL
                SELECT "from", 'caller_id', line, t, false, sip_status <> 404 FROM calls
            )
            SELECT h, role, string_agg(DISTINCT line, ';' ORDER BY line),
                   count(*) FILTER (WHERE counted), count(*) FILTER (WHERE answered),
                   min(t), max(t)
            FROM roles SEMI JOIN unresolved USING (h) GROUP BY h, role ORDER BY h, role
        """).fetchall()
    finally:
        db.close()
    # Line names come from the other agency: made inert for spreadsheets like every CSV cell.
    w.write_csv_rows("exchange/unresolved.csv", UNRESOLVED_COLUMNS,
                     [neutral_row((*r[:5], iso(r[5]), iso(r[6]))) for r in rows])  # fmt: skip
