"""Every threshold, window and weight of detection, in one place, with why it has its value.

``DetectSettings`` holds what a case may change (``--settings FILE.yaml``; recorded in
``summary.json``). The constants after it are the score weights: they fix what a score means
(the flag threshold ``contract.FLAG_THRESHOLD``, 0.5, separates findings from leads; ``LEAD_MIN``
is the floor of a lead), so they are not per-case settings. Scores are additive evidence on a
0-1 scale (``docs/adr/0002-detectors-as-sql.md``): a weight says how strong one kind of evidence
is next to the others and to the threshold.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scamtrace.core.errors import ScamtraceError, first_problem


class DetectSettings(BaseModel):
    """Defaults describe the behaviour of dialling operations and mule accounts in general,
    not of one simulated world; change them per case with ``--settings FILE.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Each value says what dialling operations, mule accounts and honest traffic do in general
    # (the detectors' docstrings and README "scamtrace detect"), not what fits one simulated
    # world; the simulated presets and seeds only checked them (tests/detect/test_quality.py).

    #: Two operators' switches stamp one call a few seconds apart (set-up and routing delays,
    #: clocks that differ a little); one-to-one nearest-first matching within ten seconds keeps
    #: two calls to one number apart.
    link_tolerance_s: int = Field(10, ge=0, description="carrier and VoIP start times of one call")
    #: Switches without a time source drift: a minute between two operators' clocks is seen
    #: in practice (issue 15), and the offset is searched over twice that. It is measured from
    #: the data (the offset most calls to one number share) and the VoIP times are moved by it
    #: before any detector runs (enrich/clocks.py).
    link_clock_search_s: int = Field(
        120, ge=0, le=3600, description="largest clock offset between carrier and VoIP provider"
    )
    #: A household or a shop calls fewer people than this in a case; a dialling list more.
    fanout_min_callees: int = Field(8, ge=1, description="distinct callees for a dialling line")
    #: A list is dialled once per number, so callees per call is near 1; people and companies
    #: call the same numbers again (family, customers calling back).
    fanout_uniqueness: float = Field(
        0.85, gt=0, le=1, description="callees per call: lists are dialled once per number"
    )
    #: A person or a company presents one number (two with a second line); a rotating
    #: dialler presents a new one every few calls.
    rotation_min_ids: int = Field(3, ge=2, description="caller IDs one SIP account presents")
    #: So many local-looking IDs from abroad are a dialler even when its list is short or
    #: called back (the 'policeman' calls his victims again).
    heavy_rotation_ids: int = Field(
        10, ge=2, description="caller IDs that mark a dialler even without a long list"
    )
    #: Conversations, not a list, take both of these. Person-to-person international routes
    #: answer 40-60% of attempts (the answer-seizure ratio, ITU-T E.411/E.425), and wholesale
    #: carriers treat routes under about 30% as bad or dialler traffic; a dialler's list is
    #: answered on a fifth of attempts or fewer. A third is under every honest route.
    conversation_answer_rate: float = Field(
        0.35, gt=0, le=1, description="answered share of an account holding conversations"
    )
    #: ... and the answered calls last minutes: the average call duration of ordinary
    #: international routes is 3-5 minutes, while people hang up on a dialler's opener within
    #: seconds; carriers' route monitoring treats an ACD under a minute as short-duration
    #: (dialler or fraud) traffic. The median of a few dozen business calls wanders well under
    #: their 3-minute typical length, so the bar is that minute.
    conversation_talk_s: int = Field(
        60, ge=1, description="median answered talk of an account holding conversations"
    )
    #: Operators hand a company its direct numbers (DIDs) in consecutive ranges of 10, 100 or
    #: 1,000 numbers, and a PBX presents each employee's number from them; spoofed numbers are
    #: drawn from the whole numbering plan and almost never share a range of 100.
    did_range_size: int = Field(100, ge=2, description="numbers in one range of direct numbers")
    #: Several numbers per range on average: a company's DIDs (one spoofed number per range
    #: is what random spoofing gives).
    did_ids_per_range: float = Field(
        3.0, ge=1, description="presented IDs per range that mark a company's direct numbers"
    )
    #: People call the same few people again and again: most of a person's calls go to a
    #: handful of repeat contacts (Saramaki et al., PNAS 2014, "Persistence of social
    #: signatures in human communication"; Onnela et al., PNAS 2007). A reseller's or wholesale
    #: carrier's customers present their own numbers, so most of its calls repeat a pair of
    #: caller ID and callee; a rotating dialler never shows one ID to one person twice.
    own_number_repeat_share: float = Field(
        0.5, gt=0, le=1, description="calls repeating a caller-ID/callee pair: own numbers"
    )
    #: An emigrant family calls a circle of relatives and friends at home, a dozen at most.
    family_max_callees: int = Field(12, ge=1, description="a household's circle abroad")
    #: Answered scam openers are a pretext of a minute or two (a parcel, a neighbour, a fine)
    #: before the hand-over; calls home from abroad run long (calling-card and VoIP operators
    #: sell them by the ten-minute block, and families talk for tens of minutes). Four minutes
    #: lies between the two behaviours; the table with it halved and doubled is in the README.
    short_call_s: int = Field(240, ge=1, description="answered scam openers are short")
    #: Victims pay within days of the last scam call, while the script's pressure lasts.
    payment_window_days: float = Field(10, gt=0, description="scam call to payment")
    #: Mules forward each deposit within hours to days, before the account is frozen.
    pass_through_hours: float = Field(72, gt=0, description="mules forward within days")
    #: A mule keeps a small cut and passes the rest on; a shop or a landlord keeps it all.
    pass_through_share: float = Field(0.6, gt=0, le=1, description="share of inflow forwarded")
    #: Most of a mule's payers (and of its inflow) are victims; a shop's victims are a few of
    #: its many customers.
    mule_victim_share: float = Field(0.4, gt=0, le=1, description="payers who are victims")
    #: A payer new to an account pays it once, or twice (the 'second fee' victims are talked
    #: into); a customer, a tenant or a relative pays the same account month after month.
    new_payer_max_payments: int = Field(
        2, ge=1, description="payments that still make a payer new to an account"
    )
    #: Victims of 'safe account' fraud move their savings: sums tens of times their median
    #: payment (UK Finance puts the average impersonation-scam loss in the thousands of pounds,
    #: against everyday payments of tens). A person's larger regular payments, rent and bills,
    #: are a few times the median, and a purchase from a reseller is one of those.
    savings_multiple: float = Field(
        10.0, gt=1, description="a payment this many times the payer's median is out of character"
    )
    #: A mule account is used within weeks of being opened, before the bank's first review
    #: (Europol's EMMA actions and UK Finance find most active in their first months); one
    #: stranger's savings passed on is a finding only from an account this new.
    new_account_days: int = Field(90, ge=1, description="an account this new may mule alone")
    #: Round-tripping: laundered money is sent back to where it started through other accounts
    #: within weeks (FATF's typologies; AMLSim's 'cycle' pattern); people settling up do not
    #: usually pass one sum around three accounts inside a month.
    cycle_window_days: float = Field(
        30, gt=0, description="money back where it started, through two others, within this"
    )
    #: First-layer mules are opened for the operation, weeks to months before use.
    fresh_account_days: int = Field(365, ge=1, description="accounts opened for the operation")
    #: Money seen in the case leaves the mule chain (ATM, abroad) within a few layers.
    follow_layers: int = Field(4, ge=1, description="layers of money to follow after the first")
    #: Enough records for a person to check a finding; the report shows them all.
    evidence_per_entity: int = Field(20, ge=1, description="records kept behind each finding")
    #: Presented numbers and victims number in the hundreds of thousands in a big case.
    evidence_per_call_entity: int = Field(
        4, ge=1, description="records behind each presented number and victim (there are many)"
    )
    #: One complaint alone is a lead, not a finding: under contract.FLAG_THRESHOLD (0.5) and
    #: above LEAD_MIN (0.4), so it is listed in leads.csv.
    report_alone_score: float = Field(0.45, ge=0, le=1, description="one report, no behaviour")
    #: The classifier's own decision threshold (its scores are calibrated probabilities).
    transcript_scam_score: float = Field(
        0.5, gt=0, lt=1, description="classifier score from which a transcript reads as a scam"
    )
    #: A subscriber heard on a scam call is a victim, flagged, but less sure than one who
    #: answered calls of a flagged line or filed a complaint.
    transcript_victim_score: float = Field(
        0.6, ge=0, le=1, description="subscriber heard on a scam call, no other behaviour"
    )
    #: SIM-box lines (sim_boxes.py). Cold calls from unknown numbers are mostly not picked up
    #: (people screen numbers they do not know; telemarketing answer rates are commonly put at
    #: 10-30%), while a person's, a courier's or a shop's callees expect the call and answer
    #: most of them.
    sim_answer_rate_max: float = Field(
        0.5, gt=0, le=1, description="answer rate under which a list line dials strangers"
    )
    #: Operators' fraud-management systems and test-call campaigns find interconnect-bypass
    #: SIMs within days, and gangs swap them before that (industry reports on SIM-box bypass
    #: describe SIMs living hours to a few days); a person's or a company's line is used for
    #: months to years (mobile churn is a few per cent a month). Two weeks leaves room for both.
    sim_life_days: float = Field(14, gt=0, description="a SIM-box SIM is used for days at most")
    #: A line in use falls silent for a week only on holiday; one that stops after days of
    #: dialling a list was thrown away (or was swapped: a close number of its pack took over).
    #: A line still calling near the case's end is not short-lived, only young: a new sales
    #: team's lines are young too.
    sim_quiet_days: float = Field(7, ge=0, description="silence after its last call")
    #: Prepaid SIMs are sold and activated in packs of consecutive numbers (tens to a hundred
    #: cards); gateways are loaded a pack at a time.
    sim_batch_span: int = Field(100, ge=1, description="numbers apart within one prepaid pack")
    #: Three short-lived list lines of one pack: two could be chance, three are a pack in use.
    sim_batch_min_lines: int = Field(3, ge=2, description="short-lived list lines of one pack")
    #: A pack bought for a gateway is used up within weeks (its SIMs last days each).
    sim_batch_window_days: float = Field(30, gt=0, description="one pack's lines used together")
    #: Line reputation (docs/adr/0004-line-reputation.md): on by default.
    reputation: bool = Field(True, description="score lines against the known fraud lines")
    #: ADR 0004: the reputation from which a line is said to behave like the known fraud lines.
    reputation_min: float = Field(
        0.9, ge=0, le=1, description="reputation at which a line is like the known fraud lines"
    )
    #: ADR 0004: reputation only corroborates a line whose own behaviour already counts.
    reputation_floor: float = Field(
        0.3, ge=0, le=1, description="own behavioural score a line needs before reputation lifts it"
    )
    #: ADR 0004: corroboration, never enough to lift a line from the floor to the flag.
    reputation_lift: float = Field(
        0.05, ge=0, le=0.2, description="corroboration, never enough to flag on its own"
    )


