"""SIP packet captures (pcap, pcapng) into voip_cdr, dissected by tshark.

Three layers, each runnable where the one above is not:

* real traffic: sipp places calls over loopback while dumpcap captures them, and the capture is
  ingested (needs tshark and sipp, and the right to capture on ``lo``);
* the committed sample ``samples/pcap/sip-calls.pcapng``, made once by :func:`make_sample`
  with the same sipp scenarios, read to exact rows (needs tshark only);
* a truncated copy of the sample, a capture started mid-call, a file that is no capture, and
  a machine without tshark.

Regenerate the sample (as root, or with the right to capture on ``lo``)::

    python -m tests.ingest.test_pcap
"""

from __future__ import annotations

import datetime as dt
import gzip
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pytest

from scamtrace.core import contract
from scamtrace.ingest.base import Batch, IngestError, ReadContext, Rejected
from scamtrace.ingest.pcap import READER, PcapReader

READER_SCHEMA = contract.INPUT_TABLES["voip_cdr"].schema
SAMPLES = Path(__file__).parent / "samples" / "pcap"
SAMPLE = SAMPLES / "sip-calls.pcapng"
HAVE_TSHARK = shutil.which("tshark") is not None
HAVE_CAPTURE_TOOLS = HAVE_TSHARK and shutil.which("sipp") is not None \
    and shutil.which("dumpcap") is not None  # fmt: skip
INSTALL = "Debian/Ubuntu: apt-get install tshark sip-tester"
needs_tshark = pytest.mark.skipif(not HAVE_TSHARK, reason=f"tshark is not installed ({INSTALL})")
needs_sipp = pytest.mark.skipif(
    not HAVE_CAPTURE_TOOLS, reason=f"sipp, tshark or dumpcap is not installed ({INSTALL})"
)

# --- sipp scenarios -----------------------------------------------------------------------
# Each call is a pair: a UAC scenario for the caller and a UAS scenario for the callee. In
# sipp's XML, [service] is -s (the number dialled), [caller], [ua] and [pai] come from -key.

_INVITE_HEADERS = """\
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      Contact: <sip:[caller]@[local_ip]:[local_port]>
      User-Agent: [ua]
      Max-Forwards: 70
"""


def _uac_request(method: str, cseq: int, *, branch: str = "[branch]", tagged: bool = False,
                 extra: str = "") -> str:  # fmt: skip
    to = "<sip:[service]@[remote_ip]:[remote_port]>" + ("[peer_tag_param]" if tagged else "")
    return f"""<![CDATA[
      {method} sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch={branch}
      From: <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: {to}
      Call-ID: [call_id]
      CSeq: {cseq} {method}
      Contact: <sip:[caller]@[local_ip]:[local_port]>
      Max-Forwards: 70
{extra}      Content-Length: 0

    ]]>"""


def _invite(cseq: int = 1, extra: str = "") -> str:
    return f"""<![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
{_INVITE_HEADERS}      CSeq: {cseq} INVITE
{extra}      Content-Length: 0

    ]]>"""


def _uas_response(status: str, *, cseq: str = "[last_CSeq:]", extra: str = "") -> str:
    return f"""<![CDATA[
      SIP/2.0 {status}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      {cseq}
      Contact: <sip:callee@[local_ip]:[local_port]>
{extra}      Content-Length: 0

    ]]>"""


def _scenario(name: str, *steps: str) -> str:
    body = "\n".join(f"  {s}" for s in steps)
    return f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="{name}">\n{body}\n' \
        "</scenario>\n"  # fmt: skip


_CHALLENGE = ('      Proxy-Authenticate: Digest realm="scamtrace.test", nonce="5c4e1d2f07a9", '
              "algorithm=MD5\n")  # fmt: skip

_PAI = "      P-Asserted-Identity: <tel:[pai]>\n"
_AUTH = "      [authentication]\n"

