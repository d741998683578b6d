"""The banks' side of a world: a ledger of accounts and transfers, and realistic account numbers.

Accounts are rows of integer-coded arrays until the final render, where IBANs (with their
national check digits) and card numbers (with Luhn digits) are computed for all of them at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from scamtrace.simulate.numbering import CountryPlan

I64 = npt.NDArray[np.int64]


class Channel(IntEnum):
    MOBILE = 0
    ONLINE = 1
    BRANCH = 2
    ATM = 3
    INTERNATIONAL = 4


CHANNELS = [c.name.lower() for c in Channel]


class AccountRole(IntEnum):
    """Why an account exists in the world (truth only; detection never sees it)."""

    PERSONAL = 0
    EMPLOYER = 1
    MERCHANT = 2
    LANDLORD = 3
    NEW_ACCOUNT = 4
    MULE_LAYER1 = 5
    MULE_LAYER2 = 6
    CASH_OUT = 7


class TransferKind(IntEnum):
    HONEST = -1
    VICTIM_PAYMENT = 0
    LAYERING = 1
    CASH_OUT = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass
class _Columns:
    parts: dict[str, list[npt.NDArray[np.generic]]] = field(default_factory=dict)

    def add(self, **cols: npt.NDArray[np.generic]) -> None:
        for k, v in cols.items():
            self.parts.setdefault(k, []).append(np.asarray(v))

    def get(self, name: str) -> npt.NDArray[Any]:
        return np.concatenate(self.parts[name]) if name in self.parts else np.zeros(0)


class Ledger:
    """Accounts and transfers of one world, appended to by population, fraud and confounders."""

    def __init__(self) -> None:
        self._accounts = _Columns()
        self._transfers = _Columns()
        self.n_accounts = 0

    def open_accounts(
        self,
        country: str,
        holder_phone: I64,
        holder_id: I64,
        opened_day: I64,
        role: AccountRole,
        *,
        business: bool = False,
        listed: bool = True,
        network: int = -1,
    ) -> I64:
        """Open ``len(holder_phone)`` accounts; returns their ledger indices."""
        n = len(holder_phone)
        idx = np.arange(self.n_accounts, self.n_accounts + n, dtype=np.int64)
        self.n_accounts += n
        self._accounts.add(
            country=np.full(n, country, dtype="<U2"),
            holder_phone=holder_phone.astype(np.int64),
            holder_id=holder_id.astype(np.int64),
            opened_day=opened_day.astype(np.int64),
            role=np.full(n, int(role), np.int8),
            business=np.full(n, business),
            listed=np.full(n, listed),
            network=np.full(n, network, np.int16),
        )
        return idx

    def transfer(
        self,
        time: I64,
        payer: I64,
        payee: I64,
        amount_cents: I64,
        channel: npt.NDArray[np.int8] | Channel,
        *,
        kind: TransferKind = TransferKind.HONEST,
        network: int = -1,
        victim_phone: I64 | None = None,
    ) -> None:
        n = len(time)
        ch = np.full(n, int(channel), np.int8) if isinstance(channel, Channel) else channel
        self._transfers.add(
            time=time.astype(np.int64),
            payer=payer.astype(np.int64),
            payee=payee.astype(np.int64),
            amount=np.maximum(amount_cents, 100).astype(np.int64),
            channel=ch.astype(np.int8),
            kind=np.full(n, int(kind), np.int8),
            network=np.full(n, network, np.int16),
            victim_phone=(np.zeros(n, np.int64) if victim_phone is None else victim_phone),
        )

    def accounts(self) -> dict[str, npt.NDArray[Any]]:
        return {k: self._accounts.get(k) for k in self._accounts.parts}

    def transfers(self) -> dict[str, npt.NDArray[Any]]:
        cols = {k: self._transfers.get(k) for k in self._transfers.parts}
        order = np.argsort(cols["time"], kind="stable")
        return {k: v[order] for k, v in cols.items()}


def _digits(values: I64, width: int) -> npt.NDArray[np.int64]:
    """Zero-padded decimal digits of each value, most significant first: shape (n, width)."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (values[:, None] // powers[None, :]) % 10


