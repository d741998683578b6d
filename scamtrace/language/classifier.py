"""Scam-call classifier for transcripts in Chinese, Spanish and English.

Character n-grams (1-4, whitespace included; no word segmenter, so Chinese works as is) are
hashed, pruned to those seen in at least two training texts and weighted by TF-IDF (sublinear tf,
l2 norm). Two L2-regularised logistic regressions read the same features: one gives the scam
score, the other the type of call. A call is ``normal`` when its score is below 0.5; otherwise
its type is the most likely of the seven scam types.

The trained model ships with the package (``models/scam_classifier.joblib``, made by
``python -m scamtrace.language.training.train``); :func:`load_classifier` reads it and never
trains: without a readable model it raises :class:`ClassifierMissing`. Nothing is ever downloaded.
This module is the runtime; training (:mod:`scamtrace.language.training`) imports it, never the
other way round, so that classifying never runs the simulator.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import scipy.sparse as sp

from scamtrace.core.errors import ScamtraceError
from scamtrace.language.features import detect_language, normalise_language

__all__ = [
    "MODEL_FILE",
    "SCAM_TYPES",
    "TRAIN_COMMAND",
    "TYPES",
    "ClassifierMissing",
    "ScamClassifier",
    "classify_rows",
    "load_classifier",
]

SCAM_TYPES: tuple[str, ...] = (
    "neighbor",
    "police",
    "official",
    "customer_service",
    "loan",
    "acquaintance",
    "delivery",
)
"""What a scam call is about: ``neighbor`` (a fake neighbour or community worker preparing the
ground), ``police`` (authority impersonation), ``official`` (asks for a transfer to a "safe"
account), ``customer_service`` (fake customer service, refunds, tech support), ``loan`` (loan or
credit offer), ``acquaintance`` (fake friend, relative or boss), ``delivery`` (parcel, customs)."""

TYPES: tuple[str, ...] = (*SCAM_TYPES, "normal")
"""Every type the classifier returns."""

MODEL_FILE = "scam_classifier.joblib"
FORMAT = 1
TRAIN_COMMAND = "python -m scamtrace.language.training.train"
"""The command that builds the packaged model (named in :class:`ClassifierMissing`)."""
THRESHOLD = 0.5
"""Score at and above which a call is a scam (and gets a scam type)."""

_CHUNK = 512  # texts per batch step: bounds memory, and lets two threads share the work
_lock = threading.Lock()
_cached: ScamClassifier | None = None


class ClassifierMissing(ScamtraceError):
    """The packaged model is missing or cannot be read; the message names the command that
    builds it."""


class ScamClassifier:
    """A trained model. Build one with :func:`load_classifier` or
    :func:`scamtrace.language.training.train.train`."""

    def __init__(self, model: dict[str, Any]) -> None:
        if model.get("format") != FORMAT:
            raise ScamtraceError(f"scam classifier format {model.get('format')!r}, need {FORMAT}")
        self.model = model
        self.vectorizer = model["vectorizer"]
        self.scam_head = model["scam"]
        self.type_head = model["type"]
        self.meta: dict[str, Any] = model.get("meta", {})
        classes = [str(c) for c in self.type_head.classes_]
        missing = set(SCAM_TYPES) - set(classes)
        if missing:
            raise ScamtraceError(f"type model lacks {sorted(missing)}")
        self._scam_cols = np.array([classes.index(t) for t in SCAM_TYPES])
        self._classes = classes

    # -------------------------------------------------------------------------- scoring

    def features(self, texts: Sequence[str], languages: Sequence[str | None] | None) -> Any:
        """The feature matrix of ``texts``: TF-IDF of n-grams and a one-hot of the language."""
        return featurize(self.vectorizer, self.meta.get("languages", ()), texts, languages)

    def predict(
        self,
        texts: Sequence[str],
        languages: Sequence[str | None] | None = None,
        n_jobs: int = 2,
    ) -> tuple[npt.NDArray[np.float64], list[str]]:
        """Scam score in [0, 1] and type (one of :data:`TYPES`) of each text.

        ``languages`` (BCP 47, one per text, ``None`` or empty where unknown) are guessed from
        the text when not given. Texts are scored in batches of 512, ``n_jobs`` batches at once.
        """
        if isinstance(texts, str):
            raise ScamtraceError("texts must be a sequence of strings, not one string")
        texts = ["" if t is None else str(t) for t in texts]
        if languages is not None and len(languages) != len(texts):
            raise ScamtraceError(f"{len(texts)} texts but {len(languages)} languages")
        if not texts:
            return np.zeros(0, dtype=np.float64), []
        starts = range(0, len(texts), _CHUNK)
        jobs = [(texts[s : s + _CHUNK], None if languages is None else languages[s : s + _CHUNK])
                for s in starts]  # fmt: skip
        if n_jobs > 1 and len(jobs) > 1:
            with ThreadPoolExecutor(min(n_jobs, len(jobs))) as pool:
                parts = list(pool.map(lambda j: self._predict_chunk(*j), jobs))
        else:
            parts = [self._predict_chunk(*j) for j in jobs]
        scores = np.concatenate([p[0] for p in parts])
        types = [t for p in parts for t in p[1]]
        return scores, types

    def predict_proba_types(
        self, texts: Sequence[str], languages: Sequence[str | None] | None = None
    ) -> tuple[npt.NDArray[np.float64], list[str]]:
        """Probabilities of every type (columns in the order of the second value)."""
        x = self.features(texts, languages)
        return self.type_head.predict_proba(x), list(self._classes)

    def _predict_chunk(
        self, texts: Sequence[str], languages: Sequence[str | None] | None
    ) -> tuple[npt.NDArray[np.float64], list[str]]:
        x = self.features(texts, languages)
        scores = np.clip(self.scam_head.predict_proba(x)[:, 1].astype(np.float64), 0.0, 1.0)
        type_logits = self.type_head.decision_function(x)[:, self._scam_cols]
        best = np.asarray(SCAM_TYPES)[np.argmax(type_logits, axis=1)]
        types = [str(b) if s >= THRESHOLD else "normal" for s, b in zip(scores, best, strict=True)]
        return scores, types

    def __repr__(self) -> str:
        trained = self.meta.get("trained_on", {})
        return f"ScamClassifier(seed={self.meta.get('seed')}, trained_on={trained})"


def languages_of(texts: Sequence[str], languages: Sequence[str | None] | None) -> list[str]:
    """Each text's language: the given BCP 47 tag (``zh-CN`` -> ``zh``), else a guess."""
    if languages is None:
        return [detect_language(t) for t in texts]
    if len(languages) != len(texts):
        raise ScamtraceError(f"{len(texts)} texts but {len(languages)} languages")
    out = []
    for t, code in zip(texts, languages, strict=True):
        lang = normalise_language(code)
        out.append(lang if lang is not None else detect_language(t))
    return out


