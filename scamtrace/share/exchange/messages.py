"""The request and answer files two agencies trade: their format, reading and writing them.

They come from the other side, so reading one ends in a one-line :class:`ExchangeError` naming
the file and the field for anything that is not what this side wrote.

Two forms, chosen by the suffix of the file written and told apart by their first bytes when
read (so a renamed file still reads):
- JSON (any other suffix): one object, the call block as ``{column: [values]}``;
- Parquet (``.parquet``) or Arrow IPC (``.arrow``): the call block as the file's rows (zstd),
  everything else of the message as the JSON object under the key :data:`META_KEY` of the
  file's metadata. At full seed scale JSON is hundreds of MB; the calls' repeated hashes shrink
  several times under Parquet's dictionary encoding.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from scamtrace.core.casefolder import write_file_atomically
from scamtrace.core.errors import ScamtraceError
from scamtrace.share.safeio import read_json

#: The largest time tolerance a request may ask for: a wider window would let B's records
#: match (and B's answer return) calls to A's numbers that are not the calls A asked about.
MAX_TOLERANCE_S = 3600
FORMAT_VERSION = 1
#: The message field that holds the calls: rows of the binary forms.
CALLS = "calls"
#: The metadata key of a binary message that holds the rest of the message as JSON.
META_KEY = b"scamtrace_exchange"
#: Binary forms by the suffix of the file written.
BINARY_SUFFIXES = (".parquet", ".arrow")
_PARQUET_MAGIC, _ARROW_MAGIC = b"PAR1", b"ARROW1"


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
    """The request or answer (``what``) of ``path``, JSON or binary; in the binary forms the
    call block is a ``pa.Table`` (which :func:`columns_of` takes as it takes the lists)."""
    form = _binary_form(path)
    raw = read_json(path, what, ExchangeError) if form is None else _read_binary(path, form, what)
    if not isinstance(raw, dict) or raw.get("scamtrace_exchange") != what:
        where = "line 1" if form is None else f"{form} metadata"
        raise ExchangeError(f"{path}: {where}: not a scamtrace exchange {what}")
    return raw


def write_message(path: Path, obj: dict[str, Any], calls: pa.Schema | None = None) -> None:
    """Write a request or answer through a hidden sibling: compact JSON, or Parquet or Arrow
    IPC when ``path`` ends in one of :data:`BINARY_SUFFIXES` (``calls`` is then the schema of
    the call block)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix not in BINARY_SUFFIXES:
        text = json.dumps(obj, separators=(",", ":")) + "\n"

        def write(tmp: Path) -> None:
            tmp.write_text(text, encoding="utf-8")

        write_file_atomically(path, write)
        return
    rest = {k: v for k, v in obj.items() if k != CALLS}
    block = obj.get(CALLS) or {}
    table = pa.table(block, schema=calls) if calls is not None else pa.table(block)
    # Written once, in the footer: as schema metadata pyarrow would store it twice more.
    meta = {META_KEY: json.dumps(rest, separators=(",", ":")).encode()}

    def write_binary(tmp: Path) -> None:
        if suffix == ".parquet":
            with pq.ParquetWriter(tmp, table.schema, compression="zstd",
                                  store_schema=False) as parquet:  # fmt: skip
                parquet.write_table(table)
                parquet.add_key_value_metadata(meta)
        else:
            options = ipc.IpcWriteOptions(compression="zstd")
            with pa.OSFile(str(tmp), "wb") as sink, ipc.new_file(
                    sink, table.schema, options=options, metadata=meta) as arrow:  # fmt: skip
                arrow.write_table(table)

    write_file_atomically(path, write_binary)


def _binary_form(path: Path) -> str | None:
    """``"Parquet"`` or ``"Arrow"`` by the file's first bytes, None for anything else (JSON)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(6)
    except OSError:
        return None  # read_json names the problem
    if head.startswith(_PARQUET_MAGIC):
        return "Parquet"
    if head == _ARROW_MAGIC:
        return "Arrow"
    return None


def _read_binary(path: Path, form: str, what: str) -> dict[str, Any]:
    try:
        if form == "Parquet":
            parquet = pq.ParquetFile(path)
            footer = parquet.metadata.metadata
            table = parquet.read()
        else:
            with pa.memory_map(str(path), "r") as source:
                arrow = ipc.open_file(source)
                footer, table = arrow.metadata, arrow.read_all()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ExchangeError(f"{path}: not a readable {form} {what}: {str(exc)[:200]}") from exc
    meta = (footer or {}).get(META_KEY)
    if meta is None:
        raise ExchangeError(f"{path}: {form} metadata: not a scamtrace exchange {what}")
    try:
        raw = json.loads(meta.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ExchangeError(f"{path}: {form} metadata: not valid JSON") from exc
    if isinstance(raw, dict):
        raw[CALLS] = table.replace_schema_metadata(None)
    return raw  # type: ignore[no-any-return]


def columns_of(raw: dict[str, Any], field: str, schema: pa.Schema, path: Path) -> pa.Table:
    """The column block ``field`` of a message (``{column: [values]}``) as a table of
    ``schema``."""
    names = schema.names
    block = raw.get(field)
    if isinstance(block, pa.Table):
        missing = [n for n in names if n not in block.column_names]
        if missing:
            raise ExchangeError(f"{path}: field {field}: expected columns {', '.join(names)}")
        try:
            return block.select(names).cast(schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise ExchangeError(f"{path}: field {field}: {str(exc)[:200]}") from exc
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
