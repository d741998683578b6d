"""Two agencies, each with half the picture, work one case without handing over citizens' data.

Agency A (the victims' country: carrier records, banks, complaints) and agency B (the call
centers' country: the VoIP provider's records) agree a secret key for the case. Every phone
number that crosses the border is replaced by ``HMAC-SHA256(key, "phone:+E164")``: a party
without the key can neither read nor confirm a guess, and each side can still match the other's
hashes against numbers it already holds, by hashing its own.

1. :func:`build_request` (A): the calls A finds suspicious (a local caller ID arriving on an
   international trunk, or any call from abroad to a victim A flagged), as hashed callee, start
   time and hashed caller ID, and the spoofed caller IDs A flagged.
2. :func:`build_answer` (B): B matches the request against its own records by hashed dialled
   number and start time within a tolerance, scores its own lines with the same detector, and
   returns the lines it flags (SIP accounts, source IPs with country and network, every call they
   placed with hashed numbers); lines it does not flag (its own citizens: emigrants, ordinary
   customers) only as a pseudonym keyed with a secret only B holds (its *line key*, not the
   case key, so A cannot test guesses of B's account names), their verdict and the matched
   calls, with no address.
3. :func:`merge_answer` (A): A resolves the hashes that are numbers of its own case, writes the
   answer as ``voip_cdr`` rows into a new case folder next to its own tables, and keeps the
   hashes it cannot resolve (victims of other domestic networks) as leads; ``detect`` then runs
   on the merged case unchanged.

What each side learns is written down in ``docs/adr/0005-exchange.md``.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from scamtrace import __version__
from scamtrace.core import contract
from scamtrace.core.casefolder import CaseFolderWriter, ensure_apart, holder_countries
from scamtrace.core.errors import ScamtraceError
from scamtrace.core.ips import ip_facts
from scamtrace.core.phones import calling_code, calling_code_sql, to_e164
from scamtrace.core.sql import connect, run
from scamtrace.detect.lines import score_lines
from scamtrace.detect.settings import DetectSettings
from scamtrace.enrich.case import Case, open_case
from scamtrace.evaluate import KindScore
from scamtrace.share.safeio import neutral_row, read_json, refuse_existing, write_csv

#: The environment variable that may hold the case key (hex), instead of a key file.
KEY_ENV = "SCAMTRACE_CASE_KEY"
#: The environment variable that may hold B's line key (hex), instead of a key file.
LINE_KEY_ENV = "SCAMTRACE_LINE_KEY"
#: The largest time tolerance a request may ask for: a wider window would let B's records
#: match (and B's answer return) calls to A's numbers that are not the calls A asked about.
MAX_TOLERANCE_S = 3600
KEY_BYTES = 32
#: Hex digits kept of each HMAC: 128 bits, no collision among billions of numbers.
HASH_HEX = 32
FORMAT_VERSION = 1


class ExchangeError(ScamtraceError):
    """A request, answer or key that cannot be used."""


# --------------------------------------------------------------------------------- keys
def new_key() -> str:
    """A fresh case key: 32 random bytes as hex, to agree over a secure channel."""
    return secrets.token_hex(KEY_BYTES)


def write_key(path: Path, *, overwrite: bool = False) -> str:
    """Write a new key file readable by its owner only; returns the key's id."""
    if path.exists() and not overwrite:
        raise ExchangeError(f"{path}: already exists; pass --overwrite to replace the key")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(new_key() + "\n")
    return key_id(load_key(path))


def load_key(path: Path | None) -> bytes:
    """The case key from ``path`` (hex text), else from ``$SCAMTRACE_CASE_KEY``."""
    if path is not None:
        try:
            text = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ExchangeError(f"{path}: cannot read the case key: {exc}") from exc
        where = str(path)
    else:
        text, where = os.environ.get(KEY_ENV, "").strip(), f"${KEY_ENV}"
        if not text:
            raise ExchangeError(f"no case key: pass --key FILE or set {KEY_ENV} "
                                "(make one with `scamtrace share case-key`)")  # fmt: skip
    try:
        key = bytes.fromhex(text)
    except ValueError as exc:
        raise ExchangeError(f"{where}: line 1: the case key is not hex") from exc
    if len(key) < KEY_BYTES:
        raise ExchangeError(f"{where}: line 1: the case key has {len(key)} bytes; "
                            f"at least {KEY_BYTES} are needed")  # fmt: skip
    return key


