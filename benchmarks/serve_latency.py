"""Benchmark: latency and throughput of ``scamtrace serve`` over loopback, bounded in time.

The service runs in its own process pinned to CPU 0 (``taskset``), the load (``wrk``, from
Debian's package) on CPU 1. Prints p50/p99/p99.9 and requests/s for single and batch call
scoring and for transfer scoring, then events ingested per second (JSON lines, stored durably
and applied), and the service's CPU time a request (all its threads), which says what one
core of its own would carry however busy the machine. Each load runs ``--seconds`` (default 5)
and stops by itself.

    python benchmarks/serve_latency.py --case cases/seed --findings findings/seed   # real engine
    python benchmarks/serve_latency.py --engine fake            # the server alone (test engine)
    python benchmarks/serve_latency.py --engine fake --server granian   # the alternative

``--server granian`` (granian embedded, same ASGI app) needs ``pip install granian``; it is
here only to compare (docs/adr/0015-scoring-service.md).
"""

from __future__ import annotations

import argparse
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_WRK_SCRIPT = """
wrk.headers["Content-Type"] = "application/json"
local bodies = {}
local n = 0
local method = "POST"
function init(args)
  method = args[2]
  local f = io.open(args[1], "r")
  for line in f:lines() do n = n + 1; bodies[n] = line end
  f:close()
end
local i = 0
function request()
  i = i % n + 1
  if method == "GET" then return wrk.format("GET") end
  return wrk.format("POST", nil, nil, bodies[i])
end
function done(summary, latency, requests)
  io.write(string.format("RESULT %d %f %f %f %f %d\\n", summary.requests,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
    summary.duration, summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout))
end
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pin(cpu: int) -> list[str]:
    taskset = shutil.which("taskset")
    return [taskset, "-c", str(cpu)] if taskset and (os.cpu_count() or 1) > 1 else []


def _service_main(options: dict[str, str | None]) -> None:
    """Inside the service's process: build the app and serve it with the chosen server."""
    sys.path.insert(0, str(ROOT))
    from scamtrace.serve.app import (
        ScoringApp,
        ServeConfig,
        load_engine,
        run_event_loop,
        run_uvicorn,
    )

    if options["engine"] == "fake":
        from tests.serve.fake_engine import FakeEngine

        engine: object = FakeEngine()
    else:
        engine = load_engine(
            Path(options["findings"]) if options["findings"] else None,
            Path(options["case"]) if options["case"] else None,
        )
    app = ScoringApp(engine, Path(str(options["state"])))  # type: ignore[arg-type]
    port = int(str(options["port"]))
    config = ServeConfig(port=port)
    if options["server"] == "granian":
        run_event_loop(_run_granian(app, config), options["loop"] == "uvloop")
    else:
        run_event_loop(run_uvicorn(app, config), options["loop"] == "uvloop")


async def _run_granian(app: object, config: object) -> None:
    """The alternative measured: granian (Rust, hyper) embedded in the process, same app."""
    import asyncio
    import signal

    from granian.constants import Interfaces
    from granian.log import LogLevels
    from granian.server.embed import Server

    server = Server(
        app,
        address="127.0.0.1",
        port=config.port,  # type: ignore[attr-defined]
        interface=Interfaces.ASGI,
        websockets=False,
        log_level=LogLevels.error,
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, server.stop)
    await server.serve()


def _calls(n: int) -> list[dict[str, object]]:
    # A tenth of the callers repeat (so the state has something to say about them).
    return [
        {
            "call_id": f"c{i}",
            "time": "2026-03-01T10:00:00Z",
            "caller_number": f"+3491{(i % 5000) if i % 10 == 0 else i:07d}",
            "called_number": f"+86138{i:08d}",
            "ingress_trunk": "INT-7",
            "ingress_country": "ES",
            "attestation": "C",
        }
        for i in range(n)
    ]