# ----------------------------------------------------------------------------- score weights
#: Entities under the flag threshold and at least this are leads (``leads.csv``): one
#: complaint alone (``report_alone_score``), a fan-out line with local-looking IDs.
LEAD_MIN = 0.4

# Dialling lines (lines.py). Rotating local-looking caller IDs while dialling a list once each
# is what a call center's line does and neither a household nor an honest company does.
#: Rotation and a list dialled once each: a call center's line, near certain.
LINE_ROTATING_LIST = 0.9
#: ... and most of its calls present a number local to the callee: the spoofing itself.
LINE_SPOOF_BONUS = 0.05
#: Many local-looking IDs from abroad without a long list: a dialler calling victims back.
LINE_HEAVY_ROTATION = 0.7
#: A list with one local-looking ID from abroad: a lead (between LEAD_MIN and the flag).
LINE_LIST_SPOOFED = 0.45
#: A list with the line's own ID: what an honest call center does; under the lead floor.
LINE_LIST = 0.3
#: Anything else: a line seen, nothing shown. An IP counts calls of unflagged accounts so too.
LINE_NOTHING = 0.1
#: Share of an account's calls presenting a number local to the callee that makes it spoof:
#: most of them (travellers and emigrants present their own number, foreign to the callee).
LINE_LOCAL_SHARE = 0.5
#: An account whose presented IDs are at least this share of business numbers (toll-free,
#: shared cost) is a company's hotline: companies present their own service numbers.
HOTLINE_SHARE = 0.8
#: Accounts presenting more IDs than this are not looked up as hotlines (a company has a few
#: service numbers; the lookup is per number, in Python).
HOTLINE_MAX_IDS = 50

