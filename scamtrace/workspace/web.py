"""What every view does first: who is asking, may they, which case; and how a page is drawn.

:func:`guard` turns a request into a :class:`Ctx` or refuses it: no live session (the login
page), a POST without the session's CSRF token (403), a case the user may not open or that does
not exist (the same 404, so nothing tells them apart), a role without the permission (403).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse

from scamtrace.workspace import queries
from scamtrace.workspace.auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    SessionInfo,
    may,
    same_token,
)
from scamtrace.workspace.data import CaseData
from scamtrace.workspace.graph import entity_href as graph_entity_href
from scamtrace.workspace.server import NotLoggedIn, Workspace
from scamtrace.workspace.store import User

NO_CASE = "No such case, or you have no access to it."


@dataclass
class Ctx:
    """A request that passed its guard."""

    request: Request
    workspace: Workspace
    session: SessionInfo
    case: CaseData | None
    form: FormData | None

    @property
    def user(self) -> User:
        return self.session.user

    @property
    def case_id(self) -> str:
        return self.case.case_id if self.case is not None else ""

    def data(self) -> CaseData:
        assert self.case is not None
        return self.case

    def may(self, permission: str) -> bool:
        return may(self.user, permission)

    def audit(self, action: str, target: str = "", detail: str = "") -> None:
        self.workspace.store.audit(self.user.name, action, self.case_id, target, detail)


def workspace_of(request: Request) -> Workspace:
    ws = request.app.state.workspace
    assert isinstance(ws, Workspace)
    return ws


async def guard(request: Request, permission: str = "view", *, case: bool = True) -> Ctx:
    """The request's :class:`Ctx`, or the refusal as an exception (see the module)."""
    ws = workspace_of(request)
    session = ws.auth.session(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise NotLoggedIn()
    form = None
    if request.method == "POST":
        form = await request.form()
        given = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
        if not same_token(given if isinstance(given, str) else None, session.csrf):
            raise HTTPException(403, "The form has expired or did not come from this "
                                     "workspace (CSRF check failed). Reload the page and retry.")
    data = None
    if case:
        case_id = request.path_params.get("case", "")
        data = ws.cases.get(case_id)
        if data is None or not session.user.may_open(case_id):
            raise HTTPException(404, NO_CASE)
    if not may(session.user, permission):
        raise HTTPException(403, f"Your role ({session.user.role}) may not do this.")
    return Ctx(request, ws, session, data, form)


def form_text(ctx: Ctx, name: str, *, max_len: int = 10_000) -> str:
    assert ctx.form is not None
    value = ctx.form.get(name)
    if not isinstance(value, str):
        return ""
    return value.strip()[:max_len]


def page_args(request: Request, prefix: str = "") -> tuple[int, int]:
    """``offset`` and ``limit`` from the query string (bad values read as the defaults)."""
    def number(name: str, default: int) -> int:
        try:
            return int(request.query_params.get(prefix + name, default))
        except ValueError:
            return default

    return queries.clamp(number("offset", 0), number("limit", queries.PAGE_SIZE))


def entity_url(case_id: str, kind: str, value: str) -> str:
    """``/cases/CASE/entities/KIND/VALUE``, every part URL-encoded (a value may hold ``/``);
    the same address the graph's nodes link to."""
    return graph_entity_href(case_id, kind, value)


def network_url(case_id: str, network_id: str, tail: str = "") -> str:
    """A network's page (``-``: the entities tied to no network), its id URL-encoded."""
    return case_url(case_id, f"/networks/{_seg(network_id or '-')}{tail}")


def case_url(case_id: str, tail: str = "") -> str:
    return f"/cases/{_seg(case_id)}{tail}"


def _seg(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def page_url(request: Request, offset: int, prefix: str = "") -> str:
    """This page's address with another ``offset`` (the other parameters kept)."""
    params = dict(request.query_params)
    params[prefix + "offset"] = str(max(0, offset))
    return request.url.path + "?" + urlencode(params)


def safe_next(value: str, case_id: str) -> str:
    """Where to go after a form: a path of this case only (never another site)."""
    base = case_url(case_id)
    inside = value == base or value.startswith((base + "/", base + "?"))
    if inside and "//" not in value and "\\" not in value:
        return value
    return base


def render(ctx: Ctx | None, template: str, http_status: int = 200, **context: Any) -> HTMLResponse:
    """``template`` with the page's common context: user, case, CSRF token, helpers."""
    base: dict[str, Any] = {
        "user": ctx.user if ctx else None,
        "case_id": ctx.case_id if ctx else "",
        "csrf": ctx.session.csrf if ctx else "",
        "may": ctx.may if ctx else (lambda _p: False),
        "case_url": case_url,
        "entity_url": entity_url,
        "network_url": network_url,
        "page_url": (lambda offset, prefix="": page_url(ctx.request, offset, prefix))
        if ctx else (lambda offset, prefix="": ""),
    }
    base.update(context)
    env = ctx.workspace.env if ctx else None
    assert env is not None
    return HTMLResponse(env.get_template(template).render(**base), status_code=http_status)


def entity_href(case_id: str) -> Callable[[str, str], str]:
    """The entity page's address, for the report's entity tables drawn in the workspace."""
    return lambda kind, value: entity_url(case_id, kind, value)


def query_text(params: Mapping[str, str], name: str, max_len: int = 500) -> str:
    return params.get(name, "").strip()[:max_len]
