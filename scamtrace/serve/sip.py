"""SIP screening (``scamtrace serve --sip PORT``): a redirect server on UDP beside the HTTP API.

The carrier's switch sends each call's INVITE before it routes it and waits for the answer:
``302 Moved Temporarily`` with ``Contact:`` the INVITE's own Request-URI means "continue" (with
``X-Scamtrace-Action: allow|warn``, so a warned callee's phone can show "suspected fraud
call"), ``603 Decline`` with a ``Reason`` header means the call is blocked. A screening answer
that comes later than the switch's budget (about 200 ms) is worse than none, so the service
fails open: if the engine raises, or a datagram waited in the socket longer than
``budget_ms`` behind other work on the event loop, the answer is ``302`` allow, counted in
``/metrics`` and audited. Why these choices: ``docs/adr/0015-scoring-service.md`` ("SIP").

The socket is read on the HTTP server's event loop (one process, one thread): the engine is
not thread-safe and needs no lock. Messages are parsed by ``sipmessage`` (RFC 3261 grammar);
responses are built per RFC 3261 section 8.2.6 (Via copied, ``received``/``rport`` per RFC 3581,
From, To with a tag, Call-ID, CSeq, ``Content-Length: 0``).

STIR/SHAKEN: the PASSporT in the ``Identity`` header (RFC 8224/8225/8588) is decoded, its
signature is NOT verified (that needs the signer's certificate chain, fetched from the
``info`` URL and checked against the STI-PA's trust anchors; the switch's verification service
does this). Its ``attest`` is passed to the engine only where its ``orig.tn`` is the presented
caller and its ``dest.tn`` the called number, and not where the switch's verifier said
``verstat=TN-Validation-Failed`` (or, with ``require_verstat``, anything but ``Passed``).
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import contextlib
import ipaddress
import re
import secrets
import socket
import struct
import sys
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import msgspec
from sipmessage import URI, Address, Message, Request, Response, Via

from scamtrace.core.errors import ScamtraceError
from scamtrace.serve.model import CallDecision, CallScoreRequest

if TYPE_CHECKING:
    from scamtrace.serve.app import ScoringApp

#: Larger datagrams are dropped unread: an INVITE with SDP and an Identity header is 2-4 KB;
#: RFC 3261 (18.1.1) sends anything near the path MTU over TCP.
MAX_DATAGRAM = 16384
#: Linux's SO_TIMESTAMPNS (asm-generic/socket.h; Python does not name it): the kernel stamps
#: each datagram with its arrival, so time queued behind other work on the loop is known.
_SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("@qq")
#: Socket receive buffer asked for (the kernel caps it at net.core.rmem_max): a burst or a
#: pause of the loop queues INVITEs rather than losing them (a lost INVITE is retransmitted
#: only after 500 ms, RFC 3261 T1); queued ones past the budget are answered unscored.
_RECEIVE_BUFFER = 4 << 20
#: Datagrams read per wake-up before the loop serves others (HTTP) again.
_READS_PER_WAKEUP = 64
ALLOWED_METHODS = "INVITE, ACK, CANCEL, OPTIONS"
_SERVER = "scamtrace"
#: Latency buckets (seconds): the goal is p99 < 20 ms, the switch's budget about 200 ms.
_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")
_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")
_DIGITS = re.compile(r"\D")


@dataclass(frozen=True)
class SipOptions:
    port: int
    #: Loopback by default; another address needs ``allow`` (SIP has no bearer token).
    host: str = "127.0.0.1"
    #: Switch addresses (CIDR) whose INVITEs are answered; loopback always is. Others: dropped.
    allow: tuple[str, ...] = ()
    #: The carrier named in the audit log as the one who asked.
    institution: str = "sip"
    #: The ingress country when the INVITE carries no ``X-Ingress-Country`` header.
    ingress_country: str | None = None
    #: A datagram that waited longer than this before it was read is answered 302 unscored.
    budget_ms: float = 100.0
    #: Pass the PASSporT's attestation only where the switch's verifier said it checked it.
    require_verstat: bool = False
    #: Answers kept for retransmitted INVITEs (same Call-ID, CSeq and branch).
    remembered_answers: int = 4096

    def check(self) -> None:
        """ScamtraceError for options that cannot work or would answer anyone."""
        for cidr in self.allow:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise ScamtraceError(f"--sip-allow {cidr}: {exc}") from None
        if not _is_loopback(self.host) and not self.allow:
            raise ScamtraceError(
                f"refusing to screen SIP on {self.host} without --sip-allow: SIP carries no "
                "token, so the switches' addresses must be named"
            )
        if self.ingress_country is not None and not _COUNTRY.match(self.ingress_country):
            raise ScamtraceError(f"--sip-country {self.ingress_country}: not a country code")
        if self.budget_ms <= 0:
            raise ScamtraceError("--sip-budget-ms must be positive")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Histogram:
    def __init__(self) -> None:
        self.counts = [0] * (len(_BUCKETS) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(_BUCKETS, seconds)] += 1
        self.total += seconds


class SipMetrics:
    def __init__(self) -> None:
        #: What became of each datagram: answered, retransmission, ack, malformed, refused...
        self.messages: dict[str, int] = {}
        self.answers: dict[int, int] = {}
        self.fail_open: dict[str, int] = {}
        self.latency = _Histogram()

    def count(self, outcome: str) -> None:
        self.messages[outcome] = self.messages.get(outcome, 0) + 1

    def render(self) -> list[str]:
        lines = [
            "# HELP scamtrace_sip_messages_total SIP datagrams by what became of them.",
            "# TYPE scamtrace_sip_messages_total counter",
        ]
        for outcome, n in sorted(self.messages.items()):
            lines.append(f'scamtrace_sip_messages_total{{outcome="{outcome}"}} {n}')
        lines += [
            "# HELP scamtrace_sip_answers_total SIP answers sent, by status code.",
            "# TYPE scamtrace_sip_answers_total counter",
        ]
        for code, n in sorted(self.answers.items()):
            lines.append(f'scamtrace_sip_answers_total{{code="{code}"}} {n}')
        lines += [
            "# HELP scamtrace_sip_fail_open_total INVITEs let through unscored, by cause.",
            "# TYPE scamtrace_sip_fail_open_total counter",
        ]
        for cause, n in sorted(self.fail_open.items()):
            lines.append(f'scamtrace_sip_fail_open_total{{cause="{cause}"}} {n}')
        lines += [
            "# HELP scamtrace_sip_answer_seconds From the datagram's arrival to its answer.",
            "# TYPE scamtrace_sip_answer_seconds histogram",
        ]
        running = 0
        for bound, count in zip((*_BUCKETS, float("inf")), self.latency.counts, strict=True):
            running += count
            le = "+Inf" if bound == float("inf") else repr(bound)
            lines.append(f'scamtrace_sip_answer_seconds_bucket{{le="{le}"}} {running}')
        lines.append(f"scamtrace_sip_answer_seconds_sum {self.latency.total}")
        lines.append(f"scamtrace_sip_answer_seconds_count {running}")
        return lines


class _Passport(msgspec.Struct):
    attest: str | None = None
    orig: dict[str, object] | None = None
    dest: dict[str, object] | None = None


_passport_decoder = msgspec.json.Decoder(_Passport)


@dataclass(frozen=True)
class Identity:
    """What an ``Identity`` header's PASSporT claims (signature not verified)."""

    attest: str | None
    orig_tn: str | None
    dest_tn: tuple[str, ...]


