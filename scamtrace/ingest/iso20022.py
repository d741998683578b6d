"""ISO 20022 bank messages: ``camt.053`` statements and ``pacs.008`` credit transfers.

Both become ``transfers`` rows, plus ``accounts`` rows for the accounts the message describes.
Any version is read whose namespace starts with ``urn:iso:std:iso:20022:tech:xsd:camt.053.`` or
``...:pacs.008.`` (written against ``.001.02`` and ``.001.08``; elements are found by their
local names, so ``BIC`` and ``BICFI``, ``Sts`` and ``Sts/Cd`` alike). A message may sit in an
envelope (a business application header beside it): only the elements in those namespaces count.

Safety and size: expat is run hardened (see :class:`_Parser`): any DTD is refused as it opens,
so an XML bomb or an external entity stops the file at once with an :class:`IngestError`
naming it, and nothing outside the file is ever read. Parsing is incremental; every entry is
dropped from the tree once read, so memory stays that of one entry whatever the file's size.
``.xml.gz`` is read as it streams. A file that stops being well-formed (cut short, say) keeps
the entries before the break and sets the break aside as a rejected record. A text longer than
:data:`~scamtrace.ingest.base.MAX_RECORD_BYTES` is never held whole: the entries before it are
kept and the reader stops with :class:`~scamtrace.ingest.base.StoppedEarly` (XML gives no way
to read on past it).

Records: each ``Stmt/Ntry`` (camt.053) and each ``CdtTrfTxInf`` (pacs.008) is a record,
numbered from 1 in file order; that number is the ``line`` of a rejected row. An entry with
several ``NtryDtls/TxDtls`` that each carry their own amount (a batch booking) becomes one
transfer per ``TxDtls``, all with the entry's number; otherwise the entry is one transfer (with
its one ``TxDtls`` for references and counterparty, if it has exactly one). A record whose amount,
currency or credit/debit indicator is unusable is set aside here; a time that cannot be read,
or an amount with more than 2 decimal places that are not zeros (``0.001``: never rounded), by
:func:`coerce`. Every record is a row or a rejected row, never neither.

``tx_id`` (unique within a file), the first of:

1. ``Refs/TxId`` (camt ``TxDtls``) / ``PmtId/TxId`` (pacs): the interbank id, the same in the
   payer's bank's statement, the payee's bank's statement and the pacs.008 that carried the
   money, so one payment seen from several sides is one transfer in the case;
2. ``UETR`` (version 08), unique across the whole payment chain for the same reason;
3. ids only the bank or a customer assigned, scoped so that two banks' numbering cannot
   collide: camt ``ACCOUNT/AcctSvcrRef`` (of the ``TxDtls``, else of the entry when it is one
   transfer), then ``ACCOUNT/EndToEndId``; pacs ``MsgId/EndToEndId``. ``NOTPROVIDED`` is never
   an id;
4. the position: camt ``ACCOUNT/StmtId#ENTRY`` (``.N`` for the N-th ``TxDtls`` of a batch),
   pacs ``MsgId#RECORD``.

An id already used in the file moves on to the next choice (and ``~2``, ``~3``... after the
last), so a reused reference never merges two payments.

Direction (camt): ``CRDT`` means the counterparty (``RltdPties/DbtrAcct``) paid the statement
account; ``DBIT`` means the statement account paid the counterparty (``RltdPties/CdtrAcct``).
The ``TxDtls`` indicator (version 08) wins over the entry's. Cash has no counterparty account.

Time: camt ``TxDtls/RltdDts/TxDtTm`` or ``AccptncDtTm``, else ``BookgDt`` then ``ValDt``
(``DtTm`` before ``Dt``); pacs ``AccptncDtTm``, else ``GrpHdr/CreDtTm``, else
``IntrBkSttlmDt``. A time without an offset is UTC (the contract).

Channel: ``branch`` for a counter transaction (bank transaction code family ``CNTR``), ``atm``
for a cash withdrawal (sub-family ``CWDL``, or a proprietary code containing ``ATM``),
``international`` when the two accounts' countries differ (an IBAN's country, else its bank's
BIC country), else ``online``.

Accounts: camt, the statement account (holder ``Ownr/Nm``, else the owner's id, else the
account; bank the servicer's BIC, else its name); pacs, the debtor's and the creditor's
accounts (holder ``Dbtr/Nm`` / ``Cdtr/Nm``, bank the agents' BIC). Country from the IBAN, else
the bank's BIC. ``kind`` is ``business`` when the holder is identified as an organisation
(``Id/OrgId``), else ``personal``; the ``account_kind`` option sets it for the whole file.
``holder_phone`` is the holder's ``CtctDtls/MobNb`` or ``PhneNb`` where the message gives one,
else empty; ``opened_on`` is empty (no message carries it).
"""

