"""Naive rules an analyst might try first, scored on the world just made.

They exist to prove a world is not trivially solvable: if one column gives the fraud away, one
of these rules finds it. Each rule is tried at every threshold of a grid and reported at its
best, so no choice of threshold rescues it.

- ``foreign_ip``: every SIP account that calls the victims' country from an IP address outside
  it is fraud (scored on ``sip_account``).
- ``many_payers``: every account with more than K distinct payers is a mule (``mule_account``).
- ``busy_number``: every number that places more than K calls on some day is a call center
  (``caller_number``).
- ``three_caller_ids``: every SIP account that shows three or more caller IDs rotates spoofed
  numbers (``sip_account``); ``three_caller_ids_ips``: every address such an account called
  from is a center's (``source_ip``). Resellers and company PBXs present many numbers honestly.
- ``local_from_abroad``: every number of the victims' country that arrives on an international
  trunk is spoofed (``caller_number``). Emigrants keeping their number, resellers' customers
  and branch offices' PBXs present such numbers honestly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import iptocc
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from scamtrace.simulate.calls import CallBatch, digit_count
from scamtrace.simulate.context import WorldContext

I64 = npt.NDArray[np.int64]
PAYER_GRID = (1, 2, 3, 5, 10, 20, 50, 100)
DAILY_GRID = (1, 2, 3, 5, 10, 20, 50, 100, 200)
#: Caller IDs one SIP account shows from which the naive rule calls it a rotating dialler.
MANY_CALLER_IDS = 3


def prf(flagged: set[str], truth: set[str]) -> dict[str, float]:
    tp = len(flagged & truth)
    p = tp / len(flagged) if flagged else 0.0
    r = tp / len(truth) if truth else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4)}


class NaiveRules:
    def __init__(self, ctx: WorldContext) -> None:
        self.ctx = ctx
        self._daily: list[tuple[I64, I64]] = []
        self._foreign_ip_accounts: list[npt.NDArray[np.int32]] = []
        self._payers: dict[int, I64] = {}
        self._account_ids: npt.NDArray[np.str_] = np.zeros(0, str)
        self._account_callers: list[I64] = []  # rows of (account, caller ID E.164 digits)
        self._account_ips: list[I64] = []  # account * 2**32 + source IP id
        self._local_from_abroad: list[I64] = []

    def observe_carrier(self, calls: CallBatch) -> None:
        shown = calls.caller_shown != 0
        day = self.ctx.day_of(calls.time[shown], self.ctx.victim.utc_offset_hours)
        keys = calls.caller_shown[shown] * 512 + day
        uniq, counts = np.unique(keys, return_counts=True)
        numbers = uniq // 512
        first = np.flatnonzero(np.r_[True, numbers[1:] != numbers[:-1]])
        self._daily.append((numbers[first], np.maximum.reduceat(counts, first)))
        victim = self.ctx.victim
        k = len(str(victim.calling_code))
        width = np.maximum(digit_count(calls.caller_shown) - k, 0)
        local = shown & (calls.caller_shown // 10**width == victim.calling_code)
        abroad = calls.ingress_country != self.ctx.registry.country(victim.code)
        self._local_from_abroad.append(np.unique(calls.caller_shown[local & abroad]))

    def observe_voip(self, calls: CallBatch) -> None:
        cc = self.ctx.victim.calling_code
        k = len(str(cc))
        width = np.maximum(digit_count(calls.callee) - k, 0)
        to_victims = calls.callee // 10**width == cc
        ips = np.array(self.ctx.registry.ips)[calls.source_ip]
        uniq, inv = np.unique(ips, return_inverse=True)
        country = np.array([c or "" for c in iptocc.country_code(list(uniq))])[inv]
        foreign = to_victims & (country != self.ctx.victim.code)
        self._foreign_ip_accounts.append(np.unique(calls.sip_account[foreign]))
        account = calls.sip_account.astype(np.int64)
        shown = calls.caller_shown != 0
        pairs = np.stack([account[shown], calls.caller_shown[shown]], axis=1)
        self._account_callers.append(np.unique(pairs, axis=0))
        self._account_ips.append(np.unique(account << 32 | calls.source_ip.astype(np.int64)))

    def observe_transfers(self, tcols: dict[str, Any], account_ids: pa.Array) -> None:
        self._account_ids = np.asarray(account_ids.to_pylist(), dtype=object)
        ok = (tcols["payer"] >= 0) & (tcols["payee"] >= 0)
        pairs = np.unique(np.stack([tcols["payee"][ok], tcols["payer"][ok]], axis=1), axis=0)
        payees, counts = np.unique(pairs[:, 0], return_counts=True)
        self._payers = {0: payees.astype(np.int64), 1: counts.astype(np.int64)}

    def evaluate(self, truth: pa.Table) -> list[dict[str, Any]]:
        kinds = np.asarray(truth.column("kind").to_pylist(), dtype=object)
        values = np.asarray(truth.column("value").to_pylist(), dtype=object)

        def truth_of(kind: str) -> set[str]:
            return set(values[kinds == kind].tolist())

        out: list[dict[str, Any]] = []
        accounts = np.unique(np.concatenate(self._foreign_ip_accounts or [np.zeros(0, np.int32)]))
        flagged = set(np.array(self.ctx.registry.sip_accounts, dtype=object)[accounts].tolist())
        res = prf(flagged, truth_of("sip_account"))
        out.append({"rule": "foreign_ip", "kind": "sip_account",
                    "text": "every SIP account calling the victims' country from a foreign IP",
                    "threshold": None, **res, "flagged": len(flagged)})  # fmt: skip

        payees, counts = (
            self._payers.get(0, np.zeros(0, np.int64)),
            self._payers.get(1, np.zeros(0)),
        )
        mules = truth_of("mule_account")
        grid = []
        for k in PAYER_GRID:
            flagged = set(self._account_ids[payees[counts > k]].tolist())
            grid.append({"threshold": k, **prf(flagged, mules), "flagged": len(flagged)})
        out.append(_best("many_payers", "mule_account",
                         "every account with more than K distinct payers", grid))  # fmt: skip

        daily = self._daily or [(np.zeros(0, np.int64), np.zeros(0, np.int64))]
        numbers = np.concatenate([d[0] for d in daily])
        maxima = np.concatenate([d[1] for d in daily])
        order = np.argsort(numbers, kind="stable")
        numbers, maxima = numbers[order], maxima[order]
        uniq, first = np.unique(numbers, return_index=True)
        peak = np.maximum.reduceat(maxima, first) if len(numbers) else maxima
        callers = truth_of("caller_number")
        grid = []
        for k in DAILY_GRID:
            flagged = {f"+{v}" for v in uniq[peak > k].tolist()}
            grid.append({"threshold": k, **prf(flagged, callers), "flagged": len(flagged)})
        out.append(_best("busy_number", "caller_number",
                         "every number with more than K calls on some day", grid))  # fmt: skip
        out.extend(self._caller_id_rules(truth_of))
        return out

    def _caller_id_rules(self, truth_of: Callable[[str], set[str]]) -> list[dict[str, Any]]:
        empty = [np.zeros(0, np.int64)]
        pairs = np.unique(np.concatenate(self._account_callers or [np.zeros((0, 2), np.int64)]),
                          axis=0)  # fmt: skip
        accounts, ids = np.unique(pairs[:, 0], return_counts=True)
        many = accounts[ids >= MANY_CALLER_IDS]
        names = np.array(self.ctx.registry.sip_accounts, dtype=object)
        flagged = set(names[many].tolist())
        out = [{"rule": "three_caller_ids", "kind": "sip_account",
                "text": f"every SIP account that shows {MANY_CALLER_IDS} or more caller IDs",
                "threshold": MANY_CALLER_IDS, **prf(flagged, truth_of("sip_account")),
                "flagged": len(flagged)}]  # fmt: skip
        used = np.unique(np.concatenate(self._account_ips or empty))
        ips = used[np.isin(used >> 32, many)] & 0xFFFFFFFF
        addresses = np.array(self.ctx.registry.ips, dtype=object)
        flagged = set(addresses[np.unique(ips[ips < len(addresses)])].tolist())
        out.append({"rule": "three_caller_ids_ips", "kind": "source_ip",
                    "text": f"every address of a SIP account showing {MANY_CALLER_IDS} or more "
                            "caller IDs",
                    "threshold": MANY_CALLER_IDS, **prf(flagged, truth_of("source_ip")),
                    "flagged": len(flagged)})  # fmt: skip
        local = np.unique(np.concatenate(self._local_from_abroad or empty))
        flagged = {f"+{v}" for v in local.tolist()}
        out.append({"rule": "local_from_abroad", "kind": "caller_number",
                    "text": "every number of the victims' country arriving on an international "
                            "trunk",
                    "threshold": None, **prf(flagged, truth_of("caller_number")),
                    "flagged": len(flagged)})  # fmt: skip
        return out


def _best(rule: str, kind: str, text: str, grid: list[dict[str, Any]]) -> dict[str, Any]:
    best = max(grid, key=lambda g: g["f1"])
    return {"rule": rule, "kind": kind, "text": text, **best, "grid": grid}
