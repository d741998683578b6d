"""``scamtrace serve``: the scoring engine behind HTTP, a raw ASGI app served by uvicorn.

No web framework: a request is routed by a dict lookup, its body decoded once by msgspec into the
wire types of :mod:`.model` (a bad body is a 4xx naming the field, never a 500), scored by the
engine on the event loop's one thread, audited (:mod:`.audit`) and answered. Events are written
to the durable log (:mod:`.store`) before the engine sees them and before the 2xx. Why uvicorn,
msgspec and SQLite: ``docs/adr/0015-scoring-service.md``.
"""

from __future__ import annotations

import asyncio
import bisect
import ipaddress
import os
import re
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs

import msgspec

from scamtrace.core.errors import ScamtraceError
from scamtrace.serve.access import Access, Refused
from scamtrace.serve.audit import AuditLog
from scamtrace.serve.model import (
    CallDecision,
    CallScoreRequest,
    CarrierCallEvent,
    ComplaintEvent,
    EntityView,
    Event,
    TransferDecision,
    TransferEvent,
    TransferScoreRequest,
    VoipCallEvent,
)
from scamtrace.serve.store import EventLog

if TYPE_CHECKING:
    from scamtrace.serve.sip import SipOptions

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ARROW_STREAM = "application/vnd.apache.arrow.stream"


class ScoringEngine(Protocol):
    """What the service needs of the engine (:mod:`scamtrace.serve.engine`); one thread calls."""

    def score_call(self, request: CallScoreRequest) -> CallDecision: ...

    def score_transfer(self, request: TransferScoreRequest) -> TransferDecision: ...

    def apply(self, events: Sequence[Event]) -> int: ...

    def entity(self, kind: str, value: str) -> EntityView | None: ...

    def metrics(self) -> dict[str, float]: ...


def load_engine(findings: Path | None, case: Path | None) -> ScoringEngine:
    """The real engine, from a findings folder and a case: the one place the service makes it."""
    try:
        from scamtrace.serve.engine import Engine
    except ImportError as exc:  # the engine is built on its own branch (issue 16)
        raise ScamtraceError(f"the scoring engine is not available: {exc}") from exc
    engine: ScoringEngine = Engine.start(findings=findings, case=case)
    return engine


@dataclass(frozen=True)
class Limits:
    """What one request may ask; past these it is refused (413) or cut off (408)."""

    single_body_bytes: int = 1 << 20
    events_body_bytes: int = 16 << 20
    batch_items: int = 1000
    #: A client must have sent its whole body within this; a stalled upload frees its slot.
    body_timeout_s: float = 10.0


class CallBatch(msgspec.Struct, forbid_unknown_fields=True):
    items: list[CallScoreRequest]


class TransferBatch(msgspec.Struct, forbid_unknown_fields=True):
    items: list[TransferScoreRequest]


class CallDecisions(msgspec.Struct):
    items: list[CallDecision]


class TransferDecisions(msgspec.Struct):
    items: list[TransferDecision]


class EventsAccepted(msgspec.Struct):
    received: int
    applied: int
    duplicates: int
    ignored_columns: list[str] = []


class Problem(msgspec.Struct, omit_defaults=True):
    error: str
    field: str | None = None


