"""AMLSim outputs (IBM's anti-money-laundering simulator) as ``accounts`` and ``transfers``.

So the money detectors can run on a world made by another team's generator. The reader takes
one file and tells what it holds by its name:

- ``accounts.csv`` or ``nodes.csv`` -> ``accounts``;
- ``tx.csv`` or ``transactions.csv`` (account to account) and ``cash_tx.csv`` (cash in and
  out of one account) -> ``transfers``.

The 2019 sample layout is read too: ``nodes.csv`` (``nodeid,isFraud,init_balance,fraudStep``)
and ``transactions.csv`` (``sourceNodeId,targetNodeId,value,time``, a step number; its
transfers have no id and are named by file and row, ``transactions:1``).

Other names (``alerts.csv``, ``alert_accounts.csv``, ``sar_accounts.csv``: ground truth) are not
claimed by :meth:`AmlsimReader.sniff`; with ``--format amlsim`` a file of another name is read
by its header. Columns are found by name, case-insensitively, in each layout AMLSim has
written:

=============== ================================================================================
contract        AMLSim columns (first found)
=============== ================================================================================
account_id      ``ACCOUNT_ID``, ``ACCT_ID``
holder_id       ``CUSTOMER_ID``, ``PRIMARY_CUSTOMER_ID``, ``CUST_ID``
country         ``COUNTRY`` (upper-cased)
bank            ``BANK_ID``, ``BANK``; else the ``bank`` option (default ``AMLSim``)
kind            ``business``, ``BUSINESS_TYPE``, ``ACCOUNT_TYPE``, ``ACCT_TYPE``, ``TYPE``:
                ``business`` where it says B, BUSINESS, ORGANIZATION/ORGANISATION, ORG,
                CORPORATE, COMPANY; ``personal`` otherwise (AMLSim's ``I`` is individual)
holder_phone    empty (AMLSim has no phones)
opened_on       the base date
tx_id           ``TX_ID``, ``TXN_ID``, ``TRAN_ID``, ``TRANSACTION_ID``
payer_account   ``SENDER_ACCOUNT_ID``, ``ORIG_ACCT``, ``ORIG_ID``, ``SENDER_ID``; or ``ACCOUNT_ID``
                where the file names a receiver (``tx.csv``)
payee_account   ``RECEIVER_ACCOUNT_ID``, ``COUNTER_PARTY_ACCOUNT_NUM``, ``BENE_ACCT``, ``DEST_ID``,
                ``RECEIVER_ID``
amount          ``TX_AMOUNT``, ``TXN_AMOUNT_ORIG``, ``BASE_AMT``, ``AMOUNT`` (exact decimals)
time            ``TIMESTAMP``, ``TRAN_TIMESTAMP``, ``STEP``, ``RUN_DATE``, ``start``: a step number
                is that many days after the base date (00:00 UTC); ISO 8601 text is kept
currency        the ``currency`` option (default ``USD``)
channel         from ``TX_TYPE`` / ``TXN_SOURCE_TYPE_CODE``: CASH-OUT (or CASH_OUT, WITHDRAWAL)
                -> ``atm``; CASH-IN (or DEPOSIT in a one-account cash file) -> ``branch``; a
                transfer to another country -> ``international``; else ``online``
=============== ================================================================================

A cash file has one account column: a cash-in fills ``payee_account``, a cash-out (and
anything else) ``payer_account``; the other stays empty, as the contract allows. A transfer is
to another country where ``IS_FRGN_TRXN`` says so or where the accounts file next to it
(``accounts.csv`` or ``nodes.csv`` in the same folder) gives its two accounts different
countries.

Options (``ctx.options``): ``start`` (the base date of step 0, ISO, default ``2017-01-01``, as
AMLSim's own ``base_date``), ``currency`` (default ``USD``), ``bank`` (default ``AMLSim``).

AMLSim's labels (``isFraud``, ``IS_SAR``, ``suspicious``, ``alert_id``...) are ground truth and
never reach the contract tables; :func:`amlsim_sar_accounts` gives them to tests and benchmarks.

Files are read with DuckDB as text, streamed in batches of ``ctx.batch_rows`` (see
:func:`scamtrace.ingest.mapped.load_csv`); ``_line`` counts the header as line 1.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb

from scamtrace.core import values
from scamtrace.core.sql import literal
from scamtrace.ingest.base import Batch, IngestError, ReadContext
from scamtrace.ingest.mapped import CsvLayout, LoadedCsv, connection, load_csv, stream

ACCOUNT_FILES = ("accounts.csv", "nodes.csv")
TRANSFER_FILES = ("tx.csv", "transactions.csv", "cash_tx.csv")

ACCOUNT_ID = ("ACCOUNT_ID", "ACCT_ID", "NODEID", "NODE_ID")
CUSTOMER_ID = ("CUSTOMER_ID", "PRIMARY_CUSTOMER_ID", "CUST_ID")
COUNTRY = ("COUNTRY",)
BANK = ("BANK_ID", "BANK")
BUSINESS = ("BUSINESS", "BUSINESS_TYPE", "ACCOUNT_TYPE", "ACCT_TYPE", "TYPE")
SAR = ("IS_SAR", "ISFRAUD", "IS_FRAUD", "SAR", "SAR_FLAG", "PRIOR_SAR_COUNT")
BALANCE = ("INIT_BALANCE", "INITIAL_BALANCE", "INITIAL_DEPOSIT")
ACCOUNT_MARKS = (*BALANCE, *SAR, "TX_BEHAVIOR_ID", "MODELID")

TX_ID = ("TX_ID", "TXN_ID", "TRAN_ID", "TRANSACTION_ID")
#: AMLSim's 2019 sample ``transactions.csv``: its transfers have no id; each is named by the
#: file and its row (``transactions:1``).
SAMPLE_TRANSFER = ("sourceNodeId", "targetNodeId", "value", "time")
SENDER = ("SENDER_ACCOUNT_ID", "ORIG_ACCT", "ORIG_ID", "SENDER_ID", "SOURCENODEID")
RECEIVER = ("RECEIVER_ACCOUNT_ID", "COUNTER_PARTY_ACCOUNT_NUM", "BENE_ACCT", "DEST_ID",
            "RECEIVER_ID", "TARGETNODEID")  # fmt: skip
TX_TYPE = ("TX_TYPE", "TXN_SOURCE_TYPE_CODE", "TRANSACTION_TYPE")
AMOUNT = ("TX_AMOUNT", "TXN_AMOUNT_ORIG", "BASE_AMT", "AMOUNT", "VALUE")
AMLSIM_AMOUNT = ("TX_AMOUNT", "TXN_AMOUNT_ORIG", "BASE_AMT")
STEP = ("TIMESTAMP", "TRAN_TIMESTAMP", "STEP", "RUN_DATE", "START", "TIME")
FOREIGN = ("IS_FRGN_TRXN",)

BUSINESS_WORDS = ("B", "BUSINESS", "ORGANIZATION", "ORGANISATION", "ORG", "CORPORATE", "COMPANY")
CASH_OUT = ("CASH-OUT", "WITHDRAWAL", "CASH-WITHDRAWAL")
CASH_IN = ("CASH-IN", "CASH-DEPOSIT", "DEPOSIT")

#: Steps beyond this many days are not steps (a date, a typo): they are set aside as times.
MAX_STEP = 100_000


def _find(names: Sequence[str], aliases: Sequence[str]) -> str | None:
    """The first of ``aliases`` among ``names`` (case-insensitive), as it is spelled there."""
    folded = {n.casefold(): n for n in reversed(names)}
    for alias in aliases:
        if alias.casefold() in folded:
            return folded[alias.casefold()]
    return None


def _kind_by_header(names: Sequence[str], *, strict: bool) -> str | None:
    """``accounts`` or ``transfers`` by the columns; ``strict`` asks for AMLSim's own marks
    (a balance or label column, an AMLSim amount column), so the contract's tables are not
    mistaken for AMLSim's."""
    if _find(names, TX_ID) and _find(names, AMLSIM_AMOUNT if strict else AMOUNT):
        return "transfers"
    if _sample_transfers(names):
        return "transfers"
    if _find(names, ACCOUNT_ID) and (not strict or _find(names, ACCOUNT_MARKS)):
        return "accounts"
    return None


