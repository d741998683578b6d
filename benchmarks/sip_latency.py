"""Benchmark: SIP screening answer latency (``scamtrace serve --sip``) under a bounded sipp load.

The service (HTTP and SIP on one event loop, one process) runs pinned to CPU 0 (``taskset``);
``sipp`` (Debian: sip-tester) on CPU 1 sends INVITEs with P-Asserted-Identity and a SHAKEN
Identity header (``tests/serve/sipp/screen_any.xml``) at a fixed rate for a fixed count, so each
load stops by itself. A hundredth of the callers are named in a complaint posted before the
load (their calls are declined, 603); a tenth of the calls come from repeating callers (with
``--case``, the calls are drawn from the case's ``carrier_cdr``, so the engine knows them).
Prints, per rate, p50/p99/p99.9 of the response time sipp saw (INVITE first sent to 302/603
received, from its message trace's microsecond timestamps), calls answered per second, failed
calls, the service's CPU time an INVITE and its ACK (from ``/proc``: what one core of its own
would carry) and its fail-open count.

    python benchmarks/sip_latency.py --engine fake                  # the SIP path alone
    python benchmarks/sip_latency.py --case cases/seed --findings findings/seed   # real engine
    python benchmarks/sip_latency.py --engine fake --rates 500,2000 --seconds 5
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "tests" / "serve" / "sipp" / "screen_any.xml"


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pin(cpu: int) -> list[str]:
    taskset = shutil.which("taskset")
    return [taskset, "-c", str(cpu)] if taskset and (os.cpu_count() or 1) > 1 else []


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _service_main(options: dict[str, str | None]) -> None:
    """Inside the service's process: HTTP and SIP on one loop, as ``scamtrace serve --sip``."""
    sys.path.insert(0, str(ROOT))
    from scamtrace.serve.app import ServeConfig, load_engine, serve
    from scamtrace.serve.sip import SipOptions

    if options["engine"] == "fake":
        from tests.serve.fake_engine import FakeEngine

        engine: object = FakeEngine()
    else:
        engine = load_engine(
            Path(options["findings"]) if options["findings"] else None,
            Path(options["case"]) if options["case"] else None,
        )
    config = ServeConfig(
        state=Path(str(options["state"])),
        port=int(str(options["port"])),
        sip=SipOptions(port=int(str(options["sip_port"])), ingress_country="ES"),
    )
    serve(config, engine=engine)  # type: ignore[arg-type]


