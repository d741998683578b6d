"""Render a findings folder as one self-contained HTML case report.

The report is written for the people who act on the findings — an investigator, a prosecutor — so
it says in words what was found and on which records, and prints well. It is a single file:
inline CSS, inline SVG and a few lines of inline JavaScript (a filter box, expand/collapse), no
external URL of any kind. Every value taken from the findings is HTML-escaped: they come from
case files nobody controls.

Reading is done once, in bulk: each CSV is read by ``pyarrow.csv`` with every column as text, and
the grouping (top entities per network and kind, the evidence of the entities shown, the money
moved per account) is done by DuckDB over those Arrow tables. Only what is shown is turned into
Python objects. On big cases the report shows at most ``max_entities`` entities per kind per
network (highest score first) and ``max_evidence`` records per entity, and says how many more
are in the CSV files.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import html
import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv

from scamtrace.core import contract
from scamtrace.core.formulas import restore_table

DEFAULT_MAX_ENTITIES = 200
"""Entities shown per kind per network (highest score first)."""
DEFAULT_MAX_EVIDENCE = 20
"""Evidence records shown per entity (earliest first)."""
DEFAULT_MAX_ROWS = 200
"""Rows shown per money table (accounts, moves) per network."""
MAX_CHAIN_NODES = 150
"""Accounts drawn in the money-flow tree of one network."""

REPORT_NAME = "report.html"

# Columns each findings file is expected to have; absent ones read as "".
ENTITY_COLUMNS = contract.FINDINGS_ENTITIES
TRANSFER_COLUMNS = (
    *contract.FINDINGS_TRANSFERS,
    "time",
    "payer_account",
    "payee_account",
    "amount",
    "currency",
    "channel",
    "reason",
)
CENTER_COLUMNS = (*contract.FINDINGS_CENTERS, "sip_accounts", "source_ips", "asn")
NETWORK_COLUMNS = contract.FINDINGS_NETWORKS
EVIDENCE_COLUMNS = ("kind", "value", "source", "record_id", "time", "detail")
SCRIPT_COLUMNS = (
    "script_id", "network_id", "scam_type", "calls", "numbers", "sip_accounts", "centers",
    "languages", "first_seen", "last_seen", "example", "call_ids",
)  # fmt: skip

FILES: dict[str, tuple[str, ...]] = {
    "entities": ENTITY_COLUMNS,
    "transfers": TRANSFER_COLUMNS,
    "centers": CENTER_COLUMNS,
    "networks": NETWORK_COLUMNS,
    "evidence": EVIDENCE_COLUMNS,
    "scripts": SCRIPT_COLUMNS,
}

KIND_LABELS: dict[str, str] = {
    "sip_account": "SIP accounts (the VoIP accounts that placed the calls)",
    "source_ip": "Source IP addresses (where the calls were placed from)",
    "caller_number": "Caller numbers presented to victims (often spoofed)",
    "victim_phone": "Victims called (phone numbers)",
    "victim_paid": "Victims who paid (phone numbers)",
    "mule_account": "Mule accounts (bank accounts that received or moved the money)",
}
KIND_ORDER = tuple(KIND_LABELS)
SOURCE_LABELS: dict[str, str] = {
    "carrier_cdr": "carrier call record",
    "voip_cdr": "VoIP call record",
    "transfers": "bank transfer",
    "reports": "police complaint",
}
INPUT_LABELS: dict[str, str] = {name: t.meaning for name, t in contract.INPUT_TABLES.items()}

Money = dict[str, Decimal]
"""Amounts per currency code ("" when the currency is unknown)."""

esc = html.escape


# --------------------------------------------------------------------------------------------
# Public API


def render_report(
    findings_dir: Path,
    *,
    max_entities: int = DEFAULT_MAX_ENTITIES,
    max_evidence: int = DEFAULT_MAX_EVIDENCE,
    max_rows: int = DEFAULT_MAX_ROWS,
    name: str | None = None,
) -> str:
    """Return the case report of ``findings_dir`` as one self-contained HTML document.

    Any findings file may be absent or hold only its header; the report says so instead of
    failing. ``max_entities`` caps the entities listed per kind per network, ``max_evidence``
    the records listed per entity and ``max_rows`` the rows of each money table. ``name`` is
    the findings folder's name as the reader will know it (``detect`` renders the report in
    the folder it is still writing aside).
    """
    folder = Path(findings_dir)
    data = _Data.load(folder, max_entities=max(0, max_entities), max_evidence=max(0, max_evidence))
    data.name = name or folder.name
    try:
        return _Renderer(data, max_rows=max(0, max_rows)).render()
    finally:
        data.close()


def write_report(
    findings_dir: Path,
    *,
    max_entities: int = DEFAULT_MAX_ENTITIES,
    max_evidence: int = DEFAULT_MAX_EVIDENCE,
    max_rows: int = DEFAULT_MAX_ROWS,
    name: str | None = None,
) -> Path:
    """Render the report of ``findings_dir`` and write it to ``findings_dir/report.html``.

    The file is written to a temporary sibling and moved into place with ``os.replace``, so a
    reader never sees half a report. Returns the path written.
    """
    folder = Path(findings_dir)
    text = render_report(
        folder, max_entities=max_entities, max_evidence=max_evidence, max_rows=max_rows,
        name=name,
    )
    target = folder / REPORT_NAME
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".html.tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


# --------------------------------------------------------------------------------------------
# Reading


def _empty(columns: Sequence[str]) -> pa.Table:
    return pa.table({c: pa.array([], pa.string()) for c in columns})


def _unique_names(header: Sequence[str]) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    for i, raw in enumerate(header):
        name = raw.strip() or f"column_{i + 1}"
        base, k = name, 1
        while name in seen:
            k += 1
            name = f"{base}_{k}"
        seen.add(name)
        names.append(name)
    return names


def _read_with_python(path: Path, names: list[str]) -> tuple[pa.Table, int]:
    """Slow, forgiving reader: undecodable bytes replaced, ragged rows skipped."""
    cols: list[list[str]] = [[] for _ in names]
    bad = 0
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        for row in reader:
            if len(row) != len(names):
                if not row:
                    continue
                bad += 1
                continue
            for col, cell in zip(cols, row, strict=True):
                col.append(cell)
    return pa.table({n: pa.array(c, pa.string()) for n, c in zip(names, cols, strict=True)}), bad


def read_findings_csv(path: Path, columns: Sequence[str]) -> tuple[pa.Table, int] | None:
    """Read one findings CSV with every column as text (``""`` for empty cells).

    Returns ``None`` when the file does not exist, else the table — holding at least
    ``columns``, absent ones filled with ``""``, values without the leading ``'`` of
    :mod:`scamtrace.core.formulas` — and the number of malformed rows skipped.
    """
    if not path.is_file():
        return None
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as fh:
        header = next(csv.reader(fh), None)
    if not header:
        return _empty(columns), 0
    names = _unique_names(header)
    bad = 0

    def skip(_row: object) -> str:
        nonlocal bad
        bad += 1
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(skip_rows=1, column_names=names),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=skip),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError):
        table, bad = _read_with_python(path, names)
    for c in columns:
        if c not in table.column_names:
            table = table.append_column(c, pa.array([""] * table.num_rows, pa.string()))
    # values as detect found them: the ' that keeps a spreadsheet from running one is not shown
    return restore_table(table), bad


def _fetch(con: Any, sql: str, params: Sequence[object] = ()) -> list[dict[str, Any]]:
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


# --------------------------------------------------------------------------------------------
# Small formatting helpers


def _int(s: object) -> int | None:
    if s is None:
        return None
    if isinstance(s, int):
        return s
    text = str(s).strip().replace(",", "")
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        try:
            f = float(text)
        except ValueError:
            return None
        return int(f) if f.is_integer() else None


def _dec(s: object) -> Decimal | None:
    if s is None:
        return None
    if isinstance(s, Decimal):
        return s
    text = str(s).strip().replace(",", "")
    if not text:
        return None
    try:
        d = Decimal(text)
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _score(s: object) -> float | None:
    try:
        f = float(str(s).strip())
    except ValueError:
        return None
    return f if f == f else None


def fmt_count(s: object) -> str:
    """A count with thousands separators, or the escaped text when it is not a number."""
    n = _int(s)
    return f"{n:,}" if n is not None else esc(str(s if s is not None else ""))


def fmt_money(m: Mapping[str, Decimal]) -> str:
    """``1,234.50 EUR; 20.00 USD`` (escaped), ``0`` when empty."""
    parts = [
        f"{amount:,.2f} {esc(cur)}".rstrip()
        for cur, amount in sorted(m.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
        if amount or len(m) == 1
    ]
    return "; ".join(parts) if parts else "0"


def _add(into: Money, other: Mapping[str, Decimal]) -> None:
    for cur, amount in other.items():
        into[cur] = into.get(cur, Decimal(0)) + amount


def _money_size(m: Mapping[str, Decimal]) -> Decimal:
    return sum(m.values(), Decimal(0))


def fmt_time(s: object) -> str:
    """ISO time for reading: ``2016-07-01 08:00:00Z`` -> ``2016-07-01 08:00:00 UTC`` (escaped)."""
    text = str(s or "").strip()
    if len(text) >= 19 and text[10:11] == "T":
        text = text[:10] + " " + text[11:]
        if text.endswith("Z"):
            text = text[:-1] + " UTC"
        elif text.endswith("+00:00"):
            text = text[:-6] + " UTC"
    return esc(text)


def parse_time(s: object) -> dt.datetime | None:
    """ISO 8601 text to an aware UTC datetime (naive times taken as UTC); None if unreadable."""
    text = str(s or "").strip()
    if not text:
        return None
    try:
        t = dt.datetime.fromisoformat(text.replace(" UTC", "Z"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC)


def _span(first: str, last: str) -> str:
    a, b = fmt_time(first), fmt_time(last)
    if not a and not b:
        return ""
    if a == b or not b:
        return a
    return f"{a} – {b}" if a else b


def _plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def _kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind or "(no kind)")


# --------------------------------------------------------------------------------------------
# The data behind the report


@dataclass
class _Agg:
    """Transfers grouped under one key: how many, how much, when, which channels."""

    n: int = 0
    parties: int = 0
    money: Money = field(default_factory=dict)
    first: str = ""
    last: str = ""
    channels: str = ""


@dataclass
class _Entity:
    kind: str
    value: str
    score: str
    center_id: str
    reason: str
    evidence: list[tuple[str, str, str, str]] = field(default_factory=list)
    evidence_total: int = 0


@dataclass
class _Money:
    """One network's flagged transfers, grouped for the mule-chain section."""

    totals: dict[str, _Agg] = field(default_factory=dict)  # by transfer kind
    paid_in: dict[str, _Agg] = field(default_factory=dict)  # victim payments by payee
    moves: dict[tuple[str, str], _Agg] = field(default_factory=dict)  # (payer, payee)
    cash_out: dict[str, _Agg] = field(default_factory=dict)  # by payer

    @property
    def empty(self) -> bool:
        return not self.totals