from __future__ import annotations

import dataclasses
import gzip
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from xml.etree.ElementTree import Element, TreeBuilder
from xml.parsers import expat

import numpy as np
import pyarrow as pa

from scamtrace.core import contract
from scamtrace.core.accounts import has_iban_shape
from scamtrace.ingest import base
from scamtrace.ingest.base import (
    Batch,
    IngestError,
    ReadContext,
    Rejected,
    StoppedEarly,
    coerce,
    text_table,
)

ISO = "urn:iso:std:iso:20022:tech:xsd:"
CAMT053 = ISO + "camt.053."
PACS008 = ISO + "pacs.008."
NOT_PROVIDED = "NOTPROVIDED"
KINDS = ("personal", "business")

_BIC = re.compile(r"[A-Z]{4}([A-Z]{2})[A-Z0-9]{2}(?:[A-Z0-9]{3})?")
_AMOUNT = re.compile(r"[0-9]{1,18}(?:\.[0-9]{0,5})?")
_CURRENCY = re.compile(r"[A-Z]{3}")
_SPACE = re.compile(r"\s+")

TRANSFER_COLUMNS = contract.TRANSFERS.column_names
ACCOUNT_COLUMNS = contract.ACCOUNTS.column_names


# ---------------------------------------------------------------------------- small helpers
# Elements of the messages read here carry their local name as tag ("Ntry"), so lookups are
# plain paths; elements of any other namespace keep "{ns}name" and never match them.


_STEPS: dict[str, tuple[str, ...]] = {}


def _find(elem: Element | None, path: str) -> Element | None:
    """The first element at ``path`` (``A/B/C``), following the first of each step: one
    C-level ``find`` a step, several times faster than ElementPath's (the elements on the paths
    read here occur at most once; ``NtryDtls/TxDtls`` is gathered with ``findall``)."""
    steps = _STEPS.get(path)
    if steps is None:
        steps = _STEPS[path] = tuple(path.split("/"))
    for step in steps:
        if elem is None:
            return None
        elem = elem.find(step)
    return elem


def _text(elem: Element | None, *paths: str) -> str:
    """The first non-empty text among ``paths`` (stripped), else ``''``."""
    for path in paths:
        found = _find(elem, path)
        if found is not None and found.text:
            value = found.text.strip()
            if value:
                return value
    return ""


def _account(elem: Element | None, path: str) -> str:
    """An account's id: its IBAN (spaces removed, upper case), else ``Othr/Id``."""
    iban = _text(elem, f"{path}/Id/IBAN")
    if iban:
        return _SPACE.sub("", iban).upper()
    return _text(elem, f"{path}/Id/Othr/Id")


def _bic(elem: Element | None, agent: str) -> str:
    found = _text(elem, f"{agent}/FinInstnId/BICFI", f"{agent}/FinInstnId/BIC")
    return _SPACE.sub("", found).upper()


def _bank(elem: Element | None, agent: str) -> str:
    """The bank's BIC, else its name, else its clearing member id."""
    return _bic(elem, agent) or _text(
        elem, f"{agent}/FinInstnId/Nm", f"{agent}/FinInstnId/ClrSysMmbId/MmbId"
    )


def _party(elem: Element | None, party: str) -> tuple[str, str, bool]:
    """(holder: name else id, phone, whether the party is an organisation)."""
    holder = _text(
        elem,
        f"{party}/Nm",
        f"{party}/Pty/Nm",  # version 08 of camt wraps related parties in Pty
        f"{party}/Id/OrgId/Othr/Id",
        f"{party}/Id/OrgId/AnyBIC",
        f"{party}/Id/OrgId/BICOrBEI",
        f"{party}/Id/OrgId/LEI",
        f"{party}/Id/PrvtId/Othr/Id",
    )
    phone = _text(elem, f"{party}/CtctDtls/MobNb", f"{party}/CtctDtls/PhneNb")
    business = _find(elem, f"{party}/Id/OrgId") is not None
    return holder, phone, business


