"""Text normalisation, turn splitting, language guessing and a fast character n-gram hasher.

:class:`CharNgramHasher` is a scikit-learn transformer that turns texts into a sparse matrix of
character n-gram counts (n-grams of normalised text, spaces included, so that Chinese needs no
word segmenter and ``"safe ac"`` is one feature in English). It does what
``HashingVectorizer(analyzer="char")`` does, but hashes every n-gram of a whole batch at once with
numpy instead of one Python string per n-gram, which makes it about ten times faster. ``fit``
keeps only the hash buckets seen in at least ``min_df`` training texts and numbers them
``0..k-1``, so the model downstream (``TfidfTransformer`` and linear models) is small.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = [
    "LANGUAGES",
    "CharNgramHasher",
    "detect_language",
    "normalise",
    "normalise_language",
    "split_turns",
]

LANGUAGES: tuple[str, ...] = ("zh", "es", "en")
"""Languages the classifier is built for. Others are scored, with no promise."""

_SPEAKER = re.compile(
    r"\b(?:caller|callee|receiver|recipient|speaker ?[0-9a-z]?|llamante|llamado|interlocutor|"
    r"来电者|接听者|主叫|被叫) ?[:：]"
)  # applied to lower-case text
_LINE_SPEAKER = re.compile(r"^\s*([^\s:：]{1,20})\s?[:：]\s?")
_INLINE_TURN = re.compile(
    r"(?:(?<=\s)|^)(?=(?:caller|callee|receiver|recipient|speaker\s?[0-9a-z]?)\s?[:：])",
    re.IGNORECASE,
)
_OTHER_SPACES = (0x85, 0xA0, 0x1680, *range(0x2000, 0x200C), 0x2028, 0x2029, 0x202F, 0x205F,
                 0x3000)  # fmt: skip
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[a-zA-ZáéíóúñüÁÉÍÓÚÑÜ]")
_ES_MARKS = re.compile(
    r"[ñ¿¡áéíóú]|\b(?:el|la|los|las|que|de|usted|su|por|para|con|es|está|muy|pero|hola|"
    r"sí|gracias|cuenta|dinero)\b",
    re.IGNORECASE,
)
_EN_MARKS = re.compile(
    r"\b(?:the|you|your|and|is|are|to|of|it|this|that|with|for|hello|yes|please|account|"
    r"money|what|i'm|don't)\b",
    re.IGNORECASE,
)
_LANGUAGE_ALIASES = {"cmn": "zh", "yue": "zh", "wuu": "zh", "spa": "es", "eng": "en"}

U64 = npt.NDArray[np.uint64]
_MULT = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def normalise(text: str) -> str:
    """Text as the classifier sees it: NFKC, lower case, every digit ``0``, no speaker labels
    (``caller:``...), punctuation as spaces (speech-to-text often has none), each run of spaces
    (turn breaks included) one space, none at the ends."""
    codes = _codes([text])
    return codes[1:-1].tobytes().decode("utf-32-le")


@cache
def _blank_table() -> npt.NDArray[np.bool_]:
    """For each code point of the Basic Multilingual Plane: is it read as a space (whitespace
    and punctuation; symbols such as ``$`` and ``€`` are kept)."""
    table = np.zeros(0x10000, dtype=bool)
    for cp in range(0x10000):
        if unicodedata.category(chr(cp)).startswith(("P", "Z")):
            table[cp] = True
    table[list(_OTHER_SPACES)] = True
    return table


def _codes(texts: Sequence[str]) -> npt.NDArray[np.uint32]:
    """Code points of the normalised ``texts``, each preceded and the last followed by a 0."""
    parts = [t if t.isascii() or unicodedata.is_normalized("NFKC", t)
             else unicodedata.normalize("NFKC", t) for t in texts]  # fmt: skip
    joined = "\0" + "\0".join(p.replace("\0", " ") for p in parts) + "\0"
    joined = _SPEAKER.sub(" ", joined.lower())
    c = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).copy()
    c[(c >= 0x31) & (c <= 0x39)] = 0x30
    bmp = np.minimum(c, 0xFFFF)
    space = ((c < 0x21) & (c != 0)) | _blank_table()[bmp]
    c[space] = 0x20
    prev_space = np.concatenate(([False], space[:-1]))
    c = c[~(space & prev_space)]  # one space per run
    space = c == 0x20
    sep = c == 0
    at_edge = np.concatenate(([True], sep[:-1])) | np.concatenate((sep[1:], [True]))
    return c[~(space & at_edge)]  # type: ignore[no-any-return]


def split_turns(text: str) -> list[str]:
    """The turns of a transcript, in order: its non-empty lines, or, for a transcript written on
    one line with inline ``caller:`` / ``receiver:`` labels, the pieces between the labels."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) == 1:
        pieces = [p.strip() for p in _INLINE_TURN.split(lines[0]) if p.strip()]
        if len(pieces) > 1:
            return pieces
    return lines


