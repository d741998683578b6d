"""The audit log, for reviewers: every verdict, note, assignment, hand-over, export and every
look at a person's data (entity pages, searches), with who and when; newest first, paged."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scamtrace.workspace.store import ALL_CASES
from scamtrace.workspace.web import guard, page_args, render


async def case_audit(request: Request) -> Response:
    ctx = await guard(request, "audit")
    offset, limit = page_args(request)
    rows, total = await run_in_threadpool(ctx.workspace.store.audit_rows, ctx.case_id, limit,
                                          offset)  # fmt: skip
    return render(ctx, "audit.html", rows=rows, total=total, offset=offset, limit=limit,
                  scope=f"case {ctx.case_id}")  # fmt: skip


async def all_audit(request: Request) -> Response:
    """The whole log (logins included), for reviewers with access to every case."""
    ctx = await guard(request, "audit", case=False)
    if ALL_CASES not in ctx.user.cases:
        raise HTTPException(403, "The whole audit log is for reviewers of every case.")
    offset, limit = page_args(request)
    rows, total = await run_in_threadpool(ctx.workspace.store.audit_rows, None, limit, offset)
    return render(ctx, "audit.html", rows=rows, total=total, offset=offset, limit=limit,
                  scope="every case")


routes = [
    Route("/audit", all_audit),
    Route("/cases/{case}/audit", case_audit),
]