def _country(account: str, bic: str) -> str:
    """ISO 3166 alpha-2 of an account: its IBAN's, else its bank's BIC's; ``''`` if neither."""
    if has_iban_shape(account):
        return account[:2]
    match = _BIC.fullmatch(bic)
    return match.group(1) if match else ""


def _usable(ref: str) -> bool:
    return bool(ref) and ref.upper() != NOT_PROVIDED


def _channel(codes: list[Element | None], own: str, other: str) -> str:
    """``branch``, ``atm``, ``international`` or ``online`` (see the module's docstring)."""
    for code in codes:
        if code is None:
            continue
        family = _text(code, "Domn/Fmly/Cd").upper()
        sub = _text(code, "Domn/Fmly/SubFmlyCd").upper()
        if family == "CNTR":
            return "branch"
        if sub == "CWDL" or "ATM" in _text(code, "Prtry/Cd").upper():
            return "atm"
    if own and other and own != other:
        return "international"
    return "online"


def _money(elem: Element | None) -> tuple[str, str]:
    """(amount text, currency) of an amount element such as ``<Amt Ccy="EUR">1.00</Amt>``."""
    if elem is None:
        return "", ""
    return (elem.text or "").strip(), (elem.get("Ccy") or "").strip().upper()


class _Steps:
    """A gzip stream read one decompression step at a time, so that a file cut short gives
    up everything before the cut (a plain ``read`` of a block loses the whole block)."""

    def __init__(self, raw: gzip.GzipFile) -> None:
        self.raw = raw

    def read(self, size: int = -1) -> bytes:
        return self.raw.read1(size if size > 0 else 1 << 16)

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> _Steps:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _open(path: Path) -> IO[bytes] | _Steps:
    if path.name.endswith(".gz"):
        return _Steps(gzip.GzipFile(path, "rb"))
    return path.open("rb")


def _head_text(head: bytes) -> str:
    """The head as text for sniffing: UTF-16 if it says so, else byte for byte."""
    if head.startswith((b"\xff\xfe", b"<\x00")):
        return head.decode("utf-16-le", errors="ignore")
    if head.startswith((b"\xfe\xff", b"\x00<")):
        return head.decode("utf-16-be", errors="ignore")
    return head.decode("latin-1")