def key_exposure(path: Path | None) -> str | None:
    """A warning when the key file ``path`` may be read by others than its owner, else None.

    Such a key is used, not refused (a key on a file system without POSIX modes would
    otherwise be unusable), but the command says it loudly: anyone who can read the case key
    can test guesses of every hashed number of the exchange."""
    if path is None:
        return None
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return None
    if not mode & 0o077:
        return None
    return (f"{path}: mode {mode:o}: other users of this machine can read this key and, with "
            f"it, test guesses of every hashed number; run chmod 600 {path}")  # fmt: skip


def default_line_key_path() -> Path:
    """Where B keeps its line key unless told otherwise: ``$XDG_CONFIG_HOME/scamtrace/``
    (``~/.config/scamtrace/``) ``line.key``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "scamtrace" / "line.key"


def load_line_key(path: Path | None = None) -> tuple[bytes, str]:
    """B's own secret for the pseudonyms of its unflagged lines, and where it came from.

    From ``path``, else ``$SCAMTRACE_LINE_KEY``, else :func:`default_line_key_path`; a key
    file that does not exist yet is made (32 random bytes, hex, mode 0600). It never leaves
    B: the case key cannot serve, since A holds it and could hash B's whole account space."""
    if path is None and os.environ.get(LINE_KEY_ENV, "").strip():
        text = os.environ[LINE_KEY_ENV].strip()
        try:
            key = bytes.fromhex(text)
        except ValueError as exc:
            raise ExchangeError(f"${LINE_KEY_ENV}: the line key is not hex") from exc
        if len(key) < KEY_BYTES:
            raise ExchangeError(f"${LINE_KEY_ENV}: the line key has {len(key)} bytes; at least "
                                f"{KEY_BYTES} are needed")  # fmt: skip
        return key, f"${LINE_KEY_ENV}"
    where = path if path is not None else default_line_key_path()
    if not where.exists():
        write_key(where)
        return load_key(where), f"{where} (new)"
    return load_key(where), str(where)


def line_pseudonym_key(line_key: bytes, case_key: bytes) -> bytes:
    """The key of one case's line pseudonyms: B's line key bound to the case (by the case
    key's id), so one line's pseudonyms in two cases cannot be linked."""
    return hmac.digest(line_key, b"scamtrace-line-pseudonyms:" + key_id(case_key).encode(),
                       "sha256")  # fmt: skip


def check_tolerance(value: object, where: str) -> int:
    """``value`` as a tolerance in whole seconds, 0..:data:`MAX_TOLERANCE_S`."""
    if isinstance(value, bool) or not isinstance(value, int) or not (
            0 <= value <= MAX_TOLERANCE_S):  # fmt: skip
        shown = repr(value) if len(repr(value)) < 40 else repr(value)[:40] + "..."
        raise ExchangeError(f"{where}: {shown} is not a tolerance in whole seconds from 0 to "
                            f"{MAX_TOLERANCE_S}")  # fmt: skip
    return value


def key_id(key: bytes) -> str:
    """A fingerprint of the key, so both sides can check they use the same one."""
    return hmac.new(key, b"scamtrace-case-key-id", hashlib.sha256).hexdigest()[:16]


def keyed(key: bytes, kind: str, values: Iterable[str]) -> dict[str, str]:
    """``{value: HMAC-SHA256(key, kind:value)}`` for each distinct value (truncated hex).

    ``kind`` separates domains: the same text as a phone and as a line gives unrelated hashes.
    """
    prefix = f"{kind}:".encode()
    return {v: hmac.digest(key, prefix + v.encode(), "sha256").hex()[:HASH_HEX]
            for v in set(values)}  # fmt: skip


def phone_hashes(key: bytes, digits: Iterable[int]) -> dict[int, str]:
    """Keyed hashes of E.164 numbers held as digits (the form ``enrich.case`` loads them in)."""
    texts = {int(d): f"+{int(d)}" for d in digits}
    hashed = keyed(key, "phone", texts.values())
    return {d: hashed[t] for d, t in texts.items()}