# SIM-box lines (sim_boxes.py): each is one piece of evidence; a list alone is what sales teams
# do, so a line needs two more of them to be flagged.
#: A domestic mobile dialling a list of strangers, each once, mostly unanswered.
SIM_LIST = 0.2
#: ... used for days, then silent (``sim_life_days``, ``sim_quiet_days``) ...
SIM_SHORT_LIVED = 0.15
#: ... one of several such short-lived lines of one prepaid pack (``sim_batch_*``) ...
SIM_BATCH = 0.15
#: ... called by people and never answering (a gateway slot takes no calls) ...
SIM_SILENT = 0.15
#: ... and those who answered were called on by other such lines or by scam lines, or paid a
#: personal account that others of them paid too (the script, and the mules).
SIM_WALKED = 0.15
#: All of it: near certain, as a rotating dialler from abroad (LINE_ROTATING_LIST).
SIM_BOX_MAX = 0.9

# Spoofed caller IDs (spoofing.py): a local number on a call from abroad, by its behaviour.
#: A company hotline presented from abroad is what honest call centers do: behaviour alone
#: never flags one (a complaint or a dialling line behind it must).
HOTLINE_CAP = 0.35
#: A local number from abroad: travellers and emigrants too, so under the lead floor alone ...
NUMBER_BASE = 0.35
#: ... each callee called once, like a list: a lead ...
NUMBER_LIST_ONCE = 0.35
#: ... also in use at home at the same time (a forgery of a real subscriber's number), or
#: mostly unanswered or short (openers, not conversations): each tips it over the flag.
NUMBER_AT_HOME = 0.1
NUMBER_SHORT = 0.1
#: A small circle called again and again from abroad: a family member.
NUMBER_FAMILY = 0.2
#: A subscriber abroad (roaming) calls the people it calls, or is called by, at home; a forger
#: presenting someone's number calls a list of strangers, none of whom that subscriber knows.
#: Most of its callees from abroad being its own circle is a traveller, not a forgery.
NUMBER_OWN_CIRCLE_SHARE = 0.5
#: Callees per call under this: each person called at least twice on average (a circle).
NUMBER_FAMILY_REPEAT = 0.5
#: Answered on fewer than half of the calls: openers that people hang up on.
NUMBER_ANSWER_RATE = 0.5
#: Numbers presented on fewer calls are not looked up as business numbers (one call says
#: nothing of behaviour; the lookup is per number, in Python).
NUMBER_LOOKUP_MIN_CALLS = 5

