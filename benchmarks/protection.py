"""Protection, replayed: how much of a simulated world the real-time engine would have stopped.

Each world is streamed through :class:`scamtrace.serve.engine.Engine` in process, in time
order, with nothing from the future and no batch ``detect`` on the case: every call is scored
at setup (the terminating carrier's view for ``carrier_cdr``, the originating provider's for
``voip_cdr``) and applied as an event when it ends; every payment is scored before it executes,
then applied; every complaint is applied when filed. The engine knows the bank's accounts (KYC:
``accounts``) and, with ``--findings``, the findings of an EARLIER period; by default nothing.

    python benchmarks/protection.py --scale 0.02 --seeds 1
    python benchmarks/protection.py --worlds hard --scale 0.02 --findings FINDINGS

This is a benchmark driver: it loops in Python over the records of small worlds (0.01-0.05);
the engine's work per event is O(1). Ground truth comes from ``truth/`` (calls.csv lists the scam
calls, transfers.csv the fraud transfers, entities.csv the victims who paid).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from scamtrace.serve.engine import Engine
from scamtrace.serve.model import (
    CallScoreRequest,
    CarrierCallEvent,
    ComplaintEvent,
    Event,
    TransferEvent,
    TransferScoreRequest,
    VoipCallEvent,
)
from scamtrace.simulate.config import load_scenario
from scamtrace.simulate.world import build_world, write_world

#: A record is written when the call ends, and ``duration_s`` is talk time only: a call rings
#: for up to a minute first (switches give up on an unanswered call after 30-60 s).
RING_S = 60
#: The VoIP provider is another holder, often in another country: its records reach the
#: engine in a feed, and its clock may run a minute or two apart from the carrier's (detect's
#: link_clock_search_s). Two minutes more keeps a call's own VoIP record from reaching the
#: engine before the carrier scores that same call at setup: nothing from the future.
FEED_DELAY_S = 120

WORLDS: dict[str, tuple[str, dict[str, object]]] = {
    "seed": ("seed", {}),
    "hard": ("hard", {}),
    "hard-spoofing": ("hard-spoofing", {}),
    "es-victims": ("es-victims", {}),
    "simbox": ("simbox", {}),
    "domestic": ("domestic", {}),
    "hard-cov50": ("hard", {"center_coverage": 0.5}),
}


@dataclass
class Measures:
    world: str
    seed: int
    scale: float
    scam_calls: int
    scam_warned: float
    scam_after_hour: int
    scam_warned_after_hour: float
    carrier_warned: float
    voip_warned: float
    median_calls_before_flag: float
    paying_victims: int
    victims_warned_before_paying: float
    victims_held: float
    loss_held: float
    honest_calls: int
    honest_warned_per_10k: float
    honest_blocked_per_10k: float
    honest_transfers: int
    honest_held_per_10k: float
    events_per_s: float


def _rows(db: duckdb.DuckDBPyConnection, case: Path, name: str, query: str) -> list[tuple]:
    path = case / f"{name}.parquet"
    if not path.is_file():
        return []
    return db.execute(query.replace("TABLE", f"read_parquet('{path}')")).fetchall()


def replay(case: Path, findings: Path | None = None) -> tuple[dict[str, object], float]:
    """Stream ``case`` through an engine; the decisions by id and the events per second."""
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    carrier = _rows(
        db,
        case,
        "carrier_cdr",
        "SELECT call_id, start_time::TIMESTAMP, "
        "caller_number, called_number, duration_s, answered, ingress_trunk, "
        "ingress_country, attestation FROM TABLE",
    )
    voip = _rows(
        db,
        case,
        "voip_cdr",
        "SELECT call_id, start_time::TIMESTAMP, sip_account, "
        "source_ip, from_number, to_number, user_agent, duration_s, sip_status "
        "FROM TABLE",
    )
    transfers = _rows(
        db,
        case,
        "transfers",
        "SELECT tx_id, time::TIMESTAMP, payer_account, "
        "payee_account, amount::DOUBLE, currency, channel FROM TABLE",
    )
    reports = _rows(
        db,
        case,
        "reports",
        "SELECT report_id, filed_at::TIMESTAMP, victim_phone, "
        "reported_numbers, reported_accounts, amount_lost::DOUBLE, currency "
        "FROM TABLE",
    )
    # Timeline: (time, order, kind, row). At one instant an ending call is applied before a
    # payment is scored, as the real streams would deliver them.
    timeline: list[tuple[datetime, int, str, tuple]] = []
    for row in carrier:
        timeline.append((row[1], 2, "carrier_score", row))
        timeline.append((_end(row[1], row[4], RING_S), 0, "carrier_apply", row))
    for row in voip:
        timeline.append((row[1], 2, "voip_score", row))
        timeline.append((_end(row[1], row[7], RING_S + FEED_DELAY_S), 0, "voip_apply", row))
    for row in transfers:
        timeline.append((row[1], 3, "transfer", row))
    for row in reports:
        timeline.append((row[1], 1, "report", row))
    timeline.sort(key=lambda item: (item[0], item[1]))

    with tempfile.TemporaryDirectory() as kyc:
        # the bank's own KYC records: accounts only, none of the case's calls or payments
        kyc_case = Path(kyc)
        (kyc_case / "holder.json").write_text((case / "holder.json").read_text())
        if (case / "accounts.parquet").is_file():
            (kyc_case / "accounts.parquet").write_bytes((case / "accounts.parquet").read_bytes())
        engine = Engine.start(findings=findings, case=kyc_case)

    decisions: dict[str, object] = {}
    started = time.perf_counter()
    for _, _, kind, row in timeline:
        event: Event
        if kind == "carrier_score":
            decisions["c:" + row[0]] = engine.score_call(
                CallScoreRequest(
                    call_id=row[0],
                    time=row[1],
                    caller_number=row[2] or "",
                    called_number=row[3],
                    ingress_trunk=row[6],
                    ingress_country=row[7],
                    attestation=row[8] or None,
                )
            )
            continue
        if kind == "voip_score":
            decisions["v:" + row[0]] = engine.score_call(
                CallScoreRequest(
                    call_id=row[0],
                    time=row[1],
                    caller_number=row[4] or "",
                    called_number=row[5],
                    sip_account=row[2],
                    source_ip=row[3],
                )
            )
            continue
        if kind == "carrier_apply":
            event = CarrierCallEvent(
                call_id=row[0],
                start_time=row[1],
                caller_number=row[2] or "",
                called_number=row[3],
                duration_s=int(row[4] or 0),
                answered=bool(row[5]),
                ingress_trunk=row[6],
                ingress_country=row[7],
                attestation=row[8] or None,
            )
        elif kind == "voip_apply":
            event = VoipCallEvent(
                call_id=row[0],
                start_time=row[1],
                sip_account=row[2],
                source_ip=row[3],
                from_number=row[4] or "",
                to_number=row[5],
                user_agent=row[6],
                duration_s=int(row[7] or 0),
                sip_status=row[8],
            )
        elif kind == "transfer":
            if row[2] and row[3]:
                decisions["t:" + row[0]] = engine.score_transfer(
                    TransferScoreRequest(
                        tx_id=row[0],
                        time=row[1],
                        payer_account=row[2],
                        payee_account=row[3],
                        amount=row[4],
                        currency=row[5],
                        channel=row[6],
                    )
                )
            event = TransferEvent(
                tx_id=row[0],
                time=row[1],
                amount=row[4],
                currency=row[5],
                payer_account=row[2],
                payee_account=row[3],
                channel=row[6],
            )
        else:
            event = ComplaintEvent(
                report_id=row[0],
                filed_at=row[1],
                victim_phone=row[2],
                reported_numbers=_split(row[3]),
                reported_accounts=_split(row[4]),
            )
        engine.apply([event])
    seconds = time.perf_counter() - started
    decisions["_engine"] = engine
    return decisions, len(timeline) / seconds if seconds else 0.0


def _end(start: datetime, duration: object, delay_s: int) -> datetime:
    """When a call's record reaches the engine: after its talk time, the ringing before it
    (``duration_s`` is talk only) and any delay of the holder's feed."""
    return start + timedelta(seconds=int(duration or 0) + delay_s)