# ----------------------------------------------------------------------------- helpers
def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _read_json(path: Path, what: str) -> dict[str, Any]:
    raw = read_json(path, what, ExchangeError)
    if not isinstance(raw, dict) or raw.get("scamtrace_exchange") != what:
        raise ExchangeError(f"{path}: line 1: not a scamtrace exchange {what}")
    return raw


def _write_json(path: Path, obj: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    tmp.write_text(json.dumps(obj, separators=(",", ":")) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _check_key(raw: dict[str, Any], key: bytes, path: Path) -> None:
    if raw.get("key_id") != key_id(key):
        raise ExchangeError(f"{path}: field key_id: made with another case key "
                            f"({raw.get('key_id')!r}, ours is {key_id(key)!r})")  # fmt: skip


def _columns(raw: dict[str, Any], field: str, schema: pa.Schema, path: Path) -> pa.Table:
    names = schema.names
    block = raw.get(field)
    if not isinstance(block, dict) or any(not isinstance(block.get(n), list) for n in names):
        raise ExchangeError(f"{path}: field {field}: expected columns {', '.join(names)}")
    lengths = {len(block[n]) for n in names}
    if len(lengths) > 1:
        raise ExchangeError(f"{path}: field {field}: columns of different lengths")
    try:
        return pa.table({n: pa.array(block[n], schema.field(n).type) for n in names})
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        raise ExchangeError(f"{path}: field {field}: {str(exc)[:200]}") from exc


def _flagged(findings: Path, kind: str) -> set[str]:
    path = findings / "entities.csv"
    if not path.is_file():
        raise ExchangeError(f"{path}: not found; run `scamtrace detect` on your half first")
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            return {r["value"] for r in csv.DictReader(fh)
                    if r.get("kind") == kind and _score(r) >= contract.FLAG_THRESHOLD}
    except (UnicodeDecodeError, csv.Error, ValueError) as exc:
        raise ExchangeError(f"{path}: not a readable findings table: {str(exc)[:200]}") from exc


def _score(row: dict[str, str]) -> float:
    return float(row.get("score") or 0)


# ----------------------------------------------------------------------------- request
@dataclass(frozen=True)
class RequestStats:
    calls: int
    callees: int
    caller_ids: int


def build_request(
    findings: Path, case_dir: Path, key: bytes, *, tolerance_s: int = 10
) -> tuple[dict[str, Any], RequestStats]:
    """Agency A's request: its suspicious calls and flagged caller IDs, every number hashed."""
    check_tolerance(tolerance_s, "--tolerance")
    case = open_case(case_dir, tables=("carrier_cdr",))
    try:
        if not case.has("carrier_cdr"):
            raise ExchangeError(f"{case_dir}: no carrier_cdr; the request is made from the "
                                "victims' carrier records")  # fmt: skip
        home = case.table_country.get("carrier_cdr", case.country)
        victims = sorted(int(v.lstrip("+")) for v in _flagged(findings, "victim_phone"))
        spoofed = sorted(int(v.lstrip("+")) for v in _flagged(findings, "caller_number"))
        run(case.db, "CREATE TEMP TABLE flagged_victims (n BIGINT)")
        if victims:
            case.db.executemany("INSERT INTO flagged_victims VALUES (?)", [[v] for v in victims])
        # A local caller ID on an international trunk is the spoofing signature; a call from
        # abroad to a flagged victim matters whatever it showed.
        calls = case.db.sql(f"""
            SELECT called_number AS callee, start_time AS t, caller_number AS caller
            FROM carrier_cdr
            WHERE upper(ingress_country) <> '{home}' AND called_number IS NOT NULL
              AND ({calling_code_sql('caller_number')} = {calling_code(home)}
                   OR called_number IN (SELECT n FROM flagged_victims))
            ORDER BY t, callee
        """).to_arrow_table()  # fmt: skip
    finally:
        case.db.close()
    numbers = pc.unique(pa.concat_arrays([
        calls.column("callee").combine_chunks(), calls.column("caller").combine_chunks(),
        pa.array(spoofed, pa.int64()),
    ]).drop_null())  # fmt: skip
    h = phone_hashes(key, numbers.to_pylist())
    callees = _mapped(calls.column("callee"), h).to_pylist()
    request: dict[str, Any] = {
        "scamtrace_exchange": "request",
        "version": FORMAT_VERSION,
        "scamtrace": __version__,
        "created_at": _now(),
        "key_id": key_id(key),
        "hash": f"HMAC-SHA256(case key, 'phone:' + E.164), first {HASH_HEX} hex digits",
        "requesting_country": home,
        "tolerance_s": tolerance_s,
        "calls": {
            "callee": callees,
            "t": calls.column("t").to_pylist(),
            "caller": _mapped(calls.column("caller"), h).to_pylist(),
        },
        "caller_ids": sorted(h[n] for n in spoofed),
    }
    stats = RequestStats(calls.num_rows, len(set(callees)), len(spoofed))
    return request, stats


def _mapped(column: pa.ChunkedArray | pa.Array, mapping: dict[Any, str]) -> pa.Array:
    """``column`` looked up in ``mapping`` (null where absent), vectorised: the dictionary's
    keys become a value set, each row an index into its values."""
    keys = pa.array(list(mapping), column.type)
    index = pc.index_in(column, value_set=keys)
    return pa.array(list(mapping.values()), pa.string()).take(index)


def write_request(
    findings: Path, case_dir: Path, key: bytes, out: Path, *, tolerance_s: int = 10,
    overwrite: bool = False,
) -> RequestStats:
    ensure_apart(out, findings, case_dir)
    refuse_existing(out, overwrite, ExchangeError)
    request, stats = build_request(findings, case_dir, key, tolerance_s=tolerance_s)
    _write_json(out, request)
    return stats


# ------------------------------------------------------------------------------ answer
@dataclass(frozen=True)
class AnswerStats:
    requested: int
    matched: int
    lines_disclosed: int
    lines_pseudonymous: int
    calls_returned: int
    numbers_returned: int


ANSWER_CALL_COLUMNS = ("call_id", "t", "line", "source_ip", "user_agent", "to", "from",
                       "duration_s", "sip_status", "item")  # fmt: skip
REQUEST_CALLS = pa.schema({"callee": pa.string(), "t": pa.int64(), "caller": pa.string()})
ANSWER_CALLS = pa.schema({
    "call_id": pa.string(), "t": pa.int64(), "line": pa.string(), "source_ip": pa.string(),
    "user_agent": pa.string(), "to": pa.string(), "from": pa.string(),
    "duration_s": pa.int64(), "sip_status": pa.int64(), "item": pa.int64(),
})  # fmt: skip


def build_answer(
    request_path: Path, case_dir: Path, key: bytes, *, settings: DetectSettings | None = None,
    line_key: bytes | None = None,
) -> tuple[dict[str, Any], AnswerStats]:
    """Agency B's answer to a request, from its own ``voip_cdr``. Its unflagged lines are
    pseudonymised with ``line_key`` (:func:`load_line_key`; a fresh random one when None, so
    the pseudonyms then differ from one answer to the next)."""
    raw = _read_json(request_path, "request")
    _check_key(raw, key, request_path)
    req = _columns(raw, "calls", REQUEST_CALLS, request_path)
    tolerance = check_tolerance(raw.get("tolerance_s", 10), f"{request_path}: field tolerance_s")
    asked = raw.get("caller_ids") or []
    if not isinstance(asked, list) or not all(isinstance(c, str) for c in asked):
        raise ExchangeError(f"{request_path}: field caller_ids: expected a list of hashes")
    caller_ids = list(asked)
    lines_key = line_pseudonym_key(line_key or secrets.token_bytes(KEY_BYTES), key)
    case = open_case(case_dir, tables=("voip_cdr",))
    try:
        if not case.has("voip_cdr"):
            raise ExchangeError(f"{case_dir}: no voip_cdr; the answer comes from the VoIP "
                                "provider's records")  # fmt: skip
        return _answer(case, raw, req, caller_ids, tolerance, key, settings or DetectSettings(),
                       lines_key)
    finally:
        case.db.close()


def _answer(
    case: Case, raw: dict[str, Any], req: pa.Table, caller_ids: list[str], tolerance: int,
    key: bytes, settings: DetectSettings, lines_key: bytes,
) -> tuple[dict[str, Any], AnswerStats]:
    db = case.db
    numbers = run(db, "SELECT to_number FROM voip_cdr WHERE to_number IS NOT NULL UNION "
                      "SELECT from_number FROM voip_cdr WHERE from_number IS NOT NULL")  # fmt: skip
    hashed = phone_hashes(key, (r[0] for r in numbers))
    db.register("_phone_hash", pa.table({"n": list(hashed), "h": list(hashed.values())}))
    run(db, "CREATE TEMP TABLE phone_hash AS SELECT * FROM _phone_hash")
    db.unregister("_phone_hash")
    run(db, """
        CREATE TEMP TABLE voip_h AS
        SELECT v.*, ht.h AS to_h, hf.h AS from_h FROM voip_cdr v
        LEFT JOIN phone_hash ht ON ht.n = v.to_number
        LEFT JOIN phone_hash hf ON hf.n = v.from_number
    """)
    items = req.append_column("item", pa.array(range(req.num_rows), pa.int64()))
    db.register("_req", items)
    run(db, "CREATE TEMP TABLE req AS SELECT * FROM _req")
    db.unregister("_req")
    db.register("_ids", pa.table({"h": pa.array(caller_ids, pa.string())}))
    run(db, "CREATE TEMP TABLE asked_ids AS SELECT * FROM _ids")
    db.unregister("_ids")
    # Each requested call takes B's record of a call to the same number within the tolerance
    # that showed the same caller ID (transit may rewrite it, so that only breaks ties),
    # nearest in time.
    run(db, f"""
        CREATE TEMP TABLE matched AS
        SELECT item, v_line FROM (
            SELECT r.item, v._line AS v_line,
                   row_number() OVER (PARTITION BY r.item
                                      ORDER BY (v.from_h IS NOT DISTINCT FROM r.caller) DESC,
                                               abs(v.start_time - r.t), v._line) AS k
            FROM req r JOIN voip_h v
              ON v.to_h = r.callee AND v.start_time BETWEEN r.t - {tolerance} AND r.t + {tolerance}
        ) WHERE k = 1
    """)  # fmt: skip
    run(db, """
        CREATE TEMP TABLE asked_lines AS
        SELECT DISTINCT v.sip_account FROM matched m JOIN voip_h v ON v._line = m.v_line
        UNION SELECT DISTINCT sip_account FROM voip_h WHERE from_h IN (SELECT h FROM asked_ids)
    """)
    score_lines(case, settings)
    lines = run(db, f"""
        SELECT a.sip_account, coalesce(s.score, 0), coalesce(s.reason, ''),
               coalesce(s.calls, 0), coalesce(s.callees, 0), coalesce(s.ids, 0),
               coalesce(s.score, 0) >= {contract.FLAG_THRESHOLD} AS disclosed
        FROM asked_lines a LEFT JOIN sip_scores s USING (sip_account) ORDER BY 1
    """)  # fmt: skip
    # Keyed with B's own secret, not the case key: A holds the case key and could otherwise
    # hash every account name B's provider could issue and unmask its customers.
    pseudonym = keyed(lines_key, "line", (r[0] for r in lines if not r[6]))
    label = {r[0]: (r[0] if r[6] else f"line-{pseudonym[r[0]][:16]}") for r in lines}
    db.register("_label", pa.table({"sip_account": list(label), "line": list(label.values()),
                                    "disclosed": [bool(r[6]) for r in lines]}))  # fmt: skip
    run(db, "CREATE TEMP TABLE line_label AS SELECT * FROM _label")
    db.unregister("_label")
    # A flagged line's every call is evidence against it; an unflagged line's calls are its
    # customers' private business, so only the calls A asked about go back, without address.
    calls = db.sql("""
        SELECT v.call_id, v.start_time AS t, l.line,
               CASE WHEN l.disclosed THEN v.source_ip ELSE '' END AS source_ip,
               CASE WHEN l.disclosed THEN v.user_agent ELSE '' END AS user_agent,
               v.to_h AS "to", v.from_h AS "from", v.duration_s, v.sip_status, m.item
        FROM voip_h v JOIN line_label l USING (sip_account)
        LEFT JOIN matched m ON m.v_line = v._line
        WHERE l.disclosed OR m.item IS NOT NULL
        ORDER BY t, v._line
    """).to_arrow_table()  # fmt: skip
    ips = run(db, """
        SELECT v.source_ip, count(*), count(DISTINCT v.sip_account), min(v.start_time),
               max(v.start_time)
        FROM voip_h v JOIN line_label l USING (sip_account)
        WHERE l.disclosed AND v.source_ip <> '' GROUP BY 1 ORDER BY 1
    """)
    line_ips = run(db, """
        SELECT v.sip_account, string_agg(DISTINCT v.source_ip, ';' ORDER BY v.source_ip),
               min(v.start_time), max(v.start_time)
        FROM voip_h v JOIN line_label l USING (sip_account) WHERE l.disclosed GROUP BY 1
    """)
    matched = case.count("SELECT count(*) FROM matched")
    where = {r[0]: r for r in line_ips}
    facts = ip_facts(r[0] for r in ips)
    answer = {
        "scamtrace_exchange": "answer",
        "version": FORMAT_VERSION,
        "scamtrace": __version__,
        "created_at": _now(),
        "key_id": raw["key_id"],
        "hash": raw.get("hash", ""),
        "requesting_country": raw.get("requesting_country", ""),
        "answering_country": case.table_country.get("voip_cdr", case.country),
        "tolerance_s": tolerance,
        "line_pseudonym": "line- + HMAC-SHA256(a key only the answering agency holds, "
                          "'line:' + account), first 16 hex digits",
        "requested_calls": req.num_rows,
        "matched_calls": matched,
        "lines": [
            {"line": label[a], "disclosed": bool(d), "score": round(float(sc), 3),
             "reason": reason if d else "not a dialling line by the provider's records",
             "calls": int(n), "callees": int(nc), "caller_ids": int(ni),
             "source_ips": (where[a][1] or "").split(";") if d and a in where else [],
             "first_seen": _iso(where[a][2]) if d and a in where else None,
             "last_seen": _iso(where[a][3]) if d and a in where else None}
            for a, sc, reason, n, nc, ni, d in lines
        ],
        "source_ips": [
            {"ip": ip, "country": facts[ip].country, "network": facts[ip].network,
             "cidr": facts[ip].cidr, "calls": int(n), "lines": int(nl),
             "first_seen": _iso(t0), "last_seen": _iso(t1)}
            for ip, n, nl, t0, t1 in ips
        ],
        "calls": {c: calls.column(c).to_pylist() for c in ANSWER_CALL_COLUMNS},
    }
    returned = {h for c in ("to", "from") for h in answer["calls"][c] if h}
    disclosed = sum(1 for r in lines if r[6])
    stats = AnswerStats(req.num_rows, matched, disclosed, len(lines) - disclosed,
                        calls.num_rows, len(returned))  # fmt: skip
    return answer, stats


def _iso(t: int | None) -> str | None:
    return None if t is None else dt.datetime.fromtimestamp(int(t), dt.UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ")  # fmt: skip


def write_answer(
    request_path: Path, case_dir: Path, key: bytes, out: Path,
    *, settings: DetectSettings | None = None, line_key: bytes | None = None,
    overwrite: bool = False,
) -> AnswerStats:
    ensure_apart(out, request_path, case_dir)
    refuse_existing(out, overwrite, ExchangeError)
    answer, stats = build_answer(request_path, case_dir, key, settings=settings,
                                 line_key=line_key)  # fmt: skip
    _write_json(out, answer)
    return stats


# ------------------------------------------------------------------------------- merge
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


def resolve_leads(unresolved: Path, numbers: Path, country: str, key: bytes, out: Path,
                  *, overwrite: bool = False) -> int:
    """A domestic network's side of a lookup: of its own ``numbers``, those whose keyed hash
    is among A's ``unresolved`` leads, written one a line to ``out``; returns how many. What
    it learns is only which of its subscribers A's case concerns."""
    ensure_apart(out, unresolved, numbers)
    refuse_existing(out, overwrite, ExchangeError)
    try:
        with unresolved.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            if "hash" not in (reader.fieldnames or []):
                raise ExchangeError(f"{unresolved}: line 1: missing column 'hash'")
            wanted = {r["hash"] for r in reader}
    except OSError as exc:
        raise ExchangeError(f"{unresolved}: cannot read: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ExchangeError(f"{unresolved}: not UTF-8 text, not an unresolved.csv") from exc
    except csv.Error as exc:
        raise ExchangeError(f"{unresolved}: not a readable CSV file: {exc}") from exc
    hashed = phone_hashes(key, extra_numbers(numbers, country))
    found = sorted(f"+{n}" for n, h in hashed.items() if h in wanted)
    write_csv(out, ("number",), ((n,) for n in found))
    return len(found)


def merge_answer(
    answer_path: Path, case_dir: Path, key: bytes, out: Path, *, overwrite: bool = False,
    numbers: Path | None = None,
) -> MergeStats:
    """A's case plus B's answer as ``voip_cdr`` rows, in a new case folder ``out``."""
    ensure_apart(out, answer_path, case_dir, numbers)
    raw = _read_json(answer_path, "answer")
    _check_key(raw, key, answer_path)
    calls = _columns(raw, "calls", ANSWER_CALLS, answer_path)
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
        "from_number": _mapped(frm, mine).fill_null(""),
        "to_number": _mapped(to, mine).fill_null(""),
        "duration_s": calls.column("duration_s").cast(pa.int64()),
        "sip_status": calls.column("sip_status").cast(pa.int64()),
    })  # fmt: skip
    with CaseFolderWriter(out, overwrite=overwrite, subfolders=("exchange",)) as w:
        for item in sorted(case_dir.iterdir()):
            if item.is_file() and item.name != "holder.json":
                shutil.copyfile(item, w.path(item.name))
            elif item.is_dir() and item.name == "truth":
                shutil.copytree(item, w.path("truth"))
        holder = json.loads((case_dir / "holder.json").read_text(encoding="utf-8")) \
            if (case_dir / "holder.json").is_file() else {}  # fmt: skip
        tables = dict(holder.get("tables") or {})
        tables["voip_cdr"] = str(raw.get("answering_country") or holder.get("country", ""))
        w.write_json("holder.json", {**holder, "tables": tables})
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
                     [neutral_row((*r[:5], _iso(r[5]), _iso(r[6]))) for r in rows])  # fmt: skip


UNRESOLVED_COLUMNS = ("hash", "role", "lines", "calls", "answered", "first_seen", "last_seen")
LEAD_COLUMNS = ("kind", "value", "lines", "calls", "reason")


def write_exchange_leads(merged: Path, findings: Path) -> int:
    """``FINDINGS/exchange_leads.csv``: the numbers A could not name that flagged lines called
    (answered: victims) or presented (caller IDs), by keyed hash; returns how many."""
    source = merged / "exchange" / "unresolved.csv"
    if not source.is_file():
        return 0
    lines = _flagged(findings, "sip_account")
    out: list[tuple[str, str, str, int, str]] = []
    with source.open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
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
    write_csv(findings / "exchange_leads.csv", LEAD_COLUMNS, out)
    return len(out)


def score_identified(findings: Path, case_dir: Path, key: bytes) -> dict[str, KindScore]:
    """Precision, recall and F1 per kind of what A identified after the exchange: flagged
    entities by value, plus the exchange leads by keyed hash (truth numbers are hashed with
    the case key to compare). Only for simulated cases, which have ``truth/``."""
    truth: dict[str, set[str]] = {k: set() for k in contract.TRUTH_ENTITY_KINDS}
    with (case_dir / "truth" / "entities.csv").open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            truth.setdefault(r["kind"], set()).add(r["value"])
    found: dict[str, set[str]] = {k: _flagged(findings, k) for k in truth}
    leads = findings / "exchange_leads.csv"
    extra: dict[str, set[str]] = {k: set() for k in truth}
    if leads.is_file():
        with leads.open(encoding="utf-8", newline="") as fh:
            for r in csv.DictReader(fh):
                extra.setdefault(r["kind"], set()).add(r["value"].removeprefix("hmac:"))
    scores: dict[str, KindScore] = {}
    for kind, values in truth.items():
        got = found.get(kind, set())
        if kind in PHONE_KINDS:
            values = set(keyed(key, "phone", values).values())
            got = set(keyed(key, "phone", got).values()) | extra.get(kind, set())
        scores[kind] = KindScore(len(values), len(got), len(values & got))
    return scores


PHONE_KINDS = frozenset({"caller_number", "victim_phone", "victim_paid"})
