"""Search a case by number in any format (national, ``00``, E.164), account (an IBAN with or
without spaces), IP, call id, transfer id or report id. What was searched is audited."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scamtrace.workspace import queries
from scamtrace.workspace.views.entity import RECORD_TITLES
from scamtrace.workspace.web import guard, query_text, render


async def search_page(request: Request) -> Response:
    ctx = await guard(request)
    q = query_text(request.query_params, "q", 200)
    result = None
    if q:
        ctx.audit("search", q)
        result = await run_in_threadpool(queries.search, ctx.data(), q)
    return render(ctx, "search.html", q=q, result=result, record_titles=RECORD_TITLES)


routes = [Route("/cases/{case}/search", search_page)]
