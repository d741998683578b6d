"""Logging in and out. The login form, before any session exists, is protected by a
double-submit token: a random cookie the form must echo."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from scamtrace.workspace.auth import CSRF_FIELD, LOGIN_COOKIE, SESSION_COOKIE, new_token, same_token
from scamtrace.workspace.web import guard, workspace_of

MAX_FIELD = 500


def _next(value: str | None) -> str:
    """A local address to go to after logging in (never another site)."""
    if value and value.startswith("/cases") and "//" not in value and "\\" not in value:
        return value
    return "/cases"


def _login_page(request: Request, *, message: str = "", status: int = 200) -> Response:
    ws = workspace_of(request)
    token = request.cookies.get(LOGIN_COOKIE) or new_token()
    body = ws.env.get_template("login.html").render(
        user=None, case_id="", csrf=token, message=message,
        next=_next(request.query_params.get("next")))  # fmt: skip
    response = HTMLResponse(body, status_code=status)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/login",
                        secure=ws.settings.secure_cookies)  # fmt: skip
    return response


async def login_form(request: Request) -> Response:
    return _login_page(request)


async def login(request: Request) -> Response:
    ws = workspace_of(request)
    form = await request.form()
    given = form.get(CSRF_FIELD)
    if not same_token(given if isinstance(given, str) else None, request.cookies.get(LOGIN_COOKIE)):
        raise HTTPException(403, "The login form has expired (CSRF check failed). Reload it.")
    name = str(form.get("name") or "")[:MAX_FIELD].strip()
    password = str(form.get("password") or "")[:MAX_FIELD]
    session = await run_in_threadpool(ws.auth.login, name, password)
    if session is None:
        ws.store.audit(name or "(empty)", "login_failed")
        return _login_page(request, message="Wrong name or password.", status=401)
    ws.store.audit(name, "login")
    response = RedirectResponse(_next(str(form.get("next") or "")), status_code=303)
    response.set_cookie(SESSION_COOKIE, session.token, httponly=True, samesite="strict",
                        secure=ws.settings.secure_cookies, path="/")  # fmt: skip
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


async def logout(request: Request) -> Response:
    ctx = await guard(request, case=False)
    ctx.workspace.auth.logout(ctx.session.token)
    ctx.workspace.store.audit(ctx.user.name, "logout")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def home(request: Request) -> Response:
    return RedirectResponse("/cases", status_code=303)


routes = [
    Route("/", home),
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