@dataclass
class _Data:
    folder: Path
    summary: dict[str, Any]
    notes: list[str]
    present: dict[str, bool]
    networks: list[dict[str, str]]
    centers: list[dict[str, str]]
    entity_counts: dict[tuple[str, str], int]
    entities: dict[tuple[str, str], list[_Entity]]
    money: dict[str, _Money]
    scripts: list[dict[str, str]]
    con: Any
    max_entities: int
    max_evidence: int
    name: str = ""

    def close(self) -> None:
        self.con.close()

    @classmethod
    def load(cls, folder: Path, *, max_entities: int, max_evidence: int) -> _Data:
        notes: list[str] = []
        present: dict[str, bool] = {}
        con = duckdb.connect(":memory:")
        with contextlib.suppress(duckdb.Error):
            con.execute("SET threads TO 4")
        tables: dict[str, pa.Table] = {}
        for name, columns in FILES.items():
            got = read_findings_csv(folder / f"{name}.csv", columns)
            present[name] = got is not None
            if got is None:
                table, bad = _empty(columns), 0
            else:
                table, bad = got
            if bad:
                notes.append(
                    f"{_plural(bad, 'malformed row')} of {name}.csv could not be read and "
                    "are not in this report."
                )
            tables[name] = table.select(list(columns))
            con.register(f"{name}_in", tables[name])
        summary = _read_summary(folder / "summary.json", notes)
        present["summary"] = bool(summary) or (folder / "summary.json").is_file()

        networks = tables["networks"].to_pylist()
        centers = tables["centers"].to_pylist()
        counts = {
            (str(r["network_id"]), str(r["kind"])): int(r["n"])
            for r in _fetch(
                con, "SELECT network_id, kind, count(*) AS n FROM entities_in GROUP BY ALL"
            )
        }
        entities = _top_entities(con, max_entities, max_evidence)
        money = _group_money(con, notes)
        return cls(
            folder=folder,
            summary=summary,
            notes=notes,
            present=present,
            networks=networks,
            centers=centers,
            entity_counts=counts,
            entities=entities,
            money=money,
            scripts=tables["scripts"].to_pylist(),
            con=con,
            max_entities=max_entities,
            max_evidence=max_evidence,
        )


def _read_summary(path: Path, notes: list[str]) -> dict[str, Any]:
    if not path.is_file():
        notes.append("summary.json is missing: the inputs used and rows read are not known.")
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        notes.append("summary.json could not be read: the inputs used are not known.")
        return {}
    if not isinstance(data, dict):
        notes.append("summary.json is not an object: the inputs used are not known.")
        return {}
    return data


def _top_entities(
    con: Any, max_entities: int, max_evidence: int
) -> dict[tuple[str, str], list[_Entity]]:
    """The ``max_entities`` highest-scoring entities of each (network, kind), with their first
    ``max_evidence`` evidence records; evidence of entities not shown is never materialised."""
    con.execute(
        """
        CREATE TEMP TABLE shown AS
        SELECT kind, value, score, network_id, center_id, reason,
               row_number() OVER (PARTITION BY network_id, kind
                                  ORDER BY TRY_CAST(score AS DOUBLE) DESC NULLS LAST, value) AS rn
        FROM entities_in
        QUALIFY rn <= ?
        """,
        [max_entities],
    )
    out: dict[tuple[str, str], list[_Entity]] = defaultdict(list)
    by_key: dict[tuple[str, str], list[_Entity]] = defaultdict(list)
    rows = con.execute(
        "SELECT network_id, kind, value, score, center_id, reason FROM shown "
        "ORDER BY network_id, kind, rn"
    ).fetchall()
    for network_id, kind, value, score, center_id, reason in rows:
        ent = _Entity(kind, value, score, center_id, reason)
        out[(network_id, kind)].append(ent)
        by_key[(kind, value)].append(ent)
    if not rows or max_evidence <= 0:
        if rows:
            for kind, value, n in con.execute(
                "SELECT e.kind, e.value, count(*) FROM evidence_in e "
                "SEMI JOIN (SELECT DISTINCT kind, value FROM shown) s "
                "ON e.kind = s.kind AND e.value = s.value GROUP BY ALL"
            ).fetchall():
                for ent in by_key.get((kind, value), ()):
                    ent.evidence_total = int(n)
        return dict(out)
    cur = con.execute(
        """
        WITH s AS (SELECT DISTINCT kind, value FROM shown),
        ev AS (SELECT e.* FROM evidence_in e SEMI JOIN s ON e.kind = s.kind AND e.value = s.value)
        SELECT kind, value, time, source, record_id, detail,
               count(*) OVER (PARTITION BY kind, value) AS n
        FROM ev
        QUALIFY row_number() OVER (PARTITION BY kind, value ORDER BY time, record_id, detail) <= ?
        ORDER BY kind, value, time, record_id, detail
        """,
        [max_evidence],
    )
    while batch := cur.fetchmany(100_000):
        for kind, value, time, source, record_id, detail, n in batch:
            for ent in by_key.get((kind, value), ()):
                ent.evidence.append((time, source, record_id, detail))
                ent.evidence_total = int(n)
    return dict(out)