# ------------------------------------------------------------------------------ batching
class _Sink:
    """Rows and rejected records of one file, handed out as batches of at most ``batch_rows``."""

    def __init__(self, ctx: ReadContext, kind: str | None) -> None:
        self.ctx = ctx
        self.kind = kind
        self.size = max(1, ctx.batch_rows)
        self.transfers: dict[str, list[str]] = {c: [] for c in TRANSFER_COLUMNS}
        self.entry_of: list[int] = []  # record number of each pending transfer row
        self.rejected: list[Rejected] = []
        self.accounts: dict[str, list[str]] = {c: [] for c in ACCOUNT_COLUMNS}
        # hashes, not the ids: uniqueness over a whole file at a few bytes per row
        self.tx_ids: set[int] = set()
        self.account_ids: set[int] = set()

    # ---- adding
    def reject(self, record: int, field: str, value: str, reason: str, *,
               stops: bool = False) -> None:  # fmt: skip
        self.rejected.append(Rejected(self.ctx.source, record, "transfers", field, value[:80],
                                      reason, stops))  # fmt: skip

    def transfer(self, record: int, ids: list[str], values: dict[str, str]) -> None:
        """A transfer row; its ``tx_id`` is the first of ``ids`` not yet used in the file
        (the last, positional one, with ``~N`` added if even that was)."""
        chosen = next((i for i in ids if i and hash(i) not in self.tx_ids), None)
        if chosen is None:
            n = 2
            while hash(f"{ids[-1]}~{n}") in self.tx_ids:
                n += 1
            chosen = f"{ids[-1]}~{n}"
        self.tx_ids.add(hash(chosen))
        values = {**values, "tx_id": chosen}
        for column in TRANSFER_COLUMNS:
            self.transfers[column].append(values.get(column, ""))
        self.entry_of.append(record)

    def account(self, account_id: str, bank: str, country: str, holder: str, phone: str,
                business: bool) -> None:  # fmt: skip
        if not account_id or hash(account_id) in self.account_ids:
            return
        self.account_ids.add(hash(account_id))
        kind = self.kind or ("business" if business else "personal")
        row = {"account_id": account_id, "bank": bank, "country": country,
               "holder_id": holder or account_id, "holder_phone": phone, "opened_on": "",
               "kind": kind}  # fmt: skip
        for column in ACCOUNT_COLUMNS:
            self.accounts[column].append(row[column])

    # ---- handing out
    def ready(self) -> Iterator[Batch]:
        """Full batches, if any."""
        if len(self.entry_of) + len(self.rejected) >= self.size:
            yield from self._transfers(final=False)
        if len(self.accounts["account_id"]) >= self.size:
            yield from self._accounts(final=False)

    def drain(self) -> Iterator[Batch]:
        yield from self._transfers(final=True)
        yield from self._accounts(final=True)

    def _transfers(self, final: bool) -> Iterator[Batch]:
        while self.entry_of or self.rejected:
            n = min(len(self.entry_of), self.size)
            if not final and n + len(self.rejected) < self.size:
                return
            rows = {c: values[:n] for c, values in self.transfers.items()}
            entries = self.entry_of[:n]
            for values in self.transfers.values():
                del values[:n]
            del self.entry_of[:n]
            set_aside, self.rejected = self.rejected, []
            if n:
                # _line must be unique in a batch (a batch booking gives several rows one
                # record number): rows are numbered 1..n here and given their record after.
                # Amounts are xs:decimal: a "." is a decimal point, never a group.
                batch = coerce("transfers", text_table(rows, list(range(1, n + 1))),
                               self.ctx.source, self.ctx.holder_country,
                               plain_amounts=("amount",))  # fmt: skip
                set_aside += [dataclasses.replace(r, line=entries[r.line - 1])
                              for r in batch.rejected]  # fmt: skip
                data = batch.data
                # rows were numbered 1..n for coerce: each back to its record
                lines = None if batch.lines is None else pa.array(
                    np.asarray(entries, np.int64)[np.asarray(batch.lines) - 1])  # fmt: skip
            else:
                data, lines = contract.TRANSFERS.schema.empty_table(), None
            set_aside.sort(key=lambda r: r.line)
            yield Batch("transfers", data, set_aside, lines)

    def _accounts(self, final: bool) -> Iterator[Batch]:
        while self.accounts["account_id"]:
            n = min(len(self.accounts["account_id"]), self.size)
            if not final and n < self.size:
                return
            rows = {c: values[:n] for c, values in self.accounts.items()}
            for values in self.accounts.values():
                del values[:n]
            lines = list(range(1, n + 1))
            batch = coerce("accounts", text_table(rows, lines), self.ctx.source,
                           self.ctx.holder_country)  # fmt: skip
            batch.lines = None  # stand-in numbers, not records
            yield batch


# ------------------------------------------------------------------------------- messages
@dataclass(frozen=True)
class _Statement:
    stmt_id: str
    account: str
    country: str
    currency: str


def _statement(stmt: Element) -> _Statement:
    account = _account(stmt, "Acct")
    country = _country(account, _bic(stmt, "Acct/Svcr"))
    return _Statement(_text(stmt, "Id"), account, country, _text(stmt, "Acct/Ccy").upper())


def _statement_account(stmt: Element, sink: _Sink) -> None:
    """The ``accounts`` row of a statement's ``Acct``."""
    account = _account(stmt, "Acct")
    bic = _bic(stmt, "Acct/Svcr")
    holder, phone, business = _party(stmt, "Acct/Ownr")
    sink.account(account, _bank(stmt, "Acct/Svcr"), _country(account, bic), holder, phone,
                 business)  # fmt: skip


def _checked(sink: _Sink, record: int, amount: str, currency: str) -> bool:
    """Whether an amount and its currency are usable; sets the record aside if not."""
    if not amount:
        sink.reject(record, "amount", "", "missing")
    elif not _AMOUNT.fullmatch(amount):
        sink.reject(record, "amount", amount, "not a positive amount")
    elif not currency:
        sink.reject(record, "currency", "", "missing (no Ccy on the amount)")
    elif not _CURRENCY.fullmatch(currency):
        sink.reject(record, "currency", currency, "not an ISO 4217 code")
    else:
        return True
    return False