def _split(cell: object) -> list[str]:
    if not cell:
        return []
    return [part.strip() for part in str(cell).split(";") if part.strip()]


def measure(case: Path, world: str, seed: int, scale: float, findings: Path | None) -> Measures:
    decisions, rate = replay(case, findings)
    engine = decisions.pop("_engine")
    assert isinstance(engine, Engine)
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    truth = case / "truth"
    scam = db.execute(
        f"SELECT source, call_id, center_id FROM read_csv('{truth}/calls.csv', all_varchar = true)"
    ).fetchall()
    scam_ids = {(src, cid): center for src, cid, center in scam}
    # when and by which line each call was placed: a voip call's line is its SIP account; a
    # carrier call's line is unknown to the carrier, so its center's
    starts: dict[tuple[str, str], tuple[datetime, str]] = {}
    for cid, t, sip in _rows(
        db, case, "voip_cdr", "SELECT call_id, start_time::TIMESTAMP, sip_account FROM TABLE"
    ):
        if ("voip_cdr", cid) in scam_ids:
            starts[("voip_cdr", cid)] = (t, "sip:" + sip)
    carrier_rows = _rows(
        db,
        case,
        "carrier_cdr",
        "SELECT call_id, start_time::TIMESTAMP, called_number, caller_number FROM TABLE",
    )
    for cid, t, _, caller in carrier_rows:
        center = scam_ids.get(("carrier_cdr", cid))
        if center is not None:
            starts[("carrier_cdr", cid)] = (t, f"center:{center}" if center else f"num:{caller}")
    first: dict[str, datetime] = {}
    for t, line in starts.values():
        if line not in first or t < first[line]:
            first[line] = t

    def action(key: tuple[str, str]) -> str:
        prefix = "c:" if key[0] == "carrier_cdr" else "v:"
        decision = decisions.get(prefix + key[1])
        return getattr(decision, "action", "allow")

    warned = {k for k in starts if action(k) != "allow"}
    after = [k for k, (t, line) in starts.items() if (t - first[line]).total_seconds() >= 3600]
    by_source = defaultdict(lambda: [0, 0])
    for k in starts:
        by_source[k[0]][0] += 1
        by_source[k[0]][1] += k in warned
    # calls each new SIP line placed before its first warning (lines never warned: all calls)
    per_line: dict[str, list[tuple[datetime, bool]]] = defaultdict(list)
    for k, (t, line) in starts.items():
        if line.startswith("sip:"):
            per_line[line].append((t, k in warned))
    before = []
    for calls in per_line.values():
        calls.sort()
        before.append(next((i for i, (_, w) in enumerate(calls) if w), len(calls)))

    # honest calls
    honest = [0, 0, 0]
    for key, decision in decisions.items():
        if key[0] not in "cv":
            continue
        source = "carrier_cdr" if key[0] == "c" else "voip_cdr"
        if (source, key[2:]) in scam_ids:
            continue
        honest[0] += 1
        act = getattr(decision, "action", "allow")
        honest[1] += act == "warn"
        honest[2] += act == "block"

    # victims and money
    fraud = dict(
        db.execute(
            f"SELECT tx_id, kind FROM read_csv('{truth}/transfers.csv', all_varchar = true)"
        ).fetchall()
    )
    tx = _rows(
        db,
        case,
        "transfers",
        "SELECT tx_id, time::TIMESTAMP, payer_account, amount::DOUBLE FROM TABLE",
    )
    holder = dict(_rows(db, case, "accounts", "SELECT account_id, holder_phone FROM TABLE"))
    first_paid: dict[int, datetime] = {}
    paid_total = held_total = 0.0
    victims_held: set[int] = set()
    honest_tx = [0, 0]
    for tx_id, t, payer, amount in tx:
        decision = decisions.get("t:" + tx_id)
        act = getattr(decision, "action", "allow")
        if fraud.get(tx_id) == "victim_payment":
            phone = engine._carrier_key(str(holder.get(payer) or ""))
            paid_total += amount
            if act == "hold":
                held_total += amount
                if phone is not None:
                    victims_held.add(phone)
            if phone is not None and (phone not in first_paid or t < first_paid[phone]):
                first_paid[phone] = t
        elif tx_id not in fraud and decision is not None:
            honest_tx[0] += 1
            honest_tx[1] += act == "hold"
    warned_at: dict[int, datetime] = {}
    for cid, t, callee, _ in carrier_rows:
        if ("carrier_cdr", cid) in warned:
            phone = engine._carrier_key(callee)
            if phone is not None and (phone not in warned_at or t < warned_at[phone]):
                warned_at[phone] = t
    for cid, t, callee in _rows(
        db, case, "voip_cdr", "SELECT call_id, start_time::TIMESTAMP, to_number FROM TABLE"
    ):
        if ("voip_cdr", cid) in warned:
            phone = engine._voip_key(callee)
            if phone is not None and (phone not in warned_at or t < warned_at[phone]):
                warned_at[phone] = t
    victims_warned = sum(1 for p, t in first_paid.items() if p in warned_at and warned_at[p] < t)
    n_victims = len(first_paid)

    def share(part: int, whole: int) -> float:
        return part / whole if whole else float("nan")

    return Measures(
        world=world,
        seed=seed,
        scale=scale,
        scam_calls=len(starts),
        scam_warned=share(len(warned), len(starts)),
        scam_after_hour=len(after),
        scam_warned_after_hour=share(sum(1 for k in after if k in warned), len(after)),
        carrier_warned=share(by_source["carrier_cdr"][1], by_source["carrier_cdr"][0]),
        voip_warned=share(by_source["voip_cdr"][1], by_source["voip_cdr"][0]),
        median_calls_before_flag=float(statistics.median(before)) if before else float("nan"),
        paying_victims=n_victims,
        victims_warned_before_paying=share(victims_warned, n_victims),
        victims_held=share(len(victims_held & set(first_paid)), n_victims),
        loss_held=held_total / paid_total if paid_total else float("nan"),
        honest_calls=honest[0],
        honest_warned_per_10k=1e4 * share(honest[1], honest[0]),
        honest_blocked_per_10k=1e4 * share(honest[2], honest[0]),
        honest_transfers=honest_tx[0],
        honest_held_per_10k=1e4 * share(honest_tx[1], honest_tx[0]),
        events_per_s=rate,
    )