def _sample_transfers(names: Sequence[str]) -> bool:
    """AMLSim's 2019 sample layout (``sourceNodeId,targetNodeId,value,time``): no id column."""
    folded = {n.casefold() for n in names}
    return all(c.casefold() in folded for c in SAMPLE_TRANSFER)


def _kind_by_name(path: Path) -> str | None:
    name = path.name.lower()
    if name in ACCOUNT_FILES:
        return "accounts"
    if name in TRANSFER_FILES:
        return "transfers"
    return None


def _head_names(head: bytes) -> list[str]:
    first = head.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").strip("\r")
    return [c.strip().strip('"').strip() for c in first.split(",")]


class AmlsimReader:
    name = "amlsim"
    description = "AMLSim outputs: accounts.csv/nodes.csv, tx.csv/transactions.csv, cash_tx.csv"

    def sniff(self, path: Path, head: bytes) -> bool:
        kind = _kind_by_name(path)
        return kind is not None and _kind_by_header(_head_names(head), strict=True) == kind

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Batch]:
        base = _base_date(ctx)
        with tempfile.TemporaryDirectory(prefix="scamtrace-amlsim-") as tmp:
            db = connection(Path(tmp))
            try:
                kind = _kind_by_name(path)
                table = kind or "transfers"
                loaded = load_csv(db, path, CsvLayout(), Path(tmp), source=ctx.source,
                                  table=table)  # fmt: skip
                kind = kind or _kind_by_header(loaded.names, strict=False)
                if kind is None:
                    raise IngestError(f"{path}: not an AMLSim accounts or transactions file "
                                      "(by its name or its header)")  # fmt: skip
                if kind != table:
                    loaded = load_csv(db, path, CsvLayout(), Path(tmp), source=ctx.source,
                                      table=kind)  # fmt: skip
                if kind == "accounts":
                    sql = _accounts_sql(path, loaded, base, ctx)
                else:
                    sql = _transfers_sql(db, path, loaded, base, ctx)
                # AMLSim writes its amounts as numbers: "." is a decimal point.
                yield from stream(db, sql, loaded, kind, ctx, ctx.holder_country,
                                  plain_amounts=("amount",))  # fmt: skip
            finally:
                db.close()


