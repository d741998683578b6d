"""SIP screening (``serve --sip``): the screen on a real UDP socket in process, and ``sipp``
against the service as a process. Only the engine is the fake one (tests/serve/fake_engine.py)."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sipmessage import Message, Response

from scamtrace.core.errors import ScamtraceError
from scamtrace.serve.app import ScoringApp
from scamtrace.serve.model import CallDecision, CallScoreRequest, CarrierCallEvent, ComplaintEvent
from scamtrace.serve.sip import MAX_DATAGRAM, SipOptions, SipScreen, decode_identity
from tests.serve.asgi import call
from tests.serve.fake_engine import CALLS_TO_WARN, FakeEngine
from tests.serve.test_app import CALLED, CALLER, complaint
from tests.serve.test_process import free_port, running

SIPP_SCENARIOS = Path(__file__).parent / "sipp"


class RecordingEngine(FakeEngine):
    """The fake engine, keeping every request it scored."""

    def __init__(self) -> None:
        super().__init__()
        self.scored: list[CallScoreRequest] = []

    def score_call(self, request: CallScoreRequest) -> CallDecision:
        self.scored.append(request)
        return super().score_call(request)


class BrokenEngine(RecordingEngine):
    def score_call(self, request: CallScoreRequest) -> CallDecision:
        raise RuntimeError("the engine is broken")


MORNING = datetime(2026, 3, 1, 9, tzinfo=UTC)


def flag(engine: FakeEngine, number: str = CALLER) -> None:
    engine.apply([ComplaintEvent(report_id="r1", filed_at=MORNING, reported_numbers=[number])])


def _b64(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def passport(attest: str = "A", orig: str = CALLER, dest: str = CALLED) -> str:
    """An Identity header value as a SHAKEN signer writes it (the signature is not real)."""
    header = {"alg": "ES256", "ppt": "shaken", "typ": "passport", "x5u": "https://c.example/c"}
    claims = {
        "attest": attest,
        "dest": {"tn": [dest.lstrip("+")]},
        "iat": 1772355600,
        "orig": {"tn": orig.lstrip("+")},
        "origid": "123e4567-e89b-12d3-a456-426655440000",
    }
    token = f"{_b64(header)}.{_b64(claims)}.c2lnbmF0dXJl"
    return f"{token};info=<https://c.example/c>;alg=ES256;ppt=shaken"


def invite(
    caller: str = CALLER,
    called: str = CALLED,
    *,
    call_id: str = "call-1@switch",
    branch: str = "z9hG4bK-1",
    method: str = "INVITE",
    cseq: int = 1,
    identity: str | None = None,
    pai: str | None = "tel",
    extra: tuple[str, ...] = (),
) -> bytes:
    lines = [
        f"{method} sip:{called}@carrier.example;user=phone SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:5060;branch={branch};rport",
        "Via: SIP/2.0/UDP 10.9.9.9:5060;branch=z9hG4bK-upstream",
        "Max-Forwards: 70",
        f"From: <sip:{caller}@origin.example;user=phone>;tag=a1",
        f"To: <sip:{called}@carrier.example;user=phone>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {method}",
        "Contact: <sip:gw@10.9.9.9>",
    ]
    if pai == "tel":
        lines.append(f"P-Asserted-Identity: <tel:{caller}>")
    if identity is not None:
        lines.append(f"Identity: {identity}")
    lines += [*extra, "Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


def options_ping(call_id: str) -> bytes:
    return invite(method="OPTIONS", call_id=call_id, branch=f"z9hG4bK-{call_id}")


class Client:
    """A switch on loopback: sends datagrams to the screen and reads its answers."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, ("127.0.0.1", self.port))

    def answer(self, data: bytes) -> Response:
        self.send(data)
        return self.receive()

    def receive(self, call_id: str | None = None) -> Response:
        while True:
            raw, _ = self.sock.recvfrom(65536)
            message = Message.parse(raw)
            assert isinstance(message, Response)
            if call_id is None or message.call_id == call_id:
                return message

    def raw_answer(self, data: bytes) -> bytes:
        self.send(data)
        return self.sock.recvfrom(65536)[0]


class Running:
    def __init__(self, app: ScoringApp, screen: SipScreen, port: int) -> None:
        self.app, self.screen, self.port = app, screen, port
        self.client = Client(port)


@contextmanager
def screening(
    state: Path, engine: FakeEngine | None = None, **options: object
) -> Iterator[Running]:
    """The screen on a UDP socket of its own, read by an event loop in a thread."""
    app = ScoringApp(engine or RecordingEngine(), state)
    screen = SipScreen(app, SipOptions(port=0, **options))  # type: ignore[arg-type]
    loop = asyncio.new_event_loop()
    _, port = screen.start(loop)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    running = Running(app, screen, port)
    try:
        yield running
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        screen.close()
        loop.close()
        running.client.sock.close()
        app.close()


