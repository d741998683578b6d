"""Benchmark: read an Asterisk ``Master.csv`` into ``voip_cdr`` batches; print rows/s per core.

Target: at least about 1 million rows/s per core for the reader. N synthetic ``cdr_csv`` lines
(18 columns, quoted as Asterisk writes them, a quoted comma in ``lastdata``, every disposition)
are generated with numpy into a temporary file, then read three times: to the reader's text
columns (parse and map: the reader's own work), to typed batches (adding
:func:`scamtrace.ingest.base.coerce`, the typing step every format shares), and into a case
folder as Parquet (``scamtrace ingest``: adding SHA-256 of the source and the atomic,
deduplicating write), in a forked process of its own as the command runs. Rows per
CPU-second (user + system time of this process, all threads) is what one core does; it holds
on a shared machine, where wall time does not.

A second table is the floor the libraries set: the three steps of the command that are one
library call each, timed alone on the same file (SHA-256 of the source by hashlib, pyarrow's
parse of the columns the reader converts, the typed rows written as zstd Parquet by pyarrow).
Their sum is the CPU time a reader would need with no mapping or typing at all; its rows per
CPU-second is the most any reader of these lines can reach on this machine with these
libraries.

    python benchmarks/ingest_asterisk.py              # 2 million lines
    python benchmarks/ingest_asterisk.py -n 500000 --timezone Europe/Madrid
    python benchmarks/ingest_asterisk.py --national     # callers logged as national digits
"""

from __future__ import annotations

import argparse
import multiprocessing
import multiprocessing.connection
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console
from rich.table import Table

from scamtrace.ingest import asterisk
from scamtrace.ingest.asterisk import READER
from scamtrace.ingest.base import Batch, ReadContext
from scamtrace.ingest.formats import readers
from scamtrace.ingest.pipeline import ingest
from scamtrace.ingest.writer import _parquet_writer, file_hash

DISPOSITIONS = np.array(["ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION", "CANCEL"])
TECHS = np.array(["SIP", "PJSIP", "IAX2"])


def _text(values: np.ndarray) -> pa.Array:
    return pa.array(values).cast(pa.string())


def _quoted(values: pa.Array) -> pa.Array:
    doubled = pc.replace_substring(values, '"', '""')
    return pc.binary_join_element_wise('"', doubled, '"', "")


def _padded(values: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(_text(values), width=width, padding="0")


def _stamps(epoch: np.ndarray) -> pa.Array:
    """``YYYY-MM-DD HH:MM:SS``, as Asterisk writes times."""
    return pa.array(epoch.astype("datetime64[s]")).cast(pa.string())


def generate(path: Path, n: int, seed: int = 1, columns: int = 18, national: bool = False) -> int:
    """Write ``n`` synthetic Master.csv lines of ``columns`` fields (16: no uniqueid nor
    userfield, 18: both), numpy for the values and Arrow kernels to join them, no per-line
    Python; return the file's size in bytes. ``national``: callers as national digits
    (``912345678``, which the SIP user-part rule checks), else with ``+34``."""
    rng = np.random.default_rng(seed)
    start = 1_467_331_200 + np.sort(rng.integers(0, 30 * 86_400, n))
    disposition = DISPOSITIONS[rng.choice(len(DISPOSITIONS), n, p=[0.55, 0.2, 0.1, 0.05,
                                                                     0.05, 0.05])]  # fmt: skip
    answered = disposition == "ANSWERED"
    ring = rng.integers(2, 30, n)
    billsec = np.where(answered, rng.integers(1, 900, n), 0)
    accounts = pc.binary_join_element_wise("cust", _padded(rng.integers(0, 5_000, n), 4), "")
    tech = _text(TECHS[rng.choice(3, n, p=[0.6, 0.35, 0.05])])
    channel = pc.binary_join_element_wise(tech, "/", accounts, "-",
                                          _padded(np.arange(n) % 16**8, 8), "")  # fmt: skip
    src = pc.binary_join_element_wise("91" if national else "+3491",
                                      _padded(rng.integers(0, 10**7, n), 7), "")  # fmt: skip
    # A tenth of the calls carry their number only in the caller ID.
    src = pc.if_else(pa.array(rng.random(n) < 0.1), "", src)
    dst = pc.binary_join_element_wise("0086138", _padded(rng.integers(0, 10**8, n), 8), "")
    clid = pc.binary_join_element_wise('"', accounts, '" <', "+3491",
                                       _padded(rng.integers(0, 10**7, n), 7), ">", "")  # fmt: skip
    start_text = _stamps(start)
    answer_text = pc.if_else(pa.array(answered), _stamps(start + ring), "")
    end_text = _stamps(start + ring + billsec)
    uniqueid = pc.binary_join_element_wise(_text(start), ".", _text(np.arange(n)), "")
    trunk = pc.binary_join_element_wise("SIP/trunk-", _padded(np.arange(n) % 16**8, 8), "")
    lastdata = pc.binary_join_element_wise("SIP/trunk/", dst, ",60,tT", "")
    quoted = [_quoted(pa.array([""] * n)), _quoted(src), _quoted(dst),
              _quoted(pa.array(["from-customers"] * n)), _quoted(clid), _quoted(channel),
              _quoted(trunk), _quoted(pa.array(["Dial"] * n)), _quoted(lastdata),
              _quoted(start_text), _quoted(answer_text), _quoted(end_text),
              _text(ring + billsec), _text(billsec), _quoted(_text(disposition)),
              _quoted(pa.array(["DOCUMENTATION"] * n)), _quoted(uniqueid),
              _quoted(pa.array([""] * n))][:columns]  # fmt: skip
    lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*quoted, ","), "\n", "")
    # The lines' bytes lie end to end in the array's data buffer: that buffer is the file.
    lines = lines.cast(pa.large_string())
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset:]
    data = lines.buffers()[2]
    with path.open("wb") as fh:
        fh.write(memoryview(data)[int(offsets[0]):int(offsets[n])])
    return path.stat().st_size