def _b64(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _passport(caller: str, called: str, attest: str) -> str:
    header = {"alg": "ES256", "ppt": "shaken", "typ": "passport", "x5u": "https://c.example/c"}
    claims = {"attest": attest, "dest": {"tn": [called.lstrip("+")]}, "iat": 1772355600,
              "orig": {"tn": caller.lstrip("+")}, "origid": "bench"}  # fmt: skip
    return f"{_b64(header)}.{_b64(claims)}.c2lnbmF0dXJl"


def _callers(n: int) -> list[str]:
    # A tenth of the callers repeat (so the state has something to say about them).
    return [f"+3491{(i % 5000) if i % 10 == 0 else i:07d}" for i in range(n)]


def _from_case(case: Path, n: int) -> list[tuple[str, str]]:
    """Callers and callees of the case's own calls, so the real engine's state knows them."""
    import duckdb

    found = sorted(case.glob("carrier_cdr.*"))
    if not found:
        raise SystemExit(f"{case}: no carrier_cdr table")
    reader = "read_parquet" if found[0].suffix == ".parquet" else "read_csv_auto"
    rows = duckdb.sql(
        f"SELECT caller_number, called_number FROM {reader}('{found[0]}') "
        f"WHERE caller_number <> '' AND called_number <> '' USING SAMPLE {n} ROWS (reservoir, 1)"
    ).fetchall()
    return [(str(a), str(b)) for a, b in rows]


def _injection(folder: Path, pairs: list[tuple[str, str]]) -> Path:
    rows = []
    for i, (caller, called) in enumerate(pairs):
        rows.append(f"{caller};{called};{_passport(caller, called, 'ABC'[i % 3])}")
    path = folder / "calls.csv"
    path.write_text("SEQUENTIAL\n" + "\n".join(rows) + "\n")
    return path


def _flag(base: str, callers: list[str]) -> None:
    complaint = {"table": "reports", "report_id": "bench-1", "filed_at": "2026-03-01T09:00:00Z",
                 "reported_numbers": callers}  # fmt: skip
    request = urllib.request.Request(
        base + "/v1/events",
        data=json.dumps(complaint).encode(),
        method="POST",
        headers={"content-type": "application/x-ndjson"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        answer.read()


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


_TRACE = re.compile(
    r"^-+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\n(UDP message (?:sent|received))[^\n]*\n\n"
    r"([^\n]*)\n(?:[^\n]+\n)*?Call-ID: ([^\n]+)\n",
    re.MULTILINE,
)


def _response_times(trace: str) -> list[float]:
    """Milliseconds from each INVITE's first sending to its 302 or 603, from sipp's message
    trace (microsecond timestamps; sipp's own -trace_rtt counts whole milliseconds)."""
    sent: dict[str, float] = {}
    answered: dict[str, float] = {}
    for match in _TRACE.finditer(trace):
        stamp, direction, first_line, call_id = match.groups()
        at = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp()
        if direction.endswith("sent") and first_line.startswith("INVITE "):
            sent.setdefault(call_id, at)
        elif direction.endswith("received") and first_line[8:11] in ("302", "603"):
            answered.setdefault(call_id, at)
    return sorted(
        (answered[call_id] - at) * 1000 for call_id, at in sent.items() if call_id in answered
    )


def _load(sip_port: int, calls: Path, rate: int, count: int, pid: int) -> dict[str, float]:
    """One bounded sipp run: its message trace gives each call's response time."""
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "messages.log"
        command = [*_pin(1), "sipp", f"127.0.0.1:{sip_port}", "-sf", str(SCENARIO),
                   "-inf", str(calls), "-r", str(rate), "-m", str(count),
                   "-l", str(max(rate, 100)), "-i", "127.0.0.1",
                   "-p", str(_free_port(socket.SOCK_DGRAM)),
                   "-trace_msg", "-message_file", str(trace),
                   "-timeout", f"{count // rate + 30}s", "-timeout_error", "-nostdin",
                   "-trace_stat", "-stf", str(Path(tmp) / "stat.csv")]  # fmt: skip
        cpu_before = _cpu_seconds(pid)
        started = time.perf_counter()
        done = subprocess.run(
            command, cwd=tmp, capture_output=True, text=True, timeout=count // rate + 60
        )
        elapsed = time.perf_counter() - started
        cpu = _cpu_seconds(pid) - cpu_before
        times = _response_times(trace.read_text(errors="replace")) if trace.exists() else []
        failed = 0
        stat = Path(tmp) / "stat.csv"
        if stat.exists():
            lines = stat.read_text().splitlines()
            header, last = lines[0].split(";"), lines[-1].split(";")
            failed = int(last[header.index("FailedCall(C)")])
    if not times:
        raise RuntimeError(f"sipp traced no answers (rc {done.returncode}):\n{done.stderr}")
    return {
        "answered": len(times),
        "calls/s": len(times) / elapsed,
        "p50 ms": _percentile(times, 50),
        "p99 ms": _percentile(times, 99),
        "p99.9 ms": _percentile(times, 99.9),
        "max ms": times[-1],
        "failed": failed,
        "CPU us/INVITE": cpu / max(len(times), 1) * 1e6,
    }


def _fail_open(base: str) -> int:
    with urllib.request.urlopen(base + "/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return sum(int(n) for n in re.findall(r"scamtrace_sip_fail_open_total\{[^}]*\} (\d+)", text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["real", "fake"], default="real")
    parser.add_argument("--findings", type=Path)
    parser.add_argument("--case", type=Path)
    parser.add_argument("--rates", default="200,1000,3000", help="INVITEs/s, comma-separated")
    parser.add_argument("--seconds", type=int, default=5, help="each load, 1 to 60")
    parser.add_argument("--service", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.service:
        _service_main(json.loads(args.service))
        return
    if shutil.which("sipp") is None:
        sys.exit("sipp not found: apt-get install sip-tester")
    seconds = min(max(args.seconds, 1), 60)
    rates = [int(r) for r in args.rates.split(",")]
    port, sip_port = _free_port(), _free_port(socket.SOCK_DGRAM)
    base = f"http://127.0.0.1:{port}"
    rows: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        options = {
            "engine": args.engine,
            "port": str(port),
            "sip_port": str(sip_port),
            "state": str(Path(tmp) / "state"),
            "findings": str(args.findings) if args.findings else None,
            "case": str(args.case) if args.case else None,
        }
        env = {**os.environ, "PYTHONPATH": f"{ROOT}:{os.environ.get('PYTHONPATH', '')}"}
        service = subprocess.Popen(
            [*_pin(0), sys.executable, __file__, "--service", json.dumps(options)],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    urllib.request.urlopen(base + "/healthz", timeout=1).read()
                    break
                except OSError:
                    if service.poll() is not None or time.monotonic() > deadline:
                        sys.exit("the service did not start")
                    time.sleep(0.2)
            if args.case is not None:
                pairs = _from_case(args.case, 20_000)
            else:
                pairs = [(c, f"+86138{i:08d}") for i, c in enumerate(_callers(20_000))]
            calls = _injection(Path(tmp), pairs)
            _flag(base, [caller for caller, _ in pairs[1::100]])
            for rate in rates:
                rows[rate] = _load(sip_port, calls, rate, rate * seconds, service.pid)
            fail_open = _fail_open(base)
        finally:
            service.terminate()
            service.wait(timeout=30)
    print(
        f"engine {args.engine}, {platform.machine()}, {os.cpu_count()} cores, service on CPU 0, "
        f"sipp on CPU 1, UDP over loopback, {seconds} s a rate; response time: sipp, INVITE "
        "sent to 302/603 received"
    )
    print(
        f"{'rate/s':>7}{'answered':>10}{'calls/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'p99.9 ms':>10}"
        f"{'max ms':>8}{'failed':>8}{'CPU us/INVITE':>15}{'1 core/s':>10}"
    )
    for rate, row in rows.items():
        print(
            f"{rate:>7}{row['answered']:>10,.0f}{row['calls/s']:>9,.0f}{row['p50 ms']:>8.2f}"
            f"{row['p99 ms']:>8.2f}{row['p99.9 ms']:>10.2f}{row['max ms']:>8.1f}"
            f"{row['failed']:>8.0f}{row['CPU us/INVITE']:>15.1f}"
            f"{1e6 / row['CPU us/INVITE']:>10,.0f}"
        )
    print(f"answered fail-open (unscored) over all loads: {fail_open}")


if __name__ == "__main__":
    main()