def _group_money(con: Any, notes: list[str]) -> dict[str, _Money]:
    """Group the flagged transfers of each network for the mule-chain tables."""
    con.execute(
        """
        CREATE TEMP TABLE tx AS
        SELECT network_id, kind, payer_account AS payer, payee_account AS payee,
               TRY_CAST(trim(replace(amount, ',', '')) AS DECIMAL(38, 2)) AS amt,
               trim(currency) AS currency, trim(channel) AS channel,
               nullif(trim(time), '') AS time, amount AS raw_amount
        FROM transfers_in
        """
    )
    bad = con.execute(
        "SELECT count(*) FROM tx WHERE amt IS NULL AND trim(raw_amount) <> ''"
    ).fetchone()[0]
    if bad:
        notes.append(
            f"{_plural(int(bad), 'transfer')} in transfers.csv had an amount that is not a "
            "number; they are counted but their amounts are not added up."
        )
    money: dict[str, _Money] = defaultdict(_Money)

    def grouped(where: str, keys: str, parties: str) -> dict[tuple[Any, ...], _Agg]:
        aggs: dict[tuple[Any, ...], _Agg] = {}
        for r in con.execute(
            f"""SELECT {keys}, count(*), count(DISTINCT nullif({parties}, '')), min(time),
                       max(time), string_agg(DISTINCT nullif(channel, ''), ', ' ORDER BY
                                             nullif(channel, ''))
                FROM tx WHERE {where} GROUP BY ALL"""
        ).fetchall():
            *key, n, np, first, last, channels = r
            aggs[tuple(key)] = _Agg(int(n), int(np), {}, first or "", last or "", channels or "")
        for r in con.execute(
            f"SELECT {keys}, currency, sum(amt) FROM tx WHERE {where} AND amt IS NOT NULL "
            "GROUP BY ALL"
        ).fetchall():
            *key, cur, total = r
            agg = aggs.get(tuple(key))
            if agg is not None:
                _add(agg.money, {cur or "": total or Decimal(0)})
        return aggs

    for (net, kind), agg in grouped("true", "network_id, kind", "payer").items():
        money[net].totals[kind] = agg
    for (net, payee), agg in grouped(
        "kind = 'victim_payment'", "network_id, payee", "payer"
    ).items():
        money[net].paid_in[payee] = agg
    for (net, payer, payee), agg in grouped(
        "kind NOT IN ('victim_payment', 'cash_out')", "network_id, payer, payee", "payer"
    ).items():
        money[net].moves[(payer, payee)] = agg
    for (net, payer), agg in grouped("kind = 'cash_out'", "network_id, payer", "payee").items():
        money[net].cash_out[payer] = agg
    return dict(money)


# --------------------------------------------------------------------------------------------
# Rendering

CSS = """
:root{--ink:#1b1f24;--muted:#59636e;--line:#d5dbe1;--soft:#f3f5f7;--accent:#1f4e79;
--warn:#fff6df;--warnline:#d99a00}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:var(--ink);background:#fff;margin:0 auto;max-width:1280px;padding:16px 28px 48px}
h1{font-size:24px;margin:8px 0 4px}h2{font-size:20px;margin:28px 0 8px;
border-bottom:2px solid var(--accent);padding-bottom:3px}
h3{font-size:16px;margin:20px 0 6px;color:var(--accent)}h4{font-size:14px;margin:14px 0 4px}
p{margin:4px 0 8px}.muted{color:var(--muted)}small{color:var(--muted)}
a{color:var(--accent)}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;
font-size:12.5px;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;margin:4px 0 12px}
th,td{border-bottom:1px solid var(--line);padding:3px 7px;text-align:left;vertical-align:top}
thead th{background:var(--soft);font-weight:600;border-bottom:1px solid #b9c2cb}
tfoot td{font-weight:600;border-top:1px solid #b9c2cb}
.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.nw{white-space:nowrap}
table.ent{table-layout:fixed}table.ent>thead>tr>th:nth-child(1){width:20%}
table.ent>thead>tr>th:nth-child(2){width:6%}table.ent>thead>tr>th:nth-child(3){width:6%}
table.ent>tbody>tr.has-ev>td{border-bottom:none}
table.ent>tbody>tr.ev-row>td{padding:0 7px 4px 28px;font-size:12.5px}
table.ev{width:auto;min-width:60%}
table.kv{width:auto}table.kv th{background:none;font-weight:600;padding-right:18px}
table.ev{font-size:12px;margin:4px 0 6px;background:#fcfcfd}
table.ev th{background:#eef1f4}
.note{background:var(--warn);border-left:4px solid var(--warnline);padding:6px 10px;margin:8px 0}
.figures{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0}
.figure{border:1px solid var(--line);border-radius:4px;padding:6px 12px;min-width:120px}
.figure b{display:block;font-size:20px}
details>summary{cursor:pointer;color:var(--accent)}
ul.tree,ul.tree ul{list-style:none;margin:0;padding-left:18px}
ul.tree{padding-left:0}ul.tree li{margin:2px 0;border-left:1px dotted #9aa5b1;padding-left:8px}
.tools{position:sticky;top:0;background:#fff;padding:6px 0;border-bottom:1px solid var(--line);
z-index:2;display:flex;gap:8px;align-items:center;flex-wrap:wrap}
.tools input{flex:1;min-width:220px;padding:4px 8px;font:inherit}
.tools button{font:inherit;padding:3px 10px}
nav ol{columns:3;margin:4px 0}
svg.timeline{width:100%;height:auto;display:block;margin:4px 0 10px}
svg.timeline text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:#1b1f24}
svg.timeline .grid{stroke:#dfe4e9;stroke-width:1}
svg.timeline .axis{fill:#59636e}
section.network{margin-top:26px}
footer{margin-top:36px;border-top:1px solid var(--line);padding-top:8px;color:var(--muted);
font-size:12px}
@media print{
@page{margin:14mm 11mm}
body{max-width:none;padding:0;font-size:9.5pt}
.tools,nav{display:none}
section.network{break-before:page}
h2,h3,h4{break-after:avoid}
tr,svg,.figure,li{break-inside:avoid}
thead{display:table-header-group}
a{color:inherit;text-decoration:none}
details>summary{color:inherit}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
code,.mono{font-size:8.5pt}
}
"""

JS = """
(function(){
var q=document.getElementById('filter'),timer=null;
function run(){var s=q.value.toLowerCase();
document.querySelectorAll('table.ft>tbody>tr,table.ent>tbody').forEach(function(r){
r.hidden=s!==''&&r.textContent.toLowerCase().indexOf(s)<0;});}
if(q){q.addEventListener('input',function(){clearTimeout(timer);timer=setTimeout(run,200);});}
function all(open){document.querySelectorAll('details').forEach(function(d){d.open=open;});}
var o=document.getElementById('open-all'),c=document.getElementById('close-all');
if(o){o.addEventListener('click',function(){all(true);});}
if(c){c.addEventListener('click',function(){all(false);});}
var p=document.getElementById('print-evidence'),closed=[];
window.addEventListener('beforeprint',function(){closed=[];if(p&&!p.checked){return;}
document.querySelectorAll('details:not([open])').forEach(function(d){closed.push(d);d.open=true;});});
window.addEventListener('afterprint',function(){closed.forEach(function(d){d.open=false;});
closed=[];});
})();
"""

PRINT_EVIDENCE_UP_TO = 1000
"""Evidence lists are expanded when printing by default only up to this many entities."""

PALETTE = ("#1f4e79", "#a23b2a", "#2e7d4f", "#7a4fa0", "#b07b00", "#2a7f9e", "#8a5a44", "#4a5563")
TIMELINE_WIDTH = 960
TIMELINE_LABEL = 70
TIMELINE_RIGHT = 10
TIMELINE_ROW = 22
TIMELINE_TOP = 26