# Victims (journeys.py) and complaints (complaints.py, assemble.py).
#: Walked through the script: answered scam calls from this many numbers on this many days.
JOURNEY_MIN_LINES = 2
JOURNEY_MIN_DAYS = 2
#: Corroboration of what behaviour already flagged (a victim walked through the script, a
#: complaint naming a flagged line, account or victim): a little surer, never a new finding.
CONFIRMED_BONUS = 0.05
#: A complaint naming an entity that behaviour did not flag raises it more than one it did.
COMPLAINT_RAISES = 0.1
#: A second, independent complaint (or transcript) about an entity behaviour does not show:
#: two victims do not mistake the same number, so one alone (0.45) becomes a finding.
COMPLAINTS_AGREE = 0.2
#: Keystrokes a remembered number or account may be off by (Damerau-Levenshtein): victims
#: misremember a digit or swap two.
MAX_TYPO = 2
#: A subscriber who filed a complaint about scam calls none of the records show.
VICTIM_COMPLAINED = 0.75
#: A complaint reporting a loss no transfer in the case shows.
PAID_COMPLAINED = 0.6

# Mule accounts (mules.py): a first-layer mule by what the money does.
#: Victims paid it, after their scam calls ...
MULE_BASE = 0.2
#: ... two and three victims: not one victim paying a shop ...
MULE_TWO_VICTIMS = 0.25
MULE_THREE_VICTIMS = 0.1
#: ... passing the money on within days, as a shop or a landlord does not ...
MULE_PASSES_ON = 0.2
#: ... an account opened shortly before (opened for the operation) ...
MULE_FRESH = 0.15
#: ... a personal account (a shop's is a business account).
MULE_PERSONAL = 0.05
#: With no calls: first-time payers' money passed on to someone else within hours (a reseller
#: does this too) ...
MULE_NEW_PAYERS_PASSED_ON = 0.15
#: ... three or more of them, not a pair of friends settling up ...
MULE_MANY_NEW_PAYERS = 0.1
#: ... who paid far more than they usually pay anyone (their savings; a reseller's customers
#: pay for a purchase).
MULE_SAVINGS = 0.2
#: ... or money it sent came back to it through two other accounts (a lead alone: flatmates
#: settle up in circles too).
MULE_CYCLE = 0.25
#: Each layer of money further from the victims is a little less sure of its mule.
MULE_LAYER_DECAY = 0.95
#: A later-layer mule received at least this share of its money from mules.
MULE_FED_SHARE = 0.5