def decode_identity(value: str) -> Identity | None:
    """The claims of a SHAKEN PASSporT (``header.payload.signature;info=<...>;ppt=shaken``).

    Decoded only: the signature is not checked (that needs the certificate chain behind
    ``info``). None for a header that is not a full-form JWT with a JSON payload.
    """
    token = value.split(";", 1)[0].strip()
    parts = token.split(".")
    if len(parts) != 3 or not parts[1]:
        return None  # the compact form (RFC 8224 section 7.2) carries no payload
    try:
        raw = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = _passport_decoder.decode(raw)
    except (ValueError, msgspec.MsgspecError):
        return None
    orig = claims.orig.get("tn") if claims.orig else None
    dest = claims.dest.get("tn") if claims.dest else None
    dest_tns = dest if isinstance(dest, list) else [dest] if dest is not None else []
    return Identity(
        claims.attest if isinstance(claims.attest, str) else None,
        orig if isinstance(orig, str) else None,
        tuple(str(tn) for tn in dest_tns),
    )


def _same_number(a: str | None, b: str | None) -> bool:
    """PASSporTs carry bare E.164 digits (RFC 8225 section 5.2.1); SIP URIs often a ``+``."""
    if not a or not b:
        return False
    return _DIGITS.sub("", a) == _DIGITS.sub("", b)