class _Renderer:
    """Builds the document from loaded findings; one method per part of the report."""

    def __init__(self, data: _Data, *, max_rows: int) -> None:
        self.d = data
        self.max_rows = max_rows
        self.out: list[str] = []
        self.network_ids = self._network_order()
        self.anchor = {nid: f"net-{i + 1}" for i, nid in enumerate(self.network_ids)}
        self.center_anchor = {
            str(c["center_id"]): f"center-{i + 1}" for i, c in enumerate(data.centers)
        }
        self.centers_by_network: dict[str, list[dict[str, str]]] = defaultdict(list)
        for c in data.centers:
            self.centers_by_network[str(c["network_id"])].append(c)
        self.net_rows = {str(r["network_id"]): r for r in data.networks}
        self.axis = self._axis()

    # -- structure ---------------------------------------------------------------------------

    def _network_order(self) -> list[str]:
        """networks.csv order (ranked, biggest first), then networks only seen in other files,
        then "" (entities, centers or transfers not linked to any network)."""
        order: list[str] = []
        seen: set[str] = set()
        for r in self.d.networks:
            nid = str(r["network_id"])
            if nid not in seen:
                seen.add(nid)
                order.append(nid)
        extra: set[str] = {net for net, _ in self.d.entity_counts}
        extra |= {str(c["network_id"]) for c in self.d.centers}
        extra |= set(self.d.money)
        rest = sorted(extra - seen - {""}, key=_natural)
        order += rest
        if "" in extra and "" not in seen:
            order.append("")
        return order

    def render(self) -> str:
        s = self.d.summary
        case = str(s.get("case") or self.d.name or self.d.folder.name)
        w = self.out.append
        w('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n')
        w('<meta name="viewport" content="width=device-width, initial-scale=1">\n')
        w(f"<title>Case report: {esc(case)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n")
        self._header(case)
        self._tools()
        self._contents()
        self._overview()
        for i, nid in enumerate(self.network_ids):
            self._network(nid, i)
        self._footer()
        w(f"<script>{JS}</script>\n</body>\n</html>\n")
        return "".join(self.out)

    # -- header ------------------------------------------------------------------------------

    def _header(self, case: str) -> None:
        s, w = self.d.summary, self.out.append
        w('<header>\n<p class="muted">scamtrace case report — telephone fraud networks</p>\n')
        w(f"<h1>Case report: {esc(case)}</h1>\n")
        created = s.get("created_at")
        rendered = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        w('<table class="kv"><tbody>\n')
        w(f"<tr><th>Findings made</th><td>{fmt_time(created) or 'not recorded'}</td></tr>\n")
        w(f"<tr><th>Report rendered</th><td>{fmt_time(rendered)}</td></tr>\n")
        shown = esc(self.d.name or self.d.folder.name)
        w(f"<tr><th>Findings folder</th><td><code>{shown}</code></td></tr>\n")
        used = _str_list(s.get("inputs_used"))
        missing = _str_list(s.get("inputs_missing"))
        if "inputs_used" in s:
            w(f"<tr><th>Inputs used</th><td>{_input_list(used) or 'none'}</td></tr>\n")
        else:
            w("<tr><th>Inputs used</th><td>not recorded</td></tr>\n")
        w("</tbody></table>\n")
        self._missing_inputs(missing, "inputs_missing" in s)
        self._figures()
        self._rows_table()
        for note in self.d.notes:
            w(f'<p class="note">{esc(note)}</p>\n')
        for step in _str_list(s.get("skipped")):  # too little in this case to learn from
            w(f'<p class="note">Skipped: {esc(step)}.</p>\n')
        absent = [f"{n}.csv" for n, ok in self.d.present.items() if not ok and n != "summary"]
        if absent:
            w(
                '<p class="note">Not in the findings folder: '
                f"{esc(', '.join(absent))}. "
                f"{esc(_absent_consequence(absent))}</p>\n"
            )
        w("</header>\n")

    def _missing_inputs(self, missing: list[str], known: bool) -> None:
        w = self.out.append
        if not known:
            w('<p class="note">It is not recorded which inputs were missing.</p>\n')
            return
        if not missing:
            w("<p><b>All the case's inputs were available.</b></p>\n")
            return
        w('<div class="note"><p><b>Not available for this case:</b></p><ul>\n')
        not_possible = self.d.summary.get("not_possible")
        consequences = not_possible if isinstance(not_possible, dict) else {}
        for name in missing:
            meaning = INPUT_LABELS.get(name)
            line = f"<b>{esc(name)}</b>" + (f" ({esc(meaning)})" if meaning else "")
            if name in consequences:
                line += f" — without it this report cannot show: {esc(str(consequences[name]))}"
            w(f"<li>{line}</li>\n")
        w(
            "</ul><p>Findings that depend on these records are missing or rest on fewer "
            "sources.</p></div>\n"
        )

    def _figures(self) -> None:
        s, w = self.d.summary, self.out.append
        nets = [self.net_rows[n] for n in self.network_ids if n in self.net_rows]
        victims = sum(_int(r.get("victims")) or 0 for r in nets)
        paid = sum(_int(r.get("victims_paid")) or 0 for r in nets)
        loss: Money = {}
        for r in nets:
            amount = _dec(r.get("loss"))
            if amount is not None:
                _add(loss, {str(r.get("currency") or ""): amount})
        n_networks = _int(s.get("networks"))
        n_centers = _int(s.get("centers"))
        figures = [
            ("networks", n_networks if n_networks is not None else len(nets)),
            ("call centers", n_centers if n_centers is not None else len(self.d.centers)),
            ("victims called", victims),
            ("victims who paid", paid),
        ]
        w('<div class="figures">')
        for label, value in figures:
            w(f'<div class="figure"><b>{value:,}</b>{esc(label)}</div>')
        w(f'<div class="figure"><b>{fmt_money(loss)}</b>loss</div>')
        w("</div>\n")
        flagged = s.get("flagged")
        counts: dict[str, int] = defaultdict(int)
        if isinstance(flagged, dict):
            for k, v in flagged.items():
                counts[str(k)] = _int(v) or 0
        else:
            for (_, kind), n in self.d.entity_counts.items():
                counts[kind] += n
        if counts:
            w("<h4>Flagged entities (score ≥ 0.5) by kind</h4>\n")
            w('<table class="kv"><tbody>\n')
            for kind in _kinds(counts):
                w(f"<tr><th>{esc(_kind_label(kind))}</th><td class=n>{counts[kind]:,}</td></tr>\n")
            w("</tbody></table>\n")

    def _rows_table(self) -> None:
        s, w = self.d.summary, self.out.append
        read = s.get("rows_read") if isinstance(s.get("rows_read"), dict) else {}
        aside = s.get("rows_set_aside") if isinstance(s.get("rows_set_aside"), dict) else {}
        assert isinstance(read, dict) and isinstance(aside, dict)
        names = list(dict.fromkeys([*map(str, read), *map(str, aside)]))
        if not names:
            return
        w("<h4>Records read</h4>\n")
        w(
            '<table class="kv"><thead><tr><th>Input</th><th class=n>Rows read</th>'
            "<th class=n>Rows set aside</th></tr></thead><tbody>\n"
        )
        total_aside = 0
        for name in names:
            a = _int(aside.get(name)) or 0
            total_aside += a
            w(
                f"<tr><td>{esc(name)}</td><td class=n>{fmt_count(read.get(name, ''))}</td>"
                f"<td class=n>{fmt_count(aside.get(name, 0))}</td></tr>\n"
            )
        w("</tbody></table>\n")
        if total_aside:
            where = (
                " They are listed, with the reason, in rejected.csv."
                if (self.d.folder / "rejected.csv").is_file()
                else ""
            )
            w(
                f"<p>{_plural(total_aside, 'row was', 'rows were')} set aside because they could "
                f"not be read or were not valid; they were not used.{esc(where)}</p>\n"
            )

    def _tools(self) -> None:
        """Filter box and evidence buttons (screen only). Printing expands every evidence list
        unless the case is so big that the box below starts unticked."""
        lists = sum(1 for ents in self.d.entities.values() for e in ents if e.evidence)
        checked = " checked" if lists <= PRINT_EVIDENCE_UP_TO else ""
        self.out.append(
            '<div class="tools"><label for="filter">Filter rows:</label>'
            '<input id="filter" type="search" placeholder="account, number, IP, call id...">'
            '<button type="button" id="open-all">Expand all evidence</button>'
            '<button type="button" id="close-all">Collapse all</button>'
            f'<label><input type="checkbox" id="print-evidence"{checked}> print with all '
            f"evidence ({lists:,} lists)</label></div>\n"
        )

    def _contents(self) -> None:
        if not self.network_ids:
            return
        w = self.out.append
        w('<nav><h4>Contents</h4><ol><li><a href="#overview">Overview of networks</a></li>')
        for nid in self.network_ids:
            w(f'<li><a href="#{self.anchor[nid]}">{esc(_network_title(nid))}</a></li>')
        w("</ol></nav>\n")

    # -- overview ----------------------------------------------------------------------------

    def _overview(self) -> None:
        w = self.out.append
        w('<section id="overview"><h2>Overview of networks</h2>\n')
        if not self.d.networks:
            w("<p>No fraud network was identified in this case.</p></section>\n")
            return
        w(
            "<p>Networks ranked by victims who paid, loss and victims (the biggest first). "
            "A network is one organisation: call centers that share lines, callers or "
            "mule accounts.</p>\n"
        )
        w(
            '<table class="ft"><thead><tr><th class=n>Rank</th><th>Network</th>'
            "<th class=n>Centers</th><th class=n>Lines</th><th class=n>Victims</th>"
            "<th class=n>Victims who paid</th><th class=n>Loss</th>"
            "<th class=n>Mule accounts</th><th>Where the centers are</th><th>Active</th>"
            "</tr></thead><tbody>\n"
        )
        totals: dict[str, int] = defaultdict(int)
        loss_total: Money = {}
        for rank, r in enumerate(self.d.networks, 1):
            nid = str(r["network_id"])
            loss = _dec(r.get("loss"))
            loss_m: Money = {str(r.get("currency") or ""): loss} if loss is not None else {}
            _add(loss_total, loss_m)
            for col in ("centers", "lines", "victims", "victims_paid", "mule_accounts"):
                totals[col] += _int(r.get(col)) or 0
            centers = self.centers_by_network.get(nid, [])
            places = _place_summary(centers)
            first, last = _active(centers)
            w(
                f'<tr><td class=n>{rank}</td><td><a href="#{self.anchor[nid]}">'
                f"<b>{esc(nid)}</b></a></td>"
                f"<td class=n>{fmt_count(r.get('centers'))}</td>"
                f"<td class=n>{fmt_count(r.get('lines'))}</td>"
                f"<td class=n>{fmt_count(r.get('victims'))}</td>"
                f"<td class=n>{fmt_count(r.get('victims_paid'))}</td>"
                f"<td class=n>{fmt_money(loss_m) if loss_m else esc(str(r.get('loss') or ''))}"
                f"</td><td class=n>{fmt_count(r.get('mule_accounts'))}</td>"
                f"<td>{esc(places)}</td><td class=nw>{_span(first[:10], last[:10])}</td></tr>\n"
            )
        w(
            f"</tbody><tfoot><tr><td></td><td>All networks</td>"
            f"<td class=n>{totals['centers']:,}</td><td class=n>{totals['lines']:,}</td>"
            f"<td class=n>{totals['victims']:,}</td><td class=n>{totals['victims_paid']:,}</td>"
            f"<td class=n>{fmt_money(loss_total)}</td>"
            f"<td class=n>{totals['mule_accounts']:,}</td><td></td><td></td></tr></tfoot>"
            "</table>\n</section>\n"
        )

    # -- one network -------------------------------------------------------------------------

    def _network(self, nid: str, index: int) -> None:
        w = self.out.append
        w(f'<section class="network" id="{self.anchor[nid]}">\n')
        w(f"<h2>{esc(_network_title(nid))}</h2>\n")
        row = self.net_rows.get(nid)
        if nid == "":
            w(
                "<p>Entities, centers or transfers flagged as fraud that could not be tied to "
                "any network.</p>\n"
            )
        elif row is None:
            w("<p class=\"note\">This network is named in the findings but not in "
              "networks.csv.</p>\n")  # fmt: skip
        else:
            w(
                f"<p>{_plural(_int(row.get('centers')) or 0, 'call center')}, "
                f"{_plural(_int(row.get('lines')) or 0, 'line')}, "
                f"{_plural(_int(row.get('victims')) or 0, 'victim')} called, "
                f"{_plural(_int(row.get('victims_paid')) or 0, 'victim')} who paid, "
                f"{_plural(_int(row.get('mule_accounts')) or 0, 'mule account')}.</p>\n"
            )
        centers = self.centers_by_network.get(nid, [])
        linked = nid != ""  # the unlinked section shows only what it has
        if linked or centers:
            self._centers(centers, index)
        victims = any(self.d.entity_counts.get((nid, k)) for k in ("victim_phone", "victim_paid"))
        if linked or victims or nid in self.d.money:
            self._victims(nid, row)
        if linked or nid in self.d.money:
            self._chains(nid)
        self._scripts(nid)
        self._entities(nid)
        w("</section>\n")

    def _scripts(self, nid: str) -> None:
        """The scripts this network's calls read, with example lines: the same words on many
        lines tie them into one campaign."""
        rows = [r for r in self.d.scripts if str(r.get("network_id") or "") == nid]
        if not rows:
            return
        w = self.out.append
        w("<h3>Scripts read on its calls</h3>\n<p>Transcripts that read as scam calls and share "
          "a script (the same lines, even paraphrased or interrupted). Each group ties the "
          "numbers and accounts that read it into one campaign.</p>\n")  # fmt: skip
        w('<table><thead><tr><th>script</th><th>stage</th><th>calls</th><th>numbers</th>'
          '<th>SIP accounts</th><th>centers</th><th>language</th><th>period</th>'
          '<th>example lines (caller)</th></tr></thead><tbody>\n')  # fmt: skip
        for r in rows[: self.max_rows]:
            lines = "<br>".join(esc(x) for x in str(r.get("example") or "").split(" / ") if x)
            calls = str(r.get("call_ids") or "").split(";")
            w(f"<tr><td>{esc(str(r.get('script_id') or ''))}</td>"
              f"<td>{esc(str(r.get('scam_type') or ''))}</td>"
              f"<td class=\"num\">{fmt_count(r.get('calls'))}</td>"
              f"<td class=\"num\">{fmt_count(r.get('numbers'))}</td>"
              f"<td class=\"num\">{fmt_count(r.get('sip_accounts'))}</td>"
              f"<td class=\"num\">{fmt_count(r.get('centers'))}</td>"
              f"<td>{esc(str(r.get('languages') or ''))}</td>"
              f"<td>{esc(_span(str(r.get('first_seen') or ''), str(r.get('last_seen') or '')))}"
              f"</td><td>{lines}<div class=\"muted\">calls: {esc(', '.join(calls[:5]))}"
              f"{' ...' if len(calls) > 5 else ''}</div></td></tr>\n")  # fmt: skip
        w("</tbody></table>\n")

    def _centers(self, centers: list[dict[str, str]], index: int) -> None:
        w = self.out.append
        w("<h3>Call centers</h3>\n")
        if not centers:
            w("<p>No call center was identified for this network.</p>\n")
            return
        w("<h4>When they were active</h4>\n")
        w(self._timeline(centers, PALETTE[index % len(PALETTE)]))
        w("<h4>Where they are</h4>\n")
        self._places(centers)
        w("<h4>Centers</h4>\n")
        w(
            '<table class="ft"><thead><tr><th>Center</th><th>Country</th><th>Region</th>'
            "<th>First seen</th><th>Last seen</th><th class=n>Lines</th><th class=n>Calls</th>"
            "<th class=n>Victims</th><th class=n>SIP accounts</th><th class=n>Source IPs</th>"
            "<th>Network operator (ASN)</th></tr></thead><tbody>\n"
        )
        for c in centers:
            cid = str(c["center_id"])
            w(
                f'<tr id="{self.center_anchor.get(cid, "")}"><td><b>{esc(cid)}</b></td>'
                f"<td>{esc(str(c['country']))}</td><td>{esc(str(c['region']))}</td>"
                f"<td class=nw>{fmt_time(c['first_seen'])}</td>"
                f"<td class=nw>{fmt_time(c['last_seen'])}</td>"
                f"<td class=n>{fmt_count(c['lines'])}</td><td class=n>{fmt_count(c['calls'])}</td>"
                f"<td class=n>{fmt_count(c['victims'])}</td>"
                f"<td class=n>{fmt_count(c['sip_accounts'])}</td>"
                f"<td class=n>{fmt_count(c['source_ips'])}</td><td>{esc(str(c['asn']))}</td></tr>\n"
            )
        w("</tbody></table>\n")

    def _places(self, centers: list[dict[str, str]]) -> None:
        groups: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
        for c in centers:
            groups[(str(c["country"]).strip(), str(c["region"]).strip())].append(c)
        w = self.out.append
        w(
            '<table class="kv"><thead><tr><th>Country</th><th>Region</th>'
            "<th class=n>Centers</th><th class=n>Calls</th><th class=n>Victims</th>"
            "<th>Center ids</th></tr></thead><tbody>\n"
        )
        for (country, region), cs in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            calls = sum(_int(c["calls"]) or 0 for c in cs)
            victims = sum(_int(c["victims"]) or 0 for c in cs)
            ids = ", ".join(str(c["center_id"]) for c in cs)
            w(
                f"<tr><td>{esc(country) or 'unknown'}</td><td>{esc(region) or '—'}</td>"
                f"<td class=n>{len(cs):,}</td><td class=n>{calls:,}</td>"
                f"<td class=n>{victims:,}</td><td>{esc(ids)}</td></tr>\n"
            )
        w("</tbody></table>\n")

    def _axis(self) -> tuple[dt.datetime, dt.datetime] | None:
        times = [
            t
            for c in self.d.centers
            for t in (parse_time(c["first_seen"]), parse_time(c["last_seen"]))
            if t is not None
        ]
        if not times:
            return None
        lo, hi = min(times), max(times)
        if hi - lo < dt.timedelta(hours=1):
            hi = lo + dt.timedelta(hours=1)
        return lo, hi

    def _timeline(self, centers: list[dict[str, str]], color: str) -> str:
        """Inline SVG: one bar per center from first to last seen, on the case's shared axis."""
        if self.axis is None:
            return "<p>No dates were recorded for these centers.</p>\n"
        lo, hi = self.axis
        span = (hi - lo).total_seconds()
        x0, x1 = TIMELINE_LABEL, TIMELINE_WIDTH - TIMELINE_RIGHT
        width = x1 - x0

        def x(t: dt.datetime) -> float:
            return x0 + width * (t - lo).total_seconds() / span

        rows: list[tuple[dict[str, str], dt.datetime, dt.datetime]] = []
        undated: list[str] = []
        for c in centers:
            a, b = parse_time(c["first_seen"]), parse_time(c["last_seen"])
            if a is None and b is None:
                undated.append(str(c["center_id"]))
                continue
            a = a or b
            b = b or a
            assert a is not None and b is not None
            rows.append((c, min(a, b), max(a, b)))
        height = TIMELINE_TOP + TIMELINE_ROW * len(rows) + 8
        parts = [
            f'<svg class="timeline" viewBox="0 0 {TIMELINE_WIDTH} {height}" role="img" '
            f'aria-label="Activity of the call centers over time" '
            f'preserveAspectRatio="xMinYMin meet">'
        ]
        ticks, fmt = _ticks(lo, hi)
        for t in ticks:
            tx = x(t)
            tick = t.strftime(fmt)
            half = 3.2 * len(tick)
            anchor = "end" if tx + half > TIMELINE_WIDTH else "middle"
            parts.append(
                f'<line class="grid" x1="{tx:.1f}" y1="{TIMELINE_TOP - 6}" x2="{tx:.1f}" '
                f'y2="{height - 4}"/><text class="axis" x="{tx:.1f}" y="{TIMELINE_TOP - 10}" '
                f'text-anchor="{anchor}">{esc(tick)}</text>'
            )
        for i, (c, a, b) in enumerate(rows):
            y = TIMELINE_TOP + i * TIMELINE_ROW
            xa, xb = x(a), x(b)
            bw = max(3.0, xb - xa)
            place = " ".join(p for p in (str(c["country"]), str(c["region"])) if p.strip())
            when = _day_span(a, b)
            label = f"{place} · {when}" if place else when
            cid = str(c["center_id"])
            parts.append(
                f"<g><title>{esc(cid)}: {esc(label)}</title>"
                f'<text x="4" y="{y + 15}" font-weight="600">{esc(cid)}</text>'
                f'<rect x="{xa:.1f}" y="{y + 4}" width="{bw:.1f}" height="{TIMELINE_ROW - 8}" '
                f'rx="2" fill="{color}"/>'
            )
            est = 6.0 * len(label)
            if xa + bw + 6 + est <= TIMELINE_WIDTH - 2:
                attrs = f'x="{xa + bw + 6:.1f}" text-anchor="start"'
            elif xa - 6 - est >= x0:
                attrs = f'x="{xa - 6:.1f}" text-anchor="end"'
            else:
                attrs = f'x="{xa + 4:.1f}" text-anchor="start" style="fill:#fff"'
            parts.append(f'<text {attrs} y="{y + 15}">{esc(label)}</text></g>')
        parts.append("</svg>\n")
        if undated:
            parts.append(f"<p class=muted>No dates for: {esc(', '.join(undated))}.</p>\n")
        return "".join(parts)

    # -- victims and money -------------------------------------------------------------------

    def _victims(self, nid: str, row: dict[str, str] | None) -> None:
        w = self.out.append
        m = self.d.money.get(nid, _Money())
        counts = self.d.entity_counts
        w("<h3>Victims and losses</h3>\n")
        w('<table class="kv"><tbody>\n')
        if row is not None:
            loss = _dec(row.get("loss"))
            cur = str(row.get("currency") or "")
            loss_text = fmt_money({cur: loss}) if loss is not None else esc(str(row.get("loss")))
            w(f"<tr><th>Victims called</th><td class=n>{fmt_count(row.get('victims'))}</td></tr>")
            w(
                f"<tr><th>Victims who paid</th><td class=n>{fmt_count(row.get('victims_paid'))}"
                "</td></tr>"
            )
            w(f"<tr><th>Total loss</th><td class=n><b>{loss_text}</b></td></tr>\n")
        w(
            f"<tr><th>Flagged victim phones</th><td class=n>"
            f"{counts.get((nid, 'victim_phone'), 0):,}</td></tr>"
            f"<tr><th>Flagged victims who paid</th><td class=n>"
            f"{counts.get((nid, 'victim_paid'), 0):,}</td></tr>\n"
        )
        paid = m.totals.get("victim_payment")
        if paid is not None:
            w(
                f"<tr><th>Payments from victims to mule accounts</th><td class=n>{paid.n:,} "
                f"from {_plural(paid.parties, 'account')}: {fmt_money(paid.money)}</td></tr>\n"
            )
        out = m.totals.get("cash_out")
        if out is not None:
            w(
                f"<tr><th>Taken out of the mule accounts</th><td class=n>{out.n:,} "
                f"withdrawals/transfers: {fmt_money(out.money)}</td></tr>\n"
            )
        w("</tbody></table>\n")

    def _chains(self, nid: str) -> None:
        w = self.out.append
        w("<h3>Mule chains: how the money moved</h3>\n")
        m = self.d.money.get(nid)
        if m is None or m.empty:
            why = (
                "transfers.csv is not in the findings folder."
                if not self.d.present.get("transfers")
                else "No flagged transfers for this network."
            )
            w(f"<p>{esc(why)}</p>\n")
            return
        layer = _layers(m)
        totals = m.totals
        w(
            "<p>Victims pay into first-layer mule accounts; the money is moved on "
            "(layering) and finally taken out (cash-out). Layer 1 accounts received money "
            "from victims; layer 2 accounts received it from layer 1, and so on.</p>\n"
        )
        w(
            '<table class="kv"><thead><tr><th>Step</th><th class=n>Transfers</th>'
            "<th class=n>Amount</th><th>From</th><th>To</th></tr></thead><tbody>\n"
        )
        labels = {
            "victim_payment": "Victims paid mule accounts",
            "layering": "Mule accounts moved money on",
            "cash_out": "Money taken out (cash-out)",
        }
        for kind in _ordered(totals, tuple(labels)):
            a = totals[kind]
            w(
                f"<tr><td>{esc(labels.get(kind, kind))}</td><td class=n>{a.n:,}</td>"
                f"<td class=n>{fmt_money(a.money)}</td><td class=nw>{fmt_time(a.first)}</td>"
                f"<td class=nw>{fmt_time(a.last)}</td></tr>\n"
            )
        w("</tbody></table>\n")
        self._layer_summary(m, layer)
        self._tree(m, layer)
        self._paid_in_table(m)
        self._moves_table(m, layer)
        self._cash_out_table(m, layer)

    def _layer_summary(self, m: _Money, layer: dict[str, int]) -> None:
        by_layer: dict[int, list[str]] = defaultdict(list)
        accounts = set(m.paid_in) | {a for k in m.moves for a in k if a} | set(m.cash_out)
        for acc in accounts:
            by_layer[layer.get(acc, 0)].append(acc)
        received: dict[str, Money] = defaultdict(dict)
        sent: dict[str, Money] = defaultdict(dict)
        for acc, a in m.paid_in.items():
            _add(received[acc], a.money)
        for (payer, payee), a in m.moves.items():
            _add(received[payee], a.money)
            _add(sent[payer], a.money)
        for acc, a in m.cash_out.items():
            _add(sent[acc], a.money)
        w = self.out.append
        w(
            '<table class="kv"><thead><tr><th>Layer</th><th class=n>Accounts</th>'
            "<th class=n>Money in</th><th class=n>Money out</th><th class=n>Cashed out</th>"
            "</tr></thead><tbody>\n"
        )
        for lv in sorted(by_layer, key=lambda v: (v == 0, v)):
            accs = by_layer[lv]
            mi: Money = {}
            mo: Money = {}
            co: Money = {}
            for acc in accs:
                _add(mi, received.get(acc, {}))
                _add(mo, sent.get(acc, {}))
                if acc in m.cash_out:
                    _add(co, m.cash_out[acc].money)
            name = f"Layer {lv}" if lv else "Not traced to a victim payment"
            w(
                f"<tr><td>{esc(name)}</td><td class=n>{len(accs):,}</td>"
                f"<td class=n>{fmt_money(mi)}</td><td class=n>{fmt_money(mo)}</td>"
                f"<td class=n>{fmt_money(co)}</td></tr>\n"
            )
        w("</tbody></table>\n")

    def _tree(self, m: _Money, layer: dict[str, int]) -> None:
        """The chains as an indented tree from each first-layer account, biggest first."""
        out_edges: dict[str, list[tuple[str, _Agg]]] = defaultdict(list)
        for (payer, payee), a in m.moves.items():
            out_edges[payer].append((payee, a))
        for edges in out_edges.values():
            edges.sort(key=lambda e: (-_money_size(e[1].money), e[0]))
        roots = sorted(m.paid_in, key=lambda acc: (-_money_size(m.paid_in[acc].money), acc))
        roots += sorted(
            {p for p, _ in m.moves if p and layer.get(p, 0) == 0}
            | {p for p in m.cash_out if p and p not in layer},
            key=_natural,
        )
        if not roots:
            return
        drawn: set[str] = set()
        budget = MAX_CHAIN_NODES
        parts: list[str] = []

        def node(acc: str, depth: int, via: str = "") -> None:
            nonlocal budget
            budget -= 1
            drawn.add(acc)
            bits = []
            if acc in m.paid_in:
                a = m.paid_in[acc]
                bits.append(
                    f"received {fmt_money(a.money)} in {_plural(a.n, 'payment')} from "
                    f"{_plural(a.parties, 'victim account')} ({_span(a.first, a.last)})"
                )
            if acc in m.cash_out:
                a = m.cash_out[acc]
                how = f" by {esc(a.channels)}" if a.channels else ""
                bits.append(
                    f"<b>cashed out</b> {fmt_money(a.money)} in {_plural(a.n, 'transaction')}"
                    f"{how} ({_span(a.first, a.last)})"
                )
            lv = layer.get(acc, 0)
            tag = f' <span class="muted">layer {lv}</span>' if lv else ""
            text = (", which " if via else " ") + "; ".join(bits) if bits else ""
            parts.append(f"<li>{via}<code>{esc(acc or '(cash)')}</code>{tag}{text}")
            kids = out_edges.get(acc, [])
            if kids and depth < 12:
                parts.append("<ul>")
                for payee, a in kids:
                    move = (
                        f"→ {fmt_money(a.money)} in {_plural(a.n, 'transfer')} "
                        f"({_span(a.first, a.last)}) to "
                    )
                    if payee in drawn or budget <= 0:
                        seen = " <span class=muted>(shown above)</span>" if payee in drawn else ""
                        parts.append(f"<li>{move}<code>{esc(payee or '(cash)')}</code>{seen}</li>")
                    else:
                        node(payee, depth + 1, move)
                parts.append("</ul>")
            parts.append("</li>")

        for acc in roots:
            if acc in drawn:
                continue
            if budget <= 0:
                break
            node(acc, 0)
        left = len([r for r in roots if r not in drawn])
        w = self.out.append
        w('<h4>Chains</h4>\n<ul class="tree">')
        w("".join(parts))
        w("</ul>\n")
        if left:
            w(f"<p class=muted>and {left:,} more chains: see the tables below and "
              "transfers.csv.</p>\n")  # fmt: skip

    def _cut(self, n: int, what: str) -> None:
        if n > self.max_rows:
            self.out.append(
                f"<p class=muted>and {n - self.max_rows:,} more {esc(what)} "
                "(all in transfers.csv).</p>\n"
            )

    def _paid_in_table(self, m: _Money) -> None:
        if not m.paid_in:
            return
        w = self.out.append
        w("<h4>Layer 1: victims' payments, by receiving account</h4>\n")
        w(
            '<table class="ft"><thead><tr><th>Receiving account</th><th class=n>Payments</th>'
            "<th class=n>Paying accounts</th><th class=n>Amount</th><th>First</th><th>Last</th>"
            "<th>Channels</th></tr></thead><tbody>\n"
        )
        rows = sorted(m.paid_in.items(), key=lambda kv: (-_money_size(kv[1].money), kv[0]))
        for acc, a in rows[: self.max_rows]:
            w(
                f"<tr><td><code>{esc(acc or '(cash)')}</code></td><td class=n>{a.n:,}</td>"
                f"<td class=n>{a.parties:,}</td><td class=n>{fmt_money(a.money)}</td>"
                f"<td class=nw>{fmt_time(a.first)}</td><td class=nw>{fmt_time(a.last)}</td>"
                f"<td>{esc(a.channels)}</td></tr>\n"
            )
        w("</tbody></table>\n")
        self._cut(len(rows), "receiving accounts")

    def _moves_table(self, m: _Money, layer: dict[str, int]) -> None:
        if not m.moves:
            return
        w = self.out.append
        w("<h4>Layering: money moved between accounts</h4>\n")
        w(
            '<table class="ft"><thead><tr><th class=n>From layer</th><th>From account</th>'
            "<th>To account</th><th class=n>Transfers</th><th class=n>Amount</th>"
            "<th>First</th><th>Last</th><th>Channels</th></tr></thead><tbody>\n"
        )
        rows = sorted(
            m.moves.items(),
            key=lambda kv: (
                layer.get(kv[0][0], 0) or 99,
                -_money_size(kv[1].money),
                kv[0],
            ),
        )
        for (payer, payee), a in rows[: self.max_rows]:
            lv = layer.get(payer, 0)
            w(
                f"<tr><td class=n>{lv if lv else '?'}</td>"
                f"<td><code>{esc(payer or '(cash)')}</code></td>"
                f"<td><code>{esc(payee or '(cash)')}</code></td><td class=n>{a.n:,}</td>"
                f"<td class=n>{fmt_money(a.money)}</td><td class=nw>{fmt_time(a.first)}</td>"
                f"<td class=nw>{fmt_time(a.last)}</td><td>{esc(a.channels)}</td></tr>\n"
            )
        w("</tbody></table>\n")
        self._cut(len(rows), "account pairs")

    def _cash_out_table(self, m: _Money, layer: dict[str, int]) -> None:
        if not m.cash_out:
            return
        w = self.out.append
        w("<h4>Cash-out: money taken out, by account</h4>\n")
        w(
            '<table class="ft"><thead><tr><th>Account</th><th class=n>Layer</th>'
            "<th class=n>Transactions</th><th class=n>Amount</th><th>First</th><th>Last</th>"
            "<th>Channels</th></tr></thead><tbody>\n"
        )
        rows = sorted(m.cash_out.items(), key=lambda kv: (-_money_size(kv[1].money), kv[0]))
        for acc, a in rows[: self.max_rows]:
            lv = layer.get(acc, 0)
            w(
                f"<tr><td><code>{esc(acc or '(cash)')}</code></td>"
                f"<td class=n>{lv if lv else '?'}</td><td class=n>{a.n:,}</td>"
                f"<td class=n>{fmt_money(a.money)}</td><td class=nw>{fmt_time(a.first)}</td>"
                f"<td class=nw>{fmt_time(a.last)}</td><td>{esc(a.channels)}</td></tr>\n"
            )
        w("</tbody></table>\n")
        self._cut(len(rows), "accounts")

    # -- entities ----------------------------------------------------------------------------

    def _entities(self, nid: str) -> None:
        w = self.out.append
        kinds = [k for (n, k) in self.d.entity_counts if n == nid]
        w("<h3>Flagged entities</h3>\n")
        if not kinds:
            w("<p>No flagged entities in this network.</p>\n")
            return
        has_evidence = self.d.present.get("evidence", False)
        for kind in _ordered(dict.fromkeys(kinds), KIND_ORDER):
            total = self.d.entity_counts[(nid, kind)]
            shown = self.d.entities.get((nid, kind), [])
            w(f"<h4>{esc(_kind_label(kind))} — {total:,}</h4>\n")
            if total > len(shown):
                w(
                    f"<p class=muted>Showing the {len(shown):,} with the highest score, "
                    f"and {total - len(shown):,} more (all in entities.csv).</p>\n"
                )
            if not shown:
                continue
            w(
                '<table class="ent"><thead><tr><th>Value</th><th class=n>Score</th>'
                "<th>Center</th><th>Why it is flagged</th></tr></thead>\n"
            )
            for ent in shown:
                w(self._entity_rows(ent, has_evidence))
            w("</table>\n")

    def _entity_rows(self, ent: _Entity, has_evidence: bool) -> str:
        """One ``<tbody>`` per entity: its row, then its evidence (collapsed) across the table."""
        sc = _score(ent.score)
        score = f"{sc:.2f}" if sc is not None else esc(ent.score)
        anchor = self.center_anchor.get(ent.center_id)
        center = f'<a href="#{anchor}">{esc(ent.center_id)}</a>' if anchor else esc(ent.center_id)
        evidence = ""
        if ent.evidence:
            rows = "".join(
                f"<tr><td class=nw>{fmt_time(t)}</td>"
                f"<td class=nw>{esc(SOURCE_LABELS.get(src, src))}</td>"
                f"<td><code>{esc(rid)}</code></td><td>{esc(detail)}</td></tr>"
                for t, src, rid, detail in ent.evidence
            )
            more = ent.evidence_total - len(ent.evidence)
            more_text = (
                f"<p class=muted>and {more:,} more records in evidence.csv</p>" if more > 0 else ""
            )
            evidence = (
                f"<details><summary>{_plural(ent.evidence_total, 'evidence record')}</summary>"
                '<table class="ev"><thead><tr><th>Time</th><th>Source</th><th>Record</th>'
                f"<th>Detail</th></tr></thead><tbody>{rows}</tbody></table>{more_text}</details>"
            )
        elif ent.evidence_total:
            evidence = f"{_plural(ent.evidence_total, 'evidence record')} in evidence.csv"
        elif has_evidence:
            evidence = "<span class=muted>no evidence records</span>"
        first = "<tr>" if not evidence else '<tr class="has-ev">'
        second = f'<tr class="ev-row"><td colspan=4>{evidence}</td></tr>' if evidence else ""
        return (
            f"<tbody>{first}<td><code>{esc(ent.value)}</code></td><td class=n>{score}</td>"
            f"<td>{center}</td><td>{esc(ent.reason)}</td></tr>{second}</tbody>\n"
        )

    # -- footer ------------------------------------------------------------------------------

    def _footer(self) -> None:
        w = self.out.append
        w("<footer>\n")
        w(
            f"<p>An entity is flagged when its score is at least {contract.FLAG_THRESHOLD}. "
            "Scores are the strength of the pattern found, not proof: each flagged entity "
            "lists the records behind it so they can be checked at the source. "
            f"This report lists at most {self.d.max_entities:,} entities per kind per network "
            f"(highest score first), {self.d.max_evidence:,} evidence records per entity and "
            f"{self.max_rows:,} rows per money table; the CSV files in the findings folder "
            "hold everything.</p>\n"
        )
        timings = self.d.summary.get("timings_s")
        if isinstance(timings, dict) and timings:
            items = ", ".join(
                f"{esc(str(k))} {v:.1f} s" if isinstance(v, int | float) else esc(f"{k} {v}")
                for k, v in timings.items()
            )
            w(f"<p>Processing time: {items}.</p>\n")
        w("</footer>\n")


