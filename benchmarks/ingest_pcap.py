"""Benchmark: SIP capture -> voip_cdr rows with the pcap reader, against tshark alone.

Makes a capture of many SIP calls (sipp's built-in caller and callee over loopback, captured
with dumpcap; needs tshark, sipp and the right to capture on ``lo``), or takes one given with
``--pcap``, then times

* tshark alone: the very command the reader runs, over the whole capture, output thrown away;
* the reader with one tshark over the whole capture: its fields streamed into DuckDB, calls
  grouped, rows typed (the ratio to tshark alone is what the reader adds to the dissection);
* the reader as ingest runs it: a capture above 32 MB cut by editcap into pieces of 50,000
  packets, read by several tshark processes at once.

    python benchmarks/ingest_pcap.py                      # 20,000 calls at 1,000 calls/s
    python benchmarks/ingest_pcap.py --calls 100000 --rate 2000
    python benchmarks/ingest_pcap.py --pcap capture.pcapng
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.table import Table

from scamtrace.ingest.base import ReadContext
from scamtrace.ingest.pcap import READER, PcapReader


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_capture(out: Path, calls: int, rate: int) -> None:
    """``calls`` calls (INVITE, 180, 200, ACK, BYE, 200) from sipp's uac to its uas."""
    for tool in ("sipp", "dumpcap"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed to make the capture (Debian: apt-get "
                             "install tshark sip-tester), or give --pcap")  # fmt: skip
    uas_port, uac_port = _free_port(), _free_port()
    log = out.with_name(out.name + ".log")
    with log.open("wb") as err:
        dump = subprocess.Popen(["dumpcap", "-q", "-i", "lo", "-B", "64", "-f",
                                 f"udp port {uas_port} or udp port {uac_port}", "-w", str(out)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err)  # fmt: skip
    while b"File: " not in log.read_bytes():  # the capture runs (permission granted)
        if dump.poll() is not None:
            raise SystemExit(f"cannot capture on lo: {log.read_text(errors='replace')}")
        time.sleep(0.05)
    common = ["-i", "127.0.0.1", "-nostdin", "-m", str(calls), "-timeout", "600s"]
    uas = subprocess.Popen(["sipp", "-sn", "uas", *common, "-p", str(uas_port)],
                           cwd=out.parent, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        time.sleep(0.3)
        subprocess.run(["sipp", "-sn", "uac", f"127.0.0.1:{uas_port}", *common,
                        "-p", str(uac_port), "-s", "+8613800138000", "-r", str(rate),
                        "-l", str(rate * 2), "-d", "0"], cwd=out.parent,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)  # fmt: skip
    finally:
        uas.send_signal(signal.SIGTERM)
        uas.wait()
        time.sleep(0.5)
        dump.send_signal(signal.SIGINT)
        dump.wait()
        log.unlink(missing_ok=True)


def count_packets(path: Path) -> int:
    if shutil.which("capinfos"):
        out = subprocess.run(["capinfos", "-c", "-M", "-T", "-r", str(path)],
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
        return int(out.strip().split("\t")[-1])
    frames = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "frame.number"],
                            capture_output=True, check=True).stdout  # fmt: skip
    return frames.count(b"\n")


T = TypeVar("T")


def _cpu() -> float:
    me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(run: Callable[[], T], repeat: int) -> tuple[float, float, T]:
    """Best wall time, its CPU time (this process and its children), and what ``run`` gave."""
    best = (float("inf"), 0.0)
    result = run()  # warm: the file in the page cache, tshark's plugins loaded
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), _cpu()
        result = run()
        best = min(best, (time.perf_counter() - wall, _cpu() - cpu))
    return best[0], best[1], result


def _ingest(reader: PcapReader, pcap: Path) -> tuple[int, int]:
    rows = rejected = 0
    for batch in reader.read(pcap, ReadContext("CN", str(pcap))):
        rows += batch.data.num_rows
        rejected += len(batch.rejected)
    return rows, rejected


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rate", type=int, default=1_000, help="calls per second")
    parser.add_argument("--pcap", type=Path, default=None, help="an existing capture")
    parser.add_argument("--repeat", type=int, default=2, help="best of this many runs")
    parser.add_argument("--keep", type=Path, default=None, help="keep the capture made here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="scamtrace-pcap-bench-"))
    pieces = PcapReader()  # as ingest runs it: pieces of 50,000 packets above 32 MB
    whole = PcapReader(split_bytes=1 << 62)  # one tshark over the whole capture
    try:
        pcap = args.pcap or work / "calls.pcapng"
        if args.pcap is None:
            make_capture(pcap, args.calls, args.rate)
            if args.keep:
                shutil.copyfile(pcap, args.keep)
        packets = count_packets(pcap)
        size_mb = pcap.stat().st_size / 1024**2
        command = READER.command(pcap)
        alone_s, alone_cpu, _ = _timed(lambda: subprocess.run(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True),
            args.repeat)  # fmt: skip
        whole_s, whole_cpu, (rows, rejected) = _timed(lambda: _ingest(whole, pcap), args.repeat)
        pieces_s, pieces_cpu, _ = _timed(lambda: _ingest(pieces, pcap), args.repeat)
        own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        tshark_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    finally:
        shutil.rmtree(work, ignore_errors=True)
    runs = {"tshark alone (the reader's command)": (alone_s, alone_cpu),
            "reader, one tshark": (whole_s, whole_cpu),
            f"reader, pieces ({pieces.workers} tshark at once)": (pieces_s, pieces_cpu)}
    cores = os.cpu_count() or 1
    table = Table(title=f"SIP capture -> voip_cdr: pcap reader vs tshark alone "
                        f"(best of {args.repeat})")  # fmt: skip
    table.add_column("run")
    table.add_column("wall (s)", justify="right")
    table.add_column("CPU (s)", justify="right")
    table.add_column("packets/s", justify="right")
    table.add_column("dialogs/s", justify="right")
    table.add_column("time / tshark alone", justify="right")
    for name, (wall, cpu) in runs.items():
        table.add_row(name, f"{wall:.2f}", f"{cpu:.2f}", f"{packets / wall:,.0f}",
                      "" if name.startswith("tshark") else f"{rows / wall:,.0f}",
                      f"{wall / alone_s:.2f}")  # fmt: skip
    table.caption = (f"{platform.machine()}, {cores} cores, Python {platform.python_version()}, "
                     f"{_tshark_version()}\ncapture: {size_mb:,.1f} MB, {packets:,} packets, "
                     f"{rows:,} dialogs, {rejected:,} rejected; peak memory: {own_peak:,.0f} "
                     f"MB (Python), {tshark_peak:,.0f} MB (largest child)")  # fmt: skip
    Console(width=max(120, Console().width)).print(table)


def _tshark_version() -> str:
    out = subprocess.run(["tshark", "--version"], capture_output=True, text=True, check=False)
    return out.stdout.splitlines()[0] if out.stdout else "?"


if __name__ == "__main__":
    main()
