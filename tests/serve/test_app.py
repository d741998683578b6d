"""The service in process (ASGI app, fake engine): scoring, events, access, audit, limits."""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path

import msgspec
import pyarrow as pa
import pytest

from scamtrace.core.errors import ScamtraceError
from scamtrace.serve.access import Access, token_hash
from scamtrace.serve.app import ARROW_STREAM, Limits, ScoringApp, ServeConfig, serve
from tests.serve.asgi import call
from tests.serve.fake_engine import CALLS_TO_WARN, FakeEngine

CALLER = "+34911234567"
CALLED = "+8613812345678"
PAYER = "CN4410000000000012345678"
MULE = "ES9121000418450200051332"


def call_request(call_id: str = "c1", caller: str = CALLER) -> dict[str, object]:
    return {
        "call_id": call_id,
        "time": "2026-03-01T10:00:00Z",
        "caller_number": caller,
        "called_number": CALLED,
        "ingress_country": "ES",
        "attestation": "C",
    }


def transfer_request(tx_id: str = "t1", payee: str = MULE) -> dict[str, object]:
    return {
        "tx_id": tx_id,
        "time": "2026-03-01T10:40:00Z",
        "payer_account": PAYER,
        "payee_account": payee,
        "amount": 9500.0,
        "currency": "EUR",
        "payer_phone": CALLED,
    }


def complaint(report_id: str = "r1") -> dict[str, object]:
    return {
        "table": "reports",
        "report_id": report_id,
        "filed_at": "2026-03-01T09:00:00Z",
        "victim_phone": CALLED,
        "reported_numbers": [CALLER],
        "reported_accounts": [MULE],
    }


def carrier_call(call_id: str, caller: str = CALLER) -> dict[str, object]:
    return {
        "table": "carrier_cdr",
        "call_id": call_id,
        "start_time": "2026-03-01T08:00:00Z",
        "caller_number": caller,
        "called_number": CALLED,
        "duration_s": 40,
        "answered": True,
    }


def lines(*events: dict[str, object]) -> bytes:
    return b"\n".join(json.dumps(e).encode() for e in events) + b"\n"


def body(value: object) -> bytes:
    return json.dumps(value).encode()


@pytest.fixture
def app(tmp_path: Path) -> ScoringApp:
    return ScoringApp(FakeEngine(), tmp_path / "state")


TOKENS = {"carrier": "tok-carrier-0123456789", "bank": "tok-bank-0123456789",
          "police": "tok-police-0123456789"}  # fmt: skip


@pytest.fixture
def guarded(tmp_path: Path) -> ScoringApp:
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(
        "institutions:\n"
        f"  - {{name: carrier-a, token_sha256: {token_hash(TOKENS['carrier'])}, "
        "scopes: [calls:score]}\n"
        f"  - {{name: bank-b, token_sha256: {token_hash(TOKENS['bank'])}, "
        "scopes: [transfers:score, events:write]}\n"
        f"  - {{name: police, token_sha256: {token_hash(TOKENS['police'])}, "
        "scopes: [entities:read]}\n"
    )
    return ScoringApp(FakeEngine(), tmp_path / "state", Access.from_file(tokens))


# -- scoring and the state ------------------------------------------------------------------


def test_a_complaint_turns_an_allowed_caller_into_a_blocked_one(app: ScoringApp) -> None:
    before = call(app, "POST", "/v1/calls/score", body(call_request()))
    assert before.status == 200
    assert before.json()["action"] == "allow"

    posted = call(app, "POST", "/v1/events", lines(complaint()))
    assert posted.status == 200
    assert posted.json() == {"received": 1, "applied": 1, "duplicates": 0, "ignored_columns": []}

    after = call(app, "POST", "/v1/calls/score", body(call_request("c2")))
    assert after.json()["action"] == "block"
    assert after.json()["call_id"] == "c2"
    assert after.json()["reasons"]

    held = call(app, "POST", "/v1/transfers/score", body(transfer_request()))
    assert held.status == 200
    assert held.json()["action"] == "hold"
    other = call(app, "POST", "/v1/transfers/score", body(transfer_request("t2", payee="ES00")))
    assert other.json()["action"] == "allow"


