"""Any body to any endpoint is answered below 500, a 4xx with a JSON error (hypothesis, in
process). The same over the wire with random bytes: tests/serve/test_process.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scamtrace.serve.app import ARROW_STREAM, ScoringApp
from tests.serve.asgi import call
from tests.serve.fake_engine import FakeEngine
from tests.serve.test_app import call_request, carrier_call, complaint, transfer_request

POSTS = [
    "/v1/calls/score",
    "/v1/calls/score/batch",
    "/v1/transfers/score",
    "/v1/transfers/score/batch",
    "/v1/events",
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)

TEMPLATES: dict[str, dict[str, Any]] = {
    "/v1/calls/score": call_request(),
    "/v1/transfers/score": transfer_request(),
    "/v1/events": complaint(),
}


@st.composite
def almost_valid(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid body with one field replaced, dropped or added: the inputs that reach deepest."""
    path = draw(st.sampled_from(POSTS))
    base = path.removesuffix("/batch")
    if path == "/v1/events":
        template = dict(draw(st.sampled_from([complaint(), carrier_call("k")])))
    else:
        template = dict(TEMPLATES[base])
    key = draw(st.sampled_from([*template, "extra"]))
    if draw(st.booleans()):
        template.pop(key, None)
    else:
        template[key] = draw(json_values)
    if path.endswith("/batch"):
        return path, json.dumps({"items": [template]}).encode()
    if path == "/v1/events":
        return path, json.dumps(template).encode() + b"\n"
    return path, json.dumps(template).encode()


def _check(app: ScoringApp, path: str, body: bytes, **options: Any) -> None:
    answer = call(app, "POST", path, body, **options)
    assert answer.status < 500, (path, body, answer.body)
    if answer.status >= 400:
        assert "error" in answer.json()


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> ScoringApp:
    return ScoringApp(FakeEngine(), Path(tmp_path_factory.mktemp("fuzz")) / "state")


@FUZZ
@given(path=st.sampled_from(POSTS), value=json_values)
def test_any_json_value(app: ScoringApp, path: str, value: object) -> None:
    _check(app, path, json.dumps(value).encode())


@FUZZ
@given(path=st.sampled_from(POSTS), raw=st.binary(max_size=300))
def test_any_bytes(app: ScoringApp, path: str, raw: bytes) -> None:
    _check(app, path, raw)
    if path == "/v1/events":
        _check(app, path, raw, headers={"content-type": ARROW_STREAM}, query="table=reports")


@FUZZ
@given(case=almost_valid())
def test_a_valid_body_with_one_field_wrong(app: ScoringApp, case: tuple[str, bytes]) -> None:
    _check(app, *case)


@FUZZ
@given(
    kind=st.text(max_size=20),
    value=st.text(max_size=300),
    method=st.sampled_from(["GET", "POST", "PUT"]),
)
def test_any_entity_path(app: ScoringApp, kind: str, value: str, method: str) -> None:
    answer = call(app, method, f"/v1/entities/{kind}/{value}")
    assert answer.status < 500