def _number_and_verstat(uri: URI) -> tuple[str, str | None]:
    """The user part of a sip: or tel: URI (its number) and any ``verstat`` parameter (3GPP TS
    24.229: the switch's STIR verifier's verdict, on the tel URI or the sip URI's user part)."""
    user = uri.user or ""
    number, *params = user.split(";")
    verstat = uri.parameters.get("verstat")
    for param in params:
        key, _, value = param.partition("=")
        if key.lower() == "verstat":
            verstat = value
    return number, verstat


def _header_text(text: str, limit: int = 200) -> str:
    """A reason made safe inside a quoted SIP header value: no control characters, no quote."""
    text = _HEADER_UNSAFE.sub(" ", text).replace("\\", "/").replace('"', "'")
    return text[:limit]


def _via_text(via: Via) -> str:
    # Not str(via): sipmessage percent-encodes parameter values (an IPv6 received=, a quoted
    # value) which a switch would then not recognise as its own.
    text = f"SIP/2.0/{via.transport} {via.host}"
    if via.port is not None:
        text += f":{via.port}"
    for key, value in via.parameters.items():
        text += f";{key}" if value is None else f";{key}={value}"
    return text


class _Unanswerable(Exception):
    """Too broken to answer (no Via, Call-ID, CSeq, From or To): the datagram is dropped."""


