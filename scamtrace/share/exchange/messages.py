"""The request and answer files two agencies trade: their format, reading and writing them.

They come from the other side, so reading one ends in a one-line :class:`ExchangeError` naming
the file and the field for anything that is not what this side wrote.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from scamtrace.core.casefolder import write_file_atomically
from scamtrace.core.errors import ScamtraceError
from scamtrace.share.safeio import read_json

#: The largest time tolerance a request may ask for: a wider window would let B's records
#: match (and B's answer return) calls to A's numbers that are not the calls A asked about.
MAX_TOLERANCE_S = 3600
FORMAT_VERSION = 1


class ExchangeError(ScamtraceError):
    """A request, answer or key that cannot be used."""


def check_tolerance(value: object, where: str) -> int:
    """``value`` as a tolerance in whole seconds, 0..:data:`MAX_TOLERANCE_S`."""
    if isinstance(value, bool) or not isinstance(value, int) or not (
            0 <= value <= MAX_TOLERANCE_S):  # fmt: skip
        shown = repr(value) if len(repr(value)) < 40 else repr(value)[:40] + "..."
        raise ExchangeError(f"{where}: {shown} is not a tolerance in whole seconds from 0 to "
                            f"{MAX_TOLERANCE_S}")  # fmt: skip
    return value


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso(t: int | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC text (None stays None)."""
    return None if t is None else dt.datetime.fromtimestamp(int(t), dt.UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ")  # fmt: skip


def read_message(path: Path, what: str) -> dict[str, Any]:
    """The request or answer (``what``) of ``path``."""
    raw = read_json(path, what, ExchangeError)
    if not isinstance(raw, dict) or raw.get("scamtrace_exchange") != what:
        raise ExchangeError(f"{path}: line 1: not a scamtrace exchange {what}")
    return raw


def write_message(path: Path, obj: dict[str, Any]) -> None:
    """Write a request or answer as compact JSON, through a hidden sibling."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(obj, separators=(",", ":")) + "\n"

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    write_file_atomically(path, write)


def columns_of(raw: dict[str, Any], field: str, schema: pa.Schema, path: Path) -> pa.Table:
    """The column block ``field`` of a message (``{column: [values]}``) as a table of
    ``schema``."""
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


def mapped(column: pa.ChunkedArray | pa.Array, mapping: dict[Any, str]) -> pa.Array:
    """``column`` looked up in ``mapping`` (null where absent), vectorised: the dictionary's
    keys become a value set, each row an index into its values."""
    keys = pa.array(list(mapping), column.type)
    index = pc.index_in(column, value_set=keys)
    return pa.array(list(mapping.values()), pa.string()).take(index)
