"""What every generator of one world shares: the scenario, named random streams, the registries
of lines, addresses and trunks, and the calendar."""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from scamtrace.simulate.config import Scenario
from scamtrace.simulate.numbering import CountryPlan, country_plan

DAY = 86_400

# Relative call intensity by local hour: quiet nights, busy late mornings and evenings.
HUMAN_HOURS = np.array(
    [0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.4, 1.0, 1.6, 2.0, 2.2, 2.0,
     1.6, 1.7, 1.9, 2.0, 1.9, 1.8, 1.8, 2.0, 2.1, 1.7, 1.1, 0.5]
)  # fmt: skip
OFFICE_HOURS = np.array([0.0] * 8 + [1.0] * 4 + [0.5, 0.9] + [1.0] * 4 + [0.3, 0.1] + [0.0] * 4)
EVENING_HOURS = np.array(
    [0.1, 0.05, 0.0, 0.0, 0.0, 0.0, 0.1, 0.4, 0.5, 0.4, 0.4, 0.5,
     0.7, 0.6, 0.4, 0.4, 0.5, 0.8, 1.4, 2.2, 2.6, 2.2, 1.2, 0.4]
)  # fmt: skip
# Weekday weights Monday..Sunday.
WEEK_HUMAN = np.array([1.0, 1.0, 1.0, 1.0, 1.05, 1.15, 1.1])
WEEK_OFFICE = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.25, 0.1])


@dataclass
class Registry:
    """Names behind the integer ids that call batches carry."""

    countries: list[str] = field(default_factory=list)
    trunks: list[str] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)
    sip_accounts: list[str] = field(default_factory=list)
    ips: list[str] = field(default_factory=list)
    ip_asn: list[str] = field(default_factory=list)

    def country(self, code: str) -> int:
        return _index(self.countries, code)

    def trunk(self, name: str) -> int:
        return _index(self.trunks, name)

    def user_agent(self, name: str) -> int:
        return _index(self.user_agents, name)

    _taken: set[str] = field(default_factory=set, repr=False)

    def add_sip_accounts(self, names: list[str]) -> npt.NDArray[np.int32]:
        """Register account names; a name drawn twice is moved to the next free number, so
        two customers never share an account."""
        first = len(self.sip_accounts)
        for name in names:
            while name in self._taken:
                name = f"sip{int(name[3:]) + 1:08d}"
            self._taken.add(name)
            self.sip_accounts.append(name)
        return np.arange(first, first + len(names), dtype=np.int32)

    def add_ips(self, addresses: list[str], asn: list[str]) -> npt.NDArray[np.int32]:
        """Register addresses; one drawn twice moves to the next free host of its /24, so two
        owners (two centers, a center and a household) never share an address by accident."""
        first = len(self.ips)
        for address in addresses:
            tries = 0
            while address in self._taken:
                a, b, c, host = address.split(".")
                tries += 1
                if tries % 254 == 0:  # this /24 is full: the next one along
                    c, b = str((int(c) + 1) % 256), str((int(b) + (int(c) == 255)) % 256)
                address = f"{a}.{b}.{c}.{int(host) % 254 + 1}"
            self._taken.add(address)
            self.ips.append(address)
        self.ip_asn.extend(asn)
        return np.arange(first, first + len(addresses), dtype=np.int32)


def _index(values: list[str], name: str) -> int:
    try:
        return values.index(name)
    except ValueError:
        values.append(name)
        return len(values) - 1


class WorldContext:
    """The scenario plus everything derived from it that generators share."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.victim: CountryPlan = country_plan(scenario.victim_country)
        self.centers: CountryPlan = country_plan(scenario.center_country)
        start = dt.datetime.combine(scenario.start, dt.time(), tzinfo=dt.UTC)
        self.t0 = int(start.timestamp())
        self.days = scenario.days
        self.registry = Registry()
        self.registry.country(self.victim.code)

    def rng(self, stream: str) -> np.random.Generator:
        """An independent, reproducible random stream per named part of the world."""
        return np.random.default_rng([self.scenario.seed, zlib.crc32(stream.encode())])

    def weekday(self, day: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        return (day + self.scenario.start.weekday()) % 7

    def times(
        self,
        rng: np.random.Generator,
        day: npt.NDArray[np.int64],
        hours: npt.NDArray[np.float64],
        utc_offset_hours: float,
    ) -> npt.NDArray[np.int64]:
        """UTC epoch seconds for calls on ``day`` (0-based) at local hours drawn from ``hours``."""
        n = len(day)
        hour = rng.choice(24, size=n, p=hours / hours.sum())
        local = day * DAY + hour * 3600 + rng.integers(0, 3600, size=n)
        return self.t0 + local - int(utc_offset_hours * 3600)

    def days_weighted(
        self, rng: np.random.Generator, n: int, first: int, last: int, week: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.int64]:
        """``n`` day indices in ``[first, last)`` with weekday weights ``week``."""
        span = np.arange(first, last, dtype=np.int64)
        w = week[self.weekday(span)]
        return rng.choice(span, size=n, p=w / w.sum())

    def day_of(self, t: npt.NDArray[np.int64], utc_offset_hours: float) -> npt.NDArray[np.int64]:
        return (t - self.t0 + int(utc_offset_hours * 3600)) // DAY