def test_batches_answer_each_item_in_order(app: ScoringApp) -> None:
    call(app, "POST", "/v1/events", lines(complaint()))
    items = [call_request("a", caller="+4930123456"), call_request("b"), call_request("c")]
    answer = call(app, "POST", "/v1/calls/score/batch", body({"items": items}))
    assert answer.status == 200
    assert [(d["call_id"], d["action"]) for d in answer.json()["items"]] == [
        ("a", "allow"), ("b", "block"), ("c", "block")
    ]  # fmt: skip
    transfers = [transfer_request("x", payee="ES00"), transfer_request("y")]
    answer = call(app, "POST", "/v1/transfers/score/batch", body({"items": transfers}))
    assert [d["action"] for d in answer.json()["items"]] == ["allow", "hold"]


def test_a_line_that_dials_is_warned_on_while_it_dials(app: ScoringApp) -> None:
    events = [carrier_call(f"k{i}") for i in range(CALLS_TO_WARN)]
    call(app, "POST", "/v1/events", lines(*events[:-1]))
    assert call(app, "POST", "/v1/calls/score", body(call_request())).json()["action"] == "allow"
    call(app, "POST", "/v1/events", lines(events[-1]))
    assert call(app, "POST", "/v1/calls/score", body(call_request())).json()["action"] == "warn"


def test_an_event_sent_twice_is_applied_once(app: ScoringApp) -> None:
    first = call(app, "POST", "/v1/events", lines(carrier_call("k1"), carrier_call("k2")))
    assert first.json()["applied"] == 2
    again = call(app, "POST", "/v1/events", lines(carrier_call("k2"), carrier_call("k3")))
    assert again.json() == {"received": 2, "applied": 1, "duplicates": 1, "ignored_columns": []}
    same_body = call(app, "POST", "/v1/events", lines(carrier_call("k4"), carrier_call("k4")))
    assert same_body.json()["applied"] == 1
    view = call(app, "GET", f"/v1/entities/number/{CALLER}").json()
    assert view["recent"]["calls"] == 4.0


def test_a_bad_line_refuses_the_whole_body_and_names_line_and_field(app: ScoringApp) -> None:
    bad = dict(carrier_call("k2"))
    bad["duration_s"] = "long"
    answer = call(app, "POST", "/v1/events", lines(carrier_call("k1"), bad))
    assert answer.status == 422
    assert answer.json()["field"] == "$.duration_s"
    assert answer.json()["error"].startswith("line 2: ")
    assert call(app, "GET", f"/v1/entities/number/{CALLER}").status == 404  # k1 not applied
    unknown_table = call(app, "POST", "/v1/events", lines({"table": "cdr", "call_id": "x"}))
    assert unknown_table.status == 422
    assert unknown_table.json()["field"] == "$.table"


