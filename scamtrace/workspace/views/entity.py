"""One entity's page: how it is listed (flagged or lead: score, reason, network, center),
every evidence record behind it, every call, transfer, complaint and transcript of the case
that names it (each table paged on its own), and what analysts decided, noted and assigned.
Opening it is a look at a person's data: it is written to the audit log."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scamtrace.report.labels import kind_label, source_label
from scamtrace.workspace import queries
from scamtrace.workspace.views.cases import network_segment
from scamtrace.workspace.web import guard, page_args, render

RECORD_TITLES = {
    "carrier_cdr": "Calls (carrier records)",
    "voip_cdr": "Calls (VoIP records)",
    "transfers": "Transfers",
    "reports": "Complaints",
}


async def entity_page(request: Request) -> Response:
    ctx = await guard(request)
    data = ctx.data()
    kind, value = request.path_params["kind"], request.path_params["value"]
    listed = await run_in_threadpool(queries.entity_rows, data, kind, value)
    if not listed:
        raise HTTPException(404, "This case lists no such entity (flagged or lead).")
    ctx.audit("view_entity", f"{kind}:{value}")
    ev_offset, ev_limit = page_args(request, "ev_")
    evidence = await run_in_threadpool(queries.evidence, data, kind, value, ev_offset, ev_limit)
    tables = []
    call_ids: list[str] = []
    for table, title in RECORD_TITLES.items():
        offset, limit = page_args(request, f"{table}_")
        page = await run_in_threadpool(queries.records, data, table, kind, value, offset, limit)
        if page is None:
            continue
        tables.append({"table": table, "title": title, "page": page, "prefix": f"{table}_"})
        if table in ("carrier_cdr", "voip_cdr"):
            call_ids += [r.get("call_id", "") for r in page.rows]
    transcripts = await run_in_threadpool(queries.transcripts_of, data, call_ids)
    store = ctx.workspace.store
    verdicts = store.verdicts(ctx.case_id, kind, value)
    assignee = store.assignees(ctx.case_id, [(kind, value)]).get((kind, value), "")
    users = [u for u in store.user_names() if (usr := store.user(u)) and usr.may_open(ctx.case_id)]
    return render(
        ctx, "entity.html", kind=kind, value=value, kind_title=kind_label(kind), listed=listed,
        evidence=evidence, tables=tables,
        evidence_records=[(r["time"], r["source"], r["record_id"], r["detail"])
                          for r in evidence.rows], transcripts=transcripts, verdicts=verdicts,
        verdict=verdicts[-1] if verdicts else None, notes=store.notes(ctx.case_id, kind, value),
        assignee=assignee, users=users, source_label=source_label,
        network_segment=network_segment, next=request.url.path,
    )  # fmt: skip


routes = [Route("/cases/{case}/entities/{kind}/{value:path}", entity_page)]
