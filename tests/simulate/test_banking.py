"""Account numbers are valid where banks check them; amounts are exact decimals."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import schwifty
from hypothesis import given, settings
from hypothesis import strategies as st

from scamtrace.simulate.banking import account_numbers, luhn_digit
from scamtrace.simulate.numbering import country_plan
from scamtrace.simulate.world import cents_to_decimal


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 60),
       country=st.sampled_from(["ES", "FR", "GB", "DE"]))  # fmt: skip
def test_ibans_pass_schwifty(seed: int, n: int, country: str) -> None:
    ibans = account_numbers(country_plan(country), np.random.default_rng(seed), n).to_pylist()
    for iban in ibans:
        # Germany's per-bank account check digits are not simulated; the rest are.
        schwifty.IBAN(iban, validate_bban=country != "DE")
        assert iban.startswith(country)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 60))
def test_cards_carry_a_luhn_digit(seed: int, n: int) -> None:
    plan = country_plan("CN")
    cards = account_numbers(plan, np.random.default_rng(seed), n).to_pylist()
    for card in cards:
        assert len(card) == plan.card_length and card[:6] in plan.card_bins
        digits = np.array([[int(c) for c in card[:-1]]])
        assert int(luhn_digit(digits)[0]) == int(card[-1])


@given(st.lists(st.integers(0, 10**15), min_size=1, max_size=50))
def test_cents_become_exact_decimals(cents: list[int]) -> None:
    values = cents_to_decimal(np.array(cents, dtype=np.int64)).to_pylist()
    assert values == [Decimal(c) / 100 for c in cents]