class SipScreen:
    """The screening server: :meth:`handle` turns one datagram into an answer (or none)."""

    def __init__(self, app: ScoringApp, options: SipOptions) -> None:
        self.app = app
        self.options = options
        self.metrics = SipMetrics()
        self._allowed = [ipaddress.ip_network(cidr, strict=False) for cidr in options.allow]
        self._answers: OrderedDict[tuple[str, str, str], tuple[bytes, tuple[str, int]]] = (
            OrderedDict()
        )
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stamped = False
        app.metrics_sections.append(self.metrics.render)

    # -- the socket --------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> tuple[str, int]:
        """Bind the UDP socket and read it on ``loop``; returns the address bound."""
        family = socket.AF_INET6 if ":" in self.options.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.bind((self.options.host, self.options.port))
        except OSError as exc:
            sock.close()
            raise ScamtraceError(
                f"cannot listen for SIP on {self.options.host}:{self.options.port}: {exc}"
            ) from exc
        sock.setblocking(False)
        with contextlib.suppress(OSError):  # else the system's default buffer
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
        try:
            sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
            self._stamped = sys.platform == "linux"
        except OSError:
            self._stamped = False  # arrival then counts from when the datagram is read
        self._sock, self._loop = sock, loop
        loop.add_reader(sock.fileno(), self._readable)
        host, port = sock.getsockname()[:2]
        return str(host), int(port)

    def close(self) -> None:
        if self._sock is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None

    def _readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        ancillary = socket.CMSG_SPACE(_TIMESPEC.size)
        for _ in range(_READS_PER_WAKEUP):
            try:
                data, cmsgs, flags, source = sock.recvmsg(MAX_DATAGRAM + 1, ancillary)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break  # an ICMP error reported on the socket: nothing to answer
            arrived = time.time()
            if self._stamped:
                for level, kind, value in cmsgs:
                    if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS:
                        seconds, nanoseconds = _TIMESPEC.unpack(value[: _TIMESPEC.size])
                        arrived = seconds + nanoseconds / 1e9
            if flags & socket.MSG_TRUNC or len(data) > MAX_DATAGRAM:
                self.metrics.count("oversized")
                continue
            try:
                answer = self.handle(data, (source[0], source[1]), arrived)
            except Exception as exc:  # a bug: the datagram is dropped, the server keeps on
                frame = traceback.extract_tb(exc.__traceback__)[-1]
                print(
                    f"scamtrace serve: SIP internal error {type(exc).__name__} at "
                    f"{frame.filename}:{frame.lineno}",
                    file=sys.stderr,
                )
                self.metrics.count("internal_error")
                continue
            if answer is not None:
                payload, destination = answer
                try:
                    sock.sendto(payload, destination)
                except OSError:
                    self.metrics.count("send_failed")  # full buffer: the switch retransmits
                else:
                    self.metrics.latency.observe(max(0.0, time.time() - arrived))
        self.app.audit.flush()

    # -- one datagram ------------------------------------------------------------------------

    def allowed(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if ip.is_loopback:
            return True
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self._allowed)

    def handle(
        self, data: bytes, source: tuple[str, int], arrived: float | None = None
    ) -> tuple[bytes, tuple[str, int]] | None:
        """The answer to one datagram and where to send it, or None (dropped or absorbed)."""
        arrived = time.time() if arrived is None else arrived
        if len(data) > MAX_DATAGRAM:
            self.metrics.count("oversized")
            return None
        if not self.allowed(source[0]):
            self.metrics.count("refused")  # not answered: no reflection towards a stranger
            return None
        if not data.strip(b"\r\n"):
            self.metrics.count("keepalive")  # RFC 5626 CRLF keep-alive
            return None
        try:
            message = Message.parse(data)
        except (ValueError, UnicodeError, IndexError):
            self.metrics.count("malformed")
            return None
        if not isinstance(message, Request):
            self.metrics.count("response")  # we send no requests; a stray response is dropped
            return None
        try:
            return self._request(message, data, source, arrived)
        except _Unanswerable:
            self.metrics.count("malformed")
            return None

    def _request(
        self, message: Request, data: bytes, source: tuple[str, int], arrived: float
    ) -> tuple[bytes, tuple[str, int]] | None:
        try:
            vias = message.via
            call_id = message.call_id
            from_raw = message.headers["From"]
            to_raw = message.headers["To"]
            cseq_raw = message.headers["CSeq"]
        except (KeyError, ValueError):
            raise _Unanswerable from None
        if not vias or not call_id:
            raise _Unanswerable
        if any("\n" in value or "\r" in value for value in (call_id, from_raw, to_raw, cseq_raw)):
            raise _Unanswerable  # a bare line feed inside a value we would echo: no injection
        top, destination = self._top_via(vias[0], source)
        response_vias = [_via_text(top), *(_via_text(v) for v in vias[1:])]
        method = message.method

        def answer(code: int, phrase: str, extra: list[tuple[str, str]]) -> bytes:
            response = Response(code, phrase)
            for via in response_vias:
                response.headers.add("Via", via)
            response.headers.add("From", from_raw)
            response.headers.add("To", self._to_with_tag(to_raw, code))
            response.headers.add("Call-ID", call_id)
            response.headers.add("CSeq", cseq_raw)
            for name, value in extra:
                response.headers.add(name, value)
            response.headers.add("Server", _SERVER)
            response.headers.add("Content-Length", "0")
            self.metrics.answers[code] = self.metrics.answers.get(code, 0) + 1
            return bytes(response)

        if method == "ACK":
            self.metrics.count("ack")  # the ACK of our final answer: the transaction is over
            return None  # (an ACK is never answered, RFC 3261 17.2.1)
        try:
            cseq = message.cseq
        except ValueError:
            self.metrics.count("bad_request")
            warning = '399 scamtrace "bad CSeq"'
            return answer(400, "Bad Request", [("Warning", warning)]), destination
        if cseq.method != method:
            self.metrics.count("bad_request")
            warning = '399 scamtrace "CSeq method differs from the request\'s"'
            return answer(400, "Bad Request", [("Warning", warning)]), destination
        if method == "OPTIONS":
            self.metrics.count("options")
            return answer(200, "OK", [("Allow", ALLOWED_METHODS)]), destination
        if method == "CANCEL":
            # Every INVITE is answered at once with a final answer: nothing is left to cancel.
            self.metrics.count("cancel")
            return answer(200, "OK", []), destination
        if method != "INVITE":
            self.metrics.count("not_allowed")
            return answer(405, "Method Not Allowed", [("Allow", ALLOWED_METHODS)]), destination

        key = (call_id, cseq_raw, str(vias[0].parameters.get("branch") or ""))
        remembered = self._answers.get(key)
        if remembered is not None:
            self.metrics.count("retransmission")  # the same answer, not scored again
            self._answers.move_to_end(key)
            return remembered
        self.metrics.count("invite")
        code, phrase, extra = self._screen(message, data, call_id, arrived)
        result = answer(code, phrase, extra), destination
        self._answers[key] = result
        if len(self._answers) > self.options.remembered_answers:
            self._answers.popitem(last=False)
        return result

    def _top_via(self, via: Via, source: tuple[str, int]) -> tuple[Via, tuple[str, int]]:
        """The top Via as answered (RFC 3261 18.2.1, RFC 3581) and where the answer goes.

        The answer goes to the datagram's source address, never to a host the Via names (no
        reflection to a third party); to its source port where the switch asked with
        ``rport``, else to the Via's port (5060 by default).
        """
        host, port = source
        changes: dict[str, str | None] = {}
        if via.host.strip("[]") != host:
            changes["received"] = host
        if "rport" in via.parameters:
            changes["received"] = host
            changes["rport"] = str(port)
            destination = (host, port)
        else:
            destination = (host, via.port or 5060)
        if changes:
            via = Via(via.transport, via.host, via.port, via.parameters.replace(**changes))
        return via, destination

    @staticmethod
    def _to_with_tag(to_raw: str, code: int) -> str:
        if code == 100:
            return to_raw
        try:
            if "tag" in Address.parse(to_raw).parameters:
                return to_raw
        except ValueError:
            pass
        return f"{to_raw};tag={secrets.token_hex(6)}"

    # -- screening ---------------------------------------------------------------------------

    def call_request(self, message: Request, call_id: str) -> CallScoreRequest:
        """The INVITE as the engine's request; msgspec.ValidationError if a field is unusable."""
        headers = message.headers
        caller_uri: URI | None = None
        for value in headers.getlist("P-Asserted-Identity"):
            try:
                for address in Address.parse_many(value):
                    if caller_uri is None or (
                        address.uri.scheme == "tel" and caller_uri.scheme != "tel"
                    ):
                        caller_uri = address.uri
            except ValueError:
                continue
        if caller_uri is None:
            try:
                caller_uri = message.from_address.uri
            except (KeyError, ValueError):
                caller_uri = None
        caller, verstat = _number_and_verstat(caller_uri) if caller_uri else ("", None)
        called, _ = _number_and_verstat(message.uri)
        if not called:
            try:
                called, _ = _number_and_verstat(message.to_address.uri)
            except (KeyError, ValueError):
                called = ""
        country = headers.get("X-Ingress-Country") or self.options.ingress_country
        if country is not None and not _COUNTRY.match(country):
            country = None
        trunk = headers.get("X-Ingress-Trunk")
        identity_raw, attestation = self._attestation(
            headers.getlist("Identity"), caller, called, verstat
        )
        fields: dict[str, object] = {
            "call_id": call_id,
            "time": datetime.now(UTC),
            "caller_number": caller,
            "called_number": called,
        }
        if trunk:
            fields["ingress_trunk"] = trunk
        if country:
            fields["ingress_country"] = country.upper()
        if attestation is not None:
            fields["attestation"] = attestation
        if identity_raw is not None and len(identity_raw) <= 8192:
            fields["identity"] = identity_raw
        return msgspec.convert(fields, CallScoreRequest)

    def _attestation(
        self, identities: list[str], caller: str, called: str, verstat: str | None
    ) -> tuple[str | None, str | None]:
        """The Identity header passed on, and the attestation the engine may rely on."""
        if not identities:
            return None, None
        chosen = identities[0]
        for value in identities:  # a diverted call carries a div PASSporT too: take shaken's
            if "ppt=shaken" in value.replace(" ", "").lower():
                chosen = value
                break
        if verstat == "TN-Validation-Failed" or (
            self.options.require_verstat and verstat != "TN-Validation-Passed"
        ):
            return chosen, None
        claims = decode_identity(chosen)
        if claims is None or claims.attest not in ("A", "B", "C"):
            return chosen, None
        # A PASSporT attests its own orig and dest: one lifted from another call vouches for
        # nothing here.
        if not _same_number(claims.orig_tn, caller) or not any(
            _same_number(tn, called) for tn in claims.dest_tn
        ):
            self.metrics.count("identity_mismatch")
            return chosen, None
        return chosen, claims.attest

    def _screen(
        self, message: Request, data: bytes, call_id: str, arrived: float
    ) -> tuple[int, str, list[tuple[str, str]]]:
        """The INVITE's answer: 603 for block, 302 back to the Request-URI for allow and warn."""
        # The Request-URI exactly as the switch wrote it (sipmessage would re-encode it).
        request_uri = data.split(b"\r\n", 1)[0].split(b" ")[1].decode("utf-8", "replace")
        contact = ("Contact", f"<{request_uri}>")
        waited = time.time() - arrived
        request: CallScoreRequest | None = None
        cause: str | None = None
        decision: CallDecision | None = None
        if waited * 1000 > self.options.budget_ms:
            cause = "late"  # the switch is about to give up: answer now, unscored
        else:
            try:
                request = self.call_request(message, call_id)
            except (msgspec.ValidationError, ValueError):
                cause = "invalid"
        if request is not None:
            try:
                decision = self.app._decide_call(self.options.institution, "sip", request)
            except Exception as exc:  # fail open: a broken engine must not stop calls
                frame = traceback.extract_tb(exc.__traceback__)[-1]
                print(
                    f"scamtrace serve: SIP scoring failed, call let through: "
                    f"{type(exc).__name__} at {frame.filename}:{frame.lineno}",
                    file=sys.stderr,
                )
                cause = "engine_error"
        if decision is None:
            assert cause is not None
            self.metrics.fail_open[cause] = self.metrics.fail_open.get(cause, 0) + 1
            self.app.audit.record(
                {
                    "institution": self.options.institution,
                    "endpoint": "sip",
                    "id": call_id[:256],
                    "action": "allow",
                    "fail_open": cause,
                }
            )
            return (
                302,
                "Moved Temporarily",
                [
                    contact,
                    ("X-Scamtrace-Action", "allow"),
                    ("X-Scamtrace-Reason", f"not scored ({cause})"),
                ],
            )
        reasons = [_header_text(r) for r in decision.reasons[:3]]
        extra: list[tuple[str, str]] = [("X-Scamtrace-Action", decision.action)]
        extra.append(("X-Scamtrace-Score", f"{decision.score:.3f}"))
        extra += [("X-Scamtrace-Reason", reason) for reason in reasons]
        if decision.network_id:
            extra.append(("X-Scamtrace-Network", _header_text(decision.network_id, 64)))
        if decision.action == "block":
            text = reasons[0] if reasons else "suspected fraud call"
            return 603, "Decline", [("Reason", f'SIP;cause=603;text="{text}"'), *extra]
        return 302, "Moved Temporarily", [contact, *extra]
