"""Cases, a case's networks ranked by victims who paid and loss, one network's page, and the
graph, map and timeline pages with their JSON.

The graph, map and timeline data come from :mod:`scamtrace.workspace.graph`, ``.geo`` and
``.timeline``, drawn by their panels' scripts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from scamtrace.core.errors import ScamtraceError
from scamtrace.report.format import fmt_money, to_decimal, to_int
from scamtrace.report.labels import kind_label
from scamtrace.report.query import ShownEntity, active_span, ordered, place_summary, time_axis
from scamtrace.report.sections.centers import centers_view
from scamtrace.report.sections.entities import KindShown
from scamtrace.report.sections.network import COUNTED
from scamtrace.workspace import geo, graph, queries, timeline
from scamtrace.workspace.web import entity_href, guard, page_args, render

UNLINKED = "-"
"""The network segment of the entities tied to no network ("" in the findings)."""


def network_id_of(segment: str) -> str:
    return "" if segment == UNLINKED else segment


def network_segment(network_id: str) -> str:
    return network_id or UNLINKED


def loss_text(row: dict[str, str]) -> str:
    amount = to_decimal(row.get("loss"))
    if amount is None:
        return str(row.get("loss") or "")
    return fmt_money({str(row.get("currency") or ""): amount})


async def cases_page(request: Request) -> Response:
    ctx = await guard(request, case=False)
    shown = []
    for case_id, data in ctx.workspace.cases.items():
        if not ctx.user.may_open(case_id):
            continue
        nets = await run_in_threadpool(queries.networks, data, 0, 1)
        shown.append({"case_id": case_id, "networks": nets.total,
                      "top": nets.rows[0] if nets.rows else None})  # fmt: skip
    return render(ctx, "cases.html", cases=shown, loss_text=loss_text,
                  network_segment=network_segment)  # fmt: skip


async def case_page(request: Request) -> Response:
    ctx = await guard(request)
    offset, limit = page_args(request)
    data = ctx.data()
    page = await run_in_threadpool(queries.networks, data, offset, limit)
    centers = await run_in_threadpool(queries.centers, data)
    by_network: dict[str, list[dict[str, str]]] = {}
    for c in centers:
        by_network.setdefault(c.get("network_id", ""), []).append(c)
    rows = [{"row": r, "loss": loss_text(r),
             "places": place_summary(by_network.get(r["network_id"], [])),
             "span": active_span(by_network.get(r["network_id"], [])),
             "segment": network_segment(r["network_id"])} for r in page.rows]  # fmt: skip
    return render(ctx, "case.html", page=page, networks=rows,
                  unlinked="" in by_network or queries.network_known(data, ""))  # fmt: skip


async def network_page(request: Request) -> Response:
    ctx = await guard(request)
    data = ctx.data()
    network_id = network_id_of(request.path_params["network"])
    if not await run_in_threadpool(queries.network_known, data, network_id):
        raise HTTPException(404, "No such network in this case.")
    row = await run_in_threadpool(queries.network_row, data, network_id)
    all_centers = await run_in_threadpool(queries.centers, data)
    centers = [c for c in all_centers if c.get("network_id", "") == network_id]
    counts = await run_in_threadpool(queries.entity_kind_counts, data, network_id)
    kind_names = list(ordered(counts))
    kind = request.query_params.get("kind", "")
    if kind not in counts:
        kind = kind_names[0] if kind_names else ""
    offset, limit = page_args(request)
    shown: list[ShownEntity] = []
    total = 0
    if kind:
        shown, total = await run_in_threadpool(queries.network_entities, data, network_id, kind,
                                               offset, limit)  # fmt: skip
    # safe: the output of an autoescaping template of the workspace's environment (the
    # report's entity table, drawn the same way in both), every value in it escaped
    entities_html = Markup(ctx.workspace.env.get_template("entities.html").render(
        kinds=[KindShown(kind, total, shown)] if kind else [], center_anchor={},
        evidence_file=True, entity_href=entity_href(ctx.case_id), paged=True))  # fmt: skip
    index = 0
    return render(
        ctx, "network_page.html", network_id=network_id, segment=network_segment(network_id),
        row=row, loss=loss_text(row) if row else "",
        counts={c: to_int(row.get(c)) or 0 for c in COUNTED} if row else {},
        centers=centers_view(time_axis(all_centers), centers, index, {}),
        kinds=[(k, counts[k], kind_label(k)) for k in kind_names], kind=kind,
        entities=entities_html, page=queries.Page([], total, offset, limit),
    )  # fmt: skip


# ------------------------------------------------------------------ graph, map, timeline
def _entity_param(text: str) -> tuple[str, str]:
    kind, sep, value = text.partition(":")
    if not sep or not kind or not value:
        raise HTTPException(400, "expected kind:value")
    return kind, value


async def graph_page(request: Request) -> Response:
    ctx = await guard(request)
    network_id = network_id_of(request.path_params["network"])
    if not await run_in_threadpool(queries.network_known, ctx.data(), network_id):
        raise HTTPException(404, "No such network in this case.")
    return render(ctx, "graph_page.html", network_id=network_id,
                  segment=network_segment(network_id))  # fmt: skip


async def graph_json(request: Request) -> Response:
    ctx = await guard(request)
    network_id = network_id_of(request.path_params["network"])
    args = _query(graph.graph_query, request)
    body = await _answer(lambda: graph.network_graph(ctx.data(), network_id, **args))
    expand = args["expand"]
    ctx.audit("view_graph", f"network {network_id}",
              "expanded " + ", ".join(f"{k}:{v}" for k, v in expand) if expand else "")
    return JSONResponse(body)


async def map_page(request: Request) -> Response:
    ctx = await guard(request)
    return render(ctx, "map_page.html")


async def map_json(request: Request) -> Response:
    ctx = await guard(request)
    body = await _answer(lambda: geo.map_data(ctx.data()))
    return JSONResponse(body)


async def timeline_page(request: Request) -> Response:
    ctx = await guard(request)
    network = request.query_params.get("network")
    entity = request.query_params.get("entity")
    if entity:
        _entity_param(entity)
    return render(ctx, "timeline_page.html", network=network, entity=entity,
                  json_query=request.url.query)  # fmt: skip


async def timeline_json(request: Request) -> Response:
    ctx = await guard(request)
    network = request.query_params.get("network")
    entity_text = request.query_params.get("entity")
    entity = _entity_param(entity_text) if entity_text else None
    network_id = network_id_of(network) if network is not None else None
    args = _query(timeline.timeline_query, request)
    body = await _answer(
        lambda: timeline.timeline(ctx.data(), network_id=network_id, entity=entity, **args))
    if entity is not None:
        ctx.audit("view_timeline", f"{entity[0]}:{entity[1]}")
    return JSONResponse(body)


def _query(read: Callable[[Any], dict[str, Any]], request: Request) -> dict[str, Any]:
    """A panel's arguments from the query string, as its module reads them; a bad one is a
    400 naming the parameter."""
    try:
        return read(request.query_params.multi_items())
    except ScamtraceError as exc:
        raise HTTPException(400, str(exc)) from None


async def _answer(question: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``question`` in a worker thread; a question the module refuses is a 400."""
    try:
        return await run_in_threadpool(question)
    except ScamtraceError as exc:
        raise HTTPException(400, str(exc)) from None


routes = [
    Route("/cases", cases_page),
    Route("/cases/{case}", case_page),
    # a network id may hold "/": the graph's routes are matched first
    Route("/cases/{case}/networks/{network:path}/graph.json", graph_json),
    Route("/cases/{case}/networks/{network:path}/graph", graph_page),
    Route("/cases/{case}/networks/{network:path}", network_page),
    Route("/cases/{case}/map", map_page),
    Route("/cases/{case}/map.json", map_json),
    Route("/cases/{case}/timeline", timeline_page),
    Route("/cases/{case}/timeline.json", timeline_json),
]