class HttpError(Exception):
    def __init__(self, status: int, error: str, field: str | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.problem = Problem(error, field)


_EVENT_TYPES: dict[str, type[Any]] = {
    "carrier_cdr": CarrierCallEvent,
    "voip_cdr": VoipCallEvent,
    "transfers": TransferEvent,
    "reports": ComplaintEvent,
}

_json = msgspec.json.Encoder()
_call_decoder = msgspec.json.Decoder(CallScoreRequest)
_call_batch_decoder = msgspec.json.Decoder(CallBatch)
_transfer_decoder = msgspec.json.Decoder(TransferScoreRequest)
_transfer_batch_decoder = msgspec.json.Decoder(TransferBatch)
_event_decoder = msgspec.json.Decoder(Event)
_events_decoder = msgspec.json.Decoder(list[Event])

_AT = re.compile(r"at `(\$[^`]*)`")
_NAMED = re.compile(r"field `([^`]+)`")


def invalid(exc: msgspec.MsgspecError, prefix: str = "") -> HttpError:
    """422 (or 400 for bytes that are not JSON) naming the field, e.g. ``$.items[3].amount``."""
    message = str(exc)
    if isinstance(exc, msgspec.ValidationError):
        at = _AT.search(message)
        where = at.group(1) if at else "$"
        named = _NAMED.search(message)
        if named:  # "Object missing required field `x`": the field is x inside `where`
            where = f"{where}.{named.group(1)}"
        return HttpError(422, prefix + message, where)
    return HttpError(400, prefix + message)


# Latency buckets (seconds) of the Prometheus histograms: around the 5 ms goal.
_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(_BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(_BUCKETS, seconds)] += 1
        self.total += seconds


class Metrics:
    """Counters and histograms, rendered in the Prometheus text format (version 0.0.4)."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, int], int] = {}
        self.latency: dict[str, _Histogram] = {}
        self.decisions: dict[tuple[str, str], int] = {}
        self.events_applied = 0
        self.events_duplicate = 0

    def request(self, endpoint: str, status: int, seconds: float) -> None:
        key = (endpoint, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        histogram = self.latency.get(endpoint)
        if histogram is None:
            histogram = self.latency[endpoint] = _Histogram()
        histogram.observe(seconds)

    def decision(self, kind: str, action: str) -> None:
        key = (kind, action)
        self.decisions[key] = self.decisions.get(key, 0) + 1

    def render(self, engine: dict[str, float], events_stored: int) -> str:
        lines = [
            "# HELP scamtrace_requests_total HTTP requests by endpoint and status.",
            "# TYPE scamtrace_requests_total counter",
        ]
        for (endpoint, status), n in sorted(self.requests.items()):
            lines.append(f'scamtrace_requests_total{{endpoint="{endpoint}",status="{status}"}} {n}')
        lines += [
            "# HELP scamtrace_request_seconds Time from request to answer, by endpoint.",
            "# TYPE scamtrace_request_seconds histogram",
        ]
        for endpoint, histogram in sorted(self.latency.items()):
            running = 0
            for bound, count in zip((*_BUCKETS, float("inf")), histogram.counts, strict=True):
                running += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                lines.append(
                    f'scamtrace_request_seconds_bucket{{endpoint="{endpoint}",le="{le}"}} {running}'
                )
            lines.append(
                f'scamtrace_request_seconds_sum{{endpoint="{endpoint}"}} {histogram.total}'
            )
            lines.append(f'scamtrace_request_seconds_count{{endpoint="{endpoint}"}} {running}')
        lines += [
            "# HELP scamtrace_decisions_total Decisions by kind (call, transfer) and action.",
            "# TYPE scamtrace_decisions_total counter",
        ]
        for (kind, action), n in sorted(self.decisions.items()):
            lines.append(f'scamtrace_decisions_total{{kind="{kind}",action="{action}"}} {n}')
        lines += [
            "# HELP scamtrace_events_applied_total Events stored and applied to the state.",
            "# TYPE scamtrace_events_applied_total counter",
            f"scamtrace_events_applied_total {self.events_applied}",
            "# HELP scamtrace_events_duplicate_total Events received again and not re-applied.",
            "# TYPE scamtrace_events_duplicate_total counter",
            f"scamtrace_events_duplicate_total {self.events_duplicate}",
            "# HELP scamtrace_events_stored Events in the durable log.",
            "# TYPE scamtrace_events_stored gauge",
            f"scamtrace_events_stored {events_stored}",
        ]
        for name, value in sorted(engine.items()):
            metric = "scamtrace_engine_" + re.sub(r"[^a-zA-Z0-9_]", "_", name)
            lines += [f"# TYPE {metric} gauge", f"{metric} {float(value)!r}"]
        return "\n".join(lines) + "\n"


# What the audit log must never hold in clear, should the engine quote it in a reason: phone
# numbers (6 digits or more, spaced or not, with or without +) and IBAN-shaped accounts.
_NUMBER_OR_ACCOUNT = re.compile(r"\+?\d[\d \-]{4,}\d|\b[A-Z]{2}\d{2}[A-Z0-9]{8,30}\b")


class ScoringApp:
    """The ASGI application. Build it with an engine already started; it replays the log."""

    def __init__(
        self,
        engine: ScoringEngine,
        state_dir: Path,
        access: Access | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.engine = engine
        self.access = access or Access(None)
        self.limits = limits or Limits()
        state_dir.mkdir(parents=True, exist_ok=True)
        self.log = EventLog(state_dir / "events.sqlite")
        self.audit = AuditLog(state_dir)
        self.metrics = Metrics()
        #: More lines for /metrics (the SIP screen's counters, :mod:`.sip`).
        self.metrics_sections: list[Callable[[], list[str]]] = []
        self.replayed = 0
        self._reading: dict[asyncio.Task[Any], float] = {}
        self._overdue: set[asyncio.Task[Any]] = set()
        self._watchdog: asyncio.TimerHandle | None = None
        self._watchdog_loop: asyncio.AbstractEventLoop | None = None
        for chunk in self.log.replay():
            self.replayed += engine.apply(chunk)
        self._stored = self.log.count()
        self._openapi = _json.encode(openapi_document())
        self._routes: dict[tuple[str, str], Callable[..., Awaitable[tuple[int, bytes, bytes]]]] = {
            ("POST", "/v1/calls/score"): self._score_call,
            ("POST", "/v1/calls/score/batch"): self._score_call_batch,
            ("POST", "/v1/transfers/score"): self._score_transfer,
            ("POST", "/v1/transfers/score/batch"): self._score_transfer_batch,
            ("POST", "/v1/events"): self._events,
            ("GET", "/healthz"): self._healthz,
            ("GET", "/metrics"): self._metrics,
            ("GET", "/openapi.json"): self._openapi_json,
        }

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        self.audit.close()
        self.log.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    self.audit.flush()
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        method: str = scope["method"]
        path: str = scope["path"]
        handler = self._routes.get((method, path))
        endpoint = path
        try:
            if handler is None:
                if path.startswith("/v1/entities/") and method == "GET":
                    endpoint = "/v1/entities/{kind}/{value}"
                    status, body, ctype = await self._entity(scope, receive)
                elif any(p == path for _, p in self._routes) or path.startswith("/v1/entities/"):
                    endpoint = "other"
                    raise HttpError(405, f"method {method} not allowed on {path}")
                else:
                    endpoint = "other"
                    raise HttpError(404, "no such endpoint")
            else:
                status, body, ctype = await handler(scope, receive)
        except HttpError as exc:
            status, body, ctype = exc.status, _json.encode(exc.problem), b"application/json"
        except Refused as exc:
            status, body, ctype = exc.status, _json.encode(Problem(exc.reason)), b"application/json"
        except Exception as exc:  # a bug: answered 500, logged without the request's content
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            print(
                f"scamtrace serve: internal error {type(exc).__name__} at "
                f"{frame.filename}:{frame.lineno} on {endpoint}",
                file=sys.stderr,
            )
            status, body = 500, _json.encode(Problem("internal error"))
            ctype = b"application/json"
        headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]
        if status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="scamtrace"'))
        elif status in (408, 413):  # the rest of the body is not read: the connection ends
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        self.audit.flush()
        self.metrics.request(endpoint, status, time.perf_counter() - started)

    # -- reading ---------------------------------------------------------------------------

    async def _body(self, scope: Scope, receive: Receive, limit: int) -> bytes:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    raise HttpError(400, "content-length is not a number") from None
                if declared > limit:
                    raise HttpError(413, f"body of {declared} bytes; at most {limit}")
        chunks: list[bytes] = []
        size = 0
        # Not asyncio.timeout (a timer per request, half the cost of a score): the watchdog
        # cancels a read still running past its deadline.
        task = asyncio.current_task()
        assert task is not None
        self._reading[task] = time.monotonic() + self.limits.body_timeout_s
        self._start_watchdog()
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise HttpError(400, "client went away")
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise HttpError(413, f"body over {limit} bytes")
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
        except asyncio.CancelledError:
            if task not in self._overdue:
                raise
            self._overdue.discard(task)
            task.uncancel()
            raise HttpError(
                408, f"body not received within {self.limits.body_timeout_s} s"
            ) from None
        finally:
            self._reading.pop(task, None)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _start_watchdog(self) -> None:
        loop = asyncio.get_running_loop()
        if self._watchdog_loop is not loop:  # first request (or a new loop: tests run several)
            self._watchdog_loop = loop
            self._watchdog = loop.call_later(self._watchdog_period(), self._cancel_overdue)

    def _watchdog_period(self) -> float:
        return min(1.0, self.limits.body_timeout_s / 4)

    def _cancel_overdue(self) -> None:
        now = time.monotonic()
        for task, deadline in list(self._reading.items()):
            if deadline < now and task not in self._overdue:
                self._overdue.add(task)
                task.cancel()
        self._watchdog = asyncio.get_running_loop().call_later(
            self._watchdog_period(), self._cancel_overdue
        )

    def _who(self, scope: Scope, needed: str) -> str:
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
                break
        return self.access.check(authorization, needed)

    # -- scoring ---------------------------------------------------------------------------

    async def _score_call(self, scope: Scope, receive: Receive) -> tuple[int, bytes, bytes]:
        who = self._who(scope, "calls:score")
        raw = await self._body(scope, receive, self.limits.single_body_bytes)
        try:
            request = _call_decoder.decode(raw)
        except msgspec.MsgspecError as exc:
            raise invalid(exc) from None
        decision = self._decide_call(who, "/v1/calls/score", request)
        return 200, _json.encode(decision), b"application/json"

    async def _score_call_batch(self, scope: Scope, receive: Receive) -> tuple[int, bytes, bytes]:
        who = self._who(scope, "calls:score")
        raw = await self._body(scope, receive, self.limits.single_body_bytes)
        try:
            batch = _call_batch_decoder.decode(raw)
        except msgspec.MsgspecError as exc:
            raise invalid(exc) from None
        self._check_batch(len(batch.items))
        decisions = [self._decide_call(who, "/v1/calls/score/batch", r) for r in batch.items]
        return 200, _json.encode(CallDecisions(decisions)), b"application/json"

    async def _score_transfer(self, scope: Scope, receive: Receive) -> tuple[int, bytes, bytes]:
        who = self._who(scope, "transfers:score")
        raw = await self._body(scope, receive, self.limits.single_body_bytes)
        try:
            request = _transfer_decoder.decode(raw)
        except msgspec.MsgspecError as exc:
            raise invalid(exc) from None
        decision = self._decide_transfer(who, "/v1/transfers/score", request)
        return 200, _json.encode(decision), b"application/json"

    async def _score_transfer_batch(
        self, scope: Scope, receive: Receive
    ) -> tuple[int, bytes, bytes]:
        who = self._who(scope, "transfers:score")
        raw = await self._body(scope, receive, self.limits.single_body_bytes)
        try:
            batch = _transfer_batch_decoder.decode(raw)
        except msgspec.MsgspecError as exc:
            raise invalid(exc) from None
        self._check_batch(len(batch.items))
        endpoint = "/v1/transfers/score/batch"
        decisions = [self._decide_transfer(who, endpoint, r) for r in batch.items]
        return 200, _json.encode(TransferDecisions(decisions)), b"application/json"

    def _check_batch(self, items: int) -> None:
        if items > self.limits.batch_items:
            raise HttpError(413, f"{items} items; at most {self.limits.batch_items}", "$.items")

    def _decide_call(self, who: str, endpoint: str, request: CallScoreRequest) -> CallDecision:
        decision = self.engine.score_call(request)
        self.metrics.decision("call", decision.action)
        self.audit.record(
            {
                "institution": who,
                "endpoint": endpoint,
                "id": request.call_id,
                "caller": self.audit.pseudonym(request.caller_number),
                "called": self.audit.pseudonym(request.called_number),
                "action": decision.action,
                "score": decision.score,
                "reasons": self._scrubbed(decision.reasons),
                "network_id": decision.network_id,
            }
        )
        return decision

    def _decide_transfer(
        self, who: str, endpoint: str, request: TransferScoreRequest
    ) -> TransferDecision:
        decision = self.engine.score_transfer(request)
        self.metrics.decision("transfer", decision.action)
        self.audit.record(
            {
                "institution": who,
                "endpoint": endpoint,
                "id": request.tx_id,
                "payer": self.audit.pseudonym(request.payer_account),
                "payee": self.audit.pseudonym(request.payee_account),
                "payer_phone": self.audit.pseudonym(request.payer_phone),
                "amount": request.amount,
                "currency": request.currency,
                "action": decision.action,
                "score": decision.score,
                "reasons": self._scrubbed(decision.reasons),
                "network_id": decision.network_id,
            }
        )
        return decision

    def _scrubbed(self, reasons: list[str]) -> list[str]:
        """The reasons with any number or account the engine quoted replaced by its pseudonym."""
        return [
            _NUMBER_OR_ACCOUNT.sub(lambda m: f"#{self.audit.pseudonym(m.group(0))}", reason)
            for reason in reasons
        ]

    # -- events ----------------------------------------------------------------------------

    async def _events(self, scope: Scope, receive: Receive) -> tuple[int, bytes, bytes]:
        self._who(scope, "events:write")
        raw = await self._body(scope, receive, self.limits.events_body_bytes)
        content_type = b""
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.split(b";")[0].strip().lower()
        ignored: list[str] = []
        if content_type == ARROW_STREAM.encode():
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            events, ignored = _arrow_events(raw, (query.get("table") or [None])[0])
        else:
            events = _json_lines_events(raw)
        fresh = self.log.append(events)  # durable before the engine sees it and before the 2xx
        self._stored += len(fresh)
        if fresh:
            self.engine.apply(fresh)
        self.metrics.events_applied += len(fresh)
        self.metrics.events_duplicate += len(events) - len(fresh)
        accepted = EventsAccepted(len(events), len(fresh), len(events) - len(fresh), ignored)
        return 200, _json.encode(accepted), b"application/json"

    # -- reading the state -----------------------------------------------------------------

    async def _entity(self, scope: Scope, receive: Receive) -> tuple[int, bytes, bytes]:
        who = self._who(scope, "entities:read")
        rest = scope["path"][len("/v1/entities/") :]
        kind, _, value = rest.partition("/")
        if not kind or not value:
            raise HttpError(404, "expected /v1/entities/{kind}/{value}", "path")
        if len(value) > 256 or len(kind) > 64:
            raise HttpError(414, "kind or value too long", "path")
        view = self.engine.entity(kind, value)
        self.audit.record(
            {
                "institution": who,
                "endpoint": "/v1/entities/{kind}/{value}",
                "kind": kind,
                "value": self.audit.pseudonym(value),
                "found": view is not None,
            }
        )
        if view is None:
            raise HttpError(404, f"no {kind} known by that value")
        return 200, _json.encode(view), b"application/json"

    async def _healthz(self, scope: Scope, receive: Receive) -> tuple[int, bytes, bytes]:
        body = {"status": "ok", "events_stored": self._stored, "replayed": self.replayed}
        return 200, _json.encode(body), b"application/json"

    async def _metrics(self, scope: Scope, receive: Receive) -> tuple[int, bytes, bytes]:
        text = self.metrics.render(self.engine.metrics(), self._stored)
        for section in self.metrics_sections:
            text += "\n".join(section()) + "\n"
        return 200, text.encode(), b"text/plain; version=0.0.4; charset=utf-8"

    async def _openapi_json(self, scope: Scope, receive: Receive) -> tuple[int, bytes, bytes]:
        return 200, self._openapi, b"application/json"


def _json_lines_events(raw: bytes) -> list[Event]:
    lines = [line for line in raw.split(b"\n") if line.strip()]
    # One decode of the lines as a JSON array (a third faster than a decode a line); if that
    # fails, or a line held two values, line by line to name the line at fault.
    try:
        events = _events_decoder.decode(b"[" + b",".join(lines) + b"]")
        if len(events) == len(lines):
            return events
    except msgspec.MsgspecError:
        pass
    events = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            events.append(_event_decoder.decode(line))
        except msgspec.MsgspecError as exc:
            raise invalid(exc, f"line {number}: ") from None
    raise HttpError(400, "a line holds more than one JSON value")


def _arrow_events(raw: bytes, table: str | None) -> tuple[list[Event], list[str]]:
    """Events from an Arrow IPC stream: a ``table`` column per row, or ``?table=`` for all.

    Columns that the event type does not have (a case table has more) are left out and named
    in the answer; a missing or mistyped needed column is a 422 naming it.
    """
    import pyarrow as pa

    events: list[Event] = []
    ignored: set[str] = set()
    try:
        reader = pa.ipc.open_stream(raw)
        for batch in reader:
            columns = batch.schema.names
            tables = (
                batch.column("table").to_pylist()
                if "table" in columns
                else [table] * batch.num_rows
            )
            rows = batch.to_pylist()
            for index, (row, name) in enumerate(zip(rows, tables, strict=True)):
                event_type = _EVENT_TYPES.get(name if isinstance(name, str) else "")
                if event_type is None:
                    raise HttpError(
                        422,
                        f"row {index}: table {name!r} is not one of {sorted(_EVENT_TYPES)}"
                        " (a `table` column or ?table=)",
                        "table",
                    )
                fields = event_type.__struct_fields__
                ignored.update(c for c in columns if c not in fields and c != "table")
                kept = {k: v for k, v in row.items() if k in fields and v is not None}
                try:
                    events.append(msgspec.convert(kept, type=event_type))
                except msgspec.ValidationError as exc:
                    raise invalid(exc, f"row {index}: ") from None
    except (pa.ArrowException, OSError, ValueError, TypeError) as exc:
        raise HttpError(400, f"not an Arrow IPC stream: {exc}") from None
    return events, sorted(ignored)


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the service, its schemas made by msgspec from the types."""
    types = [
        CallScoreRequest,
        CallBatch,
        CallDecision,
        CallDecisions,
        TransferScoreRequest,
        TransferBatch,
        TransferDecision,
        TransferDecisions,
        CarrierCallEvent,
        VoipCallEvent,
        TransferEvent,
        ComplaintEvent,
        EventsAccepted,
        EntityView,
        Problem,
    ]
    (
        (
            call,
            call_batch,
            call_decision,
            call_decisions,
            transfer,
            transfer_batch,
            transfer_decision,
            transfer_decisions,
            *_rest,
            accepted,
            entity,
            problem,
        ),
        components,
    ) = msgspec.json.schema_components(types, ref_template="#/components/schemas/{name}")

    def body(schema: dict[str, Any], media: str = "application/json") -> dict[str, Any]:
        return {"required": True, "content": {media: {"schema": schema}}}

    def answers(ok: dict[str, Any], scope: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "200": {"description": "OK", "content": {"application/json": {"schema": ok}}},
            "422": {
                "description": "a field is wrong; `field` names it",
                "content": {"application/json": {"schema": problem}},
            },
        }
        if scope:
            out["401"] = {"description": "no or unknown bearer token"}
            out["403"] = {"description": f"the token lacks the scope {scope}"}
        return out

    def post(summary: str, req: dict[str, Any], ok: dict[str, Any], scope: str) -> dict[str, Any]:
        return {
            "post": {
                "summary": summary,
                "requestBody": body(req),
                "responses": answers(ok, scope),
                "security": [{"bearer": [scope]}],
            }
        }

    event_lines = {
        "type": "string",
        "description": "JSON lines: one event a line, each with `table` set to carrier_cdr, "
        "voip_cdr, transfers or reports (see the event schemas)",
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "scamtrace scoring service", "version": "1"},
        "paths": {
            "/v1/calls/score": post("Score one call at setup", call, call_decision, "calls:score"),
            "/v1/calls/score/batch": post(
                "Score many calls", call_batch, call_decisions, "calls:score"
            ),
            "/v1/transfers/score": post(
                "Score one payment before it executes",
                transfer,
                transfer_decision,
                "transfers:score",
            ),
            "/v1/transfers/score/batch": post(
                "Score many payments", transfer_batch, transfer_decisions, "transfers:score"
            ),
            "/v1/events": {
                "post": {
                    "summary": "Stream events into the state (stored durably before the 2xx)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/x-ndjson": {"schema": event_lines},
                            ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}},
                        },
                    },
                    "parameters": [
                        {
                            "name": "table",
                            "in": "query",
                            "required": False,
                            "schema": {"enum": sorted(_EVENT_TYPES)},
                        }
                    ],
                    "responses": answers(accepted, "events:write"),
                    "security": [{"bearer": ["events:write"]}],
                }
            },
            "/v1/entities/{kind}/{value}": {
                "get": {
                    "summary": "What the service knows of a number, account, line or address",
                    "parameters": [
                        {
                            "name": "kind",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "value",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {
                        **answers(entity, "entities:read"),
                        "404": {"description": "not known"},
                    },
                    "security": [{"bearer": ["entities:read"]}],
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Alive and how many events are stored",
                    "responses": {"200": {"description": "OK"}},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus text format",
                    "responses": {"200": {"description": "OK"}},
                }
            },
        },
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@dataclass(frozen=True)
class ServeConfig:
    findings: Path | None = None
    case: Path | None = None
    state: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8443
    tokens: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    limits: Limits = field(default_factory=Limits)
    #: A client must have sent its request headers within this (granian's setting).
    header_timeout_ms: int = 5000
    #: SIP screening beside the HTTP API (``--sip PORT``), on the same event loop.
    sip: SipOptions | None = None


def state_folder(config: ServeConfig) -> Path:
    """``--state``, else ``scamtrace/serve/<case folder's name>`` in the user's data folder.

    Not inside the case folder: a case is replaced whole by ``--overwrite`` (ADR 0010) and may
    be kept read-only as evidence; the event log must outlive both.
    """
    if config.state is not None:
        return config.state
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    name = config.case.resolve().name if config.case is not None else "default"
    return Path(data) / "scamtrace" / "serve" / name


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(config: ServeConfig, engine: ScoringEngine | None = None) -> None:
    """Start the engine, replay the log and serve until SIGINT or SIGTERM."""
    if (config.cert is None) != (config.key is None):
        raise ScamtraceError("--cert and --key go together")
    access = Access.from_file(config.tokens)
    if config.sip is not None:
        config.sip.check()
    if access.open and not _is_loopback(config.host):
        raise ScamtraceError(
            f"refusing to listen on {config.host} without --tokens: open access is for loopback"
        )
    if engine is None:
        engine = load_engine(config.findings, config.case)
    state = state_folder(config)
    app = ScoringApp(engine, state, access, config.limits)
    scheme = "https" if config.cert else "http"
    print(
        f"scamtrace serve: {scheme}://{config.host}:{config.port} state {state} "
        f"({app.replayed} events replayed)",
        file=sys.stderr,
        flush=True,
    )
    if access.open:
        print(
            "scamtrace serve: no --tokens: every caller may do everything; listening on "
            "loopback only",
            file=sys.stderr,
            flush=True,
        )
    try:
        run_event_loop(run_services(app, config), uvloop=True)
    finally:
        app.close()


async def run_services(app: ScoringApp, config: ServeConfig) -> None:
    """uvicorn, and the SIP screen (:mod:`.sip`) on the same loop and thread when asked for."""
    if config.sip is None:
        await run_uvicorn(app, config)
        return
    from scamtrace.serve.sip import SipScreen

    screen = SipScreen(app, config.sip)
    host, port = screen.start(asyncio.get_running_loop())
    print(f"scamtrace serve: SIP screening on udp {host}:{port}", file=sys.stderr, flush=True)
    try:
        await run_uvicorn(app, config)
    finally:
        screen.close()


def run_event_loop(main: Coroutine[Any, Any, None], uvloop: bool = False) -> None:
    """On uvloop where installed and asked for (a tenth less CPU a request than asyncio under
    uvicorn, docs/adr/0015), else asyncio."""
    if uvloop:
        try:
            import uvloop as fast_loop
        except ImportError:
            pass
        else:
            fast_loop.run(main)
            return
    asyncio.run(main)


def header_deadline_protocol(timeout_s: float) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol, plus a deadline for a request's headers.

    uvicorn closes idle keep-alive connections, but waits for ever on a connection that sent
    nothing or half its headers. Here a connection must send a request's headers within
    ``timeout_s`` of opening and of the request's first byte, or it is closed; the body has its
    own deadline (:attr:`Limits.body_timeout_s`, then 408). ``Config(http=...)`` takes a
    protocol class for this.
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class HeaderDeadline(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(timeout_s, self.transport.close)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

    return HeaderDeadline


async def run_uvicorn(app: ScoringApp, config: ServeConfig) -> None:
    """uvicorn with httptools, one process and one thread: the engine is on this event loop's
    thread, and `kill -9` ends the service whole. Why uvicorn: docs/adr/0015."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            http=header_deadline_protocol(config.header_timeout_ms / 1000),
            loop="none",  # the running loop
            lifespan="on",
            ws="none",
            interface="asgi3",
            access_log=False,
            log_level="warning",
            server_header=False,
            timeout_keep_alive=5,
            backlog=1024,
            ssl_certfile=str(config.cert) if config.cert else None,
            ssl_keyfile=str(config.key) if config.key else None,
        )
    )
    await server.serve()
