"""``scamtrace app`` and ``scamtrace app-user`` from the command line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from scamtrace.cli import app
from scamtrace.workspace.store import Store, default_url

runner = CliRunner()


def test_help_has_examples() -> None:
    for args in (["app", "--help"], ["app-user", "add", "--help"],
                 ["app-user", "password", "--help"], ["app-user", "grant", "--help"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0 and "Example" in result.output, args


def test_app_user_add_grant_password(tmp_path: Path) -> None:
    env = {"SCAMTRACE_APP_PASSWORD": "a long enough password"}
    result = runner.invoke(app, ["app-user", "add", "alice", "--role", "reviewer", "--case",
                                 "small-1", "--state", str(tmp_path)], env=env)  # fmt: skip
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["app-user", "grant", "alice", "--case", "seed", "--state",
                                 str(tmp_path)])  # fmt: skip
    assert result.exit_code == 0, result.output
    store = Store(default_url(tmp_path))
    user = store.user("alice")
    assert user is not None and user.role == "reviewer" and user.cases == {"small-1", "seed"}
    before = store.password_hash("alice")
    result = runner.invoke(app, ["app-user", "password", "alice", "--state", str(tmp_path)],
                           env={"SCAMTRACE_APP_PASSWORD": "another long password"})
    assert result.exit_code == 0 and store.password_hash("alice") != before
    short = runner.invoke(app, ["app-user", "add", "bob", "--state", str(tmp_path)],
                          env={"SCAMTRACE_APP_PASSWORD": "short"})
    assert short.exit_code != 0 and store.user("bob") is None
    store.close()


def test_app_pairs_each_case_with_its_findings(tmp_path: Path) -> None:
    from scamtrace.workspace.commands import case_sources
    from scamtrace.workspace.data import WorkspaceError

    a, fa, b = tmp_path / "a", tmp_path / "fa", tmp_path / "b"
    for folder in (a, fa, b):
        folder.mkdir()
    assert [(s.case_id, s.findings_dir) for s in case_sources([a], [fa])] == [("a", fa)]
    for cases, findings in (([a, b], [fa]), ([], []), ([a], [tmp_path / "missing"])):
        try:
            case_sources(cases, findings)
        except WorkspaceError:
            continue
        raise AssertionError(f"{cases} {findings} accepted")
