"""Every threshold of the scoring service, with the real-world behaviour its value comes from.

Where a value means what a batch setting means (``scamtrace/detect/settings.py``) it is that
setting's value, read from there, so the two stages never drift apart; the others say here why
they have their value. None was fitted to the gap between two of our simulated distributions.

Scores are additive evidence on the findings' 0-1 scale: ``warn_score`` is the contract's flag
threshold (a call or a payment that would be a finding is shown as suspected fraud), and
``block`` / ``hold`` need evidence a person has already confirmed (a finding near certainty, two
independent complaints) or several independent signals at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from scamtrace.core.contract import FLAG_THRESHOLD
from scamtrace.detect import settings as batch

_DETECT = batch.DetectSettings()


@dataclass(frozen=True)
class ServeSettings:
    """Thresholds of the real-time engine; defaults describe fraud and honest traffic in general."""

    #: The holder's country for national numbers (a carrier's own subscribers). ``None``: the
    #: case's ``holder.json``, else the findings' ``summary.json``; numbers written in an
    #: international form are read without it.
    country: str | None = None
    #: The country of the VoIP provider whose records stream in (its customers dial national
    #: numbers of that country); ``None``: ``holder.json``'s ``voip_cdr`` entry, else ``country``.
    voip_country: str | None = None

    # --------------------------------------------------------------------- decisions
    #: A call or payment scoring at least the contract's flag threshold is what a finding is.
    warn_score: float = FLAG_THRESHOLD
    #: Blocking a call or holding a payment costs an honest customer far more than a warning,
    #: so it takes what the batch stage calls near certain (a rotating dialler, 0.9) ...
    block_score: float = batch.LINE_ROTATING_LIST
    hold_score: float = batch.LINE_ROTATING_LIST
    #: ... or two independent complaints: two victims do not mistake the same number
    #: (detect's COMPLAINTS_AGREE); one complaint alone is a lead, so a warning.
    block_complaints: int = 2

    # --------------------------------------------------------------------- windows
    #: The window a line's behaviour is judged on. Carriers' fraud-management systems count a
    #: line's calls per hour and per day; a day holds enough calls to judge a line an account
    #: shares among a few operators (tens of calls), while a person's day still holds a
    #: handful of callees, most of them repeat contacts.
    window_s: int = 86400
    #: Calls of one line remembered within the window: a dialler with a few dozen operators
    #: places hundreds a day, and the verdict is taken on the most recent ones (a fixed
    #: cap keeps each update O(1)).
    window_calls: int = 64
    #: A SIP line is judged on its last week (up to ``window_calls`` calls): an account that
    #: a few operators share dials tens of calls a day, and a household or a company calls
    #: fewer strangers than a list holds in a week, presenting its own one or two numbers.
    line_window_s: int = batch.HANDOFF_WINDOW_S
    #: How long a line's verdict lasts unless re-earned: a gang works a SIP account for
    #: weeks and its script's stages run over days (detect's HANDOFF_WINDOW_S, a week), so a
    #: line that dialled a list on Monday is still that line on Wednesday; a honest line that
    #: once looked like one is forgiven within the week.
    line_memory_s: int = batch.HANDOFF_WINDOW_S

    # --------------------------------------------------------------------- lines
    #: A household or a shop calls fewer people than this in a case; a dialling list more
    #: (detect's fanout_min_callees). Here within one day, which a person never reaches.
    list_callees: int = _DETECT.fanout_min_callees
    #: A list is dialled once per number (detect's fanout_uniqueness).
    list_uniqueness: float = _DETECT.fanout_uniqueness
    #: A person or a company presents one or two numbers; a rotating dialler a new one every
    #: few calls (detect's rotation_min_ids, heavy_rotation_ids).
    rotation_ids: int = _DETECT.rotation_min_ids
    heavy_rotation_ids: int = _DETECT.heavy_rotation_ids
    #: Conversations, not a list: routes answered on 40-60% of attempts and calls of minutes
    #: (ITU-T E.411 answer-seizure ratio; carriers' ACD monitoring), detect's
    #: conversation_answer_rate and conversation_talk_s.
    conversation_answer_rate: float = _DETECT.conversation_answer_rate
    conversation_talk_s: int = _DETECT.conversation_talk_s
    #: Answered scam openers are short (detect's short_call_s).
    short_call_s: int = _DETECT.short_call_s
    #: Strangers reached by one presented local-looking number from abroad within the window
    #: before its list behaviour counts: a traveller calls the few people of a trip's
    #: day, and people rarely call three strangers in a day (Saramaki et al., PNAS 2014: most
    #: calls go to a few repeat contacts). Three is detect's rotation_min_ids, the smallest
    #: count that is a pattern rather than a pair.
    number_strangers: int = _DETECT.rotation_min_ids
    #: Answered on fewer than half of the calls: openers people hang up on (detect's
    #: NUMBER_ANSWER_RATE).
    number_answer_rate: float = batch.NUMBER_ANSWER_RATE
    #: Operators hand companies numbers in ranges of 100 and a PBX presents several of them;
    #: random spoofing almost never presents two of one range (detect's did_range_size and
    #: did_ids_per_range).
    did_range_size: int = _DETECT.did_range_size
    did_ids_per_range: int = int(_DETECT.did_ids_per_range)
    #: A dialling list is a run of neighbouring numbers dialled within the hour (detect's
    #: LIST_GAP/LIST_WINDOW_S); the block of 100 numbers around a callee is the unit a
    #: carrier can count cheaply. Two calls of suspicious lines into one block within the
    #: hour are a sweep: people's contacts are spread over the whole numbering plan.
    sweep_block: int = 100
    sweep_calls: int = 2
    sweep_window_s: int = batch.LIST_WINDOW_S

    # --------------------------------------------------------------------- SIM boxes
    #: Outgoing calls in a day from which a domestic line gets a window of its own: people
    #: place a few calls a day (operators' statistics put mobile users at a handful), a
    #: dialling list far more; below this a line costs only its cells in a counter table.
    track_calls_day: int = 5
    #: Cold calls from unknown numbers are mostly not picked up (detect's sim_answer_rate_max).
    sim_answer_rate: float = _DETECT.sim_answer_rate_max
    #: Prepaid SIMs come in packs of close numbers, loaded together (detect's sim_batch_*).
    sim_pack_span: int = _DETECT.sim_batch_span
    sim_pack_lines: int = _DETECT.sim_batch_min_lines
    sim_pack_window_s: int = int(_DETECT.sim_batch_window_days * 86400)
    #: A line called back this often and never answering is a gateway slot: a person or a
    #: sales phone misses a call now and then, rarely three in a row.
    sim_silent_calls: int = 3
    #: Each is one piece of evidence, as in detect (SIM_LIST, SIM_SILENT, SIM_BATCH): a list
    #: alone is what sales teams do; all three reach the flag threshold.
    sim_list: float = batch.SIM_LIST
    sim_silent: float = batch.SIM_SILENT
    sim_pack: float = batch.SIM_BATCH

    # --------------------------------------------------------------------- weights
    #: A local number from abroad alone: travellers and emigrants too (detect's NUMBER_BASE).
    local_from_abroad: float = batch.NUMBER_BASE
    #: ... calling strangers in the day, unanswered or short (detect's NUMBER_LIST_ONCE).
    number_list: float = batch.NUMBER_LIST_ONCE
    #: ... into a block of numbers that suspicious lines are sweeping (a list run).
    number_sweep: float = batch.NUMBER_AT_HOME + batch.NUMBER_SHORT
    #: ... to someone suspicious lines called within the script's days: the 'police' and
    #: the 'official' call a victim after the opener (detect's JOURNEY_MIN_LINES), while a
    #: stranger's first call to an honest subscriber follows no scam call.
    number_targeted: float = batch.NUMBER_AT_HOME + batch.NUMBER_SHORT
    #: ... presented lately by a SIP line that behaves as a dialler: the line decides.
    number_by_line: float = batch.LINE_HEAVY_ROTATION
    #: A line rotating caller IDs while dialling a list: near certain (detect's weights).
    line_rotating_list: float = batch.LINE_ROTATING_LIST
    line_heavy_rotation: float = batch.LINE_HEAVY_ROTATION
    #: One complaint alone is a lead (detect's report_alone_score): people report
    #: telemarketers and call centres as scams too. Two agree (detect's COMPLAINTS_AGREE),
    #: and with a forged local number from abroad behind it one is a finding.
    complaint_number: float = _DETECT.report_alone_score
    #: A number, line or account flagged in the findings keeps its findings' score.

    # --------------------------------------------------------------------- victims, money
    #: Victims pay within hours to days of the call that tells them to (detect's
    #: payment_window_days bounds the whole script; the 'safe account' transfer comes while
    #: the caller is still on the line or within the day).
    contact_window_s: int = int(_DETECT.payment_window_days * 86400)
    #: A hold needs the call to be recent: the 'safe account' transfer is made while the
    #: caller is still on the line or the same day, under the pressure of the script (police
    #: and UK Finance accounts of impersonation scams); a payment days later to an account the
    #: payer never paid is more often a purchase or a new landlord, so it is warned.
    hold_contact_s: int = 86400
    #: An account opened this recently is one a mule opened for the operation (detect's
    #: new_account_days).
    fresh_account_days: int = _DETECT.new_account_days
    #: First-time payers a personal account receives in a week before it looks like a
    #: collection account: a pair of friends settling up is two; a mule's victims are more
    #: (detect's MULE_MANY_NEW_PAYERS is three or more). A business account is paid by new
    #: customers every day, so only personal accounts count (detect's MULE_PERSONAL).
    new_payers: int = 3
    new_payers_window_days: int = 7
    #: Victims of 'safe account' fraud move their savings, tens of times their usual payment;
    #: rent and bills are a few times it (detect's savings_multiple) ...
    savings_multiple: float = _DETECT.savings_multiple
    #: ... judged once a payer has a few payments to compare with.
    savings_min_payments: int = 3
    #: A payee flagged as a mule or named by a complaint: the money goes to the gang.
    mule_payee: float = batch.LINE_ROTATING_LIST
    #: A payer who answered a suspicious line lately, paying an account it never paid ...
    contacted_new_payee: float = FLAG_THRESHOLD
    #: ... a fresh personal account, or one many new payers pay: the 'safe account'.
    safe_account_shape: float = 0.4
    #: A known victim (complained, or flagged victim) paying an account it never paid:
    #: victims are targeted again (recovery scams), a warning costs little.
    victim_new_payee: float = FLAG_THRESHOLD

    # --------------------------------------------------------------------- memory
    #: Bits of each compact set (who is a subscriber at home, who called whom, who paid
    #: whom). A false positive makes a stranger look known: a missed warning, never a false
    #: alarm. With two hashes false positives stay under 2% while members are under a
    #: tenth of the bits: 2^26 bits (8 MiB) hold six million, 2^30 (128 MiB) the 50 million
    #: numbers of a national carrier.
    sketch_bits: int = 1 << 26
    #: Suspicious entities kept with full state (lines, presented numbers, victims); the
    #: oldest are dropped first when more are seen.
    max_tracked: int = 2_000_000
