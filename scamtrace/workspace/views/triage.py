"""The triage queue (leads and flagged entities, paged, filtered by kind and status), the
decisions taken on them (confirm, reject, note, assign: POST forms, each audited), and the
verdicts export ``detect --verdicts`` reads.

The export at ``/cases/CASE/verdicts.csv`` answers a logged-in user who may open the case, or
a request carrying the case's export token (``?token=``): a read-only secret an investigator
makes in the UI, shown once, stored as its SHA-256, replaced (and so revoked) by the next one.
It lets ``detect`` on another machine read the verdicts with a plain URL and opens nothing
else.
"""

from __future__ import annotations

import datetime as dt
import hmac

import pyarrow as pa
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from scamtrace.core.verdicts import Verdict, verdicts_csv
from scamtrace.report.labels import kind_label
from scamtrace.workspace import queries
from scamtrace.workspace.auth import new_token
from scamtrace.workspace.store import now, parse_iso, token_hash
from scamtrace.workspace.web import (
    Ctx,
    case_url,
    form_text,
    guard,
    page_args,
    render,
    safe_next,
    workspace_of,
)

LISTS = {"leads": "leads", "flagged": "entities"}
STATUSES = ("open", "all", "confirmed", "rejected", "assigned")
MAX_NOTE = 4000


def _decided(ctx: Ctx) -> pa.Table:
    """The verdict in force and the assignee of each entity of the case that has one."""
    store = ctx.workspace.store
    latest: dict[tuple[str, str], str] = {}
    for v in store.verdicts(ctx.case_id):
        latest[(v.kind, v.value)] = v.verdict
    assigned = store.assignees_all(ctx.case_id)
    keys = sorted(latest.keys() | assigned.keys())
    return pa.table({
        "kind": pa.array([k for k, _ in keys], pa.string()),
        "value": pa.array([v for _, v in keys], pa.string()),
        "verdict": pa.array([latest.get(k) for k in keys], pa.string()),
        "assignee": pa.array([assigned.get(k) or None for k in keys], pa.string()),
    })  # fmt: skip


async def triage_page(request: Request) -> Response:
    ctx = await guard(request)
    listing = request.query_params.get("list", "leads")
    if listing not in LISTS:
        listing = "leads"
    status = request.query_params.get("status", "open")
    if status not in STATUSES:
        status = "open"
    kind = request.query_params.get("kind", "")[:100]
    offset, limit = page_args(request)
    table = LISTS[listing]
    decided = _decided(ctx)
    page = await run_in_threadpool(lambda: queries.triage(
        ctx.data(), table, decided, kind=kind, status=status, offset=offset, limit=limit))
    kinds = await run_in_threadpool(queries.kinds, ctx.data(), table)
    store = ctx.workspace.store
    users = [u for u in store.user_names() if (usr := store.user(u)) and usr.may_open(ctx.case_id)]
    return render(ctx, "triage.html", page=page, listing=listing, status=status, kind=kind,
                  kinds=kinds, statuses=STATUSES, users=users, kind_label=kind_label,
                  next=str(request.url.path) + ("?" + request.url.query if request.url.query
                                                 else ""))  # fmt: skip


async def _entity_from_form(ctx: Ctx) -> tuple[str, str]:
    kind, value = form_text(ctx, "kind", max_len=100), form_text(ctx, "value", max_len=1000)
    if not kind or not value:
        raise HTTPException(400, "The form names no entity.")
    listed = await run_in_threadpool(queries.entity_rows, ctx.data(), kind, value)
    if not listed:
        raise HTTPException(404, "This case lists no such entity (flagged or lead).")
    return kind, value


def _back(ctx: Ctx) -> Response:
    return RedirectResponse(safe_next(form_text(ctx, "next", max_len=2000), ctx.case_id),
                            status_code=303)  # fmt: skip