def _tx_amount(tx: Element) -> Element | None:
    amount = _find(tx, "Amt")  # version 08
    return amount if amount is not None else _find(tx, "AmtDtls/TxAmt/Amt")


def _camt_entry(ntry: Element, stmt: _Statement, record: int, sink: _Sink) -> None:
    details = ntry.findall("NtryDtls/TxDtls")
    split = len(details) > 1 and all(_tx_amount(tx) is not None for tx in details)
    parts: list[Element | None] = list(details) if split else \
        [details[0] if len(details) == 1 else None]  # fmt: skip
    for n, tx in enumerate(parts, start=1):
        if split and tx is not None:
            amount_elem = _tx_amount(tx)
        else:
            amount_elem = _find(ntry, "Amt")
            if amount_elem is None and tx is not None:
                amount_elem = _tx_amount(tx)
        amount, currency = _money(amount_elem)
        currency = currency or stmt.currency
        if not _checked(sink, record, amount, currency):
            continue
        indicator = (_text(tx, "CdtDbtInd") or _text(ntry, "CdtDbtInd")).upper()
        if indicator not in ("CRDT", "DBIT"):
            sink.reject(record, "CdtDbtInd", indicator,
                        "not CRDT or DBIT" if indicator else "missing")  # fmt: skip
            continue
        if not stmt.account:
            sink.reject(record, "Acct", "", "the statement has no account id (Stmt/Acct/Id)")
            continue
        side = "Dbtr" if indicator == "CRDT" else "Cdtr"
        other = _account(tx, f"RltdPties/{side}Acct")
        other_country = _country(other, _bic(tx, f"RltdAgts/{side}Agt"))
        payer, payee = (other, stmt.account) if indicator == "CRDT" else (stmt.account, other)
        time = _text(tx, "RltdDts/TxDtTm", "RltdDts/AccptncDtTm") or _text(
            ntry, "BookgDt/DtTm", "BookgDt/Dt", "ValDt/DtTm", "ValDt/Dt"
        )
        channel = _channel([_find(tx, "BkTxCd"), _find(ntry, "BkTxCd")], stmt.country,
                           other_country)  # fmt: skip
        local = [_text(tx, "Refs/AcctSvcrRef")]
        if len(parts) == 1:
            local.append(_text(ntry, "AcctSvcrRef"))
        local.append(_text(tx, "Refs/EndToEndId"))
        position = f"{stmt.account}/{stmt.stmt_id}#{record}" + (f".{n}" if split else "")
        ids = [_text(tx, "Refs/TxId"), _text(tx, "Refs/UETR")]
        ids = [i for i in ids if _usable(i)]
        ids += [f"{stmt.account}/{ref}" for ref in local if _usable(ref)]
        sink.transfer(record, [*ids, position], {
            "time": time, "payer_account": payer, "payee_account": payee, "amount": amount,
            "currency": currency, "channel": channel})  # fmt: skip


def _pacs_transfer(tx: Element, group: Element | None, record: int,
                   sink: _Sink) -> None:  # fmt: skip
    payer, payee = _account(tx, "DbtrAcct"), _account(tx, "CdtrAcct")
    payer_bic, payee_bic = _bic(tx, "DbtrAgt"), _bic(tx, "CdtrAgt")
    payer_country, payee_country = _country(payer, payer_bic), _country(payee, payee_bic)
    for account, agent, country, party in (
        (payer, "DbtrAgt", payer_country, "Dbtr"),
        (payee, "CdtrAgt", payee_country, "Cdtr"),
    ):
        sink.account(account, _bank(tx, agent), country, *_party(tx, party))
    amount, currency = _money(_find(tx, "IntrBkSttlmAmt"))
    if not _checked(sink, record, amount, currency):
        return
    msg_id = _text(group, "MsgId") or "pacs.008"
    time = _text(tx, "AccptncDtTm") or _text(group, "CreDtTm") or \
        _text(tx, "IntrBkSttlmDt") or _text(group, "IntrBkSttlmDt")  # fmt: skip
    ids = [_text(tx, "PmtId/TxId"), _text(tx, "PmtId/UETR")]
    ids = [i for i in ids if _usable(i)]
    end_to_end = _text(tx, "PmtId/EndToEndId")
    if _usable(end_to_end):
        ids.append(f"{msg_id}/{end_to_end}")
    channel = "international" if payer_country and payee_country and \
        payer_country != payee_country else "online"  # fmt: skip
    sink.transfer(record, [*ids, f"{msg_id}#{record}"], {
        "time": time, "payer_account": payer, "payee_account": payee, "amount": amount,
        "currency": currency, "channel": channel})  # fmt: skip