def featurize(
    vectorizer: Any,
    language_order: Sequence[str],
    texts: Sequence[str],
    languages: Sequence[str | None] | None,
) -> sp.csr_matrix:
    """TF-IDF of ``texts`` with, when ``language_order`` is not empty, one column per language
    (1 for the text's language)."""
    tfidf = vectorizer.transform(texts)
    if not language_order:
        return tfidf
    order = list(language_order)
    onehot = np.zeros((len(texts), len(order)), dtype=np.float32)
    for i, lang in enumerate(languages_of(texts, languages)):
        if lang in order:
            onehot[i, order.index(lang)] = 1.0
    return sp.hstack([tfidf, sp.csr_matrix(onehot)], format="csr", dtype=np.float32)


# ------------------------------------------------------------------------------ loading


def model_path() -> Path:
    """Where the packaged model lives (it may not exist)."""
    return Path(str(resources.files("scamtrace.language") / "models" / MODEL_FILE))


def _read_packaged() -> dict[str, Any]:
    """The packaged model; :class:`ClassifierMissing` when there is none or this installation
    cannot read it."""
    import joblib

    path = model_path()
    if not path.is_file():
        raise ClassifierMissing(f"no packaged scam classifier ({path}); build it with: "
                                f"{TRAIN_COMMAND}")  # fmt: skip
    try:
        with warnings.catch_warnings():
            # a model saved by another scikit-learn release usually still loads; FORMAT and the
            # checks in ScamClassifier guard the rest
            warnings.simplefilter("ignore")
            model = joblib.load(path)
    except Exception as exc:  # unpickling raises almost anything on a version mismatch
        raise ClassifierMissing(f"cannot read the packaged scam classifier ({path}): {exc!r}; "
                                f"rebuild it with: {TRAIN_COMMAND}") from exc  # fmt: skip
    if not isinstance(model, dict):
        raise ClassifierMissing(f"the packaged scam classifier ({path}) is not a model "
                                f"dictionary; rebuild it with: {TRAIN_COMMAND}")  # fmt: skip
    return model


def load_classifier(*, fresh: bool = False) -> ScamClassifier:
    """The packaged classifier (read once per process and cached; ``fresh`` re-reads it).

    Never trains one: a missing or unreadable model file raises :class:`ClassifierMissing`,
    whose message names the command that builds it.
    """
    global _cached
    with _lock:
        if _cached is not None and not fresh:
            return _cached
        model = _read_packaged()
        try:
            clf = ScamClassifier(model)
        except ScamtraceError as exc:
            raise ClassifierMissing(f"the packaged scam classifier ({model_path()}): {exc}; "
                                    f"rebuild it with: {TRAIN_COMMAND}") from exc  # fmt: skip
        _cached = clf
        return clf


# ------------------------------------------------------------------------------- tables


def classify_rows(
    table: pa.Table, classifier: ScamClassifier | None = None, n_jobs: int = 2
) -> pa.Table:
    """``table`` with ``scam_score`` (float64, [0, 1]) and ``scam_type`` (string) appended.

    ``table`` needs a ``text`` column (a ``transcripts`` or ``reports``-like table; null text
    scores as empty) and may have ``language`` (BCP 47; null or empty cells are guessed). Existing
    ``scam_score`` / ``scam_type`` columns are replaced.
    """
    if "text" not in table.column_names:
        raise ScamtraceError(
            f"classify: the table needs a 'text' column; it has {', '.join(table.column_names)}"
        )
    texts = [t or "" for t in table.column("text").to_pylist()]
    languages: list[str | None] | None = None
    if "language" in table.column_names:
        languages = [None if v is None else str(v) for v in table.column("language").to_pylist()]
    clf = classifier or load_classifier()
    scores, types = clf.predict(texts, languages, n_jobs=n_jobs)
    for name in ("scam_score", "scam_type"):
        if name in table.column_names:
            table = table.drop_columns([name])
    table = table.append_column("scam_score", pa.array(scores, pa.float64()))
    return table.append_column("scam_type", pa.array(types, pa.string()))