#: Challenged with 407, authenticated, answered, talks for -d milliseconds, hangs up.
AUTH_UAC = _scenario(
    "authenticated call",
    f'<send retrans="500">{_invite(1, _PAI)}</send>',
    '<recv response="100" optional="true"/>',
    '<recv response="407" auth="true"/>',
    f"<send>{_uac_request('ACK', 1, branch='[branch-3]', tagged=True)}</send>",
    f'<send retrans="500">{_invite(2, _PAI + _AUTH)}</send>',
    '<recv response="100" optional="true"/>',
    '<recv response="180" optional="true"/>',
    '<recv response="200" rrs="true"/>',
    f"<send>{_uac_request('ACK', 2, tagged=True)}</send>",
    "<pause/>",
    f'<send retrans="500">{_uac_request("BYE", 3, tagged=True)}</send>',
    '<recv response="200"/>',
)
AUTH_UAS = _scenario(
    "challenge, then answer",
    '<recv request="INVITE"/>',
    f"<send>{_uas_response('407 Proxy Authentication Required', extra=_CHALLENGE)}</send>",
    '<recv request="ACK"/>',
    '<recv request="INVITE"/>',
    f"<send>{_uas_response('100 Trying')}</send>",
    f"<send>{_uas_response('180 Ringing')}</send>",
    f'<send retrans="500">{_uas_response("200 OK")}</send>',
    '<recv request="ACK"/>',
    '<recv request="BYE"/>',
    f"<send>{_uas_response('200 OK')}</send>",
)
#: Rings, then the callee is busy.
BUSY_UAC = _scenario(
    "busy callee",
    f'<send retrans="500">{_invite()}</send>',
    '<recv response="100" optional="true"/>',
    '<recv response="180" optional="true"/>',
    '<recv response="486"/>',
    f"<send>{_uac_request('ACK', 1, branch='[branch-4]', tagged=True)}</send>",
)
BUSY_UAS = _scenario(
    "ring, then busy",
    '<recv request="INVITE"/>',
    f"<send>{_uas_response('180 Ringing')}</send>",
    f"<send>{_uas_response('486 Busy Here')}</send>",
    '<recv request="ACK"/>',
)
#: Rings; the caller gives up (CANCEL) and the INVITE ends with 487.
CANCEL_UAC = _scenario(
    "caller gives up",
    f'<send retrans="500">{_invite()}</send>',
    '<recv response="100" optional="true"/>',
    '<recv response="180"/>',
    '<pause milliseconds="300"/>',
    f"<send>{_uac_request('CANCEL', 1, branch='[branch-4]')}</send>",
    '<recv response="200"/>',
    '<recv response="487"/>',
    f"<send>{_uac_request('ACK', 1, branch='[branch-7]', tagged=True)}</send>",
)
CANCEL_UAS = _scenario(
    "ring until cancelled",
    '<recv request="INVITE"/>',
    f"<send>{_uas_response('180 Ringing')}</send>",
    '<recv request="CANCEL"/>',
    f"<send>{_uas_response('200 OK')}</send>",
    f"<send>{_uas_response('487 Request Terminated', cseq='CSeq: 1 INVITE')}</send>",
    '<recv request="ACK"/>',
)
#: Still trying when the capture ends: no final response.
TRYING_UAC = _scenario(
    "no final response",
    f"<send>{_invite()}</send>",
    '<recv response="100"/>',
)
TRYING_UAS = _scenario(
    "trying, then silence",
    '<recv request="INVITE"/>',
    f"<send>{_uas_response('100 Trying')}</send>",
)
#: A keep-alive: SIP, but no call.
OPTIONS_UAC = _scenario(
    "keep-alive",
    f"<send>{_uac_request('OPTIONS', 1)}</send>",
    '<recv response="200"/>',
)
OPTIONS_UAS = _scenario(
    "answer keep-alive",
    '<recv request="OPTIONS"/>',
    f"<send>{_uas_response('200 OK')}</send>",
)


