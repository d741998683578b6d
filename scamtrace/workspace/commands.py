"""``scamtrace app-user``: the workspace's users, managed from the command line (add, password,
grant). The password comes from a hidden prompt, or from ``SCAMTRACE_APP_PASSWORD`` for
scripts; it is never an argument (it would be in the shell's history and ``ps``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from scamtrace.workspace.auth import Auth
    from scamtrace.workspace.server import CaseSource
    from scamtrace.workspace.store import Store

err = Console(stderr=True, markup=False, highlight=False)

PASSWORD_ENV = "SCAMTRACE_APP_PASSWORD"
DEFAULT_STATE = Path("~/.local/share/scamtrace/app")
MIN_PASSWORD = 12

State = Annotated[Path, typer.Option(
    help="workspace state folder (its SQLite database, signing key)")]  # fmt: skip
Db = Annotated[str | None, typer.Option(
    "--db", help="database URL instead of the state folder's SQLite "
                 "(postgresql+psycopg://user@host/db)")]  # fmt: skip

app_user_app = typer.Typer(
    name="app-user",
    help="Manage the users of the investigator workspace (scamtrace app).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


def _store(state: Path, db: str | None) -> tuple[Store, Auth]:
    from scamtrace.workspace.auth import Auth
    from scamtrace.workspace.store import Store, default_url

    folder = state.expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    store = Store(db or default_url(folder))
    return store, Auth(store, idle_s=1, absolute_s=1)


def _password() -> str:
    from scamtrace.workspace.data import WorkspaceError

    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD:
        raise WorkspaceError(f"the password needs at least {MIN_PASSWORD} characters")
    return password


@app_user_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="login name")],
    role: Annotated[str, typer.Option(help="investigator, reviewer or viewer")] = "viewer",
    case: Annotated[list[str] | None, typer.Option(
        "--case", help="case id the user may open (repeatable; * for every case)")] = None,
    state: State = DEFAULT_STATE,
    db: Db = None,
) -> None:
    """Add a user; the password is asked for (or read from SCAMTRACE_APP_PASSWORD).

    Example:

        scamtrace app-user add alice --role investigator --case small-1 --case seed
    """
    store, auth = _store(state, db)
    store.add_user(name, auth.hash_password(_password()), role, case or [])
    store.audit("(command line)", "user_created", target=name,
                detail=f"role {role}, cases {', '.join(case or []) or 'none'}")  # fmt: skip
    err.print(f"user {name} ({role}) added; cases: {', '.join(case or []) or 'none yet'}")


@app_user_app.command("password")
def password(
    name: Annotated[str, typer.Argument(help="login name")],
    state: State = DEFAULT_STATE,
    db: Db = None,
) -> None:
    """Set a user's password (their sessions end).

    Example:

        scamtrace app-user password admin
    """
    store, auth = _store(state, db)
    store.set_password(name, auth.hash_password(_password()))
    store.audit("(command line)", "password_set", target=name)
    err.print(f"password of {name} set")


@app_user_app.command("grant")
def grant(
    name: Annotated[str, typer.Argument(help="login name")],
    case: Annotated[list[str], typer.Option(
        "--case", help="case id the user may open (repeatable; * for every case)")],
    state: State = DEFAULT_STATE,
    db: Db = None,
) -> None:
    """Let a user open more cases.

    Example:

        scamtrace app-user grant bob --case small-1
    """
    from scamtrace.workspace.data import WorkspaceError

    store, _ = _store(state, db)
    if store.user(name) is None:
        raise WorkspaceError(f"no user {name!r}")
    store.grant(name, case)
    store.audit("(command line)", "access_granted", target=name, detail=", ".join(case))
    err.print(f"{name} may open: {', '.join(case)}")


def case_sources(cases: list[Path], findings: list[Path]) -> list[CaseSource]:
    """Pair each CASE with its ``--findings`` (in the order given); the case id is the case
    folder's name."""
    from scamtrace.workspace.data import WorkspaceError
    from scamtrace.workspace.server import CaseSource

    if not findings:
        raise WorkspaceError("give at least one CASE --findings FINDINGS")
    if len(cases) != len(findings):
        raise WorkspaceError(f"{len(cases)} case folder(s) but {len(findings)} --findings: give "
                             "each CASE its --findings")  # fmt: skip
    out: list[CaseSource] = []
    for case_dir, findings_dir in zip(cases, findings, strict=True):
        if not case_dir.is_dir():
            raise WorkspaceError(f"{case_dir}: case folder not found")
        if not findings_dir.is_dir():
            raise WorkspaceError(f"{findings_dir}: findings folder not found")
        out.append(CaseSource(case_dir.resolve().name, findings_dir, case_dir))
    return out