def _cpu(children: bool = False) -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _ingest(source: Path, case: Path, options: dict[str, str], batch_rows: int,
            out: multiprocessing.connection.Connection) -> None:  # fmt: skip
    result = ingest([str(source)], case, fmt="asterisk", holder_country="ES", options=options,
                    batch_rows=batch_rows)  # fmt: skip
    out.send((result.rows, result.rejected,
              resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))  # fmt: skip


def _ingest_in_child(source: Path, case: Path, options: dict[str, str],
                     batch_rows: int) -> tuple[int, int, int]:  # fmt: skip
    """``scamtrace ingest`` of ``source`` in a forked process: (rows, rejected, its peak
    memory in KB). Its CPU time is the children's (RUSAGE_CHILDREN) once it is joined."""
    receive, send = multiprocessing.get_context("fork").Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(
        target=_ingest, args=(source, case, options, batch_rows, send))
    child.start()
    rows, rejected, peak = receive.recv()
    child.join()
    return rows, rejected, peak


def _library_floor(source: Path, ctx: ReadContext, repeat: int) -> dict[str, float]:
    """CPU seconds (best of ``repeat``) of each step that is one library call: hashing the
    source, pyarrow's parse of the converted columns (as the reader calls it, on the file's
    bytes), and writing the typed rows as Parquet (the writer's settings)."""
    data = source.read_bytes()
    names = asterisk.layout(data[: 1 << 16])
    typed = pa.concat_tables([b.data for b in READER.read(source, ctx)])
    steps = {
        "SHA-256 of the source (hashlib)": lambda: file_hash(source),
        "parse (pyarrow, the columns converted)": lambda: asterisk._pyarrow(
            data, names, tuple(n for n in asterisk.MAPPED if n in names)),
        "Parquet, zstd (pyarrow)": lambda: _write_parquet(typed, source.with_suffix(".parquet")),
    }  # fmt: skip
    best: dict[str, float] = {}
    for label, step in steps.items():
        best[label] = float("inf")
        for _ in range(repeat):
            cpu = _cpu()
            step()
            best[label] = min(best[label], _cpu() - cpu)
    return best