async def decide(request: Request) -> Response:
    """Confirm or reject an entity, with the evidence seen (its count and newest time)."""
    ctx = await guard(request, "decide")
    kind, value = await _entity_from_form(ctx)
    verdict = form_text(ctx, "verdict", max_len=20)
    if verdict not in ("confirmed", "rejected"):
        raise HTTPException(400, "A verdict is confirmed or rejected.")
    note = form_text(ctx, "note", max_len=MAX_NOTE)
    count, last = await run_in_threadpool(queries.evidence_span, ctx.data(), kind, value)
    try:
        evidence_last = parse_iso(last) if last else None
    except ValueError:
        evidence_last = None
    v = Verdict(kind, value, "confirmed" if verdict == "confirmed" else "rejected",
                evidence_last, count, now(), ctx.user.name, note)  # fmt: skip
    ctx.workspace.store.add_verdict(ctx.case_id, v)
    ctx.audit("verdict", f"{kind}:{value}", f"{verdict} on {count} evidence record(s)"
              + (f"; note: {note}" if note else ""))  # fmt: skip
    return _back(ctx)


async def add_note(request: Request) -> Response:
    ctx = await guard(request, "decide")
    kind, value = await _entity_from_form(ctx)
    text = form_text(ctx, "text", max_len=MAX_NOTE)
    if not text:
        raise HTTPException(400, "The note is empty.")
    ctx.workspace.store.add_note(ctx.case_id, kind, value, ctx.user.name, text)
    ctx.audit("note", f"{kind}:{value}", text)
    return _back(ctx)


async def assign(request: Request) -> Response:
    ctx = await guard(request, "decide")
    kind, value = await _entity_from_form(ctx)
    assignee = form_text(ctx, "assignee", max_len=200)
    if assignee:
        user = ctx.workspace.store.user(assignee)
        if user is None or not user.may_open(ctx.case_id):
            raise HTTPException(400, "That user cannot open this case.")
    ctx.workspace.store.assign(ctx.case_id, kind, value, assignee, ctx.user.name)
    ctx.audit("assign", f"{kind}:{value}", f"to {assignee}" if assignee else "unassigned")
    return _back(ctx)


async def verdicts_export(request: Request) -> Response:
    """The case's verdicts as ``verdicts.csv`` (every one, oldest first; the latest wins)."""
    ws = workspace_of(request)
    case_id = request.path_params["case"]
    token = request.query_params.get("token")
    if token is not None:
        stored = ws.store.export_token(case_id) if case_id in ws.cases else None
        if stored is None or not hmac.compare_digest(stored["token_hash"], token_hash(token)):
            raise HTTPException(404, "No such case, or the export token is not valid.")
        who = f"export token of {stored['created_by']}"
    else:
        ctx = await guard(request)
        who = ctx.user.name
    ws.store.audit(who, "export_verdicts", case_id)
    body = verdicts_csv(ws.store.verdicts(case_id))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return Response(body, media_type="text/csv; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="verdicts-{stamp}.csv"'})  # fmt: skip


async def export_token(request: Request) -> Response:
    """A new read-only export token for the case (the old one stops working), shown once."""
    ctx = await guard(request, "export_token")
    token = new_token()
    ctx.workspace.store.set_export_token(ctx.case_id, token, ctx.user.name)
    ctx.audit("export_token_created")
    url = str(request.base_url).rstrip("/") + case_url(ctx.case_id, "/verdicts.csv") + \
        f"?token={token}"
    return render(ctx, "export_token.html", url=url)


routes = [
    Route("/cases/{case}/triage", triage_page),
    Route("/cases/{case}/decide", decide, methods=["POST"]),
    Route("/cases/{case}/note", add_note, methods=["POST"]),
    Route("/cases/{case}/assign", assign, methods=["POST"]),
    Route("/cases/{case}/verdicts.csv", verdicts_export),
    Route("/cases/{case}/export-token", export_token, methods=["POST"]),
]