@dataclass
class Calls:
    """``calls`` calls of one scenario pair (``None``: sipp's built-in uac/uas)."""

    uac: str | None
    uas: str | None
    service: str
    calls: int = 1
    duration_ms: int = 0
    rate: int = 10
    keys: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)


def free_udp_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def capture(path: Path, ports: tuple[int, ...]) -> Iterator[None]:
    """Capture UDP on ``ports`` on the loopback interface into ``path`` (pcapng) with dumpcap
    (what tshark -i runs); stopped with SIGINT so the file is complete. Skips the test when
    this machine may not capture."""
    log = path.with_name(path.name + ".log")
    bpf = " or ".join(f"udp port {p}" for p in ports)
    with log.open("wb") as err:
        proc = subprocess.Popen(["dumpcap", "-q", "-i", "lo", "-f", bpf, "-w", str(path)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 20
    # "Capturing on" comes before the permission check; "File:" once the capture runs
    while b"File: " not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            lines = [line for line in log.read_text(errors="replace").splitlines()
                     if line.strip() and not line.startswith("Capturing on")]  # fmt: skip
            pytest.skip(f"cannot capture on the loopback interface (run as root, or let "
                        f"dumpcap capture: dpkg-reconfigure wireshark-common): "
                        f"{' '.join(lines[:2])}")  # fmt: skip
        time.sleep(0.05)
    try:
        yield
    finally:
        time.sleep(0.5)  # the last packets reach the capture
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.unlink(missing_ok=True)


def _sipp_scenario(work: Path, name: str, xml: str | None, builtin: str) -> list[str]:
    if xml is None:
        return ["-sn", builtin]
    path = work / f"{name}.xml"
    path.write_text(xml, encoding="iso-8859-1")
    return ["-sf", str(path)]


def place_calls(work: Path, calls: Calls, host: str, uas_port: int, uac_port: int) -> None:
    """Run the callee (sipp UAS, in the background) and the caller (sipp UAC) until all calls
    are done; fail with sipp's error log when a call fails."""
    remote = f"[{host}]" if ":" in host else host
    common = ["-i", host, "-nostdin", "-m", str(calls.calls), "-timeout", "60s"]
    uas_cmd = ["sipp", *_sipp_scenario(work, "uas", calls.uas, "uas"), *common,
               "-p", str(uas_port)]  # fmt: skip
    uac_cmd = ["sipp", *_sipp_scenario(work, "uac", calls.uac, "uac"), f"{remote}:{uas_port}",
               *common, "-p", str(uac_port), "-s", calls.service, "-r", str(calls.rate),
               "-d", str(calls.duration_ms), *calls.args]  # fmt: skip
    for key, value in calls.keys.items():
        uac_cmd += ["-key", key, value]
    with subprocess.Popen(uas_cmd, cwd=work, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as uas:  # fmt: skip
        try:
            time.sleep(0.3)  # the callee binds its port; the caller retransmits anyway
            uac = subprocess.run(uac_cmd, cwd=work, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 timeout=90, check=False)  # fmt: skip
            uas.wait(timeout=30)
        finally:
            if uas.poll() is None:
                uas.kill()
                uas.wait()
    assert uac.returncode == 0, f"sipp caller failed ({uac.returncode}): {uac.stderr!r}"


#: What the sample holds, in order (30 packets, 13 KB): a call challenged with 407, then
#: authenticated (Proxy-Authorization), with P-Asserted-Identity and User-Agent, answered, 2 s
#: of talk; a busy callee (486); a call cancelled while ringing (487); an OPTIONS keep-alive
#: (no call); sipp's own call over IPv6, 1 s of talk; a call still trying (100) when the
#: capture ends.
SAMPLE_CALLS = (
    Calls(AUTH_UAC, AUTH_UAS, "+8613800138000", duration_ms=2000,
          keys={"caller": "1001", "ua": "MicroSIP/3.21.3", "pai": "+85512345678"},
          args=["-au", "kh-acct-1001", "-ap", "s3cret"]),
    Calls(BUSY_UAC, BUSY_UAS, "+8613900139000",
          keys={"caller": "+85598765432", "ua": "Zoiper rv2.10.18"}),
    Calls(CANCEL_UAC, CANCEL_UAS, "+8615000150000",
          keys={"caller": "1002", "ua": "Linphone/5.2.0 (belle-sip/5.2.0)"}),
    Calls(OPTIONS_UAC, OPTIONS_UAS, "ping", keys={"caller": "1001", "ua": "MicroSIP/3.21.3"}),
    Calls(None, None, "+442071838750", duration_ms=1000),
    Calls(TRYING_UAC, TRYING_UAS, "+8618600186000",
          keys={"caller": "1003", "ua": "MicroSIP/3.21.3"}),
)  # fmt: skip
SAMPLE_IPV6 = 4  # the built-in uac/uas call runs over ::1


def make_sample(out: Path, uas_port: int = 5070, uac_port: int = 5071) -> None:
    """Capture :data:`SAMPLE_CALLS` into ``out`` (what made the committed sample)."""
    work = out.parent / f"{out.name}.sipp"
    work.mkdir(parents=True, exist_ok=True)
    with capture(out, (uas_port, uac_port)):
        for n, calls in enumerate(SAMPLE_CALLS):
            host = "::1" if n == SAMPLE_IPV6 else "127.0.0.1"
            place_calls(work, calls, host, uas_port, uac_port)
    shutil.rmtree(work, ignore_errors=True)
    out.chmod(0o644)


# --- reading helpers ---------------------------------------------------------------------


def read(
    path: Path, country: str = "CN", reader: PcapReader = READER
) -> tuple[pa.Table, list[Rejected]]:
    batches: list[Batch] = list(reader.read(path, ReadContext(country, str(path))))
    assert all(b.table == "voip_cdr" for b in batches)
    data = pa.concat_tables([b.data for b in batches]) if batches else pa.table({})
    return data, [r for b in batches for r in b.rejected]


def head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(1 << 16)


def _packet_block_ends(data: bytes) -> list[int]:
    """Byte offsets where each packet of a little-endian pcapng ends."""
    ends, at = [], 0
    while at + 8 <= len(data):
        kind, size = struct.unpack_from("<II", data, at)
        at += size
        if kind in (3, 6):  # simple / enhanced packet block
            ends.append(at)
    return ends


# --- hand-made captures: what sipp cannot send --------------------------------------------


def _sip(first_line: str, call_id: str, cseq: str, *, to_tag: str = "",
         from_user: str = "1001", to_user: str = "+8613800138000",
         extra: tuple[str, ...] = ()) -> bytes:  # fmt: skip
    to = f"<sip:{to_user}@198.51.100.1>" + (f";tag={to_tag}" if to_tag else "")
    lines = [first_line, "Via: SIP/2.0/UDP 203.0.113.7:5060;branch=z9hG4bK-" + call_id + cseq,
             f"From: <sip:{from_user}@203.0.113.7>;tag=f1", f"To: {to}",
             f"Call-ID: {call_id}", f"CSeq: {cseq}", *extra, "Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


def _ipv4(src: str, dst: str, proto: int, payload: bytes) -> bytes:
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0, 64, proto, 0,
                       socket.inet_aton(src), socket.inet_aton(dst)) + payload  # fmt: skip


def _udp(src: str, dst: str, payload: bytes, sport: int = 5060, dport: int = 5060) -> bytes:
    return _ipv4(src, dst, 17, struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload)


def _tcp(src: str, dst: str, payload: bytes, seq: int = 1) -> bytes:
    header = struct.pack("!HHIIBBHHH", 5060, 5060, seq, 1, 5 << 4, 0x18, 65535, 0, 0)
    return _ipv4(src, dst, 6, header + payload)


def _gre(src: str, dst: str, inner: bytes) -> bytes:
    return _ipv4(src, dst, 47, struct.pack("!HH", 0, 0x0800) + inner)


def _icmp_unreachable(src: str, dst: str, quoted: bytes) -> bytes:
    return _ipv4(src, dst, 1, struct.pack("!BBHI", 3, 3, 0, 0) + quoted)


def write_pcap(path: Path, packets: list[tuple[float, bytes]]) -> Path:
    """A classic little-endian pcap of Ethernet frames carrying the given IPv4 packets."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for when, ip in packets:
        frame = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + ip
        seconds, micros = divmod(round(when * 1_000_000), 1_000_000)
        out += struct.pack("<IIII", seconds, micros, len(frame), len(frame)) + frame
    path.write_bytes(bytes(out))
    return path


T0 = 1_790_000_000.0  # 2026-09-21T14:13:20Z


# --- the committed sample -----------------------------------------------------------------


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


SAMPLE_ROWS = [
    {"call_id": "1-13039@127.0.0.1", "start_time": _utc("2026-11-28T09:34:11.010959"),
     "sip_account": "kh-acct-1001", "source_ip": "127.0.0.1", "user_agent": "MicroSIP/3.21.3",
     "from_number": "+85512345678", "to_number": "+8613800138000", "duration_s": 2,
     "sip_status": 200},
    {"call_id": "1-13065@127.0.0.1", "start_time": _utc("2026-11-28T09:34:13.431505"),
     "sip_account": "+85598765432", "source_ip": "127.0.0.1", "user_agent": "Zoiper rv2.10.18",
     "from_number": "+85598765432", "to_number": "+8613900139000", "duration_s": 0,
     "sip_status": 486},
    {"call_id": "1-13067@127.0.0.1", "start_time": _utc("2026-11-28T09:34:13.843585"),
     "sip_account": "1002", "source_ip": "127.0.0.1",
     "user_agent": "Linphone/5.2.0 (belle-sip/5.2.0)", "from_number": "1002",
     "to_number": "+8615000150000", "duration_s": 0, "sip_status": 487},
    {"call_id": "1-13071@::1", "start_time": _utc("2026-11-28T09:34:14.971502"),
     "sip_account": "sipp", "source_ip": "::1", "user_agent": "", "from_number": "sipp",
     "to_number": "+442071838750", "duration_s": 1, "sip_status": 200},
]  # fmt: skip
SAMPLE_TRYING = ("1-13165@127.0.0.1", 29)  # no final response: call_id, frame of its INVITE


def _without_ids(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{k: v for k, v in r.items() if k not in ("call_id", "start_time")} for r in rows]


@needs_tshark
def test_sample_reads_to_exact_rows() -> None:
    data, rejected = read(SAMPLE)
    assert data.schema == READER_SCHEMA
    assert data.to_pylist() == SAMPLE_ROWS
    # the challenge (407) and the OPTIONS keep-alive make no row; the call still trying does
    # not either, but it is set aside, never dropped
    assert [(r.line, r.field, r.value, r.reason) for r in rejected] == \
        [(SAMPLE_TRYING[1], "sip_status", SAMPLE_TRYING[0], "no final response in capture")]


@needs_tshark
def test_other_capture_formats_read_the_same(tmp_path: Path) -> None:
    """Classic pcap (microsecond and nanosecond) and a gzip-compressed pcapng."""
    expected = read(SAMPLE)[0].to_pylist()
    for fmt in ("pcap", "nsecpcap"):
        out = tmp_path / f"sample.{fmt}"
        subprocess.run(["editcap", "-F", fmt, str(SAMPLE), str(out)], check=True,
                       capture_output=True)  # fmt: skip
        assert READER.sniff(out, head(out)), fmt
        got = read(out)[0].to_pylist()
        # a microsecond pcap truncates the nanoseconds the reader rounds
        assert _without_ids(got) == _without_ids(expected), fmt
        assert [r["call_id"] for r in got] == [r["call_id"] for r in expected]
        assert all(abs(a["start_time"] - b["start_time"]) <= dt.timedelta(microseconds=1)
                   for a, b in zip(got, expected, strict=True))  # fmt: skip
    packed = tmp_path / "sample.pcapng.gz"
    packed.write_bytes(gzip.compress(SAMPLE.read_bytes()))
    assert READER.sniff(packed, gzip.decompress(packed.read_bytes())[:4096])
    assert read(packed)[0].to_pylist() == expected


@needs_tshark
def test_truncated_capture_keeps_complete_calls_and_reports_the_cut(tmp_path: Path) -> None:
    data = SAMPLE.read_bytes()
    ends = _packet_block_ends(data)
    assert len(ends) == 30
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(data[: ends[15] - 40])  # frame 16 (the cancelled call ringing) cut short
    rows, rejected = read(cut)
    assert rows.to_pylist() == SAMPLE_ROWS[:2]  # answered and busy: complete before the cut
    assert [(r.line, r.field) for r in rejected] == [(15, ""), (15, "sip_status")]
    assert "cut short after frame 15" in rejected[0].reason
    assert rejected[1].value == SAMPLE_ROWS[2]["call_id"]
    assert rejected[1].reason == "no final response in capture"


@needs_tshark
def test_capture_started_mid_call_sets_the_call_aside(tmp_path: Path) -> None:
    late = tmp_path / "late.pcapng"
    # drop the busy call's INVITE and 180 (frames 11-12): its 486 and ACK remain
    subprocess.run(["editcap", str(SAMPLE), str(late), "11-12"], check=True,
                   capture_output=True)  # fmt: skip
    rows, rejected = read(late)
    assert [r["call_id"] for r in rows.to_pylist()] == \
        [SAMPLE_ROWS[n]["call_id"] for n in (0, 2, 3)]  # fmt: skip
    headless = [r for r in rejected if r.field == "start_time"]
    assert [(r.line, r.value) for r in headless] == [(11, SAMPLE_ROWS[1]["call_id"])]
    assert "initial INVITE not in capture" in headless[0].reason


@needs_tshark
def test_tunnels_reinvites_packed_tcp_and_icmp(tmp_path: Path) -> None:
    caller, proxy = "203.0.113.7", "198.51.100.1"
    invite = _sip("INVITE sip:+8613800138000@198.51.100.1 SIP/2.0", "gre-1", "1 INVITE",
                  extra=("User-Agent: Grandstream GXP1625", "Authorization: Digest "
                         'username="acct-77", realm="x", nonce="n", uri="sip:x", response="r"',
                         "P-Preferred-Identity: <sip:%2B85587654321@203.0.113.7>"))  # fmt: skip
    ok = _sip("SIP/2.0 200 OK", "gre-1", "1 INVITE", to_tag="t1")
    reinvite = _sip("INVITE sip:1001@203.0.113.7 SIP/2.0", "gre-1", "2 INVITE", to_tag="t1")
    reinvite_ok = _sip("SIP/2.0 200 OK", "gre-1", "2 INVITE", to_tag="t1")
    lost = _sip("INVITE sip:+8613800138000@198.51.100.1 SIP/2.0", "quoted-1", "1 INVITE")
    packed = _sip("SIP/2.0 200 OK", "tcp-1", "1 INVITE", to_tag="t2") + \
        _sip("BYE sip:+8613800138000@198.51.100.1 SIP/2.0", "tcp-1", "2 BYE", to_tag="t2")
    path = write_pcap(tmp_path / "crafted.pcap", [
        # a mirrored (GRE) call: the outer header is the mirror's, the caller is inside
        (T0, _gre("10.0.0.1", "10.0.0.2", _udp(caller, proxy, invite))),
        (T0 + 4.0, _gre("10.0.0.1", "10.0.0.2", _udp(proxy, caller, ok))),
        # a re-INVITE 30 s later; no BYE before the capture ends
        (T0 + 34.0, _gre("10.0.0.1", "10.0.0.2", _udp(proxy, caller, reinvite))),
        (T0 + 34.1, _gre("10.0.0.1", "10.0.0.2", _udp(caller, proxy, reinvite_ok))),
        # an ICMP error quoting an INVITE: not a second INVITE
        (T0 + 35.0, _icmp_unreachable(proxy, caller, _udp(caller, proxy, lost))),
        # two SIP messages in one TCP segment
        (T0 + 36.0, _tcp(proxy, caller, packed)),
    ])  # fmt: skip
    assert READER.sniff(path, head(path))
    rows, rejected = read(path, country="KH")
    assert rows.to_pylist() == [{
        "call_id": "gre-1", "start_time": _utc("2026-09-21T14:13:20"),
        "sip_account": "acct-77", "source_ip": caller, "user_agent": "Grandstream GXP1625",
        "from_number": "+85587654321", "to_number": "+8613800138000",
        "duration_s": 30,  # answered at +4 s, last seen at +34.1 s (the re-INVITE's 200)
        "sip_status": 200,
    }]  # fmt: skip
    assert [(r.line, r.value) for r in rejected] == [(6, "tcp-1;tcp-1")]
    assert "2 SIP messages" in rejected[0].reason


@needs_tshark
def test_big_captures_read_in_pieces_give_the_same_rows(tmp_path: Path) -> None:
    """Cut by editcap into pieces of 7 packets, read by 3 tshark processes at once: calls
    spanning pieces, frame numbers, rejections and cuts are those of one tshark run."""
    pieces = PcapReader(split_bytes=0, chunk_packets=7, workers=3)
    whole = PcapReader(split_bytes=1 << 40)
    data = SAMPLE.read_bytes()
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(data[: _packet_block_ends(data)[15] - 40])
    for path in (SAMPLE, cut):
        rows, rejected = read(path, reader=pieces)
        assert rows.to_pylist() == read(path, reader=whole)[0].to_pylist()
        expected = read(path, reader=whole)[1]
        assert [(r.line, r.field, r.value) for r in rejected] == \
            [(r.line, r.field, r.value) for r in expected]  # fmt: skip
    assert read(cut, reader=pieces)[1][0].reason.startswith("capture cut short after frame 15")


def test_sniff_tells_captures_from_other_files(tmp_path: Path) -> None:
    csv = tmp_path / "voip_cdr.csv"
    csv.write_text("call_id,start_time,sip_account\n1,2026-01-01T00:00:00Z,a\n")
    assert not READER.sniff(csv, head(csv))
    assert not READER.sniff(tmp_path / "empty.pcap", b"")
    assert not READER.sniff(tmp_path / "x.bin", b"\x0a\x0d\x0d\x0a" + b"\x00" * 8)  # no BOM
    assert READER.sniff(SAMPLE, head(SAMPLE))
    for magic in ("d4c3b2a1", "a1b2c3d4", "4d3cb2a1", "a1b23c4d"):
        assert READER.sniff(tmp_path / "x", bytes.fromhex(magic) + b"\x00" * 20), magic
    assert READER.name == "pcap"


def test_missing_tshark_says_how_to_install_it() -> None:
    reader = PcapReader(tshark="tshark-that-is-not-installed")
    with pytest.raises(IngestError, match="apt-get install tshark"):
        list(reader.read(SAMPLE, ReadContext("CN", str(SAMPLE))))


@needs_tshark
def test_a_file_tshark_cannot_read_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(bytes.fromhex("d4c3b2a1") + b"\x02\x00\x04\x00" + b"\xff" * 16)
    with pytest.raises(IngestError, match="tshark could not read it"):
        read(bad)


@needs_tshark
def test_batches_respect_batch_rows() -> None:
    batches = list(READER.read(SAMPLE, ReadContext("CN", "s", batch_rows=3)))
    assert [b.data.num_rows for b in batches] == [3, 1, 0]
    assert [len(b.rejected) for b in batches] == [0, 0, 1]


# --- real traffic ---------------------------------------------------------------------------


@needs_sipp
def test_real_calls_captured_on_loopback(tmp_path: Path) -> None:
    """sipp places 5 calls of 2 s to one number over loopback; dumpcap captures them."""
    uas, uac = free_udp_port(), free_udp_port()
    pcap = tmp_path / "calls.pcapng"
    before = dt.datetime.now(dt.UTC)
    with capture(pcap, (uas, uac)):
        place_calls(tmp_path, Calls(None, None, "+8613800138000", calls=5, rate=10,
                                    duration_ms=2000), "127.0.0.1", uas, uac)  # fmt: skip
    rows, rejected = read(pcap)
    calls = rows.to_pylist()
    assert rejected == []
    assert len(calls) == 5 and len({c["call_id"] for c in calls}) == 5
    for call in calls:
        assert call["sip_status"] == 200
        assert 2 <= call["duration_s"] <= 3  # -d 2000: BYE 2 s after the 200 OK
        assert call["source_ip"] == "127.0.0.1"
        assert call["to_number"] == "+8613800138000"
        assert call["sip_account"] == "sipp"  # sipp's From user (no authentication)
        assert before - dt.timedelta(seconds=1) <= call["start_time"] <= \
            dt.datetime.now(dt.UTC)  # fmt: skip


@needs_sipp
def test_real_busy_calls(tmp_path: Path) -> None:
    uas, uac = free_udp_port(), free_udp_port()
    pcap = tmp_path / "busy.pcapng"
    with capture(pcap, (uas, uac)):
        place_calls(tmp_path, Calls(BUSY_UAC, BUSY_UAS, "008613900139000", calls=3, rate=10,
                                    keys={"caller": "2001", "ua": "Zoiper rv2.10.18"}),
                    "127.0.0.1", uas, uac)  # fmt: skip
    rows, rejected = read(pcap)
    assert rejected == []
    assert [(c["sip_status"], c["duration_s"], c["to_number"], c["user_agent"])
            for c in rows.to_pylist()] == [(486, 0, "+8613900139000", "Zoiper rv2.10.18")] * 3


@needs_sipp
def test_sample_recipe_still_makes_the_sample(tmp_path: Path) -> None:
    """The committed sample's scenarios, captured afresh: the same calls (new ids, times)."""
    pcap = tmp_path / "sample.pcapng"
    make_sample(pcap, free_udp_port(), free_udp_port())
    rows, rejected = read(pcap)
    assert _without_ids(rows.to_pylist()) == _without_ids(SAMPLE_ROWS)
    assert [(r.line, r.reason) for r in rejected] == \
        [(SAMPLE_TRYING[1], "no final response in capture")]  # fmt: skip


if __name__ == "__main__":
    make_sample(Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLE)
    print(f"wrote {sys.argv[1] if len(sys.argv) > 1 else SAMPLE}")


@needs_tshark
def test_calls_set_aside_go_out_a_part_at_a_time(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: every call set aside was held in one list and went out in one last batch."""
    from scamtrace.ingest import pcap

    late = tmp_path / "late.pcapng"
    subprocess.run(["editcap", str(SAMPLE), str(late), "11-12"], check=True,
                   capture_output=True)  # fmt: skip
    whole = [r for b in READER.read(late, ReadContext("CN", "s")) for r in b.rejected]
    assert len(whole) >= 2
    monkeypatch.setattr(pcap, "TYPING_ROWS", 1)
    batches = list(READER.read(late, ReadContext("CN", "s")))
    assert [len(b.rejected) for b in batches if b.rejected] == [1] * len(whole)
    assert [r for b in batches for r in b.rejected] == whole  # the same rows, in line order