# --------------------------------------------------------------------------------------------
# Helpers used by the renderer


def _natural(s: str) -> tuple[Any, ...]:
    """Sort key putting N2 before N10."""
    head = s.rstrip("0123456789")
    tail = s[len(head) :]
    return (head, int(tail) if tail else -1, s)


def _network_title(nid: str) -> str:
    return f"Network {nid}" if nid else "Not linked to a network"


def _str_list(v: object) -> list[str]:
    if isinstance(v, str):
        return [v] if v else []
    if isinstance(v, Iterable):
        return [str(x) for x in v]
    return []


def _input_list(names: list[str]) -> str:
    return ", ".join(f"<b>{esc(n)}</b>" for n in names)


def _absent_consequence(absent: list[str]) -> str:
    why = {
        "entities.csv": "no flagged entities can be listed",
        "transfers.csv": "the money flows cannot be shown",
        "centers.csv": "the call centers cannot be shown",
        "networks.csv": "the networks cannot be ranked",
        "evidence.csv": "the records behind each entity cannot be shown",
    }
    parts = [why[a] for a in absent if a in why]
    return ("Therefore " + "; ".join(parts) + ".") if parts else ""


def _kinds(counts: Mapping[str, int]) -> list[str]:
    return _ordered(counts, KIND_ORDER)