# --------------------------------------------------------------------------------- parsing
class _Refused(Exception):
    """What a bank message never holds: a DTD, entities, absurd nesting."""


class _TooLong(Exception):
    """A text longer than the record limit: XML gives no way to read on past it."""


MAX_DEPTH = 256  # ISO 20022 messages nest about 15 deep
CHUNK = 1 << 16
_OTHER, _OURS, _OTHER_ISO = 0, 1, 2
#: (record element, its parent): one statement entry, one credit transfer
RECORDS = {("Ntry", "Stmt"), ("CdtTrfTxInf", "FIToFICstmrCdtTrf")}
RECORD_TAGS = {"Ntry", "CdtTrfTxInf"}


class _Parser:
    """Incremental, hardened expat parse into ElementTree elements, handing out each record
    (``Stmt/Ntry``, ``FIToFICstmrCdtTrf/CdtTrfTxInf``) as it ends, detached from the tree.

    Hardening: a ``DOCTYPE`` is refused as it opens, so no entity is ever declared or expanded
    and no DTD or external entity is ever fetched (the handlers defusedxml installs, and its
    ``forbid_dtd``); parameter entities are never parsed; nesting deeper than ``MAX_DEPTH`` is
    refused. Expat itself is driven straight from here with ElementTree's C tree builder:
    about three times the speed of ``defusedxml``'s ``iterparse``, which has to run the
    pure-Python ElementTree parser."""

    def __init__(self) -> None:
        self.builder = TreeBuilder()
        self.names: dict[str, tuple[str, int]] = {}  # expat's "uri local" -> (tag, kind)
        self.stack: list[Element] = []
        self.records = 0  # records started so far
        self.inside = False  # within a record
        self.found = False  # met an element of a message read here
        self.unsupported = ""  # the namespace of another ISO 20022 message at the root
        #: finished records and statement accounts: (record number, element, parent)
        self.done: list[tuple[int, Element, Element]] = []
        parser = expat.ParserCreate(namespace_separator=" ")
        parser.buffer_text = True
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.StartDoctypeDeclHandler = self._doctype
        parser.EntityDeclHandler = self._entity
        parser.UnparsedEntityDeclHandler = self._entity
        parser.ExternalEntityRefHandler = self._external
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._data
        self.text = 0  # characters of text since the last tag
        self.expat = parser

    def feed(self, data: bytes) -> None:
        """Parse ``data``; empty data ends the document."""
        self.expat.Parse(data, not data)

    # ---- hardening
    def _doctype(self, name: str, *_rest: object) -> None:
        raise _Refused(f"a DOCTYPE ({name}) declares a DTD")

    def _entity(self, name: str, *_rest: object) -> None:
        raise _Refused(f"an entity ({name}) is declared")

    def _external(self, *_args: object) -> int:
        raise _Refused("an external entity is referenced")

    # ---- the tree
    def _data(self, text: str) -> None:
        # Text is held until its element ends: bounded, or a 1 GB text would be held whole.
        self.text += len(text)
        if self.text > base.MAX_RECORD_BYTES:
            raise _TooLong(f"a text longer than {base.MAX_RECORD_BYTES} characters")
        self.builder.data(text)

    def _learn(self, name: str) -> tuple[str, int]:
        ns, _, local = name.rpartition(" ")
        if ns.startswith((CAMT053, PACS008)):
            found = (local, _OURS)
            self.found = True
        else:
            found = (f"{{{ns}}}{local}", _OTHER_ISO if ns.startswith(ISO) else _OTHER)
        self.names[name] = found
        return found

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        self.text = 0
        tag, kind = self.names.get(name) or self._learn(name)
        elem = self.builder.start(tag, attrs)
        stack = self.stack
        if kind == _OURS:
            if tag in RECORD_TAGS and stack and (tag, stack[-1].tag) in RECORDS:
                self.records += 1
                self.inside = True
        elif kind == _OTHER_ISO and not stack:
            self.unsupported = name.rpartition(" ")[0]
            raise _Refused(self.unsupported)
        stack.append(elem)
        if len(stack) > MAX_DEPTH:
            raise _Refused(f"elements nest deeper than {MAX_DEPTH}")

    def _end(self, name: str) -> None:
        self.text = 0
        tag, kind = self.names[name]
        elem = self.builder.end(tag)
        stack = self.stack
        stack.pop()
        if kind != _OURS or not stack:
            return
        parent = stack[-1]
        if parent.tag == "Stmt":
            if tag in ("Ntry", "Acct"):
                self.done.append((self.records if tag == "Ntry" else 0, elem, parent))
                self.inside = self.inside and tag != "Ntry"
            if tag not in ("Id", "Acct"):
                parent.remove(elem)  # entries and balances: done with
        elif parent.tag == "FIToFICstmrCdtTrf" and tag == "CdtTrfTxInf":
            self.done.append((self.records, elem, parent))
            self.inside = False
            parent.remove(elem)
        elif tag in ("Stmt", "FIToFICstmrCdtTrf"):
            parent.remove(elem)

    def take(self) -> list[tuple[int, Element, Element]]:
        done, self.done = self.done, []
        return done