def test_a_call_from_a_flagged_number_is_declined_with_the_reason(tmp_path: Path) -> None:
    engine = RecordingEngine()
    flag(engine)
    with screening(tmp_path / "state", engine, institution="carrier-x") as sip:
        answer = sip.client.answer(invite())
        client_port = str(sip.client.sock.getsockname()[1])
    assert answer.code == 603
    assert answer.headers["Reason"].startswith('SIP;cause=603;text="the caller')
    assert "complaint" in answer.headers["Reason"]
    assert answer.headers["X-Scamtrace-Action"] == "block"
    # RFC 3261 8.2.6: Vias (top one with received and rport), From, To with a tag, Call-ID, CSeq
    vias = answer.via
    assert [v.host for v in vias] == ["127.0.0.1", "10.9.9.9"]
    assert vias[0].parameters["rport"] == client_port
    assert vias[0].parameters["branch"] == "z9hG4bK-1"
    assert answer.from_address.parameters["tag"] == "a1"
    assert answer.to_address.parameters["tag"]
    assert answer.call_id == "call-1@switch"
    assert str(answer.cseq) == "1 INVITE"
    assert answer.content_length == 0
    # audited as the carrier named, the numbers as keyed hashes only
    audit = (tmp_path / "state" / "audit.jsonl").read_text()
    entry = json.loads(audit.splitlines()[-1])
    assert (entry["institution"], entry["endpoint"], entry["action"]) == (
        "carrier-x",
        "sip",
        "block",
    )
    for number in (CALLER, CALLER.lstrip("+"), CALLED.lstrip("+")):
        assert number not in audit


def test_a_clean_call_is_redirected_back_to_its_request_uri(tmp_path: Path) -> None:
    with screening(tmp_path / "state") as sip:
        answer = sip.client.answer(invite(caller="+34600000001"))
    assert answer.code == 302
    assert answer.headers["Contact"] == f"<sip:{CALLED}@carrier.example;user=phone>"
    assert answer.headers["X-Scamtrace-Action"] == "allow"
    assert "Reason" not in answer.headers.keys()  # noqa: SIM118 (Headers is no dict)


def test_a_warned_call_continues_with_the_warning_for_the_callee(tmp_path: Path) -> None:
    engine = RecordingEngine()
    engine.apply(
        [
            CarrierCallEvent(
                call_id=f"k{i}", start_time=MORNING, caller_number=CALLER, called_number=CALLED
            )
            for i in range(CALLS_TO_WARN)
        ]
    )
    with screening(tmp_path / "state", engine) as sip:
        answer = sip.client.answer(invite())
    assert answer.code == 302
    assert answer.headers["X-Scamtrace-Action"] == "warn"
    assert answer.headers["X-Scamtrace-Reason"] == "the line dials many numbers"


def test_what_the_invite_says_reaches_the_engine(tmp_path: Path) -> None:
    engine = RecordingEngine()
    headers = ("X-Ingress-Country: es", "X-Ingress-Trunk: INT-7")
    with screening(tmp_path / "state", engine) as sip:
        sip.client.answer(invite(identity=passport("A"), extra=headers))
        # P-Asserted-Identity absent: the caller is From's user part
        sip.client.answer(invite(caller="+34600000002", pai=None, call_id="c2"))
    first, second = engine.scored
    assert (first.caller_number, first.called_number) == (CALLER, CALLED)
    assert (first.ingress_country, first.ingress_trunk) == ("ES", "INT-7")
    assert first.attestation == "A"
    assert first.identity is not None and first.identity.endswith("ppt=shaken")
    assert first.call_id == "call-1@switch"
    assert second.caller_number == "+34600000002"
    assert second.attestation is None and second.identity is None


def test_an_attestation_is_passed_only_where_it_vouches_for_this_call(tmp_path: Path) -> None:
    engine = RecordingEngine()
    failed = f"<tel:{CALLER};verstat=TN-Validation-Failed>"
    with screening(tmp_path / "state", engine) as sip:
        # a PASSporT lifted from another caller's call
        sip.client.answer(invite(identity=passport("A", orig="+34911000000"), call_id="a"))
        # the switch's verifier found the signature bad
        sip.client.answer(
            invite(
                identity=passport("A"),
                pai=None,
                call_id="b",
                extra=(f"P-Asserted-Identity: {failed}",),
            )
        )
        sip.client.answer(invite(identity="not-a-jwt;info=<https://c.example/c>", call_id="c"))
        sip.client.answer(invite(identity=passport("B"), call_id="d"))
    assert [r.attestation for r in engine.scored] == [None, None, None, "B"]
    assert all(r.identity is not None for r in engine.scored)