HEADER = (
    "world",
    "seed",
    "scale",
    "scam calls",
    "warned",
    "after 1st h",
    "carrier",
    "voip",
    "calls to flag",
    "paying victims",
    "warned before paying",
    "victims held",
    "loss held",
    "honest warn/10k",
    "honest block/10k",
    "honest tx hold/10k",
    "events/s",
)


def row(m: Measures) -> list[str]:
    return [
        m.world,
        str(m.seed),
        f"{m.scale:g}",
        str(m.scam_calls),
        f"{m.scam_warned:.1%}",
        f"{m.scam_warned_after_hour:.1%}",
        f"{m.carrier_warned:.1%}",
        f"{m.voip_warned:.1%}",
        f"{m.median_calls_before_flag:g}",
        str(m.paying_victims),
        f"{m.victims_warned_before_paying:.1%}",
        f"{m.victims_held:.1%}",
        f"{m.loss_held:.1%}",
        f"{m.honest_warned_per_10k:.2f}",
        f"{m.honest_blocked_per_10k:.2f}",
        f"{m.honest_held_per_10k:.2f}",
        f"{m.events_per_s:,.0f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", nargs="+", default=list(WORLDS), choices=list(WORLDS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[1])
    parser.add_argument("--scale", type=float, default=0.02)
    parser.add_argument("--findings", type=Path, help="findings of an EARLIER period")
    parser.add_argument("--json", type=Path, help="also write the measures here")
    args = parser.parse_args()
    results = []
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "---|" * len(HEADER))
    for name in args.worlds:
        scenario, overrides = WORLDS[name]
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as tmp:
                case = Path(tmp) / "case"
                world = build_world(
                    load_scenario(scenario, seed=seed, scale=args.scale, **overrides)
                )  # type: ignore[arg-type]
                write_world(world, case)
                m = measure(case, name, seed, args.scale, args.findings)
            results.append(m)
            print("| " + " | ".join(row(m)) + " |", flush=True)
    if args.json:
        args.json.write_text(json.dumps([vars(m) for m in results], indent=2))


if __name__ == "__main__":
    main()
