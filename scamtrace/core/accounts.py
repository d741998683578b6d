"""Account numbers checked: IBANs with ``schwifty`` (checksum, country, bank), card numbers
with the Luhn check. A reported account that fails its check is most likely a typo, and the
report module then looks for the real account one keystroke away."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

#: An IBAN's shape (ISO 13616): a country, two check digits and up to 30 letters or digits,
#: 15 to 34 characters in all (Norway's are the shortest; none is longer than 34).
#: An IBAN written compact: country, check digits, 11 to 30 more (15 to 34 in all, ISO 13616).
IBAN_PATTERN = r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}"
IBAN_SHAPE = re.compile(IBAN_PATTERN)
_CARD_SHAPE = re.compile(r"[0-9]{12,19}")


@dataclass(frozen=True)
class AccountFacts:
    account: str
    scheme: str  # iban, card, domestic
    valid: bool
    country: str
    bank: str


def luhn_ok(digits: str) -> bool:
    """The Luhn check that card numbers (and many domestic account numbers) carry."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def has_iban_shape(text: str) -> bool:
    """Whether ``text`` (compact, upper case) is shaped as an IBAN; its check is not made."""
    return IBAN_SHAPE.fullmatch(text) is not None


def is_iban(text: str) -> bool:
    """Whether ``text`` (compact, upper case) is a valid IBAN: its shape, then ``schwifty``'s
    check of its country's length and format and its check digits."""
    if not has_iban_shape(text):
        return False
    try:
        IBAN(text)
    except SchwiftyException:
        return False
    return True


def account_facts(accounts: Iterable[str]) -> dict[str, AccountFacts]:
    """What can be checked of each distinct account number without asking its bank."""
    out: dict[str, AccountFacts] = {}
    for raw in set(accounts):
        text = raw.replace(" ", "").upper()
        if has_iban_shape(text):
            try:
                iban = IBAN(text)
                bank = iban.bank_name or iban.bank_code or ""
                out[raw] = AccountFacts(raw, "iban", True, iban.country_code, str(bank))
            except SchwiftyException:
                out[raw] = AccountFacts(raw, "iban", False, text[:2], "")
        elif _CARD_SHAPE.fullmatch(text):
            out[raw] = AccountFacts(raw, "card", luhn_ok(text), "", "")
        else:
            out[raw] = AccountFacts(raw, "domestic", bool(text), "", "")
    return out
