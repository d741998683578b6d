"""What the scoring engine's state costs per entity (issue 16: 50 million numbers in 8 GB).

Honest numbers are kept only as bits of fixed-size sets and cells of a counter table, whose
size is set up front (``ServeSettings.sketch_bits``); suspicious entities get a window of their
recent calls. This measures, with ``tracemalloc``, the memory the engine's state grows by when
events about N honest numbers stream in (should be near zero beyond the fixed sketches), and the
cost of one tracked line, presented number and contacted subscriber.

    python benchmarks/serve_memory.py --honest 200000 --suspicious 20000
"""

from __future__ import annotations

import argparse
import gc
import tracemalloc
from datetime import datetime, timedelta

from scamtrace.serve.engine import Engine
from scamtrace.serve.model import CarrierCallEvent, VoipCallEvent
from scamtrace.serve.settings import ServeSettings

T0 = datetime(2026, 3, 2, 9, 0, 0)


def grown(engine: Engine, events: list[CarrierCallEvent] | list[VoipCallEvent]) -> int:
    """Bytes the engine holds more after applying ``events`` (the events themselves are alive
    before and after, so they do not count)."""
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    engine.apply(events)
    gc.collect()
    return tracemalloc.get_traced_memory()[0] - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--honest", type=int, default=200_000)
    parser.add_argument("--suspicious", type=int, default=20_000)
    args = parser.parse_args()
    settings = ServeSettings(country="CN", voip_country="ES")
    tracemalloc.start()
    gc.collect()
    start = tracemalloc.get_traced_memory()[0]
    engine = Engine.start(settings=settings)
    fixed = tracemalloc.get_traced_memory()[0] - start

    # honest: each number calls one other at home, answered (a person's ordinary call)
    honest = [
        CarrierCallEvent(
            call_id=f"h{i}", start_time=T0 + timedelta(seconds=i), caller_number=f"+86139{i:08d}",
            called_number=f"+86159{i:08d}", duration_s=120, answered=True,
            ingress_trunk="ONNET", ingress_country="CN",
        )
        for i in range(args.honest)
    ]  # fmt: skip
    honest_bytes = grown(engine, honest)

    # suspicious: local-looking numbers from abroad, each calling strangers (a window each)
    numbers = [
        CarrierCallEvent(
            call_id=f"s{i}", start_time=T0 + timedelta(seconds=i),
            caller_number=f"+8613{(i * 7919) % 10**9:09d}", called_number=f"+86188{i:08d}",
            ingress_trunk="INTL-ES-01", ingress_country="ES",
        )
        for i in range(args.suspicious)
    ]  # fmt: skip
    number_bytes = grown(engine, numbers)

    # SIP lines: one call each (a window each)
    lines = [
        VoipCallEvent(
            call_id=f"v{i}", start_time=T0 + timedelta(seconds=i), sip_account=f"sip{i}",
            source_ip="192.0.2.1", from_number=f"8613{(i * 104729) % 10**9:09d}",
            to_number=f"86187{i:08d}", duration_s=0, sip_status=487,
        )
        for i in range(args.suspicious)
    ]  # fmt: skip
    line_bytes = grown(engine, lines)

    print(f"fixed sketches: {fixed / 2**20:.1f} MiB (sketch_bits={settings.sketch_bits:,})")
    print(f"honest numbers: {2 * args.honest:,} -> {honest_bytes / (2 * args.honest):.2f} "
          "bytes each beyond the sketches")  # fmt: skip
    print(f"numbers from abroad with a window: {number_bytes / args.suspicious:.0f} bytes each "
          "(one call in the window)")  # fmt: skip
    print(f"SIP lines with a window: {line_bytes / args.suspicious:.0f} bytes each "
          "(one call in the window)")  # fmt: skip
    print("a full window holds ServeSettings.window_calls calls of about 100 bytes each")
    print(engine.metrics())


if __name__ == "__main__":
    main()
