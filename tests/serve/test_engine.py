"""The scoring engine's decisions on a hand-made case, and on small simulated worlds replayed."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from scamtrace.core.findings import write_rows
from scamtrace.serve.engine import Engine
from scamtrace.serve.model import (
    CallScoreRequest,
    CarrierCallEvent,
    ComplaintEvent,
    TransferEvent,
    TransferScoreRequest,
    VoipCallEvent,
)
from scamtrace.serve.settings import ServeSettings

T0 = datetime(2026, 3, 2, 9, 0, 0)
SETTINGS = ServeSettings(country="CN", voip_country="ES")

FLAGGED_STRONG = "+8613800000001"
FLAGGED_WEAK = "+8613800000002"
DIALLER_SIP = "sip-dialler"
MULE = "6217000000000000001"
FRESH_PERSONAL = "6217000000000000002"
OLD_PERSONAL = "6217000000000000003"
VICTIM_ACCOUNT = "6217000000000000004"
VICTIM_PHONE = "+8615900000004"


@pytest.fixture()
def findings(tmp_path: Path) -> Path:
    folder = tmp_path / "findings"
    write_rows(
        folder / "entities.csv",
        ["kind", "value", "score", "network_id", "center_id", "reason"],
        [
            ["caller_number", FLAGGED_STRONG, 0.95, "N1", "C1", "a rotating dialler's number"],
            ["caller_number", FLAGGED_WEAK, 0.55, "N1", "C1", "one of a list's numbers"],
            ["sip_account", DIALLER_SIP, 0.9, "N1", "C1", "a dialler"],
            ["mule_account", MULE, 0.8, "N1", "", "victims' money passed on"],
            ["caller_number", "+8613800000009", 0.3, "", "", "a lead, not a finding"],
        ],
    )
    return folder


@pytest.fixture()
def case(tmp_path: Path) -> Path:
    folder = tmp_path / "case"
    folder.mkdir()
    (folder / "holder.json").write_text('{"country": "CN", "tables": {"voip_cdr": "ES"}}')
    write_rows(
        folder / "accounts.csv",
        ["account_id", "bank", "country", "holder_id", "holder_phone", "opened_on", "kind"],
        [
            [FRESH_PERSONAL, "B", "CN", "H2", "+8615900000002", "2026-02-20", "personal"],
            [OLD_PERSONAL, "B", "CN", "H3", "+8615900000003", "2010-01-01", "personal"],
            [VICTIM_ACCOUNT, "B", "CN", "H4", VICTIM_PHONE, "2005-01-01", "personal"],
        ],
    )
    write_rows(
        folder / "transfers.csv",
        ["tx_id", "time", "payer_account", "payee_account", "amount", "currency", "channel"],
        [["T0", "2026-01-01T10:00:00", VICTIM_ACCOUNT, OLD_PERSONAL, 50, "CNY", "mobile"]],
    )
    return folder


def call(caller: str, callee: str, minutes: float = 0, country: str = "ES") -> CallScoreRequest:
    return CallScoreRequest(
        call_id=f"c-{caller}-{callee}-{minutes}", time=T0 + timedelta(minutes=minutes),
        caller_number=caller, called_number=callee, ingress_trunk=f"INTL-{country}-01",
        ingress_country=country,
    )  # fmt: skip


def ended(request: CallScoreRequest, answered: bool = False, talk_s: int = 0) -> CarrierCallEvent:
    return CarrierCallEvent(
        call_id=request.call_id, start_time=request.time, caller_number=request.caller_number,
        called_number=request.called_number, duration_s=talk_s, answered=answered,
        ingress_trunk=request.ingress_trunk, ingress_country=request.ingress_country,
    )  # fmt: skip


def payment(payer: str, payee: str, minutes: float, phone: str | None = None):  # type: ignore[no-untyped-def]
    return TransferScoreRequest(
        tx_id=f"t-{payer}-{payee}-{minutes}", time=T0 + timedelta(minutes=minutes),
        payer_account=payer, payee_account=payee, amount=20_000, currency="CNY",
        payer_phone=phone,
    )  # fmt: skip


def test_flagged_numbers_block_only_on_strong_evidence(findings: Path) -> None:
    engine = Engine.start(findings=findings, settings=SETTINGS)
    strong = engine.score_call(call("0086 138 0000 0001", "+8615900000100"))
    weak = engine.score_call(call(FLAGGED_WEAK, "+8615900000100"))
    lead = engine.score_call(call("+8613800000009", "+8615900000100", country="CN"))
    assert strong.action == "block" and strong.network_id == "N1"
    assert "flagged by the findings: a rotating dialler's number" in strong.reasons
    assert weak.action == "warn"
    assert lead.action == "allow"  # a lead is not a finding


def test_complaints_act_as_labels(findings: Path) -> None:
    engine = Engine.start(findings=findings, settings=SETTINGS)
    number = "+8613700000077"
    assert engine.score_call(call(number, "+8615900000100", country="CN")).action == "allow"
    complaint = ComplaintEvent(
        report_id="R1", filed_at=T0, victim_phone="15900000200",
        reported_numbers=["137 0000 0077"], reported_accounts=[OLD_PERSONAL],
    )  # fmt: skip
    assert engine.apply([complaint]) == 1
    # one complaint is a lead (people report telemarketers too): shown, not yet a warning ...
    once = engine.score_call(call(number, "+8615900000100", 5, country="CN"))
    assert once.action == "allow"
    assert once.reasons == ["reported by 1 complaint as a number the scammers used"]
    # ... until the number arrives forged from abroad
    forged = engine.score_call(call(number, "+8615900000100", 5, country="ES"))
    assert forged.action == "warn"
    assert "reported by 1 complaint" in forged.reasons[0]
    engine.apply([ComplaintEvent(report_id="R2", filed_at=T0, reported_numbers=[number])])
    assert engine.score_call(call(number, "+8615900000100", 6, country="CN")).action == "block"
    # the reported account is held; the complainant is a victim
    held = engine.score_transfer(payment("6217000000000000099", OLD_PERSONAL, 10))
    assert held.action == "hold"
    view = engine.entity("victim_phone", "+8615900000200")
    assert view is not None and view.flagged


def test_a_fresh_spoofing_line_is_warned_while_it_dials() -> None:
    engine = Engine.start(settings=SETTINGS)
    spoofed = "+8613912345678"
    first = engine.score_call(call(spoofed, "+8618700000000"))
    assert first.action == "allow"  # a local number from abroad alone: travellers do that too
    decisions = []
    for i in range(50):
        request = call(spoofed, f"+86187000{i:05d}", minutes=i)
        decisions.append(engine.score_call(request))
        engine.apply([ended(request, answered=i % 5 == 0, talk_s=30 if i % 5 == 0 else 0)])
    assert decisions[0].action == "allow"
    assert all(d.action == "warn" for d in decisions[5:])
    assert any("strangers in the last day" in r for r in decisions[-1].reasons)
    assert engine.metrics()["events_applied"] == 50


def rotated(i: int) -> str:
    """The i-th caller ID a dialler presents: random-looking, each in its own range of 100."""
    return f"8613{i:02d}00{i:02d}0{i:02d}"


def test_a_rotating_sip_line_is_warned_and_its_numbers_followed() -> None:
    engine = Engine.start(settings=SETTINGS)
    for i in range(12):
        engine.apply([VoipCallEvent(
            call_id=f"v{i}", start_time=T0 + timedelta(minutes=i), sip_account="sip-new",
            source_ip="192.0.2.7", from_number=rotated(i),
            to_number=f"86187000001{i:02d}", duration_s=0, sip_status=487,
        )])  # fmt: skip
    provider = engine.score_call(CallScoreRequest(
        call_id="v99", time=T0 + timedelta(minutes=13), caller_number="8613900000099",
        called_number="8618700000199", sip_account="sip-new", source_ip="192.0.2.7",
    ))  # fmt: skip
    assert provider.action == "warn"
    assert "caller IDs local to the callees" in provider.reasons[0]
    # the terminating carrier sees one of its numbers arrive from abroad: the line decides
    carrier = engine.score_call(call("+" + rotated(3), "+8615900000555", minutes=14))
    assert carrier.action == "warn"
    assert "by SIP line sip-new" in carrier.reasons[0]
    view = engine.entity("sip_account", "sip-new")
    assert view is not None and view.flagged and view.recent["calls_seen"] == 12


def test_honest_look_alikes_stay_allowed(findings: Path) -> None:
    engine = Engine.start(findings=findings, settings=SETTINGS)
    # a roamer: calls its circle at home, then the same people from abroad, many times ...
    roamer, circle = "+8613511112222", [f"+86136000000{i:02d}" for i in range(6)]
    for i, friend in enumerate(circle):
        engine.apply([ended(call(roamer, friend, minutes=-600 - i, country="CN"), True, 300)])
        # ... the day after a flagged line called them: they are not the roamer's victims
        engine.apply([ended(call(FLAGGED_WEAK, friend, minutes=-300 - i), False)])
    # a reseller: thousands of its customers' own numbers, answered, long conversations
    for i in range(40):
        engine.apply([VoipCallEvent(
            call_id=f"r{i}", start_time=T0 + timedelta(minutes=i), sip_account="sip-reseller",
            source_ip=f"198.51.100.{i}", from_number=rotated(i), to_number=f"8618{i:09d}",
            duration_s=900, sip_status=200,
        )])  # fmt: skip
    # a hotline presented from abroad
    hotline = "+864001234567"
    decisions = []
    for i in range(60):
        roaming = call(roamer, circle[i % len(circle)], minutes=i)
        decisions.append(engine.score_call(roaming))
        engine.apply([ended(roaming, answered=True, talk_s=200)])
        service = call(hotline, f"+86188000{i:05d}", minutes=i)
        decisions.append(engine.score_call(service))
        engine.apply([ended(service, answered=i % 3 == 0, talk_s=40)])
    reseller = engine.score_call(CallScoreRequest(
        call_id="r99", time=T0 + timedelta(minutes=41), caller_number=rotated(41),
        called_number="8618000000099", sip_account="sip-reseller",
    ))  # fmt: skip
    assert [d.action for d in decisions] == ["allow"] * len(decisions)
    assert reseller.action == "allow"


def test_company_direct_numbers_are_not_spoofing() -> None:
    engine = Engine.start(settings=SETTINGS)
    decisions = []
    for i in range(30):
        request = call(f"+86215000{1200 + i % 5}", f"+86188100{i:05d}", minutes=i)
        decisions.append(engine.score_call(request))
        engine.apply([ended(request, answered=i % 2 == 0, talk_s=90)])
    # once the range shows several of the company's numbers, list behaviour stops counting
    assert all(d.action == "allow" for d in decisions[5:])


def dial_list(engine: Engine, line: str, start: int, calls: int, minute: int) -> list[str]:
    """``line`` dials ``calls`` strangers at home, one a minute, a fifth of them answered;
    the decisions at setup."""
    actions = []
    for i in range(calls):
        request = call(line, f"+86188{start + i:08d}", minutes=minute + i, country="CN")
        actions.append(engine.score_call(request).action)
        engine.apply([ended(request, answered=i % 5 == 0, talk_s=40)])
    return actions


def called_back(engine: Engine, line: str, answers: bool, minute: int) -> None:
    for k in range(3):
        callback = call(f"+8618900{line[-4:]}{k:02d}", line, minutes=minute + k, country="CN")
        engine.apply([ended(callback, answered=answers, talk_s=120 if answers else 0)])


def test_a_silent_sim_box_pack_is_warned_and_a_sales_team_is_not() -> None:
    engine = Engine.start(settings=SETTINGS)
    pack = [f"+8617000000{10 + i}" for i in range(3)]  # one prepaid pack
    for i, line in enumerate(pack):
        first = dial_list(engine, line, 1000 * (i + 1), 10, 0)
        called_back(engine, line, answers=False, minute=10)  # a gateway slot never answers
        later = dial_list(engine, line, 1000 * (i + 1) + 10, 20, 15)
    assert first[0] == "allow" and later[-1] == "warn"
    last = engine.score_call(call(pack[-1], "+8618899999999", minutes=40, country="CN"))
    assert "never answered the 3 calls made to it" in last.reasons[0]
    assert "2 more lines of its pack" in last.reasons[0]
    # a sales team of one block, dialling the same way, answers when called back
    team = [f"+8617100000{10 + i}" for i in range(3)]
    for i, line in enumerate(team):
        actions = dial_list(engine, line, 50_000 + 1000 * i, 10, 0)
        called_back(engine, line, answers=True, minute=10)
        actions += dial_list(engine, line, 50_000 + 1000 * i + 10, 20, 15)
        assert set(actions) == {"allow"}


def test_payment_after_a_call_from_a_flagged_line_is_held(findings: Path, case: Path) -> None:
    engine = Engine.start(findings=findings, case=case, settings=SETTINGS)
    before = engine.score_transfer(payment(VICTIM_ACCOUNT, FRESH_PERSONAL, 0))
    assert before.action == "allow"
    scam = call(FLAGGED_WEAK, "15900000004", minutes=1)
    engine.apply([ended(scam, answered=True, talk_s=600)])
    fresh = engine.score_transfer(payment(VICTIM_ACCOUNT, FRESH_PERSONAL, 41))
    assert fresh.action == "hold" and fresh.network_id == "N1"
    expected = ("the payer answered a call from a suspicious line 40 minutes ago and has "
                "never paid this account")  # fmt: skip
    assert fresh.reasons[0].startswith(expected)
    assert "personal account opened" in fresh.reasons[0]
    # an account the payer has paid before (the case's history) is not the safe account
    known = engine.score_transfer(payment(VICTIM_ACCOUNT, OLD_PERSONAL, 42))
    assert known.action == "allow"
    # two days later the call is no longer recent enough to hold: a warning
    later = engine.score_transfer(payment(VICTIM_ACCOUNT, FRESH_PERSONAL, 60 * 48))
    assert later.action == "warn"
    # savings moved to an old account it never paid: out of character, held
    for k in range(5):
        engine.apply([TransferEvent(tx_id=f"usual{k}", time=T0 - timedelta(days=k + 1),
                                    amount=100, currency="CNY", payer_account=VICTIM_ACCOUNT,
                                    payee_account=f"shop{k}")])  # fmt: skip
    savings = engine.score_transfer(payment(VICTIM_ACCOUNT, "6217000000000000777", 45))
    assert savings.action == "hold"
    assert "200 times what the payer usually pays" in savings.reasons[0]
    # a payment to a flagged mule is held whoever pays
    assert engine.score_transfer(payment(OLD_PERSONAL, MULE, 5)).action == "hold"
    engine.apply([TransferEvent(tx_id="T1", time=T0 + timedelta(minutes=43), amount=10,
                                currency="CNY", payer_account=VICTIM_ACCOUNT,
                                payee_account=FRESH_PERSONAL)])  # fmt: skip
    again = engine.score_transfer(payment(VICTIM_ACCOUNT, FRESH_PERSONAL, 44))
    assert again.action == "allow"  # paid it before now


def test_scoring_is_pure(findings: Path) -> None:
    engine = Engine.start(findings=findings, settings=SETTINGS)
    request = call(FLAGGED_STRONG, "+8615900000100")
    before = engine.metrics()
    assert engine.score_call(request) == engine.score_call(request)
    assert engine.metrics() == before


@pytest.mark.parametrize("seed", [1, 2])
def test_small_world_replayed(tmp_path: Path, seed: int) -> None:
    sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
    import protection

    from tests.conftest import make_case

    case = make_case(tmp_path, f"small-{seed}", "small", seed=seed, scale=0.02)
    m = protection.measure(case, "small", seed, 0.02, None)
    # the goals are 90% of scam calls after a line's first hour, 80% of the loss held,
    # honest calls blocked <= 1 and warned <= 5 in 10,000, honest transfers held <= 1 in
    # 10,000; measured here 75-76% and 90-95% (seeds 1-2), the bars are a little under that
    assert m.scam_warned_after_hour >= 0.65
    assert m.honest_blocked_per_10k == 0
    assert m.honest_warned_per_10k <= 5
    assert m.honest_held_per_10k <= 1
    assert m.loss_held >= 0.75


def test_state_is_deterministic_given_the_order(findings: Path) -> None:
    def run() -> tuple[list[str], dict[str, float]]:
        engine = Engine.start(findings=findings, settings=SETTINGS)
        actions = []
        for i in range(40):
            request = call("+" + rotated(i % 7), f"+86187000{i:05d}", minutes=i)
            actions.append(engine.score_call(request).action)
            engine.apply([ended(request, answered=i % 4 == 0, talk_s=30)])
        return actions, engine.metrics()

    first, again = run(), run()
    assert first == again
    assert "warn" in first[0] and first[0][0] == "allow"  # the state changed decisions


def test_a_line_rotating_foreign_caller_ids_is_warned() -> None:
    """After the carrier blocks local numbers from abroad, diallers present foreign ones."""
    engine = Engine.start(settings=SETTINGS)
    foreign = [f"346{(i * 7919) % 10**8:08d}" for i in range(12)]  # Spanish mobiles
    for i, presented in enumerate(foreign):
        engine.apply([VoipCallEvent(
            call_id=f"f{i}", start_time=T0 + timedelta(minutes=i), sip_account="sip-foreign",
            source_ip="192.0.2.8", from_number=presented, to_number=f"86187000002{i:02d}",
            duration_s=0, sip_status=487,
        )])  # fmt: skip
    provider = engine.score_call(CallScoreRequest(
        call_id="f99", time=T0 + timedelta(minutes=13), caller_number="34611111111",
        called_number="8618700000299", sip_account="sip-foreign",
    ))  # fmt: skip
    assert provider.action == "warn"
    assert "12 caller IDs (0 local to the callees)" in provider.reasons[0]
    carrier = engine.score_call(call("+" + foreign[11], "+8615900000555", minutes=14))
    assert carrier.action == "warn" and "by SIP line sip-foreign" in carrier.reasons[0]
    # a foreign number calling home alone is ordinary
    emigrant = engine.score_call(call("+34622222222", "+8615900000556", minutes=14))
    assert emigrant.action == "allow" and emigrant.reasons == []
