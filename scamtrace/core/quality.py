"""How much of each key column could be read: the quality gate of a case.

A case whose numbers, times, addresses, accounts or amounts are mostly unreadable does not
fail: rows are kept or set aside one by one. But when most values of a key column cannot be
read, every finding built on that column is wrong, and nothing says so (bare international
digits read as national numbers made every caller ID invalid, and the report looked normal).
So for every key column the share of its values that were read is measured, and under
:data:`QUALITY_BAR` it is said: printed as a warning, written to ``summary.json``
(``quality``), shown at the top of the report, and a failure under ``--strict``.

What "read" means per check:

- ``phone``: a number ``phonenumbers`` holds valid once normalised (E.164 of the right length
  is not enough: a Spanish reading of a Chinese number has the length and no meaning);
  withheld and empty values are not counted.
- ``time``, ``amount``: the value was read (not set aside for this column).
- ``ip``: an IPv4 or IPv6 address.
- ``account``: not a damaged IBAN (an IBAN-shaped value whose check digits fail); domestic
  account and card numbers and opaque ids cannot be checked and count as read.

Phones, IPs and accounts are judged on a repeatable sample of :data:`SAMPLE_ROWS` rows
(a share within about 0.3 points at 95 %); times and amounts on every row.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from scamtrace.core import contract
from scamtrace.core.accounts import has_iban_shape, is_iban
from scamtrace.core.errors import QualityError
from scamtrace.core.phones import valid_international_digits

#: Under this share of a key column's values read, the column is reported. Real exports lose
#: a few values (a withheld number logged as a word, a time a switch wrote as zero), never a
#: twentieth of a column: beyond that the column was misread, not damaged here and there.
QUALITY_BAR = 0.95
#: Rows sampled for the checks that run in Python or over each distinct value.
SAMPLE_ROWS = 20_000
#: Rows of each batch ingest judges: a source of many batches adds them up, and a single
#: batch's 2,000 still place a share within about 1 point, where a misread column sits near 0.
#: (20,000 a batch cost a third of ingest's CPU; this, a few per cent.)
BATCH_SAMPLE_ROWS = 2_000

Check = Literal["phone", "time", "amount", "ip", "account"]

#: Key columns that are not recognised by their kind alone.
_NAMED: dict[tuple[str, str], Check] = {
    ("voip_cdr", "source_ip"): "ip",
    ("accounts", "account_id"): "account",
    ("transfers", "payer_account"): "account",
    ("transfers", "payee_account"): "account",
}
_BY_KIND: dict[str, Check] = {"phone": "phone", "time": "time", "decimal": "amount"}


def key_columns(table: contract.Table) -> list[tuple[contract.Column, Check]]:
    """The key columns of ``table`` and how each is checked."""
    found: list[tuple[contract.Column, Check]] = []
    for column in table.columns:
        check = _NAMED.get((table.name, column.name)) or _BY_KIND.get(column.kind)
        if check is not None:
            found.append((column, check))
    return found


@dataclass(frozen=True)
class ColumnQuality:
    """The share of one key column's values that could be read."""

    table: str
    column: str
    check: Check
    file: str
    values: int  # values judged (non-empty; the sample's when sampled)
    read: int
    sampled: bool

    @property
    def share(self) -> float:
        return self.read / self.values if self.values else 1.0

    @property
    def below(self) -> bool:
        return self.values > 0 and self.share < QUALITY_BAR

    def plus(self, values: int, read: int, sampled: bool = False) -> ColumnQuality:
        """These counts with one more batch's added (ingest tallies a source batch by batch)."""
        return replace(self, values=self.values + values, read=self.read + read,
                       sampled=self.sampled or sampled)  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "share": round(self.share, 4), "below_bar": self.below}

    def sentence(self) -> str:
        """One line a reader can act on."""
        how = "of a sample of " if self.sampled else "of "
        return (f"{self.table}.{self.column}: {self.share:.1%} {how}{self.values:,} values "
                f"read as {self.check} (bar {QUALITY_BAR:.0%}) in {self.file}")  # fmt: skip


def count_read(check: Check, values: pa.Array) -> int:
    """How many of ``values`` (a sample, text; for ``phone`` E.164 digits without ``+``, null
    where normalisation failed) are read by ``check``'s rule."""
    if check == "phone":
        digits = pc.fill_null(values.cast(pa.string()), "")
        return int(pc.sum(valid_international_digits(digits)).as_py() or 0)
    texts = [str(v).strip() for v in values.to_pylist() if v is not None]
    if check == "ip":
        return sum(_is_ip(v) for v in texts)
    if check == "account":
        compact = (v.replace(" ", "").replace("-", "").upper() for v in texts)
        return sum(not (has_iban_shape(v) and not is_iban(v)) for v in compact)
    raise ValueError(f"{check} is counted from the rows set aside, not from a sample")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def tally_batch(
    tallies: dict[tuple[str, str], ColumnQuality], table: contract.Table, data: pa.Table,
    set_aside: Iterable[tuple[str, str]], file: str,
) -> None:
    """Add one typed batch of ``table`` to ``tallies``. ``data`` holds the rows kept, as
    ingest types them (phones ``+`` and E.164 digits where normalised, else as logged);
    ``set_aside`` the (column, value) at fault of each row set aside, which counts as a value
    of that column not read. Phones, IPs and accounts are judged on every row of a small
    batch and on about :data:`BATCH_SAMPLE_ROWS` rows of each large one."""
    faults: dict[str, int] = {}
    for column, value in set_aside:
        if value.strip():
            faults[column] = faults.get(column, 0) + 1
    step = max(1, -(-data.num_rows // BATCH_SAMPLE_ROWS))
    for col, check in key_columns(table):
        key = (table.name, col.name)
        tally = tallies.get(key) or ColumnQuality(table.name, col.name, check, file, 0, 0, False)
        bad = faults.get(col.name, 0)
        if step > 1 and check not in ("time", "amount"):
            bad = round(bad / step)  # the sample's share of the rows set aside
        if col.name not in data.column_names:
            tallies[key] = tally.plus(bad, 0)
            continue
        values = data.column(col.name)
        if check in ("time", "amount"):
            kept = len(values) - values.null_count
            tallies[key] = tally.plus(kept + bad, kept)
            continue
        # only the sample is made one array; the whole column is never copied
        sample = (values if step == 1 else values.take(pa.array(range(0, len(values), step)))
                  ).combine_chunks()  # fmt: skip
        text = pc.utf8_trim_whitespace(pc.fill_null(sample.cast(pa.string()), ""))
        present = text.filter(pc.not_equal(text, ""))
        if check == "phone":
            # kept numbers were normalised to + and E.164 where they could be
            plus = pc.starts_with(present, "+")
            judged = pc.if_else(plus, pc.utf8_slice_codeunits(present, 1),
                                pa.scalar(None, pa.string()))  # fmt: skip
        else:
            judged = present
        tallies[key] = tally.plus(len(present) + bad, count_read(check, judged), step > 1)


def below_bar(measured: Iterable[ColumnQuality]) -> list[ColumnQuality]:
    return [q for q in measured if q.below]


def enforce(measured: Iterable[ColumnQuality]) -> None:
    """Raise :class:`QualityError` naming every key column under the bar."""
    bad = below_bar(measured)
    if bad:
        raise QualityError("key columns under the quality bar (--strict): "
                           + "; ".join(q.sentence() for q in bad))  # fmt: skip
