"""Benchmark: an exchange request and answer in each form (JSON, Parquet, Arrow IPC): file size,
time to write it and to read it back into the call table the commands use.

    python benchmarks/exchange_forms.py request.json answer.json
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from scamtrace.share.exchange.answer import ANSWER_CALLS
from scamtrace.share.exchange.messages import columns_of, read_message, write_message
from scamtrace.share.exchange.request import REQUEST_CALLS

FORMS = (".json", ".parquet", ".arrow")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("request", type=Path, help="a request written by share request")
    parser.add_argument("answer", type=Path, help="an answer written by share answer")
    args = parser.parse_args()
    table = Table(title=f"exchange messages by form ({platform.machine()}, "
                        f"{platform.python_version()})")  # fmt: skip
    for col in ("message", "calls", "form", "size MB", "vs JSON", "write s", "read s"):
        table.add_column(col, justify="left" if col in ("message", "form") else "right")
    with tempfile.TemporaryDirectory() as tmp:
        for what, source, schema in (("request", args.request, REQUEST_CALLS),
                                     ("answer", args.answer, ANSWER_CALLS)):  # fmt: skip
            message = read_message(source, what)
            rows = columns_of(message, "calls", schema, source)
            message["calls"] = {c: rows.column(c).to_pylist() for c in schema.names}
            json_size = 0
            for suffix in FORMS:
                path = Path(tmp) / f"{what}{suffix}"
                start = time.perf_counter()
                write_message(path, message, schema)
                written = time.perf_counter() - start
                start = time.perf_counter()
                back = columns_of(read_message(path, what), "calls", schema, path)
                read = time.perf_counter() - start
                assert back.equals(rows), (what, suffix)
                size = path.stat().st_size
                json_size = json_size or size
                table.add_row(what, f"{rows.num_rows:,}", suffix.lstrip("."),
                              f"{size / 1e6:.2f}", f"{size / json_size:.0%}",
                              f"{written:.2f}", f"{read:.2f}")  # fmt: skip
    Console().print(table)


if __name__ == "__main__":
    main()