def test_decode_identity_reads_the_claims_without_the_signature() -> None:
    claims = decode_identity(passport("C"))
    assert claims is not None
    assert (claims.attest, claims.orig_tn, claims.dest_tn) == (
        "C",
        CALLER.lstrip("+"),
        (CALLED.lstrip("+"),),
    )
    assert decode_identity("..sig;info=<https://c.example/c>") is None  # compact form


def test_a_retransmitted_invite_gets_the_same_answer_and_is_scored_once(tmp_path: Path) -> None:
    engine = RecordingEngine()
    with screening(tmp_path / "state", engine) as sip:
        first = sip.client.raw_answer(invite())
        second = sip.client.raw_answer(invite())
        # a new transaction (another branch and CSeq) is scored again
        third = sip.client.raw_answer(invite(branch="z9hG4bK-2", cseq=2))
    assert first == second
    assert third != first
    assert len(engine.scored) == 2
    assert sip.screen.metrics.messages["retransmission"] == 1


def test_options_ack_and_other_methods(tmp_path: Path) -> None:
    engine = RecordingEngine()
    with screening(tmp_path / "state", engine) as sip:
        ping = sip.client.answer(options_ping("ping-1"))
        assert ping.code == 200
        assert "INVITE" in ping.headers["Allow"]
        register = sip.client.answer(invite(method="REGISTER", call_id="reg"))
        assert register.code == 405
        assert "OPTIONS" in register.headers["Allow"]
        # an ACK is absorbed: the next answer the switch gets is the one to its next ping
        sip.client.send(invite(method="ACK"))
        assert sip.client.answer(options_ping("ping-2")).call_id == "ping-2"
        mismatch = invite().replace(b"CSeq: 1 INVITE", b"CSeq: 1 BYE")
        assert sip.client.answer(mismatch).code == 400
        # a line feed inside a value the answer would echo: dropped, never echoed
        sip.client.send(invite(call_id="x\nX-Injected: 1", method="OPTIONS"))
        assert sip.client.answer(options_ping("ping-3")).call_id == "ping-3"
    assert engine.scored == []
    assert sip.screen.metrics.messages["ack"] == 1


def test_a_broken_engine_lets_the_call_through_and_is_counted(tmp_path: Path) -> None:
    with screening(tmp_path / "state", BrokenEngine()) as sip:
        answer = sip.client.answer(invite())
        assert answer.code == 302
        assert answer.headers["X-Scamtrace-Action"] == "allow"
        assert answer.headers["X-Scamtrace-Reason"] == "not scored (engine_error)"
        deadline = time.monotonic() + 5  # the latency is recorded just after the answer left
        while sip.screen.metrics.latency.counts == [0] * len(sip.screen.metrics.latency.counts):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        metrics = call(sip.app, "GET", "/metrics").body.decode()
    assert 'scamtrace_sip_fail_open_total{cause="engine_error"} 1' in metrics
    assert 'scamtrace_sip_answers_total{code="302"} 1' in metrics
    assert "scamtrace_sip_answer_seconds_count 1" in metrics
    entry = json.loads((tmp_path / "state" / "audit.jsonl").read_text().splitlines()[-1])
    assert (entry["action"], entry["fail_open"]) == ("allow", "engine_error")


def test_an_invite_that_waited_past_the_budget_is_let_through_unscored(tmp_path: Path) -> None:
    engine = RecordingEngine()
    flag(engine)
    app = ScoringApp(engine, tmp_path / "state")
    screen = SipScreen(app, SipOptions(port=0, budget_ms=100))
    try:
        answered = screen.handle(invite(), ("127.0.0.1", 5060), arrived=time.time() - 0.5)
        assert answered is not None
        assert answered[0].startswith(b"SIP/2.0 302 ")
        assert b"not scored (late)" in answered[0]
        assert engine.scored == []
        on_time = screen.handle(invite(call_id="c2"), ("127.0.0.1", 5060))
        assert on_time is not None and on_time[0].startswith(b"SIP/2.0 603 ")
    finally:
        app.close()


def test_only_loopback_and_the_allowed_switches_are_answered(tmp_path: Path) -> None:
    app = ScoringApp(RecordingEngine(), tmp_path / "state")
    screen = SipScreen(app, SipOptions(port=0, allow=("192.0.2.0/24",)))
    try:
        assert screen.handle(invite(), ("198.51.100.7", 5060)) is None
        assert screen.metrics.messages["refused"] == 1
        answered = screen.handle(invite(), ("192.0.2.10", 5070))
        assert answered is not None
        assert answered[1] == ("192.0.2.10", 5070)  # rport: back to the source port
        assert b"received=192.0.2.10" in answered[0]
    finally:
        app.close()
    with pytest.raises(ScamtraceError, match="--sip-allow"):
        SipOptions(port=5070, host="0.0.0.0").check()
    with pytest.raises(ScamtraceError, match="--sip-allow"):
        SipOptions(port=5070, host="0.0.0.0", allow=("not-a-network",)).check()
    SipOptions(port=5070, host="0.0.0.0", allow=("10.0.0.0/8",)).check()