def _write_parquet(table: pa.Table, path: Path) -> None:
    with _parquet_writer(path, "voip_cdr") as sink:
        for start in range(0, table.num_rows, 500_000):
            sink.write_table(table.slice(start, 500_000), row_group_size=1 << 20)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("-n", "--lines", type=int, default=2_000_000)
    parser.add_argument("--timezone", default=None)
    parser.add_argument("--columns", type=int, choices=(16, 18), default=18,
                        help="18: uniqueid and userfield logged; 16: neither (call_id hashed)")
    parser.add_argument("--batch-rows", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    parser.add_argument("--national", action="store_true",
                        help="callers as national digits (912345678) rather than +34...")
    args = parser.parse_args()
    options = {"timezone": args.timezone} if args.timezone else {}
    with tempfile.TemporaryDirectory(prefix="scamtrace-asterisk-bench-") as work:
        source = Path(work) / "Master.csv"
        # Generated in a child process, so that peak memory here is the reader's.
        child = multiprocessing.get_context("fork").Process(
            target=generate, args=(source, args.lines, 1, args.columns, args.national))
        child.start()
        child.join()
        size = source.stat().st_size
        ctx = ReadContext("ES", str(source), args.batch_rows, options)
        readers()  # every reader's module imported before timing
        measures = []
        for label, run in (("parse + map (reader)", READER.read_text),
                           ("parse + map + coerce", READER.read),
                           ("ingest into a case (own process)", None)):  # fmt: skip
            # Best of --repeat runs: other jobs on the machine only ever make a run slower.
            best_wall = best_cpu = float("inf")
            child_peak = 0
            for attempt in range(args.repeat):
                wall = time.perf_counter()
                rows = rejected = 0
                if run is None:
                    # In a process of its own, as `scamtrace ingest` runs: it starts with none
                    # of the memory the stages before took from the system.
                    cpu = _cpu(children=True)
                    rows, rejected, used = _ingest_in_child(
                        source, Path(work) / f"case-{attempt}", options, args.batch_rows)
                    spent = _cpu(children=True) - cpu
                    child_peak = max(child_peak, used)
                else:
                    cpu = _cpu()
                    for batch in run(source, ctx):
                        data = batch.data if isinstance(batch, Batch) else batch[0]
                        rows += data.num_rows
                        rejected += len(batch.rejected if isinstance(batch, Batch)
                                        else batch[1])  # fmt: skip
                    spent = _cpu() - cpu
                best_wall = min(best_wall, time.perf_counter() - wall)
                best_cpu = min(best_cpu, spent)
            peak = (child_peak if run is None
                    else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024**2  # fmt: skip
            measures.append((label, rows, rejected, best_wall, best_cpu, peak))
        floor = _library_floor(source, ctx, args.repeat)
    cores = os.cpu_count() or 1
    table = Table(title=f"Asterisk Master.csv -> voip_cdr ({args.lines:,} lines, "
                        f"{args.columns} columns, {size / 1024**2:,.0f} MB)")  # fmt: skip
    for column in ("stage", "rows", "rejected", "wall (s)", "CPU (s)", "rows/s",
                   "rows/s per core", "rows per CPU-second", "peak memory (GB)"):  # fmt: skip
        table.add_column(column, justify="left" if column == "stage" else "right")
    for label, rows, rejected, wall, cpu, peak in measures:
        table.add_row(label, f"{rows:,}", f"{rejected:,}", f"{wall:.2f}", f"{cpu:.2f}",
                      f"{rows / wall:,.0f}", f"{rows / wall / cores:,.0f}",
                      f"{rows / cpu:,.0f}", f"{peak:.2f}")  # fmt: skip
    console = Console(width=160)
    console.print(table)
    rows = measures[-1][1]
    steps = Table(title="The floor: the library calls of `scamtrace ingest` alone (CPU s, best "
                        f"of {args.repeat})")  # fmt: skip
    for column in ("step", "CPU (s)", "source MB/s", "rows per CPU-second"):
        steps.add_column(column, justify="left" if column == "step" else "right")
    for label, cpu in [*floor.items(), ("all three", sum(floor.values()))]:
        steps.add_row(label, f"{cpu:.3f}", f"{size / 1024**2 / cpu:,.0f}", f"{rows / cpu:,.0f}")
    console.print(steps)
    console.print(f"machine: {platform.machine()}, {cores} cores, Python "
                  f"{platform.python_version()}. rows/s per core: rows/s over all cores; "
                  "rows per CPU-second: over the CPU time this process used (user + system). "
                  "Peak memory: ru_maxrss after each stage (the file is generated in a child "
                  "process). Load average (1 min) at the end: "
                  f"{os.getloadavg()[0]:.2f}. Times: the best of {args.repeat} runs.")  # fmt: skip


if __name__ == "__main__":
    main()