def _ordered(items: Mapping[str, object], order: Sequence[str]) -> list[str]:
    first = [k for k in order if k in items]
    return first + sorted(k for k in items if k not in order)


def _place_summary(centers: list[dict[str, str]]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for c in centers:
        place = " ".join(p for p in (str(c["country"]).strip(), str(c["region"]).strip()) if p)
        counts[place or "unknown"] += 1
    return ", ".join(
        f"{p} ({n})" if n > 1 else p for p, n in sorted(counts.items(), key=lambda kv: -kv[1])
    )


def _active(centers: list[dict[str, str]]) -> tuple[str, str]:
    firsts = [str(c["first_seen"]) for c in centers if str(c["first_seen"]).strip()]
    lasts = [str(c["last_seen"]) for c in centers if str(c["last_seen"]).strip()]
    return (min(firsts) if firsts else "", max(lasts) if lasts else "")


def _day_span(a: dt.datetime, b: dt.datetime) -> str:
    if a.date() == b.date():
        return f"{a:%Y-%m-%d %H:%M}–{b:%H:%M}"
    return f"{a:%Y-%m-%d} – {b:%Y-%m-%d}"


def _layers(m: _Money) -> dict[str, int]:
    """Layer of each account: 1 for accounts victims paid, k+1 for accounts layer k paid."""
    layer: dict[str, int] = {acc: 1 for acc in m.paid_in if acc}
    out: dict[str, list[str]] = defaultdict(list)
    for payer, payee in m.moves:
        if payer and payee:
            out[payer].append(payee)
    frontier = list(layer)
    while frontier:
        nxt: list[str] = []
        for acc in frontier:
            for payee in out.get(acc, ()):
                if payee not in layer:
                    layer[payee] = layer[acc] + 1
                    nxt.append(payee)
        frontier = nxt
    return layer


def _ticks(lo: dt.datetime, hi: dt.datetime) -> tuple[list[dt.datetime], str]:
    """At most ~10 round tick times between ``lo`` and ``hi`` and their strftime format."""
    span = (hi - lo).total_seconds()
    hour, day = 3600, 86400
    for step, fmt in (
        (hour, "%m-%d %H:%M"),
        (3 * hour, "%m-%d %H:%M"),
        (6 * hour, "%m-%d %H:%M"),
        (12 * hour, "%m-%d %H:%M"),
        (day, "%Y-%m-%d"),
        (2 * day, "%Y-%m-%d"),
        (7 * day, "%Y-%m-%d"),
        (14 * day, "%Y-%m-%d"),
    ):
        if span / step <= 10:
            start = int(lo.timestamp()) // step * step
            ticks = []
            t = start
            while t <= hi.timestamp():
                if t >= lo.timestamp():
                    ticks.append(dt.datetime.fromtimestamp(t, dt.UTC))
                t += step
            return ticks, fmt
    for months in (1, 2, 3, 6, 12, 24, 60, 120, 600):
        if span / (30.44 * day * months) <= 10:
            break
    y, mo = lo.year, lo.month
    mo_index = y * 12 + mo - 1
    mo_index = -(-mo_index // months) * months
    month_ticks: list[dt.datetime] = []
    while True:
        tick = dt.datetime(mo_index // 12, mo_index % 12 + 1, 1, tzinfo=dt.UTC)
        if tick > hi:
            break
        if tick >= lo:
            month_ticks.append(tick)
        mo_index += months
    return month_ticks, ("%Y" if months >= 12 else "%Y-%m")