def test_oversized_datagrams_are_dropped(tmp_path: Path) -> None:
    with screening(tmp_path / "state") as sip:
        padded = invite(extra=("X-Padding: " + "a" * MAX_DATAGRAM,))
        sip.client.send(padded)
        assert sip.client.answer(options_ping("after")).call_id == "after"
    assert sip.screen.metrics.messages["oversized"] == 1


def _mutated(data: st.DrawFn) -> bytes:
    base = invite(identity=passport())
    start = data(st.integers(0, len(base)))
    end = data(st.integers(start, min(len(base), start + 64)))
    return base[:start] + data(st.binary(max_size=64)) + base[end:]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    datagram=st.one_of(
        st.binary(min_size=1, max_size=512),
        st.composite(_mutated)(),
        st.text(max_size=300).map(lambda t: ("INVITE sip:1@x SIP/2.0\r\n" + t).encode()),
    ),
    number=st.integers(0, 10**9),
)
def test_random_and_mangled_datagrams_never_stop_the_screen(
    fuzzed_screen: Running, datagram: bytes, number: int
) -> None:
    fuzzed_screen.client.send(datagram)
    call_id = f"alive-{number}"
    # the answer to the ping comes (any answer to the fuzzed datagram is skipped)
    fuzzed_screen.client.send(options_ping(call_id))
    assert fuzzed_screen.client.receive(call_id).code == 200
    assert "internal_error" not in fuzzed_screen.screen.metrics.messages


@pytest.fixture(scope="module")
def fuzzed_screen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    engine = RecordingEngine()
    flag(engine)
    with screening(tmp_path_factory.mktemp("sipfuzz") / "state", engine) as sip:
        yield sip


# -- sipp against the service as a process ---------------------------------------------------


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_sipp(scenario: str, sip_port: int, calls: Path, count: int, folder: Path) -> int:
    sipp = shutil.which("sipp")
    assert sipp is not None
    process = subprocess.run(
        [
            sipp,
            f"127.0.0.1:{sip_port}",
            "-sf",
            str(SIPP_SCENARIOS / scenario),
            "-inf",
            str(calls),
            "-m",
            str(count),
            "-r",
            "50",
            "-i",
            "127.0.0.1",
            "-p",
            str(_free_udp_port()),
            "-timeout",
            "20s",
            "-timeout_error",
            "-recv_timeout",
            "5000",
            "-nostdin",
        ],
        cwd=folder,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )
    return process.returncode


@pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (Debian: sip-tester) not on PATH")
def test_sipp_gets_302_for_clean_calls_and_603_for_flagged_ones(tmp_path: Path) -> None:
    sip_port = free_port()
    calls = tmp_path / "calls.csv"
    clean = "+34600000003"
    rows = [f"{clean};{CALLED};{passport('A', orig=clean).split(';')[0]}"]
    calls.write_text("SEQUENTIAL\n" + "\n".join(rows) + "\n")
    flagged = tmp_path / "flagged.csv"
    flagged.write_text(f"SEQUENTIAL\n{CALLER};{CALLED};{passport('C').split(';')[0]}\n")
    # the SIP socket is bound before the HTTP server starts: once /healthz answers, it listens
    with running(tmp_path / "state", sip_port=sip_port, sip_institution="carrier-x") as service:
        body = json.dumps(complaint()).encode() + b"\n"
        assert service.request("POST", "/v1/events", body)[0] == 200
        assert run_sipp("screen_continue.xml", sip_port, calls, 10, tmp_path) == 0
        assert run_sipp("screen_decline.xml", sip_port, flagged, 10, tmp_path) == 0
        # and the other way round fails: the scenarios do check the answer
        assert run_sipp("screen_decline.xml", sip_port, calls, 2, tmp_path) != 0
        _, metrics = service.request("GET", "/metrics")
    text = metrics.decode()
    assert 'scamtrace_sip_answers_total{code="603"} 10' in text
    assert 'scamtrace_sip_answers_total{code="302"} 12' in text
    audit = (tmp_path / "state" / "audit.jsonl").read_text()
    assert audit.count('"institution":"carrier-x"') == 22
    assert CALLER not in audit and CALLER.lstrip("+") not in audit
