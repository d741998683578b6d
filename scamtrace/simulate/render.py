"""From the simulator's integer columns to the strings a data holder's export contains."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from scamtrace.simulate.calls import digit_count, nsn_of
from scamtrace.simulate.numbering import CountryPlan, format_numbers

I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]

E164, INTERNATIONAL, NATIONAL, GROUPED, EMPTY, ANONYMOUS, UNKNOWN = range(7)


def belongs_to(plan: CountryPlan, numbers: I64) -> npt.NDArray[np.bool_]:
    k = len(str(plan.calling_code))
    width = np.maximum(digit_count(numbers) - k, 0)
    return np.asarray((numbers > 0) & (numbers // 10**width == plan.calling_code))


def is_mobile(plan: CountryPlan, nsn: I64) -> npt.NDArray[np.bool_]:
    digits = digit_count(nsn)
    out = np.zeros(len(nsn), bool)
    for b in plan.mobile:
        tail = b.length - len(b.prefix)
        out |= (digits == b.length) & (nsn // 10**tail == int(b.prefix))
    return out


def e164_text(numbers: I64) -> pa.Array:
    """``+<digits>``, the contract's normal form (and the truth files' form)."""
    return pc.binary_join_element_wise(
        pa.scalar("+"), pc.cast(pa.array(numbers, pa.int64()), pa.string()), ""
    )


def phone_text(
    numbers: I64, style: I8, holder: CountryPlan, plans: tuple[CountryPlan, ...]
) -> pa.Array:
    """Render E.164 digits as ``holder`` logged them, in per-row ``style``.

    ``0`` stands for a withheld number: it becomes an empty cell, ``anonymous`` or ``unknown``.
    """
    n = len(numbers)
    if n == 0:
        return pa.array([], pa.string())
    parts: list[pa.Array] = []
    index: list[npt.NDArray[np.int64]] = []
    covered = np.zeros(n, bool)
    for plan in plans:
        mask = belongs_to(plan, numbers) & ~covered
        covered |= mask
        if not mask.any():
            continue
        nsn = nsn_of(plan.calling_code, numbers[mask])
        st = np.minimum(style[mask], GROUPED).astype(np.int8)
        parts.append(format_numbers(plan, nsn, st, is_mobile(plan, nsn), holder.code))
        index.append(np.flatnonzero(mask))
    withheld = numbers == 0
    if withheld.any():
        st = np.where(style[withheld] >= EMPTY, style[withheld], EMPTY).astype(np.int8)
        labels = pa.array(np.array(["", "", "", "", "", "anonymous", "unknown"])[st])
        parts.append(labels)
        index.append(np.flatnonzero(withheld))
    rest = ~covered & ~withheld
    if rest.any():
        parts.append(e164_text(numbers[rest]))
        index.append(np.flatnonzero(rest))
    order = np.concatenate(index)
    inverse = np.empty(n, np.int64)
    inverse[order] = np.arange(n)
    return pa.concat_arrays([p.cast(pa.string()) for p in parts]).take(pa.array(inverse))


def hex_ids(rng: np.random.Generator, n: int, width: int = 24) -> pa.Array:
    """Random lowercase hex identifiers (SIP Call-IDs and the like), drawn in one go."""
    alphabet = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    chars = alphabet[rng.integers(0, 16, size=(n, width))]
    return pa.array(np.ascontiguousarray(chars).view(f"S{width}").ravel().astype(str))


def prefixed_ids(prefix: str, first: int, n: int, width: int = 9) -> pa.Array:
    """``prefix`` + zero-padded running numbers: ``C000000001``..."""
    numbers = pc.cast(pa.array(np.arange(first, first + n, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(pa.scalar(prefix), pc.utf8_lpad(numbers, width, "0"), "")