def normalise_language(code: str | None) -> str | None:
    """``zh``, ``es`` or ``en`` for a BCP 47 tag of those languages (``zh-Hans-CN``, ``es-419``,
    ``cmn``...); the primary subtag, lower case, for any other; ``None`` for an empty one."""
    if code is None:
        return None
    primary = code.strip().replace("_", "-").split("-")[0].lower()
    if not primary:
        return None
    return _LANGUAGE_ALIASES.get(primary, primary)


def detect_language(text: str) -> str:
    """A quick guess among ``zh``, ``es`` and ``en`` from the script and common words."""
    sample = text[:2000]
    cjk = len(_CJK.findall(sample))
    latin = len(_LATIN.findall(sample))
    if cjk and cjk >= 0.3 * (cjk + latin):
        return "zh"
    return "es" if len(_ES_MARKS.findall(sample)) > len(_EN_MARKS.findall(sample)) else "en"


def _mix(x: U64) -> U64:
    """splitmix64 finaliser: spreads the polynomial hash over all 64 bits."""
    x = x ^ (x >> np.uint64(30))
    x = x * _MIX1
    x = x ^ (x >> np.uint64(27))
    x = x * _MIX2
    return x ^ (x >> np.uint64(31))


class CharNgramHasher(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Counts of hashed character n-grams of :func:`normalise`-d text.

    Parameters
    ----------
    ngram_range:
        smallest and largest n.
    n_bits:
        hash space of ``2**n_bits`` buckets before pruning.
    min_df:
        ``fit`` keeps the buckets that occur in at least this many texts; ``transform`` drops the
        others and returns one column per kept bucket.
    """

    def __init__(
        self, ngram_range: tuple[int, int] = (1, 4), n_bits: int = 20, min_df: int = 2
    ) -> None:
        self.ngram_range = ngram_range
        self.n_bits = n_bits
        self.min_df = min_df

    # -- fitting ----------------------------------------------------------------------------

    def fit(self, X: Iterable[str], y: Any = None) -> CharNgramHasher:
        texts = list(X)
        rows, buckets = self._hash(texts)
        counts = _count(rows, buckets, len(texts), 1 << self.n_bits)
        df = np.bincount(counts.indices, minlength=1 << self.n_bits)
        self.kept_ = np.flatnonzero(df >= self.min_df).astype(np.int32)
        self.n_features_out_ = len(self.kept_)
        return self

    def transform(self, X: Iterable[str]) -> sp.csr_matrix:
        texts = list(X)
        rows, buckets = self._hash(texts)
        cols = self._lookup()[buckets]
        keep = cols >= 0
        return _count(rows[keep], cols[keep], len(texts), self.n_features_out_)

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.str_]:
        return np.array([f"bucket{b}" for b in self.kept_], dtype=str)

    # -- internals --------------------------------------------------------------------------

    def _lookup(self) -> npt.NDArray[np.int64]:
        table: npt.NDArray[np.int64] | None = getattr(self, "_table", None)
        if table is None:
            table = np.full(1 << self.n_bits, -1, dtype=np.int64)
            table[self.kept_] = np.arange(len(self.kept_))
            self._table = table
        return table

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_table", None)  # rebuilt on first use: keeps the saved model small
        return state

    def _hash(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Row and bucket of every n-gram occurrence in ``texts``."""
        lo, hi = self.ngram_range
        if not 1 <= lo <= hi:
            raise ValueError(f"ngram_range must be 1 <= lo <= hi, got {self.ngram_range}")
        codes = _codes(texts).astype(np.uint64)
        seps_before = np.concatenate(([0], np.cumsum(codes == 0, dtype=np.int64)))
        doc = seps_before[1:] - 1  # the text each position belongs to
        shift = np.uint64(64 - self.n_bits)
        rows: list[npt.NDArray[np.int64]] = []
        buckets: list[npt.NDArray[np.int64]] = []
        h = np.zeros(len(codes), dtype=np.uint64)
        for n in range(1, hi + 1):
            m = len(codes) - n + 1
            if m <= 0:
                break
            h = h[:m] * _MULT + codes[n - 1 : n - 1 + m] + np.uint64(n)
            if n < lo:
                continue
            ok = seps_before[n : n + m] == seps_before[:m]  # no separator in the window
            buckets.append((_mix(h[ok]) >> shift).astype(np.int64))
            rows.append(doc[:m][ok])
        if not rows:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        return np.concatenate(rows), np.concatenate(buckets)


def _count(
    rows: npt.NDArray[np.int64], cols: npt.NDArray[np.int64], n_rows: int, n_cols: int
) -> sp.csr_matrix:
    """CSR matrix counting the ``(row, col)`` pairs; one sort (much faster than letting
    scipy sum duplicates row by row)."""
    keys = np.sort(rows * n_cols + cols)
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, len(keys))).astype(np.float32)
    unique = keys[starts]
    indptr = np.searchsorted(unique, np.arange(n_rows + 1, dtype=np.int64) * n_cols)
    matrix = sp.csr_matrix(
        (counts, (unique % n_cols).astype(np.int32), indptr.astype(np.int32)),
        shape=(n_rows, n_cols),
    )
    matrix.has_sorted_indices = True
    return matrix