def _arrow(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def test_arrow_streams_with_a_table_column_or_a_query_parameter(app: ScoringApp) -> None:
    with_column = pa.table(
        {
            "table": ["carrier_cdr", "carrier_cdr"],
            "call_id": ["a1", "a2"],
            "start_time": pa.array([1772352000, 1772352060], pa.timestamp("s", tz="UTC")),
            "caller_number": [CALLER, CALLER],
            "called_number": [CALLED, CALLED],
            "cost_cents": [3, 4],  # a case column the event does not have
        }
    )
    answer = call(app, "POST", "/v1/events", _arrow(with_column),
                  headers={"content-type": ARROW_STREAM})  # fmt: skip
    assert answer.status == 200, answer.body
    assert answer.json()["applied"] == 2
    assert answer.json()["ignored_columns"] == ["cost_cents"]

    reports = pa.table(
        {
            "report_id": ["r9"],
            "filed_at": pa.array([1772352000], pa.timestamp("s")),
            "reported_numbers": [[CALLER]],
            "reported_accounts": [[]],
        }
    )
    answer = call(app, "POST", "/v1/events", _arrow(reports), query="table=reports",
                  headers={"content-type": ARROW_STREAM})  # fmt: skip
    assert answer.status == 200, answer.body
    assert call(app, "POST", "/v1/calls/score", body(call_request())).json()["action"] == "block"

    no_table = call(app, "POST", "/v1/events", _arrow(reports),
                    headers={"content-type": ARROW_STREAM})  # fmt: skip
    assert no_table.status == 422
    garbage = call(app, "POST", "/v1/events", b"\xff\x00garbage",
                   headers={"content-type": ARROW_STREAM})  # fmt: skip
    assert garbage.status == 400
    odd_table = pa.table({"table": [["reports"]], "report_id": ["r10"]})
    answer = call(app, "POST", "/v1/events", _arrow(odd_table),
                  headers={"content-type": ARROW_STREAM})  # fmt: skip
    assert answer.status == 422


def test_entities_healthz_metrics(app: ScoringApp) -> None:
    assert call(app, "GET", "/v1/entities/number/+000").status == 404
    call(app, "POST", "/v1/events", lines(complaint()))
    view = call(app, "GET", f"/v1/entities/number/{CALLER}")
    assert view.status == 200
    assert view.json()["flagged"] is True
    assert call(app, "GET", "/healthz").json()["events_stored"] == 1
    call(app, "POST", "/v1/calls/score", body(call_request()))
    call(app, "POST", "/v1/calls/score", b"{")
    text = call(app, "GET", "/metrics").body.decode()
    assert 'scamtrace_requests_total{endpoint="/v1/calls/score",status="200"} 1' in text
    assert 'scamtrace_requests_total{endpoint="/v1/calls/score",status="400"} 1' in text
    assert 'scamtrace_decisions_total{kind="call",action="block"} 1' in text
    assert 'scamtrace_request_seconds_count{endpoint="/v1/calls/score"} 2' in text
    assert "scamtrace_events_applied_total 1" in text
    assert "scamtrace_engine_events_applied 1.0" in text
    assert call(app, "GET", "/nothing").status == 404
    assert call(app, "GET", "/v1/calls/score").status == 405


def test_openapi_document_names_every_endpoint_and_resolves_its_references(
    app: ScoringApp,
) -> None:
    document = call(app, "GET", "/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/v1/calls/score", "/v1/calls/score/batch", "/v1/transfers/score",
        "/v1/transfers/score/batch", "/v1/events", "/v1/entities/{kind}/{value}", "/healthz",
        "/metrics",
    }  # fmt: skip
    schemas = document["components"]["schemas"]
    refs = {m for m in __import__("re").findall(r'"\$ref": ?"#/components/schemas/([^"]+)"',
                                                json.dumps(document))}  # fmt: skip
    assert refs and refs <= set(schemas)
    assert "caller_number" in schemas["CallScoreRequest"]["properties"]


# -- access ---------------------------------------------------------------------------------


def test_each_institution_only_within_its_scopes(guarded: ScoringApp) -> None:
    score = body(call_request())
    assert call(guarded, "POST", "/v1/calls/score", score).status == 401
    assert call(guarded, "POST", "/v1/calls/score", score, token="nope").status == 401
    assert call(guarded, "POST", "/v1/calls/score", score, token=TOKENS["bank"]).status == 403
    assert call(guarded, "POST", "/v1/calls/score", score, token=TOKENS["carrier"]).status == 200
    transfer = body(transfer_request())
    assert call(guarded, "POST", "/v1/transfers/score", transfer,
                token=TOKENS["carrier"]).status == 403  # fmt: skip
    assert call(guarded, "POST", "/v1/transfers/score", transfer,
                token=TOKENS["bank"]).status == 200  # fmt: skip
    events = lines(complaint())
    assert call(guarded, "POST", "/v1/events", events, token=TOKENS["police"]).status == 403
    assert call(guarded, "POST", "/v1/events", events, token=TOKENS["bank"]).status == 200
    path = f"/v1/entities/number/{CALLER}"
    assert call(guarded, "GET", path, token=TOKENS["bank"]).status == 403
    assert call(guarded, "GET", path, token=TOKENS["police"]).status == 200
    assert call(guarded, "GET", "/healthz").status == 200
    refused = call(guarded, "POST", "/v1/calls/score", score)
    assert refused.headers["www-authenticate"].startswith("Bearer")


def test_tokens_file_problems_are_one_line_errors(tmp_path: Path) -> None:
    bad = tmp_path / "tokens.yaml"
    bad.write_text("institutions:\n  - {name: x, token_sha256: abc, scopes: [calls:score]}\n")
    with pytest.raises(ScamtraceError, match="not a SHA-256"):
        Access.from_file(bad)
    bad.write_text("institutions:\n  - {name: x, token_sha256: abc, scopes: [everything]}\n")
    with pytest.raises(ScamtraceError, match="scopes"):
        Access.from_file(bad)


def test_open_access_is_refused_off_loopback(tmp_path: Path) -> None:
    config = ServeConfig(state=tmp_path, host="0.0.0.0")
    with pytest.raises(ScamtraceError, match="without --tokens"):
        serve(config, engine=FakeEngine())


# -- audit ----------------------------------------------------------------------------------


def test_audit_records_each_decision_without_a_number_or_account_in_clear(
    guarded: ScoringApp, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    call(guarded, "POST", "/v1/events", lines(complaint()), token=TOKENS["bank"])
    call(guarded, "POST", "/v1/calls/score", body(call_request()), token=TOKENS["carrier"])
    items = [call_request("b1"), call_request("b2", caller="+4930123456")]
    call(guarded, "POST", "/v1/calls/score/batch", body({"items": items}),
         token=TOKENS["carrier"])  # fmt: skip
    call(guarded, "POST", "/v1/transfers/score", body(transfer_request()), token=TOKENS["bank"])
    call(guarded, "GET", f"/v1/entities/account/{MULE}", token=TOKENS["police"])
    state = tmp_path / "state"
    audit = (state / "audit.jsonl").read_text()
    entries = [json.loads(line) for line in audit.splitlines()]
    assert [e["id"] for e in entries if "id" in e] == ["c1", "b1", "b2", "t1"]
    assert [e["action"] for e in entries if "action" in e] == ["block", "block", "allow", "hold"]
    assert entries[0]["institution"] == "carrier-a"
    assert entries[3]["institution"] == "bank-b"
    assert entries[4]["institution"] == "police"
    # the fake engine quotes the number in its reason: the log holds its pseudonym instead
    assert entries[0]["reasons"] == [f"the caller #{entries[0]['caller']} was named in a complaint"]
    assert entries[0]["caller"] == entries[1]["caller"] != entries[2]["caller"]
    captured = capfd.readouterr()
    for secret in (CALLER, CALLED, PAYER, MULE, "4930123456", "34911234567", *TOKENS.values()):
        assert secret not in audit
        assert secret not in captured.err + captured.out
    key = state / "audit.key"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert len(key.read_bytes()) == 32


# -- bad input and limits -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "status", "field"),
    [
        ({k: v for k, v in call_request().items() if k != "call_id"}, 422, "$.call_id"),
        ({**call_request(), "caller_number": 5}, 422, "$.caller_number"),
        ({**call_request(), "time": "yesterday"}, 422, "$.time"),
        ({**call_request(), "ingress_country": "Spain"}, 422, "$.ingress_country"),
        ({**call_request(), "callerNumber": "x"}, 422, "$.callerNumber"),
        ([1, 2], 422, "$"),
    ],
)
def test_a_bad_call_is_a_4xx_naming_the_field(
    app: ScoringApp, sent: object, status: int, field: str
) -> None:
    answer = call(app, "POST", "/v1/calls/score", body(sent))
    assert answer.status == status
    assert answer.json()["field"] == field


def test_bad_batch_item_names_its_index(app: ScoringApp) -> None:
    items = [transfer_request("a"), {**transfer_request("b"), "amount": -3}]
    answer = call(app, "POST", "/v1/transfers/score/batch", body({"items": items}))
    assert answer.status == 422
    assert answer.json()["field"] == "$.items[1].amount"
    assert call(app, "POST", "/v1/calls/score", b"not json").status == 400


def test_oversized_bodies_and_batches_are_refused(tmp_path: Path) -> None:
    limits = Limits(single_body_bytes=4096, events_body_bytes=8192, batch_items=5)
    app = ScoringApp(FakeEngine(), tmp_path / "state", limits=limits)
    big = b" " * 5000
    declared = call(app, "POST", "/v1/calls/score", big,
                    headers={"content-length": str(len(big))})  # fmt: skip
    assert declared.status == 413
    streamed = call(app, "POST", "/v1/calls/score", [b" " * 3000, b" " * 3000])
    assert streamed.status == 413
    events = call(app, "POST", "/v1/events", [b" " * 6000, b" " * 6000])
    assert events.status == 413
    items = {"items": [call_request(f"i{i}") for i in range(6)]}
    too_many = call(app, "POST", "/v1/calls/score/batch", body(items))
    assert too_many.status == 413
    assert too_many.json()["field"] == "$.items"
    five = {"items": [call_request(f"i{i}") for i in range(5)]}
    assert call(app, "POST", "/v1/calls/score/batch", body(five)).status == 200


def test_a_stalled_upload_is_cut_off_and_the_app_goes_on(tmp_path: Path) -> None:
    app = ScoringApp(FakeEngine(), tmp_path / "state", limits=Limits(body_timeout_s=0.2))
    stalled = call(app, "POST", "/v1/calls/score", b'{"call_id": ', stall=True)
    assert stalled.status == 408
    assert stalled.headers["connection"] == "close"
    assert call(app, "POST", "/v1/calls/score", body(call_request())).status == 200


def test_state_survives_a_new_app_on_the_same_folder(tmp_path: Path) -> None:
    first = ScoringApp(FakeEngine(), tmp_path / "state")
    call(first, "POST", "/v1/events", lines(complaint(), carrier_call("k1")))
    first.close()
    second = ScoringApp(FakeEngine(), tmp_path / "state")
    assert second.replayed == 2
    assert call(second, "POST", "/v1/calls/score", body(call_request())).json()["action"] == "block"
    assert msgspec.json.decode(call(second, "GET", "/healthz").body)["events_stored"] == 2


def test_default_state_folder_is_outside_the_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scamtrace.serve.app import state_folder

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    case = tmp_path / "cases" / "seed-1"
    assert state_folder(ServeConfig(case=case)) == tmp_path / "data/scamtrace/serve/seed-1"
    assert state_folder(ServeConfig(case=case, state=tmp_path / "s")) == tmp_path / "s"


def test_the_serve_command_documents_itself_and_refuses_open_access_off_loopback(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    def scamtrace(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "scamtrace.cli", *args],
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    helped = scamtrace("serve", "--help")
    assert helped.returncode == 0
    assert "--tokens" in helped.stdout
    assert "scamtrace serve --findings" in helped.stdout
    refused = scamtrace("serve", "--host", "0.0.0.0", "--state", str(tmp_path))
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "error: refusing to listen on 0.0.0.0 without --tokens: open access is for loopback"
    )
