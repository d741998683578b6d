"""The workspace's web application: settings, the Starlette app factory, security headers.

:func:`create_app` builds the whole application from :class:`AppSettings`: the store (SQLite or
PostgreSQL), the cases (findings folders, opened lazily by :class:`CaseData`), the Jinja2
environment (the report's, with the workspace's templates chained before the report's, so both
print values the same way and share macros) and the routes of :mod:`scamtrace.workspace.views`.
Every response carries the Content-Security-Policy and the other security headers, 404s and
static files included.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scamtrace.report.templating import build_environment, report_loader
from scamtrace.workspace.auth import Auth, new_token
from scamtrace.workspace.data import CaseData, WorkspaceError
from scamtrace.workspace.store import ALL_CASES, Store, default_url

PACKAGE = "scamtrace.workspace"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # no page's address (an export token, a searched number) leaves in a Referer
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


@dataclass(frozen=True)
class CaseSource:
    """A case the workspace serves: its id (in URLs), findings folder and case folder."""

    case_id: str
    findings_dir: Path
    case_dir: Path | None = None


@dataclass
class AppSettings:
    cases: list[CaseSource]
    state_dir: Path
    db_url: str | None = None
    """SQLAlchemy URL; default ``sqlite:///<state_dir>/workspace.db``."""
    idle_s: int = 30 * 60
    absolute_s: int = 12 * 3600
    secure_cookies: bool = False
    """Mark cookies Secure (set when served over HTTPS, e.g. behind a TLS proxy)."""
    signing_key: Path | None = None
    """Ed25519 key (PEM) that signs case packages; default ``<state_dir>/signing-key.pem``,
    made on first use."""
    agency: str = "scamtrace user"
    extra: dict[str, Any] = field(default_factory=dict)


class Workspace:
    """What every request needs: settings, store, auth, cases and templates."""

    def __init__(self, settings: AppSettings) -> None:
        self.settings = settings
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(settings.db_url or default_url(settings.state_dir))
        self.auth = Auth(self.store, idle_s=settings.idle_s, absolute_s=settings.absolute_s)
        self.cases: dict[str, CaseData] = {}
        for source in settings.cases:
            if source.case_id in self.cases:
                raise WorkspaceError(f"case {source.case_id!r} is given twice")
            if source.case_id == ALL_CASES or not source.case_id.strip():
                raise WorkspaceError(f"{source.case_id!r} cannot name a case")
            # the findings as Parquet in the state folder: a big case opens in the time it
            # takes to read their footers, not to parse 600 MB of CSV again
            cache = settings.state_dir / "cache" / hashlib.sha256(
                source.case_id.encode("utf-8")).hexdigest()[:16]
            self.cases[source.case_id] = CaseData(source.case_id, source.findings_dir,
                                                  source.case_dir, cache_dir=cache)  # fmt: skip
        self.env = environment()

    def close(self) -> None:
        for data in self.cases.values():
            data.close()
        self.store.close()

    def first_user(self) -> tuple[str, str] | None:
        """With no user yet, an investigator ``admin`` with access to every case and a random
        password (returned, to be printed once); None when there are users."""
        if self.store.user_count():
            return None
        password = secrets.token_urlsafe(12)
        self.store.add_user("admin", self.auth.hash_password(password), "investigator",
                            [ALL_CASES])  # fmt: skip
        self.store.audit("admin", "user_created",
                         detail="first start: role investigator, all cases")  # fmt: skip
        return "admin", password


def environment() -> jinja2.Environment:
    """The workspace's templates, then the report's, escaped and filtered as the report's."""
    env = build_environment(jinja2.ChoiceLoader([
        jinja2.PackageLoader(PACKAGE, "templates"), report_loader()]))  # fmt: skip
    return env


class SecurityHeaders:
    """Adds the security headers to every HTTP response, and ``Cache-Control: no-store`` to all
    but static files (pages hold case data)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in {h for h, _ in SECURITY_HEADERS}]  # fmt: skip
                headers.extend(SECURITY_HEADERS)
                if not static:
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class NotLoggedIn(Exception):
    """Raised by a guard when the request has no live session: the answer is the login page."""


async def _no_icon(request: Request) -> Response:
    """Browsers ask for an icon on every page; there is none, and that is no error."""
    return Response(status_code=204)


def create_app(settings: AppSettings) -> WorkspaceApp:
    """The workspace application for ``settings`` (the store's tables are created now)."""
    from scamtrace.workspace.views import routes as view_routes

    workspace = Workspace(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        workspace.close()

    async def not_logged_in(request: Request, exc: Exception) -> Response:
        if request.method == "GET" and request.url.path.startswith("/cases"):
            return RedirectResponse(f"/login?next={_quote(request.url.path)}", status_code=303)
        return RedirectResponse("/login", status_code=303)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if request.url.path.endswith((".json", ".csv")):
            return PlainTextResponse(exc.detail, status_code=exc.status_code)
        template = workspace.env.get_template("error.html")
        return HTMLResponse(template.render(status=exc.status_code, message=exc.detail,
                                            user=None, case_id="", csrf=""),
                            status_code=exc.status_code)  # fmt: skip

    exception_handlers: dict[Any, Callable[..., Any]] = {
        NotLoggedIn: not_logged_in, HTTPException: http_error}  # fmt: skip
    static = StaticFiles(packages=[(PACKAGE, "static")])
    app = Starlette(
        routes=[*view_routes(), Route("/static/report.css", _report_css),
                Route("/favicon.ico", _no_icon),
                Mount("/static", app=static, name="static")],
        exception_handlers=exception_handlers,
        lifespan=lifespan,
    )
    app.state.workspace = workspace
    return WorkspaceApp(app, workspace)


async def _report_css(request: Request) -> Response:
    from scamtrace.report.templating import static_text

    return Response(static_text("report.css"), media_type="text/css")


class WorkspaceApp:
    """The application behind :class:`SecurityHeaders`; ``state`` and ``workspace`` stay
    reachable (tests and the CLI use them)."""

    def __init__(self, app: Starlette, workspace: Workspace) -> None:
        self.app = app
        self.workspace = workspace
        self.state = app.state
        self._asgi = SecurityHeaders(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._asgi(scope, receive, send)


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


def run(settings: AppSettings, *, host: str, port: int, announce: Callable[[str], None]) -> None:
    """Serve the workspace with uvicorn until interrupted; ``announce`` prints the first
    user's one-time password and the address."""
    import uvicorn

    app = create_app(settings)
    first = app.workspace.first_user()
    if first is not None:
        announce(f"first start: user {first[0]!r} (investigator, every case), one-time "
                 f"password {first[1]} ; change it with: scamtrace app-user password {first[0]}")
    announce(f"workspace on http://{host}:{port}/ ({len(settings.cases)} case(s), "
             f"state in {settings.state_dir})")  # fmt: skip
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False,
                server_header=False)  # fmt: skip


__all__ = ["CSP", "AppSettings", "CaseSource", "NotLoggedIn", "Workspace", "create_app",
           "new_token", "run"]  # fmt: skip