# Words (texts.py).
#: A script group is a script read on at least two calls: one call is one conversation.
SCRIPT_MIN_CALLS = 2

# Line reputation (number_reputation.py).
#: Fewer lines of a kind than this: nothing to learn from.
REPUTATION_MIN_LINES = 3

# Networks (networks.py).
#: A victim held a minute was engaged, not hung up on: carriers' short-duration-call metrics
#: (the 'short calls' of robocall analytics, under 30-60 s) count shorter answered calls as the
#: callee hanging up on a cold call; a minute is the end of that range, not a point fitted
#: between our simulator's honest and scam durations.
ENGAGED_S = 60
#: A victim handed on through the script: the 'policeman' calls one to three days after the
#: opener and the 'official' a day or two later (the staged police-impersonation scams as
#: victims and police describe them: days, not weeks, while the fear lasts); a week holds both.
HANDOFF_WINDOW_S = 7 * 86400
#: ... and keeps the victim on the line for a long time on his first call (impersonated
#: police hold victims tens of minutes to hours, isolating them), while a cold call a stranger
#: answers is over in a minute or two (the opener asks one thing: a parcel, a neighbour, a
#: fine): five minutes sets the two apart.
HANDOFF_TALK_S = 300
#: Two gangs that bought one leaked list may each reach the same person in the same week;
#: two victims handed on between the same two centers are not a coincidence.
HANDOFF_MIN_VICTIMS = 2
#: Neighbouring numbers of one dialling list, dialled within the hour.
LIST_GAP = 32
LIST_WINDOW_S = 3600
# Dialling runs from abroad (list_runs.py): numbers of other countries, each on a few calls.
#: A rotating dialler changes its number every call or every few calls (call-labelling apps
#: and carriers' per-number limits catch a number after a few dozen); a person abroad calls
#: the same few people again and again, a company abroad shows its one number on thousands.
RUN_NUMBER_MAX_CALLS = 5
#: A call is part of a run when other such numbers rang two or more neighbouring subscribers
#: of it within the hour: one more could be chance (two strangers abroad dialling neighbours),
#: two are a list being worked. Honest calls from abroad go to people's own circles, never to
#: neighbouring numbers of a block.
RUN_NEIGHBOURS = 2
#: ... and most of the number's calls are: a number dialling a list does nothing else.
RUN_SHARE = 0.5
#: Such a number is a dialler's: a finding, as a rotating local number from abroad is.
RUN_NUMBER = 0.75
#: Neighbouring numbers the center dialled that a call needs to join it (distinct numbers:
#: one call is seen by both the carrier and the provider). One, as before: a call joined so
#: is a guess about its center and never evidence that ties two centers (networks.py).
LIST_RUN_MIN = 1
#: A center spreads its dialling list over all its lines (an autodialler hands the next
#: number to the next free trunk), so calls of its lines at providers the case lacks have a
#: known line dialling the neighbouring numbers within the hour, but for a few strays. When
#: more than one carrier-side scam call in fifty is on list runs no known center dials near,
#: a whole center is unseen, and the hour of a call no longer tells its network (networks.py).
UNKNOWN_RUN_SHARE = 0.02
#: Attribute a call to a network by its hour only when that network placed this share.
TIMING_SHARE = 0.8
#: Leiden resolution (configuration model). Centers are tied only by evidence an organisation
#: leaves (mules it shares, victims it hands on), which chance does not make: a component of
#: that graph is one network unless its parts are tied far less than chance would tie them.
#: Standard modularity (1.0) instead splits a large network whose centers each tie to a few
#: others (the 13-center syndicate: ARI 0.27). Any value from 0.01 (the components
#: themselves) to 0.75 gives the same networks on every world measured (small 1-3, hard 1-2,
#: hard at 50% coverage, es-victims 1, simbox 1; README, settings halved and doubled).
RESOLUTION = 0.75
#: Smallest community named a network when there are no centers to build networks from.
MIN_COMMUNITY = 10


def load_settings(path: Path | None) -> DetectSettings:
    """Settings from a YAML mapping of field names to values; defaults where absent."""
    if path is None:
        return DetectSettings()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ScamtraceError(f"{path}: cannot read settings: {exc}") from exc
    if not isinstance(raw, dict):
        raise ScamtraceError(f"{path}: settings are a YAML mapping of name: value")
    try:
        return DetectSettings.model_validate(raw)
    except ValidationError as exc:
        raise ScamtraceError(f"{path}: {first_problem(exc, 'settings')}") from exc
