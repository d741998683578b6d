"""The scoring engine: one call at setup, one payment before it executes, from live state.

State starts from a findings folder (numbers, lines, addresses and accounts already flagged,
with their networks) and a case (the bank's accounts, who paid whom), and keeps learning from
the events streamed in: calls as they end, payments as they execute, complaints as they are
filed. Every signal gives one readable reason, as a finding does.

Calls. A number flagged by the findings is warned, and blocked only on strong evidence (a
finding near certainty, two complaints); one complaint is a lead that a forged number behind it
makes a warning. SIP lines are judged on their last week: a line presenting several caller IDs
(local to the callees or, after the block, foreign) while dialling a list of new numbers, not
holding conversations (detect/lines.py's dialler, live); the numbers it presented are followed
to the terminating carrier. A number arriving from abroad without full attestation is judged by
what it does (detect/spoofing.py, live): a local one that calls strangers, unanswered or short,
into a block of numbers suspicious lines are sweeping, or people they called lately; a foreign
one only when it calls strangers and one of the others holds too. At home, a mobile dialling a
list, silent when called back, one of a pack of such lines, is a SIM box (detect/sim_boxes.py,
live). Honest look-alikes keep their exemptions: a number calling its own circle (one it
called, or was called by, at home) or someone it called from abroad before is a traveller or an
emigrant; business numbers (toll-free, shared cost) are hotlines; several numbers of one range
of 100 are a company's direct numbers; a line whose calls are answered and long is holding
conversations (a reseller's customers); a list line that answers its callbacks is a sales
phone.

Transfers. A payee flagged as a mule or named by a complaint is held. A payer who answered a
suspicious call in the last days, paying an account it never paid, is warned, and held when the
call was within the day and the account is a fresh personal one, collects many first-time
payers, or the sum is many times what the payer usually pays: the 'safe account'.

Memory: see :mod:`scamtrace.serve.state`. One thread calls the engine; it does no locking.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import phonenumbers
import pyarrow as pa
import pyarrow.parquet as pq

from scamtrace.core import findings as findings_folder
from scamtrace.core.contract import FLAG_THRESHOLD
from scamtrace.core.phones import BUSINESS_TYPES, WITHHELD, calling_code, dial_plan, to_e164
from scamtrace.detect.settings import COMPLAINTS_AGREE
from scamtrace.serve.model import (
    CallAction,
    CallDecision,
    CallScoreRequest,
    CarrierCallEvent,
    ComplaintEvent,
    EntityView,
    Event,
    TransferDecision,
    TransferEvent,
    TransferScoreRequest,
    VoipCallEvent,
)
from scamtrace.serve.settings import ServeSettings
from scamtrace.serve.state import (
    Account,
    BitSet,
    Call,
    Contact,
    DayCounts,
    Flag,
    TypicalAmounts,
    Window,
    WindowFacts,
    bounded_put,
    date_day,
    day_of,
    epoch,
    pair_key,
    text_key,
)

PHONE_KINDS = frozenset({"caller_number", "victim_phone", "victim_paid"})
_DIGITS = re.compile(r"[^0-9]")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


_TYPE_NAMES = {v: k.lower() for k, v in vars(phonenumbers.PhoneNumberType).items()
               if isinstance(v, int)}  # fmt: skip


@lru_cache(maxsize=1 << 16)
def _number_type(key: int) -> str:
    """``phonenumbers``' type of an E.164 number (``toll_free``, ``mobile``...), cached: the
    numbers looked up are the few local-looking ones arriving from abroad."""
    try:
        parsed = phonenumbers.parse(f"+{key}", None)
    except phonenumbers.NumberParseException:
        return "unknown"
    return _TYPE_NAMES.get(phonenumbers.number_type(parsed), "unknown")


@lru_cache(maxsize=1 << 16)
def _valid(e164: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return False


def _international_only(text: str) -> str | None:
    """A number written in an international form (``+``, ``00``) when no country is known."""
    stripped = text.strip()
    digits = _DIGITS.sub("", stripped)
    if stripped.startswith("+"):
        out = "+" + digits
    elif digits.startswith("00"):
        out = "+" + digits[2:]
    else:
        return None
    return out if _E164.fullmatch(out) else None


def _key(e164: str | None) -> int | None:
    return int(e164[1:]) if e164 else None


def _minutes(seconds: float) -> str:
    minutes = max(0, round(seconds / 60))
    if minutes < 120:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = round(minutes / 60)
    if hours < 48:
        return f"{hours} hours"
    return f"{round(hours / 24)} days"


@dataclass
class Verdict:
    """Evidence gathered about one call or payment: the strongest signal decides."""

    items: list[tuple[float, str]] = field(default_factory=list)
    network_id: str | None = None
    strong: bool = False

    def add(self, score: float, reason: str, network_id: str | None = None) -> None:
        if score <= 0:
            return
        self.items.append((min(1.0, score), reason))
        if network_id and self.network_id is None:
            self.network_id = network_id

    @property
    def score(self) -> float:
        return max((s for s, _ in self.items), default=0.0)

    @property
    def reasons(self) -> list[str]:
        return [r for _, r in sorted(self.items, key=lambda item: -item[0])]


class Engine:
    """The scoring service's state and its decisions (see the module's docstring)."""

    def __init__(self, settings: ServeSettings, country: str | None, voip_country: str | None):
        s = self.settings = settings
        self.country = country
        self.voip_country = voip_country or country
        self.local_prefix = str(calling_code(country)) if country else None
        # flagged entities by kind; phones keyed by their E.164 digits as an integer
        self.flags: dict[str, dict[object, Flag]] = {}
        # who is a subscriber at home, who called whom at home, who paid whom
        self.home = BitSet(s.sketch_bits)
        self.circles = BitSet(s.sketch_bits)
        self.paid = BitSet(s.sketch_bits)
        self.voip_pairs = BitSet(s.sketch_bits)
        self.abroad_pairs = BitSet(s.sketch_bits)
        self.new_payers = DayCounts(max(1024, s.sketch_bits // 64), s.new_payers_window_days)
        self.amounts = TypicalAmounts(max(1024, s.sketch_bits // 16))
        # full state only for suspicious entities
        self.lines: dict[str, Window] = {}
        self.numbers: dict[int, Window] = {}
        self.ranges: dict[int, set[int]] = {}
        self.presented: dict[int, tuple[str, float, float, str | None]] = {}
        self.sweeps: dict[int, deque[float]] = {}
        self.contacts: dict[int, Contact] = {}
        self.targeted: dict[int, float] = {}
        self.day_calls = DayCounts(max(1024, s.sketch_bits // 64), 1)
        self.domestic: dict[int, Window] = {}
        self.packs: dict[int, dict[int, float]] = {}
        self.accounts: dict[str, Account] = {}
        self.events_applied = 0

    # ----------------------------------------------------------------------------- start
    @classmethod
    def start(
        cls,
        findings: Path | None = None,
        case: Path | None = None,
        settings: ServeSettings | None = None,
    ) -> Engine:
        """An engine from a findings folder and a case (either may be absent)."""
        settings = settings or ServeSettings()
        country, voip_country = settings.country, settings.voip_country
        if case is not None and (case / "holder.json").is_file():
            holder = json.loads((case / "holder.json").read_text(encoding="utf-8"))
            country = country or holder.get("country")
            voip_country = voip_country or (holder.get("tables") or {}).get("voip_cdr")
        if country is None and findings is not None:
            country = findings_folder.read_summary(findings).get("holder_country") or None
        if country:
            dial_plan(country)  # an unknown country fails here, not on the first call
        engine = cls(settings, country, voip_country)
        if findings is not None:
            engine._load_findings(findings)
        if case is not None:
            engine._load_case(case)
        return engine

    def _load_findings(self, folder: Path) -> None:
        rows = findings_folder.read_table(folder, "entities").to_pylist()
        for row in rows:
            score = row.get("score")
            if score is None or score < FLAG_THRESHOLD:
                continue
            kind, value = str(row["kind"]), str(row["value"])
            key: object = value
            if kind in PHONE_KINDS:
                key = self._carrier_key(value)
                if key is None:
                    continue
            reason = row.get("reason") or "flagged by the findings"
            self.flags.setdefault(kind, {})[key] = Flag(
                float(score), f"flagged by the findings: {reason}",
                row.get("network_id") or None, row.get("center_id") or None,
            )  # fmt: skip

    def _load_case(self, case: Path) -> None:
        accounts = _read_case_table(case, "accounts")
        if accounts is not None:
            for row in accounts.to_pylist():
                account = str(row.get("account_id") or "")
                if not account:
                    continue
                phone = self._carrier_key(str(row.get("holder_phone") or ""))
                if phone is not None:
                    self.home.add(phone)
                self.accounts[account] = Account(
                    date_day(row.get("opened_on")),
                    str(row.get("kind") or "personal").strip().lower() != "business",
                    phone,
                )
        transfers = _read_case_table(case, "transfers")
        if transfers is not None:
            payers = transfers.column("payer_account").to_pylist()
            payees = transfers.column("payee_account").to_pylist()
            for payer, payee in zip(payers, payees, strict=True):
                if payer and payee:
                    self.paid.add(pair_key(text_key(str(payer)), text_key(str(payee))))

    # ------------------------------------------------------------------------- numbers
    def _carrier_key(self, text: str | None) -> int | None:
        """A number as the carrier logged it, as E.164 digits (None when withheld)."""
        if text is None or text.strip().lower() in WITHHELD:
            return None
        if self.country is None:
            return _key(_international_only(text))
        return _key(to_e164(text, self.country))

    def _voip_key(self, text: str | None) -> int | None:
        """A number as a SIP server logged it: bare international digits are common."""
        if text is None or text.strip().lower() in WITHHELD:
            return None
        country = self.voip_country
        if country is None:
            return _key(_international_only(text))
        stripped = text.strip()
        if stripped.isdigit() and not stripped.startswith(dial_plan(country).international_prefix):
            national = to_e164(stripped, country)
            if national is not None and _valid(national):
                return _key(national)
            bare = "+" + stripped
            if _E164.fullmatch(bare) and _valid(bare):
                return _key(bare)
            return _key(national)
        return _key(to_e164(stripped, country))

    def _is_local(self, number: int) -> bool:
        return self.local_prefix is not None and str(number).startswith(self.local_prefix)

    def _from_abroad(self, ingress_country: str | None) -> bool:
        return (
            bool(ingress_country)
            and self.country is not None
            and (str(ingress_country).upper() != self.country.upper())
        )

    def _spoof_candidate(
        self, caller: int | None, callee: int | None, ingress_country: str | None,
        attestation: str | None,
    ) -> bool:  # fmt: skip
        """A number from abroad without full attestation, not calling its own circle nor
        someone it called before, and not a business number: what a forged caller ID looks
        like (a local one, or, where local ones from abroad are blocked, a foreign one)."""
        if caller is None or callee is None or attestation == "A":
            return False
        if not self._from_abroad(ingress_country):
            return False
        pair = pair_key(caller, callee)
        if pair in self.circles:
            return False  # a traveller calling someone it calls, or is called by, at home
        if pair in self.abroad_pairs:
            return False  # an emigrant calling family again: a list is dialled once a number
        return _number_type(caller) not in BUSINESS_TYPES

    # --------------------------------------------------------------------------- calls
    def score_call(self, request: CallScoreRequest) -> CallDecision:
        now = epoch(request.time)
        # a provider screening its own customers' calls logs numbers as SIP servers do
        read = self._voip_key if request.sip_account else self._carrier_key
        caller, callee = read(request.caller_number), read(request.called_number)
        verdict = self._judge_call(now, caller, callee, request.ingress_country,
                                   request.attestation, request.sip_account,
                                   request.source_ip)  # fmt: skip
        return CallDecision(request.call_id, self._call_action(verdict), verdict.score,
                            verdict.reasons, verdict.network_id)  # fmt: skip

    def _call_action(self, verdict: Verdict) -> CallAction:
        if verdict.strong:
            return "block"
        return "warn" if verdict.score >= self.settings.warn_score else "allow"

    def _judge_call(
        self, now: float, caller: int | None, callee: int | None, ingress_country: str | None,
        attestation: str | None, sip_account: str | None, source_ip: str | None,
    ) -> Verdict:  # fmt: skip
        s = self.settings
        verdict = Verdict()
        flag = self.flags.get("caller_number", {}).get(caller) if caller is not None else None
        if flag is not None:
            verdict.add(flag.score, flag.reason, flag.network_id)
            if flag.score >= s.block_score or flag.complaints >= s.block_complaints:
                verdict.strong = True
        if sip_account is not None:
            self._judge_line(now, sip_account, source_ip, verdict)
        if caller is None or sip_account is not None:
            return verdict
        if not self._from_abroad(ingress_country):
            domestic = self.domestic.get(caller)
            if domestic is not None:
                verdict.add(*self._judge_domestic(now, caller, domestic))
            return verdict
        # what follows is what a terminating carrier sees of calls from abroad
        seen = self.presented.get(caller)
        if seen is not None and now - seen[1] <= s.window_s:
            line, when, score, network = seen
            verdict.add(max(s.number_by_line, score),
                        f"presented {_minutes(now - when)} ago by SIP line {line}, which "
                        "dials lists of strangers presenting rotating caller IDs",
                        network)  # fmt: skip
        if self._spoof_candidate(caller, callee, ingress_country, attestation):
            score, reasons = self._judge_presented(now, caller, callee, ingress_country)
            if not reasons:
                return verdict
            if flag is not None and flag.score < s.warn_score:
                # a complaint alone is a lead (people report telemarketers too); a forged
                # local number from abroad behind it makes it a finding
                score, reasons = score + flag.score, [*reasons, flag.reason]
            verdict.add(score, "; ".join(reasons))
        return verdict

    def _judge_presented(
        self, now: float, caller: int, callee: int | None, ingress_country: str | None
    ) -> tuple[float, list[str]]:
        s = self.settings
        score, reasons = 0.0, []
        if self._is_local(caller):
            score = s.local_from_abroad
            reasons.append(f"a local number arriving from abroad ({ingress_country}) without "
                           "full attestation")  # fmt: skip
        window = self.numbers.get(caller)
        company = len(self.ranges.get(caller // s.did_range_size, ())) >= s.did_ids_per_range
        if company:
            return score, reasons
        if window is not None:
            facts = WindowFacts.of(window.recent(now, s.window_s), None)
            unanswered = facts.answer_rate < s.number_answer_rate
            short = facts.answered == 0 or facts.median_talk_s < s.short_call_s
            if facts.strangers >= s.number_strangers and (unanswered or short):
                score += s.number_list
                reasons.append(f"it called {facts.strangers} strangers in the last day, "
                               f"{facts.answered} answered")  # fmt: skip
        if callee is not None:
            sweep = self._sweep_count(callee, now)
            if sweep >= s.sweep_calls:
                score += s.number_sweep
                reasons.append(f"suspicious lines dialled {sweep} numbers next to the callee's "
                               "in the last hour")  # fmt: skip
            targeted = self.targeted.get(callee)
            if targeted is not None and 0 <= now - targeted <= s.contact_window_s:
                score += s.number_targeted
                reasons.append(f"the callee was called by a suspicious line "
                               f"{_minutes(now - targeted)} ago")  # fmt: skip
        if reasons and not self._is_local(caller):
            # a foreign number from abroad is ordinary: only its behaviour counts
            reasons.insert(0, f"a foreign number arriving from {ingress_country}")
        return score, reasons

    def _sweep_count(self, callee: int, now: float) -> int:
        times = self.sweeps.get(callee // self.settings.sweep_block)
        if not times:
            return 0
        return sum(1 for t in times if now - self.settings.sweep_window_s <= t <= now)

    def _judge_line(
        self, now: float, sip_account: str, source_ip: str | None, verdict: Verdict
    ) -> None:
        s = self.settings
        for kind, value in (("sip_account", sip_account), ("source_ip", source_ip)):
            flag = self.flags.get(kind, {}).get(value) if value else None
            if flag is not None:
                verdict.add(flag.score, flag.reason, flag.network_id)
                if flag.score >= s.block_score or flag.complaints >= s.block_complaints:
                    verdict.strong = True
        window = self.lines.get(sip_account)
        if window is not None:
            score, reason = self._line_behaviour(window, now)
            verdict.add(score, reason)

    def _line_now(self, window: Window, now: float) -> tuple[float, str]:
        """The score a SIP line's last week earns, and why."""
        s = self.settings
        facts = WindowFacts.of(window.recent(now, s.line_window_s), self.local_prefix,
                               s.did_range_size)  # fmt: skip
        if facts.presented >= s.did_ids_per_range * facts.presented_ranges:
            return 0.0, ""  # a company's direct numbers, several of each range, not rotation
        conversations = (facts.answer_rate >= s.conversation_answer_rate
                         and facts.median_talk_s >= s.conversation_talk_s)  # fmt: skip
        listing = (facts.strangers >= s.list_callees
                   and facts.strangers >= s.list_uniqueness * facts.calls)  # fmt: skip
        if conversations:
            return 0.0, ""
        # Rotation counts every caller ID: once local numbers from abroad are blocked, a
        # dialler rotates numbers of other countries instead (detect/lines.py does the same).
        if facts.presented >= s.rotation_ids and listing:
            score = s.line_rotating_list
        elif facts.presented_local >= s.heavy_rotation_ids:
            score = s.line_heavy_rotation
        else:
            return 0.0, ""
        local = facts.presented_local
        ids = (f"{facts.presented} caller IDs local to the callees"
               if facts.presented == local else
               f"{facts.presented} caller IDs ({local} local to the callees)")  # fmt: skip
        return score, (f"SIP line presented {ids} while calling {facts.strangers} new numbers "
                       f"in the last week, {facts.answer_rate:.0%} answered")  # fmt: skip

    def _line_behaviour(self, window: Window, now: float) -> tuple[float, str]:
        """The line's score now, or the strongest its behaviour ever earned: a dialler does
        not turn honest when it pauses."""
        score, reason = self._line_now(window, now)
        if score >= window.peak or now - window.peak_time > self.settings.line_memory_s:
            return score, reason
        return window.peak, window.peak_reason

    # ------------------------------------------------------------------------ transfers
    def score_transfer(self, request: TransferScoreRequest) -> TransferDecision:
        s = self.settings
        now = epoch(request.time)
        verdict = Verdict()
        payer, payee = request.payer_account, request.payee_account
        mule = self.flags.get("mule_account", {}).get(payee)
        if mule is not None:
            verdict.add(max(mule.score, s.mule_payee), f"the payee account is {mule.reason}",
                        mule.network_id)  # fmt: skip
        never_paid = pair_key(text_key(payer), text_key(payee)) not in self.paid
        phone = self._carrier_key(request.payer_phone) if request.payer_phone else None
        if phone is None and payer in self.accounts:
            phone = self.accounts[payer].holder_phone
        contact = self.contacts.get(phone) if phone is not None else None
        if contact is not None and now - contact.time > s.contact_window_s:
            contact = None
        if contact is not None and never_paid:
            recent = now - contact.time <= s.hold_contact_s
            shape = self._safe_account_shape(payee, now) if recent else ""
            if recent and not shape:
                shape = self._savings(payer, request.amount)
            score = s.contacted_new_payee + (s.safe_account_shape if shape else 0.0)
            reason = (
                f"the payer answered a call from a {_line_word(contact.score, s)} line "
                f"{_minutes(now - contact.time)} ago and has never paid this account"
            )
            if shape:
                reason += f"; {shape}"
            verdict.add(score, reason, contact.network_id)
        if phone is not None and never_paid and contact is None:
            victim = self._victim_flag(phone)
            if victim is not None:
                verdict.add(s.victim_new_payee, f"the payer is {victim.reason} and has never "
                            "paid this account", victim.network_id)  # fmt: skip
        score = verdict.score
        action = ("hold" if score >= s.hold_score else
                  "warn" if score >= s.warn_score else "allow")  # fmt: skip
        return TransferDecision(request.tx_id, action, score, verdict.reasons,  # type: ignore[arg-type]
                                verdict.network_id)  # fmt: skip

    def _victim_flag(self, phone: int) -> Flag | None:
        for kind in ("victim_paid", "victim_phone"):
            flag = self.flags.get(kind, {}).get(phone)
            if flag is not None:
                return flag
        return None

    def _savings(self, payer: str, amount: float) -> str:
        """Why ``amount`` is out of character for ``payer`` (empty when it is not)."""
        s = self.settings
        usual, payments = self.amounts.usual(text_key(payer))
        if payments >= s.savings_min_payments and amount >= s.savings_multiple * usual:
            return f"it is {amount / usual:.0f} times what the payer usually pays"
        return ""

    def _safe_account_shape(self, payee: str, now: float) -> str:
        """Why ``payee`` looks like a 'safe account' (empty when it does not)."""
        s = self.settings
        account = self.accounts.get(payee)
        if account is not None and not account.personal:
            return ""
        if account is not None and account.opened_day is not None:
            age = day_of(now) - account.opened_day
            if 0 <= age <= s.fresh_account_days:
                return f"it is a personal account opened {age} days ago"
        first_payers = self.new_payers.total(text_key(payee), day_of(now))
        if first_payers >= s.new_payers:
            return f"{first_payers} first-time payers paid it in the last week"
        return ""

    # --------------------------------------------------------------------------- events
    def apply(self, events: Sequence[Event]) -> int:
        """Update the state with ``events`` in order; returns how many were applied."""
        applied = 0
        for event in events:
            if isinstance(event, CarrierCallEvent):
                self._apply_carrier(event)
            elif isinstance(event, VoipCallEvent):
                self._apply_voip(event)
            elif isinstance(event, TransferEvent):
                self._apply_transfer(event)
            elif isinstance(event, ComplaintEvent):
                self._apply_complaint(event)
            else:
                continue
            applied += 1
        self.events_applied += applied
        return applied

    def _apply_carrier(self, event: CarrierCallEvent) -> None:
        s = self.settings
        now = epoch(event.start_time)
        caller = self._carrier_key(event.caller_number)
        callee = self._carrier_key(event.called_number)
        if callee is None:
            return
        self.home.add(callee)  # the carrier's subscriber
        abroad = self._from_abroad(event.ingress_country)
        called_line = self.domestic.get(callee)
        if called_line is not None:
            # someone calls a line that dials lists: a sales phone answers, a SIM box never
            called_line.received += 1
            called_line.received_answered += event.answered
        if caller is not None and not abroad:
            stranger = pair_key(caller, callee) not in self.circles
            # a call at home: the caller is someone, and each is in the other's circle
            self.home.add(caller)
            self.circles.add(pair_key(caller, callee))
            self.circles.add(pair_key(callee, caller))
            self._track_domestic(now, caller, callee, event, stranger)
        candidate = self._spoof_candidate(caller, callee, event.ingress_country,
                                          event.attestation)  # fmt: skip
        if candidate and caller is not None:
            window = self.numbers.get(caller)
            if window is None:
                window = Window(s.window_calls, now)
                bounded_put(self.numbers, caller, window, s.max_tracked)
                members = self.ranges.setdefault(caller // s.did_range_size, set())
                if len(members) < s.did_ids_per_range:
                    members.add(caller)
            window.add(Call(now, callee, caller, event.answered, event.duration_s,
                            pair_key(caller, callee) not in self.circles))  # fmt: skip
        verdict = self._judge_call(now, caller, callee, event.ingress_country,
                                   event.attestation, None, None)  # fmt: skip
        if caller is not None and abroad and event.answered:
            # an answered call from abroad makes the pair known; a list's openers are mostly
            # not answered, and one that is answered is never dialled again from that number
            self.abroad_pairs.add(pair_key(caller, callee))
        # a domestic line's verdict rests on its callees; were it to mark them, lines of one
        # company calling the same customers would confirm each other
        self._after_call(now, callee, event.answered, verdict, spread=abroad)

    def _track_domestic(
        self, now: float, caller: int, callee: int, event: CarrierCallEvent, stranger: bool
    ) -> None:
        """Count a domestic caller's calls of the day in the compact table; a line placing
        more calls in a day than a person does gets a window of its own."""
        s = self.settings
        window = self.domestic.get(caller)
        if window is None:
            self.day_calls.add(caller, day_of(now))
            if self.day_calls.total(caller, day_of(now)) < s.track_calls_day:
                return
            window = Window(s.window_calls, now)
            bounded_put(self.domestic, caller, window, s.max_tracked)
        window.add(Call(now, callee, caller, event.answered, event.duration_s, stranger))
        if self._sim_list(window, now) is not None:
            pack = self.packs.setdefault(caller // s.sim_pack_span, {})
            bounded_put(pack, caller, now, 4 * s.sim_pack_lines)

    def _sim_list(self, window: Window, now: float) -> WindowFacts | None:
        """The window's facts when the line dials a list of strangers, mostly unanswered."""
        s = self.settings
        facts = WindowFacts.of(window.recent(now, s.window_s), None)
        if (facts.strangers >= s.list_callees
                and facts.strangers >= s.list_uniqueness * facts.calls
                and facts.answer_rate < s.sim_answer_rate):  # fmt: skip
            return facts
        return None

    def _judge_domestic(self, now: float, caller: int, window: Window) -> tuple[float, str]:
        """A domestic mobile dialling a list (detect/sim_boxes.py, live): a list alone is what
        sales teams do; silence when called back and a pack of such lines make it a SIM box.
        (Detect's short-lived and walked-through evidence needs the line's whole life, which
        a call at setup does not have.)"""
        s = self.settings
        facts = self._sim_list(window, now)
        if facts is None:
            return 0.0, ""
        score = s.sim_list
        reasons = [f"a domestic line called {facts.strangers} strangers in the last day, "
                   f"{facts.answer_rate:.0%} answered"]  # fmt: skip
        if window.received >= s.sim_silent_calls and not window.received_answered:
            score += s.sim_silent
            reasons.append(f"it never answered the {window.received} calls made to it")
        pack = self.packs.get(caller // s.sim_pack_span, {})
        others = sum(1 for line, t in pack.items()
                     if line != caller and now - t <= s.sim_pack_window_s)  # fmt: skip
        if others + 1 >= s.sim_pack_lines:
            score += s.sim_pack
            reasons.append(f"{others} more lines of its pack of numbers dial lists too")
        return score, "; ".join(reasons)

    def _after_call(
        self, now: float, callee: int, answered: bool, verdict: Verdict, spread: bool = True
    ) -> None:
        """A call judged suspicious marks its callee's block as swept and, when answered, the
        callee as contacted (a payment that follows is looked at twice)."""
        s = self.settings
        if verdict.score < s.warn_score:
            return
        if answered:
            bounded_put(self.contacts, callee,
                        Contact(now, verdict.score, verdict.reasons[0], verdict.network_id),
                        s.max_tracked)  # fmt: skip
        if not spread:
            return
        bounded_put(self.targeted, callee, now, s.max_tracked)
        block = callee // s.sweep_block
        times = self.sweeps.get(block)
        if times is None:
            times = deque(maxlen=4 * s.sweep_calls)
            bounded_put(self.sweeps, block, times, s.max_tracked)
        times.append(now)

    def _apply_voip(self, event: VoipCallEvent) -> None:
        s = self.settings
        now = epoch(event.start_time)
        presented = self._voip_key(event.from_number)
        callee = self._voip_key(event.to_number)
        if callee is None:
            return
        window = self.lines.get(event.sip_account)
        if window is None:
            window = Window(s.window_calls, now)
            bounded_put(self.lines, event.sip_account, window, s.max_tracked)
        answered = event.sip_status == 200 and event.duration_s > 0
        # a stranger: a callee this caller ID never called before, here or at home (a
        # reseller's customers call the same relatives for months; a list is new numbers)
        pair = pair_key(presented or 0, callee)
        stranger = pair not in self.voip_pairs and pair not in self.circles
        self.voip_pairs.add(pair)
        window.add(Call(now, callee, presented or 0, answered, event.duration_s, stranger))
        score, reason = self._line_now(window, now)
        if now - window.peak_time > s.line_memory_s:
            window.peak = 0.0
        if score and score >= window.peak:
            if window.peak < s.warn_score <= score:
                # the line has just shown what it is: the numbers it presented lately are its
                for earlier in window.recent(now, s.window_s):
                    if earlier.presented:
                        bounded_put(self.presented, earlier.presented,
                                    (event.sip_account, earlier.time, score, None),
                                    s.max_tracked)  # fmt: skip
            window.peak, window.peak_reason, window.peak_time = score, reason, now
        verdict = Verdict()
        self._judge_line(now, event.sip_account, event.source_ip, verdict)
        if verdict.score >= s.warn_score and presented is not None:
            bounded_put(self.presented, presented,
                        (event.sip_account, now, verdict.score, verdict.network_id),
                        s.max_tracked)  # fmt: skip
        self._after_call(now, callee, answered, verdict)

    def _apply_transfer(self, event: TransferEvent) -> None:
        if not event.payer_account or not event.payee_account:
            return
        self.amounts.add(text_key(event.payer_account), event.amount)
        pair = pair_key(text_key(event.payer_account), text_key(event.payee_account))
        if pair not in self.paid:
            self.paid.add(pair)
            self.new_payers.add(text_key(event.payee_account), day_of(epoch(event.time)))

    def _apply_complaint(self, event: ComplaintEvent) -> None:
        s = self.settings
        for text in event.reported_numbers:
            number = self._carrier_key(text)
            if number is not None:
                self._complain("caller_number", number, "a number")
        for account in event.reported_accounts:
            account = account.strip()
            if account:
                self._complain("mule_account", account, "an account")
        victim = self._carrier_key(event.victim_phone)
        if victim is not None:
            flags = self.flags.setdefault("victim_phone", {})
            if victim not in flags:
                flags[victim] = Flag(s.victim_new_payee, "a victim who filed a complaint")

    def _complain(self, kind: str, key: object, what: str) -> None:
        s = self.settings
        flags = self.flags.setdefault(kind, {})
        flag = flags.get(key)
        if flag is None:
            flag = flags[key] = Flag(0.0, "")
        flag.complaints += 1
        # one complaint is a lead shown as a warning; two agree (detect's COMPLAINTS_AGREE)
        from_complaints = min(1.0, s.complaint_number + COMPLAINTS_AGREE * (flag.complaints - 1))
        if from_complaints > flag.score:
            flag.score = from_complaints
        reported = f"reported by {flag.complaints} complaint{'s' if flag.complaints > 1 else ''}"
        flag.reason = (f"{flag.reason.split('; reported by')[0]}; {reported}"
                       if flag.reason and not flag.reason.startswith("reported by")
                       else f"{reported} as {what} the scammers used")  # fmt: skip

    # ------------------------------------------------------------------------- reading
    def entity(self, kind: str, value: str) -> EntityView | None:
        """What the engine knows of one entity, or None when it knows nothing."""
        s = self.settings
        key: object = value
        if kind in PHONE_KINDS:
            key = self._carrier_key(value)
            if key is None:
                return None
        flag = self.flags.get(kind, {}).get(key)
        recent: dict[str, float] = {}
        score, reasons = (flag.score, [flag.reason]) if flag else (0.0, [])
        window: Window | None = None
        if kind == "sip_account":
            window = self.lines.get(value)
        elif kind == "caller_number" and isinstance(key, int):
            window = self.numbers.get(key) or self.domestic.get(key)
        if window is not None and window.calls:
            last = window.calls[-1].time
            facts = WindowFacts.of(window.recent(last, s.window_s), self.local_prefix)
            recent = {"calls_last_day": float(facts.calls),
                      "callees_last_day": float(facts.callees),
                      "caller_ids_last_day": float(facts.presented_local),
                      "answer_rate_last_day": facts.answer_rate,
                      "calls_seen": float(window.total_calls)}  # fmt: skip
            if window.peak > score:
                score = window.peak
                reasons.append(window.peak_reason)
        if kind == "victim_phone" and isinstance(key, int) and key in self.contacts:
            contact = self.contacts[key]
            recent["answered_suspicious_call_at"] = contact.time
            reasons.append(f"answered a suspicious call: {contact.reason}")
            score = max(score, contact.score)
        if flag is None and window is None and not recent:
            return None
        return EntityView(kind=kind, value=value, score=min(1.0, score),
                          flagged=score >= FLAG_THRESHOLD, reasons=reasons,
                          network_id=flag.network_id if flag else None,
                          center_id=flag.center_id if flag else None, recent=recent)  # fmt: skip

    def metrics(self) -> dict[str, float]:
        """Counters and gauges for ``/metrics``."""
        out: dict[str, float] = {
            "events_applied": float(self.events_applied),
            "tracked_lines": float(len(self.lines)),
            "tracked_numbers": float(len(self.numbers)),
            "tracked_domestic_lines": float(len(self.domestic)),
            "contacted_subscribers": float(len(self.contacts)),
            "presented_by_suspicious_lines": float(len(self.presented)),
            "accounts": float(len(self.accounts)),
            "sketch_bytes": float(
                self.home.nbytes
                + self.circles.nbytes
                + self.paid.nbytes
                + self.voip_pairs.nbytes
                + self.new_payers.nbytes
                + self.day_calls.nbytes
            ),
        }
        for kind, flags in sorted(self.flags.items()):
            out[f"flagged_{kind}"] = float(sum(1 for f in flags.values()
                                               if f.score >= FLAG_THRESHOLD))  # fmt: skip
        return out


def _line_word(score: float, s: ServeSettings) -> str:
    return "flagged" if score >= s.block_score else "suspicious"


def _read_case_table(case: Path, name: str) -> pa.Table | None:
    """Table ``name`` of a case folder (Parquet, or CSV with every cell as text)."""
    parquet, csv_path = case / f"{name}.parquet", case / f"{name}.csv"
    if parquet.is_file():
        return pq.read_table(parquet)
    if csv_path.is_file():
        return findings_folder.read_csv_text(csv_path)
    return None
