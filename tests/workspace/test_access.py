"""Logging in and out, sessions that expire, CSRF, roles and per-case access."""

from __future__ import annotations

import datetime as dt

from starlette.testclient import TestClient

from scamtrace.workspace.server import CSP, WorkspaceApp
from scamtrace.workspace.store import ALL_CASES, token_hash
from tests.workspace.conftest import PASSWORD, Login, csrf_of, log_in


def entity_of(app: WorkspaceApp, case: str, kind: str) -> tuple[str, str]:
    with app.workspace.cases[case].cursor() as cur:
        row = cur.execute("SELECT kind, value FROM entities WHERE kind = ? ORDER BY value LIMIT 1",
                          [kind]).fetchall()[0]  # fmt: skip
    return str(row[0]), str(row[1])


def test_a_visitor_is_sent_to_the_login_page(app: WorkspaceApp) -> None:
    with TestClient(app) as client:
        response = client.get("/cases/small", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")
        assert client.get("/cases/small/verdicts.csv", follow_redirects=False).status_code == 303


def test_login_and_logout(app: WorkspaceApp) -> None:
    with TestClient(app) as client:
        log_in(client, "ivy")
        page = client.get("/cases")
        assert page.status_code == 200 and "small" in page.text and "ivy" in page.text
        assert client.post("/logout", data={"csrf": csrf_of(page.text)},
                           follow_redirects=False).status_code == 303  # fmt: skip
        assert client.get("/cases", follow_redirects=False).status_code == 303
    rows, _ = app.workspace.store.audit_rows(None, 100, 0)
    assert {"login", "logout"} <= {r["action"] for r in rows if r["user_name"] == "ivy"}


def test_a_wrong_password_opens_no_session(app: WorkspaceApp) -> None:
    with TestClient(app) as client:
        page = client.get("/login")
        for name, password in (("ivy", "wrong password!"), ("nobody", PASSWORD), ("ivy", "")):
            response = client.post("/login", data={"name": name, "password": password,
                                                   "csrf": csrf_of(page.text)},
                                   follow_redirects=False)  # fmt: skip
            assert response.status_code == 401
            assert "Wrong name or password" in response.text
            assert "scamtrace_session" not in response.cookies
        assert client.get("/cases", follow_redirects=False).status_code == 303
    rows, _ = app.workspace.store.audit_rows(None, 100, 0)
    assert any(r["action"] == "login_failed" and r["user_name"] == "nobody" for r in rows)


def test_the_login_form_needs_its_csrf_token(app: WorkspaceApp) -> None:
    with TestClient(app) as client:
        client.get("/login")
        response = client.post("/login", data={"name": "ivy", "password": PASSWORD},
                               follow_redirects=False)  # fmt: skip
        assert response.status_code == 403


def test_passwords_are_stored_as_argon2id(app: WorkspaceApp) -> None:
    stored = app.workspace.store.password_hash("ivy")
    assert stored is not None and stored.startswith("$argon2id$") and PASSWORD not in stored


def test_sessions_expire_when_idle_and_after_the_absolute_limit(app: WorkspaceApp,
                                                                login: Login) -> None:  # fmt: skip
    auth = app.workspace.auth
    client = login("ivy")
    token = client.cookies["scamtrace_session"]
    stored = app.workspace.store.session(token)
    assert stored is not None and stored["token_hash"] == token_hash(token) != token
    start = dt.datetime.now(dt.UTC)
    try:
        auth.clock = lambda: start + auth.idle - dt.timedelta(seconds=5)
        assert client.get("/cases").status_code == 200  # still within the idle time
        auth.clock = lambda: start + 2 * auth.idle + dt.timedelta(seconds=1)
        assert client.get("/cases", follow_redirects=False).status_code == 303
        assert app.workspace.store.session(token) is None
        # a session kept busy still ends at the absolute limit
        auth.clock = lambda: start
        client = login("ivy")
        auth.clock = lambda: start + auth.absolute + dt.timedelta(seconds=1)
        app.workspace.store.touch_session(client.cookies["scamtrace_session"], auth.clock())
        assert client.get("/cases", follow_redirects=False).status_code == 303
    finally:
        auth.clock = lambda: dt.datetime.now(dt.UTC)


def test_a_post_without_the_session_csrf_token_is_refused(app: WorkspaceApp,
                                                          login: Login) -> None:  # fmt: skip
    client = login("ivy")
    kind, value = entity_of(app, "small", "caller_number")
    before = len(app.workspace.store.verdicts("small"))
    for extra in ({}, {"csrf": "forged"}, {"csrf": ""}):
        response = client.post("/cases/small/decide", data={"kind": kind, "value": value,
                                                            "verdict": "confirmed", **extra},
                               follow_redirects=False)  # fmt: skip
        assert response.status_code == 403
    other = login("rita")  # another session's token is not this one's
    response = client.post("/cases/small/decide", data={
        "kind": kind, "value": value, "verdict": "confirmed",
        "csrf": csrf_of(other.get("/cases").text)}, follow_redirects=False)  # fmt: skip
    assert response.status_code == 403
    assert len(app.workspace.store.verdicts("small")) == before


def test_roles(app: WorkspaceApp, login: Login) -> None:
    kind, value = entity_of(app, "small", "sip_account")
    viewer = login("vic")
    csrf = csrf_of(viewer.get("/cases/small").text)
    for path in ("/cases/small/decide", "/cases/small/note", "/cases/small/assign"):
        response = viewer.post(path, data={"kind": kind, "value": value, "verdict": "rejected",
                                           "text": "x", "assignee": "vic", "csrf": csrf},
                               follow_redirects=False)  # fmt: skip
        assert response.status_code == 403, path
    assert app.workspace.store.verdicts("small", kind, value) == []
    assert viewer.get("/cases/small/handover").status_code == 403
    assert viewer.get("/cases/small/handover/stix").status_code == 403
    assert viewer.get("/cases/small/audit").status_code == 403
    assert viewer.post("/cases/small/export-token", data={"csrf": csrf}).status_code == 403
    page = viewer.get("/cases/small/triage?list=flagged")
    assert page.status_code == 200 and 'name="verdict"' not in page.text
    # a reviewer decides and reads the audit log; an investigator hands over, not audits
    reviewer = login("rita")
    assert reviewer.get("/cases/small/audit").status_code == 200
    assert reviewer.get("/cases/small/handover").status_code == 403
    investigator = login("ivy")
    assert investigator.get("/cases/small/audit").status_code == 403
    assert investigator.get("/cases/small/handover").status_code == 200


def test_a_case_without_access_is_not_found_and_leaks_nothing(app: WorkspaceApp,
                                                              login: Login) -> None:  # fmt: skip
    kind, value = entity_of(app, "small", "mule_account")
    outsider = login("otto")
    listing = outsider.get("/cases")
    assert "hostile" in listing.text and "/cases/small" not in listing.text
    unknown = outsider.get("/cases/no-such-case")
    assert unknown.status_code == 404
    csrf = csrf_of(listing.text)
    entity_path = f"/cases/small/entities/{kind}/{value}"
    for path in ("/cases/small", "/cases/small/networks/N1", entity_path,
                 f"/cases/small/search?q={value}", "/cases/small/triage",
                 "/cases/small/verdicts.csv", "/cases/small/handover/stix", "/cases/small/map"):
        response = outsider.get(path)
        assert response.status_code == 404, path
        assert value not in response.text and "N1" not in response.text
        if not path.endswith((".csv", ".json")):
            assert response.text == unknown.text  # no telling an existing case from none
    response = outsider.post("/cases/small/decide", data={"kind": kind, "value": value,
                                                         "verdict": "confirmed", "csrf": csrf})
    assert response.status_code == 404
    assert app.workspace.store.verdicts("small", kind, value) == []


def test_every_response_carries_the_security_headers(app: WorkspaceApp, login: Login) -> None:
    client = login("ivy")
    kind, value = entity_of(app, "small", "caller_number")
    responses = [client.get(p) for p in (
        "/cases", "/cases/small", "/cases/small/networks/N1", "/cases/small/triage",
        f"/cases/small/entities/{kind}/{value}", "/cases/small/search?q=1", "/cases/nope",
        "/static/workspace.css", "/static/workspace.js", "/static/report.css", "/static/nope.js",
        "/cases/small/verdicts.csv", "/cases/small/map.json", "/nowhere")]  # fmt: skip
    with TestClient(app) as anonymous:
        responses += [anonymous.get("/login"), anonymous.get("/cases", follow_redirects=False),
                      anonymous.post("/login", data={}, follow_redirects=False)]  # fmt: skip
    for response in responses:
        assert response.headers["content-security-policy"] == CSP, response.url
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
    assert "no-store" in client.get("/cases/small").headers["cache-control"]


def test_no_page_holds_inline_script_or_style(app: WorkspaceApp, login: Login) -> None:
    client = login("ivy")
    for path in ("/cases", "/cases/small", "/cases/small/networks/N1", "/cases/small/triage",
                 "/cases/small/search?q=1", "/cases/small/handover", "/login"):
        html = client.get(path).text
        assert "<script>" not in html and "<style" not in html and " style=" not in html
        assert " on" + "click=" not in html


def test_the_first_start_makes_one_investigator(tmp_path: object, world: tuple) -> None:
    from pathlib import Path

    from scamtrace.workspace.server import AppSettings, CaseSource, create_app

    assert isinstance(tmp_path, Path)
    application = create_app(AppSettings([CaseSource("small", world[1], world[0])], tmp_path))
    first = application.workspace.first_user()
    assert first is not None and application.workspace.first_user() is None
    user = application.workspace.store.user(first[0])
    assert user is not None and user.role == "investigator" and ALL_CASES in user.cases
    with TestClient(application) as client:
        log_in(client, first[0], first[1])
        assert client.get("/cases/small").status_code == 200
    application.workspace.close()