# --------------------------------------------------------------------------------- reader
class Iso20022Reader:
    name = "iso20022"
    description = "ISO 20022 XML: camt.053 bank statements and pacs.008 credit transfers"

    def sniff(self, path: Path, head: bytes) -> bool:
        text = _head_text(head)
        return CAMT053 in text or PACS008 in text

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Batch]:
        kind = ctx.options.get("account_kind")
        if kind is not None and str(kind).lower() not in KINDS:
            raise IngestError(f"account_kind must be one of {', '.join(KINDS)}, not {kind!r}")
        sink = _Sink(ctx, str(kind).lower() if kind is not None else None)
        parser = _Parser()
        statement: tuple[Element, _Statement] | None = None
        with _open(path) as fh:
            while True:
                broken: Exception | None = None
                too_long: _TooLong | None = None
                chunk = b""
                try:
                    chunk = fh.read(CHUNK)
                    parser.feed(chunk)
                except _Refused as exc:
                    if parser.unsupported:
                        raise IngestError(f"{path}: ISO 20022 message "
                                          f"{parser.unsupported[len(ISO):]} is not read here "
                                          "(camt.053 and pacs.008 are)") from exc  # fmt: skip
                    raise IngestError(f"{path}: refused: {exc} (an XML bomb or external "
                                      "entity?); bank messages have no DTD") from exc  # fmt: skip
                except (expat.ExpatError, EOFError, OSError, zlib.error) as exc:
                    broken = exc
                except _TooLong as exc:
                    too_long = exc
                for record, elem, parent in parser.take():
                    if elem.tag == "Acct":
                        _statement_account(parent, sink)
                    elif elem.tag == "Ntry":
                        if statement is None or statement[0] is not parent:
                            statement = (parent, _statement(parent))
                        _camt_entry(elem, statement[1], record, sink)
                    else:
                        _pacs_transfer(elem, parent.find("GrpHdr"), record, sink)
                yield from sink.ready()
                if too_long is not None:
                    # What came before is kept; the source is not taken as read.
                    yield from sink.drain()
                    raise StoppedEarly(f"{path}: {too_long} in record {parser.records}; the "
                                       "rest of the file cannot be read past it") from too_long
                if broken is not None:
                    if not parser.found:
                        raise IngestError(f"{path}: not a readable ISO 20022 XML file: "
                                          f"{broken}") from broken  # fmt: skip
                    what = "not well-formed XML" if isinstance(broken, expat.ExpatError) \
                        else "file ends early (truncated)"  # fmt: skip
                    at = parser.records if parser.inside else parser.records + 1
                    sink.reject(at, "", "", f"{what}: {broken}; the rest of the file was not read",
                                stops=True)  # fmt: skip
                    break
                if not chunk:
                    break
        if not parser.found:
            raise IngestError(f"{path}: no camt.053 statement or pacs.008 transfer in it "
                              f"(namespaces {CAMT053}* or {PACS008}*)")  # fmt: skip
        yield from sink.drain()


READER = Iso20022Reader()

__all__ = ["READER", "Iso20022Reader"]