def luhn_digit(body: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Luhn check digit for each row of a digit matrix (as appended at the right)."""
    rev = body[:, ::-1]
    doubled = rev.copy()
    doubled[:, 0::2] *= 2
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    return np.asarray((10 - doubled.sum(axis=1) % 10) % 10, dtype=np.int64)


def _spain_dc(digits: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    weights = np.array([1, 2, 4, 8, 5, 10, 9, 7, 3, 6], dtype=np.int64)
    w = weights[-digits.shape[1] :]
    d = 11 - (digits * w).sum(axis=1) % 11
    return np.asarray(np.where(d == 11, 0, np.where(d == 10, 1, d)), dtype=np.int64)


def _mod97(digit_matrix: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    r = np.zeros(digit_matrix.shape[0], dtype=np.int64)
    for col in range(digit_matrix.shape[1]):
        r = (r * 10 + digit_matrix[:, col]) % 97
    return r


def _letters_as_digits(code: str) -> list[int]:
    out: list[int] = []
    for ch in code:
        out.extend(int(d) for d in (str(ord(ch) - 55) if ch.isalpha() else ch))
    return out


# BBAN layouts for the IBAN countries we simulate: (bank digits, account digits).
_BBAN = {"ES": (8, 12), "DE": (8, 10), "FR": (10, 13), "GB": (6, 8)}


def account_numbers(plan: CountryPlan, rng: np.random.Generator, n: int) -> pa.Array:
    """``n`` distinct-enough valid account identifiers of ``plan``'s country.

    IBAN countries get IBANs with correct national and international check digits; others get
    bank card numbers (BIN + body + Luhn digit).
    """
    if n == 0:
        return pa.array([], pa.string())
    if not plan.iban:
        bins = np.array([int(b) for b in plan.card_bins], dtype=np.int64)
        body_len = plan.card_length - 7
        body = _digits(rng.integers(0, 10**body_len, size=n, dtype=np.int64), body_len)
        bin_digits = _digits(bins[rng.integers(0, len(bins), size=n)], 6)
        full = np.concatenate([bin_digits, body], axis=1)
        check = luhn_digit(full)
        return _join_digits(np.concatenate([full, check[:, None]], axis=1))
    return _ibans(plan, rng, n)


def _ibans(plan: CountryPlan, rng: np.random.Generator, n: int) -> pa.Array:
    code = plan.code
    if code not in _BBAN:
        raise NotImplementedError(f"no BBAN layout for {code}")
    codes = list(plan.iban_bank_codes)
    pick = rng.integers(0, len(codes), size=n)
    if code == "GB":
        # Four-letter bank code + six-digit sort code + eight-digit account number.
        bank_letters = np.array([c[:4] for c in codes])[pick]
        sort = rng.integers(0, 10**6, size=n, dtype=np.int64)
        acct = rng.integers(0, 10**8, size=n, dtype=np.int64)
        numeric = np.concatenate([_digits(sort, 6), _digits(acct, 8)], axis=1)
        letter_digits = np.array([_letters_as_digits(c[:4]) for c in codes], dtype=np.int64)[pick]
        bban_digits = np.concatenate([letter_digits, numeric], axis=1)
        bban_text = pc.binary_join_element_wise(pa.array(bank_letters), _join_digits(numeric), "")
    else:
        bank_width, acct_width = _BBAN[code]
        bank = np.array([int(c.ljust(bank_width, "0")[:bank_width]) for c in codes])[pick]
        bank_d = _digits(bank.astype(np.int64), bank_width)
        if code == "ES":
            acct = _digits(rng.integers(0, 10**10, size=n, dtype=np.int64), 10)
            dc = np.stack([_spain_dc(bank_d), _spain_dc(acct)], axis=1)
            bban_digits = np.concatenate([bank_d, dc, acct], axis=1)
        elif code == "FR":
            acct = _digits(rng.integers(0, 10**11, size=n, dtype=np.int64), 11)
            bank5 = bank_d[:, :5] @ (10 ** np.arange(4, -1, -1))
            branch5 = bank_d[:, 5:] @ (10 ** np.arange(4, -1, -1))
            acct_mod = _mod97(acct)
            key = 97 - ((89 * bank5 + 15 * branch5 + 3 * acct_mod) % 97)
            bban_digits = np.concatenate([bank_d, acct, _digits(key.astype(np.int64), 2)], axis=1)
        else:
            acct = _digits(rng.integers(0, 10**acct_width, size=n, dtype=np.int64), acct_width)
            bban_digits = np.concatenate([bank_d, acct], axis=1)
        bban_text = _join_digits(bban_digits)
    suffix = np.array([*_letters_as_digits(code), 0, 0], dtype=np.int64)
    check = 98 - _mod97(np.concatenate([bban_digits, np.tile(suffix, (n, 1))], axis=1))
    check_text = pc.utf8_lpad(pc.cast(pa.array(check), pa.string()), 2, "0")
    return pc.binary_join_element_wise(pa.scalar(code), check_text, bban_text, "")


def _join_digits(matrix: npt.NDArray[np.int64]) -> pa.Array:
    chars = (matrix.astype(np.uint8) + ord("0")).astype(np.uint8)
    raw = np.ascontiguousarray(chars).view(f"S{matrix.shape[1]}").ravel()
    return pa.array(raw.astype(str), pa.string())
