"""Calls as columns: the simulator's internal, loop-free representation of call records.

Every generator returns a :class:`CallBatch`; one batch becomes rows of ``carrier_cdr`` (where the
call reached the carrier's subscriber) and of ``voip_cdr`` (where it left through the VoIP
provider that holds the data). Phone numbers are E.164 digits held as ``int64`` (``0`` is a
withheld caller ID) so nothing becomes a string until the final render.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import IntEnum

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
I16 = npt.NDArray[np.int16]
I8 = npt.NDArray[np.int8]
B = npt.NDArray[np.bool_]


class Category(IntEnum):
    """Who placed a call: fraud or one of the honest populations."""

    NORMAL = 0
    SCAM = 1
    DIASPORA = 2
    FOREIGN_CALL_CENTER = 3
    TELEMARKETER = 4
    VOIP_LOCAL = 5
    WHOLESALE_VOIP = 6
    COMPANY_PBX = 7
    SALES_TEAM = 8
    ROAMER = 9
    DRIVER = 10


class Stage(IntEnum):
    NONE = -1
    LIST_DIAL = 0
    NEIGHBOR = 1
    POLICE = 2
    OFFICIAL = 3
    FOLLOWUP = 4

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass
class CallBatch:
    """Parallel arrays, one element per call."""

    time: I64  # true UTC epoch seconds at set-up
    callee: I64  # E.164 digits of the dialled number
    caller_shown: I64  # E.164 digits presented as caller ID (0: withheld)
    answered: B
    duration: I32
    sip_status: I16
    to_carrier: B  # reached the victims' carrier's subscriber: a carrier_cdr row
    trunk: I16  # index into Registry.trunks (-1 when not to_carrier)
    ingress_country: I16  # index into Registry.countries
    via_voip: B  # left through the data-holding VoIP provider: a voip_cdr row
    sip_account: I32  # index into Registry.sip_accounts (-1)
    source_ip: I32  # index into Registry.ips (-1)
    user_agent: I16  # index into Registry.user_agents (-1)
    category: I8
    network: I16  # -1 for honest calls
    center: I16  # -1 for honest calls
    stage: I8

    def __len__(self) -> int:
        return len(self.time)

    def take(self, index: npt.NDArray[np.integer] | B | slice) -> CallBatch:
        return CallBatch(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @staticmethod
    def concat(batches: list[CallBatch]) -> CallBatch:
        if not batches:
            return CallBatch.empty()
        return CallBatch(
            **{
                f.name: np.concatenate([getattr(b, f.name) for b in batches])
                for f in fields(CallBatch)
            }
        )

    @staticmethod
    def empty() -> CallBatch:
        return CallBatch.build(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))

    @staticmethod
    def draw(
        rng: np.random.Generator,
        time: I64,
        callee: I64,
        caller_shown: I64,
        *,
        answer_rate: float,
        median_s: float,
        sigma: float,
        category: Category,
    ) -> CallBatch:
        """Calls that are picked up with ``answer_rate``, talk a log-normal time when they are,
        and otherwise end busy, unanswered, cancelled or declined."""
        n = len(time)
        answered = rng.random(n) < answer_rate
        batch = CallBatch.build(
            time, callee, caller_shown, answered=answered,
            duration=talk_time(rng, n, median_s, sigma), category=category,
        )  # fmt: skip
        batch.sip_status[~answered] = unanswered_statuses(rng, int((~answered).sum()))
        return batch

    @staticmethod
    def build(
        time: I64,
        callee: I64,
        caller_shown: I64,
        *,
        answered: B | None = None,
        duration: I32 | None = None,
        category: Category = Category.NORMAL,
    ) -> CallBatch:
        """A batch with every optional column at its neutral value; callers fill the rest."""
        n = len(time)
        if answered is None:
            answered = np.zeros(n, bool)
        if duration is None:
            duration = np.zeros(n, np.int32)
        return CallBatch(
            time=time.astype(np.int64),
            callee=callee.astype(np.int64),
            caller_shown=caller_shown.astype(np.int64),
            answered=answered,
            duration=np.where(answered, duration, 0).astype(np.int32),
            sip_status=np.where(answered, 200, 480).astype(np.int16),
            to_carrier=np.zeros(n, bool),
            trunk=np.full(n, -1, np.int16),
            ingress_country=np.zeros(n, np.int16),
            via_voip=np.zeros(n, bool),
            sip_account=np.full(n, -1, np.int32),
            source_ip=np.full(n, -1, np.int32),
            user_agent=np.full(n, -1, np.int16),
            category=np.full(n, int(category), np.int8),
            network=np.full(n, -1, np.int16),
            center=np.full(n, -1, np.int16),
            stage=np.full(n, int(Stage.NONE), np.int8),
        )


def unanswered_statuses(rng: np.random.Generator, n: int) -> I16:
    """Final SIP responses of calls nobody picked up: busy, no answer, cancelled, declined."""
    codes = np.array([486, 480, 487, 603], np.int16)
    return codes[rng.choice(4, size=n, p=[0.2, 0.35, 0.35, 0.1])]


def talk_time(rng: np.random.Generator, n: int, median_s: float, sigma: float) -> I32:
    """Log-normal talk time in whole seconds, at least one second, at most four hours."""
    d = rng.lognormal(np.log(median_s), sigma, size=n)
    return np.clip(np.rint(d), 1, 14_400).astype(np.int32)


def digit_count(values: I64) -> I64:
    """Decimal digits of positive integers (exact for int64, unlike ``log10`` near powers of 10)."""
    out = np.ones(len(values), np.int64)
    for k in range(1, 19):
        out += values >= 10**k
    return out


def to_e164(calling_code: int, nsn: I64) -> I64:
    """E.164 digits as one integer: ``86`` and ``13800138000`` give ``8613800138000``."""
    nsn = np.asarray(nsn, dtype=np.int64)
    return calling_code * 10 ** digit_count(nsn) + nsn


def nsn_of(calling_code: int, e164: I64) -> I64:
    """The national significant number inside E.164 digits of a known country."""
    width = digit_count(e164) - len(str(calling_code))
    return np.asarray(e164 - calling_code * 10**width, dtype=np.int64)