def _base_date(ctx: ReadContext) -> dt.date:
    start = ctx.options.get("start", "2017-01-01")
    try:
        return start if isinstance(start, dt.date) else dt.date.fromisoformat(str(start))
    except ValueError as exc:
        raise IngestError(f"start: expected the base date as YYYY-MM-DD, got {start!r}") from exc


def _col(loaded: LoadedCsv, aliases: Sequence[str]) -> str | None:
    found = _find(loaded.names, aliases)
    return None if found is None else loaded.column(found)


def _need(loaded: LoadedCsv, aliases: Sequence[str], path: Path, what: str) -> str:
    found = _col(loaded, aliases)
    if found is None:
        raise IngestError(f"{path}: no {what} column (one of {', '.join(aliases)})")
    return found


def _accounts_sql(path: Path, loaded: LoadedCsv, base: dt.date, ctx: ReadContext) -> str:
    account = _need(loaded, ACCOUNT_ID, path, "account id")
    customer, country = _col(loaded, CUSTOMER_ID), _col(loaded, COUNTRY)
    bank, business = _col(loaded, BANK), _col(loaded, BUSINESS)
    words = ", ".join(literal(w) for w in BUSINESS_WORDS)
    kind = (f"CASE WHEN upper(trim({business})) IN ({words}) THEN 'business' ELSE 'personal' END"
            if business else "'personal'")  # fmt: skip
    return f"""
        SELECT rowid AS _rowid,
               trim({account}) AS account_id,
               {f'trim({bank})' if bank else literal(str(ctx.options.get('bank', 'AMLSim')))}
                   AS bank,
               {f'upper(trim({country}))' if country else "''"} AS country,
               {f'trim({customer})' if customer else "''"} AS holder_id,
               '' AS holder_phone,
               {literal(base.isoformat())} AS opened_on,
               {kind} AS kind
        FROM src
    """  # fmt: skip


