"""The graph, map and timeline panels: templates escape, scripts come from the package, and
the three panels draw in a browser under the workspace's CSP (no inline script or style)."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import jinja2
import pytest

from scamtrace.workspace.geo import map_data
from scamtrace.workspace.graph import graph_query, network_graph
from scamtrace.workspace.timeline import timeline, timeline_query
from tests.workspace.conftest import World
from tests.workspace.test_graph import networks

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'")
PANELS = ("graph_panel.html", "map_panel.html", "timeline_panel.html")
HOSTILE = '"><script>alert(1)</script>'
STATIC = Path(str(resources.files("scamtrace.workspace").joinpath("static")))


def environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("scamtrace.workspace", "templates"),
                              autoescape=True)


def render(name: str, case_id: str = "case-1", url: str = "/x.json") -> str:
    return environment().get_template(name).render(
        static_url="/static", case_id=case_id, graph_json_url=url, map_json_url=url,
        timeline_json_url=url)


@pytest.mark.parametrize("name", PANELS)
def test_panels_escape_and_hold_no_inline_script_or_style(name: str) -> None:
    html = render(name, case_id=HOSTILE, url=f"/cases/{HOSTILE}/graph.json?a=1&b=2")
    assert "<script>alert" not in html
    assert "&#34;&gt;&lt;script&gt;" in html
    for script in re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.S):
        assert script.strip() == ""
    assert all("src=" in tag for tag in re.findall(r"<script\b[^>]*>", html))
    assert not re.search(r"\sstyle=|<style\b|\son[a-z]+=", html)
    for path in re.findall(r'(?:src|href)="/static/([^"]+)"', html):
        assert (STATIC / path).is_file(), path


def test_scripts_never_evaluate_or_write_markup() -> None:
    for script in ("graph.js", "map.js", "timeline.js"):
        text = (STATIC / script).read_text(encoding="utf-8")
        assert not re.search(r"\beval\(|new Function|innerHTML|outerHTML|insertAdjacentHTML|"
                             r"document\.write", text), script
    vendored = (STATIC / "vendor" / "README.md").read_text(encoding="utf-8")
    for name in ("cytoscape.min.js", "countries-110m.geojson"):
        assert name in vendored
        assert (STATIC / "vendor" / name).stat().st_size < 1_000_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def served(viz_world: World) -> Iterator[str]:
    """A minimal app serving the package's static files, the panels and their JSON."""
    uvicorn = pytest.importorskip("uvicorn")
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    nid = networks(viz_world)[0]
    env = environment()

    def page(request: Request) -> Response:
        body = "".join(env.get_template(name).render(
            static_url="/static", case_id="c1", graph_json_url=f"/graph.json?n={nid}",
            map_json_url="/map.json", timeline_json_url=f"/timeline.json?n={nid}",
            timeline_limit=50) for name in PANELS)
        return HTMLResponse(f"<!doctype html><html><head><title>t</title></head>"
                            f"<body>{body}</body></html>")

    def graph_json(request: Request) -> Response:
        args = graph_query(request.query_params.multi_items())
        return JSONResponse(network_graph(viz_world.data, request.query_params["n"], **args))

    def map_json(request: Request) -> Response:
        return JSONResponse(map_data(viz_world.data))

    def timeline_json(request: Request) -> Response:
        args = timeline_query(request.query_params.multi_items())
        return JSONResponse(timeline(viz_world.data, network_id=request.query_params["n"], **args))

    async def csp(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        return response

    from starlette.middleware import Middleware
    from starlette.middleware.base import BaseHTTPMiddleware

    app = Starlette(routes=[
        Route("/page", page), Route("/graph.json", graph_json), Route("/map.json", map_json),
        Route("/timeline.json", timeline_json),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Mount("/static", app=StaticFiles(directory=str(STATIC))),
    ], middleware=[Middleware(BaseHTTPMiddleware, dispatch=csp)])
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_the_panels_draw_in_a_browser_under_the_csp(served: str, viz_world: World) -> None:
    if viz_world.data.case_id != "small-1":
        pytest.skip("one world is enough for the browser")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).is_file():
        pytest.skip("no chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"{served}/page")
            for panel in (".viz-graph", ".viz-map", ".viz-timeline"):
                page.wait_for_selector(f"{panel}[data-state='drawn']", timeout=20_000)
            assert page.locator(".viz-graph-canvas canvas").count() > 0
            assert page.locator(".viz-map-svg path.viz-country").count() > 100
            assert page.locator(".viz-timeline-table tbody tr").count() == 50
            first = page.locator(".viz-timeline-table tbody tr").first.inner_text()
            page.click("button[name='next']")
            page.wait_for_function(
                "t => document.querySelector('.viz-timeline-table tbody tr').innerText !== t",
                arg=first, timeout=20_000)
            assert "51" in page.locator(".viz-timeline .viz-status").inner_text()
            assert "nodes" in page.locator(".viz-graph .viz-status").inner_text()
            # a click on a line opens its neighbours: a new request, more nodes drawn
            count = "document.querySelector('.viz-graph').cytoscape.nodes().length"
            before = page.evaluate(count)
            page.evaluate("document.querySelector('.viz-graph').cytoscape"
                          ".nodes('[kind = \"sip_account\"]').first().emit('tap')")
            page.wait_for_function(f"n => {count} > n", arg=before, timeout=20_000)
            page.wait_for_selector(".viz-graph[data-state='drawn']", timeout=20_000)
            assert problems == [], "\n".join(problems)
        finally:
            browser.close()