def _transfers(n: int) -> list[dict[str, object]]:
    return [
        {
            "tx_id": f"t{i}",
            "time": "2026-03-01T10:05:00Z",
            "payer_account": f"CN{i:020d}",
            "payee_account": f"ES91{i % 300:020d}",
            "amount": 100.0 + i % 5000,
            "currency": "EUR",
            "payer_phone": f"+86138{i:08d}",
        }
        for i in range(n)
    ]


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process, all its threads (granian's I/O thread too)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _from_case(case: Path, n: int) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Calls and transfers drawn from a case (its numbers and accounts, so the engine's state
    has something to say about them): the real features, not a lookup that always misses."""
    import duckdb

    def table(name: str) -> str:
        found = sorted(case.glob(f"{name}.*"))
        if not found:
            raise SystemExit(f"{case}: no {name} table")
        reader = "read_parquet" if found[0].suffix == ".parquet" else "read_csv_auto"
        return f"{reader}('{found[0]}')"

    calls = duckdb.sql(
        f"SELECT call_id, strftime(start_time, '%Y-%m-%dT%H:%M:%SZ') AS time, caller_number, "
        f"called_number, ingress_trunk, ingress_country, attestation FROM {table('carrier_cdr')} "
        f"USING SAMPLE {n} ROWS (reservoir, 1)"
    ).fetchall()
    transfers = duckdb.sql(
        f"SELECT tx_id, strftime(time, '%Y-%m-%dT%H:%M:%SZ'), payer_account, payee_account, "
        f"amount::DOUBLE, currency, channel FROM {table('transfers')} "
        f"WHERE payer_account <> '' AND payee_account <> '' AND amount > 0 "
        f"USING SAMPLE {n} ROWS (reservoir, 1)"
    ).fetchall()
    call_keys = ("call_id", "time", "caller_number", "called_number", "ingress_trunk",
                 "ingress_country", "attestation")  # fmt: skip
    transfer_keys = ("tx_id", "time", "payer_account", "payee_account", "amount", "currency",
                     "channel")  # fmt: skip

    def kept(key: str, value: object) -> bool:
        # a withheld caller ID is an empty caller_number; other empty cells are absent fields
        return value is not None and (value != "" or key == "caller_number")

    return (
        [{k: v for k, v in zip(call_keys, row, strict=True) if kept(k, v)} for row in calls],
        [{k: v for k, v in zip(transfer_keys, row, strict=True) if kept(k, v)}
         for row in transfers],
    )  # fmt: skip


def _wrk(
    url: str,
    bodies: list[str],
    seconds: int,
    connections: int,
    pid: int,
    method: str = "POST",
) -> dict[str, float]:
    """Throughput and latency, and the service's CPU time a request: what a core of its own
    would carry, however busy the shared machine is."""
    cpu_before = _cpu_seconds(pid)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(_WRK_SCRIPT)
        data = Path(tmp) / "bodies.txt"
        data.write_text("\n".join(bodies) + "\n")
        command = [
            *_pin(1),
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            f"--timeout={max(2, seconds)}s",
            "-s",
            str(script),
            url,
            "--",
            str(data),
            method,
        ]
        out = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 30, check=True
        ).stdout
    match = re.search(r"RESULT (\d+) (\S+) (\S+) (\S+) (\S+) (\d+)", out)
    if not match:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    requests, p50, p99, p999, duration_us, errors = match.groups()
    cpu_us = (_cpu_seconds(pid) - cpu_before) / max(int(requests), 1) * 1e6
    return {
        "CPU us/request": cpu_us,
        "requests/s": int(requests) / (float(duration_us) / 1e6),
        "p50 ms": float(p50) / 1000,
        "p99 ms": float(p99) / 1000,
        "p99.9 ms": float(p999) / 1000,
        "errors": int(errors),
    }


def _events_per_second(base: str, total: int, per_request: int) -> float:
    lines = [
        json.dumps(
            {
                "table": "carrier_cdr",
                "call_id": f"e{i}",
                "start_time": "2026-03-01T09:00:00Z",
                "caller_number": f"+3491{i % 20000:07d}",
                "called_number": f"+86138{i:08d}",
                "duration_s": 30,
                "answered": True,
            }
        )
        for i in range(total)
    ]
    bodies = ["\n".join(lines[i : i + per_request]).encode() for i in range(0, total, per_request)]
    started = time.perf_counter()
    for body in bodies:
        request = urllib.request.Request(
            base + "/v1/events",
            data=body,
            method="POST",
            headers={"content-type": "application/x-ndjson"},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            answer.read()
    return total / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["real", "fake"], default="real")
    parser.add_argument("--findings", type=Path)
    parser.add_argument("--case", type=Path)
    parser.add_argument("--server", choices=["uvicorn", "granian"], default="uvicorn")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--seconds", type=int, default=5, help="each load, 1 to 60")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--batch", type=int, default=100, help="items per batch request")
    parser.add_argument("--events", type=int, default=100_000, help="events to ingest")
    parser.add_argument("--service", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.service:
        _service_main(json.loads(args.service))
        return
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")
    seconds = min(max(args.seconds, 1), 60)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as state:
        options = {
            "engine": args.engine,
            "server": args.server,
            "loop": args.loop,
            "port": str(port),
            "state": state,
            "findings": str(args.findings) if args.findings else None,
            "case": str(args.case) if args.case else None,
        }
        env = {**os.environ, "PYTHONPATH": f"{ROOT}:{os.environ.get('PYTHONPATH', '')}"}
        service = subprocess.Popen(
            [*_pin(0), sys.executable, __file__, "--service", json.dumps(options)], env=env
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
                call_requests, transfer_requests = _from_case(args.case, 20_000)
            else:
                call_requests, transfer_requests = _calls(20_000), _transfers(20_000)
            calls = [json.dumps(c) for c in call_requests]
            transfers = [json.dumps(t) for t in transfer_requests]
            call_batches = [
                json.dumps({"items": call_requests[i * args.batch : (i + 1) * args.batch]})
                for i in range(20)
            ]
            rows = {
                "GET /healthz (floor)": _wrk(
                    base + "/healthz", ["-"], seconds, args.connections, service.pid, "GET"
                ),
                "call, single": _wrk(
                    base + "/v1/calls/score", calls, seconds, args.connections, service.pid
                ),
                "transfer, single": _wrk(
                    base + "/v1/transfers/score", transfers, seconds, args.connections, service.pid
                ),
                f"call, batch of {args.batch}": _wrk(
                    base + "/v1/calls/score/batch",
                    call_batches,
                    seconds,
                    args.connections,
                    service.pid,
                ),
            }
            events = _events_per_second(base, args.events, 10_000)
        finally:
            service.terminate()
            service.wait(timeout=30)
    print(
        f"server {args.server}, loop {args.loop}, engine {args.engine}, {platform.machine()}, "
        f"{os.cpu_count()} cores, service on CPU 0, wrk on CPU 1, "
        f"{args.connections} connections, {seconds} s each"
    )
    print(
        f"{'load':<22}{'requests/s':>12}{'items/s':>12}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'p99.9 ms':>10}{'errors':>8}{'CPU us/req':>12}{'1 core req/s':>14}"
    )
    for name, row in rows.items():
        items = row["requests/s"] * (args.batch if "batch" in name else 1)
        print(
            f"{name:<22}{row['requests/s']:>12,.0f}{items:>12,.0f}{row['p50 ms']:>9.2f}"
            f"{row['p99 ms']:>9.2f}{row['p99.9 ms']:>10.2f}{row['errors']:>8}"
            f"{row['CPU us/request']:>12.1f}{1e6 / row['CPU us/request']:>14,.0f}"
        )
    print("1 core req/s: requests a core would answer at the service's measured CPU time each")
    print(
        f"events ingested: {events:,.0f}/s ({args.events:,} carrier_cdr events, JSON lines, "
        "10,000 a request, durable before the answer)"
    )


if __name__ == "__main__":
    main()