def _transfers_sql(db: duckdb.DuckDBPyConnection, path: Path, loaded: LoadedCsv, base: dt.date,
                   ctx: ReadContext) -> str:  # fmt: skip
    given = _col(loaded, TX_ID)
    if given is None and not _sample_transfers(loaded.names):
        _need(loaded, TX_ID, path, "transaction id")
    # the sample layout names a transfer by its file and its row (1 for the first)
    tx_id = given or f"({literal(path.stem + ':')} || CAST(src.rowid + 1 AS VARCHAR))"
    amount = _need(loaded, AMOUNT, path, "amount")
    step = _need(loaded, STEP, path, "time step")
    sender, receiver = _col(loaded, SENDER), _col(loaded, RECEIVER)
    kind, foreign = _col(loaded, TX_TYPE), _col(loaded, FOREIGN)
    own = _col(loaded, ACCOUNT_ID)
    if sender is None and receiver is not None:
        sender = own  # tx.csv: ACCOUNT_ID pays COUNTER_PARTY_ACCOUNT_NUM
    tx_type = f"upper(replace(replace(trim({kind}), '_', '-'), ' ', '-'))" if kind else "''"
    cash_out = f"{tx_type} IN ({', '.join(literal(w) for w in CASH_OUT)})"
    cash_in = f"{tx_type} IN ({', '.join(literal(w) for w in CASH_IN)})"
    if sender is None and receiver is None:
        if own is None:
            raise IngestError(f"{path}: no account column (one of "
                              f"{', '.join((*SENDER, *RECEIVER, *ACCOUNT_ID))})")  # fmt: skip
        payer = f"CASE WHEN {cash_in} THEN '' ELSE trim({own}) END"
        payee = f"CASE WHEN {cash_in} THEN trim({own}) ELSE '' END"
        in_branch = cash_in
    else:
        payer = f"trim({sender})" if sender else "''"
        payee = f"trim({receiver})" if receiver else "''"
        in_branch = f"{tx_type} IN ('CASH-IN', 'CASH-DEPOSIT')"
    joins, abroad = "", "false"
    if foreign:
        abroad = f"{values.lowered_sql(foreign)} IN {values.words_sql(values.TRUE_WORDS)}"
    if _load_countries(db, path):
        joins = (f"LEFT JOIN amlsim_country pc ON pc.id = {payer} "
                 f"LEFT JOIN amlsim_country rc ON rc.id = {payee}")  # fmt: skip
        abroad = f"({abroad} OR coalesce(pc.country <> rc.country, false))"
    channel = (f"CASE WHEN {cash_out} THEN 'atm' WHEN {in_branch} THEN 'branch' "
               f"WHEN {abroad} THEN 'international' ELSE 'online' END")  # fmt: skip
    steps = f"TRY_CAST(trim({step}) AS BIGINT)"
    time = (f"CASE WHEN {steps} BETWEEN 0 AND {MAX_STEP} THEN strftime(DATE "
            f"{literal(base.isoformat())} + to_days(CAST({steps} AS INTEGER)), "
            f"'%Y-%m-%dT%H:%M:%SZ') ELSE {step} END")  # fmt: skip
    currency = literal(str(ctx.options.get("currency", "USD")).strip().upper())
    return f"""
        SELECT src.rowid AS _rowid,
               trim({tx_id}) AS tx_id,
               {time} AS time,
               {payer} AS payer_account,
               {payee} AS payee_account,
               {amount} AS amount,
               {currency} AS currency,
               {channel} AS channel
        FROM src {joins}
    """  # fmt: skip


def _accounts_file(folder: Path) -> Path | None:
    """The AMLSim accounts file in ``folder``, if there is one."""
    for name in ACCOUNT_FILES:
        path = folder / name
        if path.is_file():
            with path.open("rb") as fh:
                names = _head_names(fh.read(1 << 16))
            if _kind_by_header(names, strict=True) == "accounts":
                return path
    return None


def _load_countries(db: duckdb.DuckDBPyConnection, transfers: Path) -> bool:
    """``amlsim_country(id, country)`` from the accounts file next to ``transfers``; False
    when there is none or it has no country column."""
    path = _accounts_file(transfers.parent)
    if path is None:
        return False
    with path.open("rb") as fh:
        names = _head_names(fh.read(1 << 16))
    account, country = _find(names, ACCOUNT_ID), _find(names, COUNTRY)
    if account is None or country is None:
        return False
    db.execute(f"""
        CREATE OR REPLACE TEMP TABLE amlsim_country AS
        SELECT trim("{account}") AS id, any_value(upper(trim("{country}"))) AS country
        FROM read_csv({literal(str(path))}, all_varchar = true, header = true,
                      ignore_errors = true, auto_detect = true)
        WHERE nullif(trim("{country}"), '') IS NOT NULL
        GROUP BY 1
    """).fetchall()  # fmt: skip
    return True


def amlsim_sar_accounts(path: Path) -> set[str]:
    """AMLSim's ground truth: the ids of the accounts it labelled as laundering (``isFraud``,
    ``IS_SAR``, ``SAR_FLAG``, ``prior_sar_count`` > 0...). ``path`` is the accounts file or the
    folder holding it. For tests and benchmarks only: the reader never writes these labels."""
    path = Path(path)
    file = _accounts_file(path) if path.is_dir() else path
    if file is None or not file.is_file():
        raise IngestError(f"{path}: no AMLSim accounts file ({' or '.join(ACCOUNT_FILES)})")
    with file.open("rb") as fh:
        names = _head_names(fh.read(1 << 16))
    account, label = _find(names, ACCOUNT_ID), _find(names, SAR)
    if account is None or label is None:
        raise IngestError(f"{file}: no account id and label columns "
                          f"({'/'.join(ACCOUNT_ID)}, {'/'.join(SAR)})")  # fmt: skip
    flag = values.lowered_sql(f'"{label}"')
    rows = duckdb.connect().execute(f"""
        SELECT DISTINCT trim("{account}") FROM read_csv({literal(str(file))}, all_varchar = true,
            header = true, ignore_errors = true, auto_detect = true)
        WHERE {flag} IN {values.words_sql(values.TRUE_WORDS)}
           OR coalesce(TRY_CAST({flag} AS DOUBLE) > 0, false)
    """).fetchall()  # fmt: skip
    return {str(r[0]) for r in rows}


READER = AmlsimReader()
