"""Training and evaluation texts: the packaged seed corpus, simulated transcripts, and the public
English ``scam-dialogue`` set (BothBosu/scam-dialogue, Apache-2.0; not shipped with the package).

Everything here is deterministic given its seed. Training code: the runtime never imports it
(it runs the simulator).
"""

from __future__ import annotations

import csv
import os
import random
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from scamtrace.core.errors import ScamtraceError
from scamtrace.language.classifier import TYPES
from scamtrace.language.features import LANGUAGES, normalise

__all__ = [
    "DIALOGUE_TYPE",
    "KIND_TYPE",
    "TRAINING_WORLDS",
    "Example",
    "World",
    "duplicate_of",
    "find_scam_dialogue",
    "kind_type",
    "read_scam_dialogue",
    "read_seed_corpus",
    "render_supplement",
    "scam_dialogue_split",
    "seed_calls",
    "simulated_transcripts",
]

KIND_TYPE: dict[str, str | None] = {
    "neighbor": "neighbor",
    "police": "police",
    "official": "official",
    "followup": "official",  # the same fraud's later call: "have you moved the money yet?"
    "list_dial": None,  # a cut-short opener, often wordless: scam, but no type can be read
}
"""Simulator transcript kinds (``truth/transcripts.csv``) to types; ``normal_*`` are ``normal``."""

DIALOGUE_TYPE: dict[str, str | None] = {
    "ssn": "police",  # government (Social Security) impersonation
    "refund": "customer_service",
    "support": "customer_service",
    "reward": None,  # prize scams: a scam, but none of our types
    "delivery": "normal",
    "insurance": "normal",
    "telemarketing": "normal",
    "wrong": "normal",
}
"""``scam-dialogue`` types to ours."""

SCAM_DIALOGUE_FILE = "scam-dialogue_all.csv"
SCAM_DIALOGUE_ENV = "SCAMTRACE_SCAM_DIALOGUE"
World = tuple[str, str | None, str | None]
"""A simulated world to draw transcripts from: preset, victims' country, centers' country
(``None``: the preset's)."""

TRAINING_WORLDS: tuple[World, ...] = (
    ("hard", None, None),
    ("seed", None, None),
    ("es-victims", None, None),
    ("hard", "GB", None),  # English-speaking victims
)


@dataclass(frozen=True)
class Example:
    """One labelled text. ``type`` is ``None`` where only scam/not-scam is known."""

    text: str
    language: str
    scam: bool
    type: str | None
    source: str
    group: str = ""  # the original a text was derived from (for grouped splits)


def kind_type(kind: str) -> str | None:
    """The type of a simulator transcript kind (``normal_*`` -> ``normal``)."""
    if kind.startswith("normal"):
        return "normal"
    if kind not in KIND_TYPE:
        raise ScamtraceError(f"unknown transcript kind {kind!r}")
    return KIND_TYPE[kind]


# -------------------------------------------------------------------------- seed corpus


def read_seed_corpus() -> list[tuple[str, str, str]]:
    """The packaged seed corpus as ``(language, type, text)``; type ``filler`` marks neutral
    turns ("Hello?", "Sorry, who?") that occur in every kind of call."""
    rows: list[tuple[str, str, str]] = []
    folder = resources.files("scamtrace.language") / "data"
    for lang in LANGUAGES:
        name = f"seed_{lang}.tsv"
        text = (folder / name).read_text(encoding="utf-8")
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            kind, sep, utterance = line.partition("\t")
            if not sep or kind not in (*TYPES, "filler") or not utterance.strip():
                raise ScamtraceError(f"{name}:{lineno}: expected TYPE<TAB>TEXT, got {line!r}")
            rows.append((lang, kind, utterance.strip()))
    return rows


def seed_calls(
    rows: Sequence[tuple[str, str, str]], seed: int, calls_per_type: int = 120
) -> list[Example]:
    """Examples from the seed corpus: every line alone (fillers as ``normal``), and short
    made-up calls of 2-6 lines of one type with neutral turns mixed in, per language."""
    rng = random.Random(seed)
    out = [
        Example(text, lang, kind not in ("normal", "filler"),
                "normal" if kind == "filler" else kind, "seed", f"seed/{lang}/{i}")
        for i, (lang, kind, text) in enumerate(rows)
    ]  # fmt: skip
    for lang in LANGUAGES:
        pools: dict[str, list[str]] = {}
        for lg, kind, text in rows:
            if lg == lang:
                pools.setdefault(kind, []).append(text)
        fillers = pools.get("filler", [""])
        for kind in TYPES:
            pool = pools.get(kind, [])
            if not pool:
                continue
            for j in range(calls_per_type):
                body = rng.sample(pool, min(len(pool), rng.randint(2, 6)))
                for _ in range(rng.randint(0, 3)):
                    body.insert(rng.randint(0, len(body)), rng.choice(fillers))
                speaker = rng.randint(0, 1)
                turns = [f"{('caller', 'callee')[(speaker + k) % 2]}: {t}"
                         for k, t in enumerate(body)]  # fmt: skip
                out.append(Example("\n".join(turns), lang, kind != "normal", kind, "seed-calls",
                                   f"seed-calls/{lang}/{kind}/{j}"))  # fmt: skip
    return out


# -------------------------------------------------------------------------- scam-dialogue


def find_scam_dialogue(path: str | os.PathLike[str] | None = None) -> Path | None:
    """The ``scam-dialogue_all.csv`` file: ``path`` if given (a file or its folder), else
    ``$SCAMTRACE_SCAM_DIALOGUE``, else ``shared/data/scam-dialogue-en/`` in or next to the current
    folder or any of its parents; ``None`` if none exists."""
    candidates: list[Path] = []
    if path is not None:
        candidates.append(Path(path))
    elif os.environ.get(SCAM_DIALOGUE_ENV):
        candidates.append(Path(os.environ[SCAM_DIALOGUE_ENV]))
    else:
        here = Path.cwd().resolve()
        for folder in (here, *here.parents):
            candidates.append(folder / "shared" / "data" / "scam-dialogue-en")
    for c in candidates:
        f = c / SCAM_DIALOGUE_FILE if c.is_dir() else c
        if f.is_file():
            return f
    if path is not None:
        raise ScamtraceError(f"{path}: no {SCAM_DIALOGUE_FILE} there")
    return None


def read_scam_dialogue(path: str | os.PathLike[str]) -> list[Example]:
    """All rows of ``scam-dialogue_all.csv`` in file order."""
    out: list[Example] = []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            kind = row["type"].strip()
            if kind not in DIALOGUE_TYPE:
                raise ScamtraceError(f"{path}: row {i + 1}: unknown type {kind!r}")
            out.append(Example(row["dialogue"], "en", row["label"].strip() == "1",
                               DIALOGUE_TYPE[kind], f"scam-dialogue/{kind}",
                               f"scam-dialogue/{i}"))  # fmt: skip
    return out


def scam_dialogue_split(
    rows: Sequence[Example], seed: int = 0, test_share: float = 0.2
) -> tuple[list[Example], list[Example]]:
    """Shuffle with ``seed`` and cut: the first ``1 - test_share`` train, the rest test. The
    same seed gives the same split on every machine (the file's rows are sorted by type, so the
    shuffle matters)."""
    order = np.random.default_rng(seed).permutation(len(rows))
    cut = round(len(rows) * (1 - test_share))
    return [rows[i] for i in order[:cut]], [rows[i] for i in order[cut:]]


def duplicate_of(train: Iterable[Example]) -> Callable[[Example], bool]:
    """A test: is this example's normalised text also in ``train``?"""
    seen = {normalise(e.text) for e in train}
    return lambda e: normalise(e.text) in seen


# -------------------------------------------------------------------------- simulated


def simulated_transcripts(
    seeds: Sequence[int],
    worlds: Sequence[World] = TRAINING_WORLDS,
    scale: float = 0.05,
    workdir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Example]:
    """Transcripts of simulated worlds: each of ``worlds`` for each seed, written to a temporary
    case folder and read back with their truth (``source`` is ``sim/KIND``)."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    from scamtrace.simulate.config import load_scenario
    from scamtrace.simulate.world import build_world, write_world

    out: list[Example] = []
    with tempfile.TemporaryDirectory(prefix="scamtrace-language-", dir=workdir) as tmp:
        for seed in seeds:
            for preset, victims, centers in worlds:
                label = "-".join(x for x in (preset, victims, centers, str(seed)) if x)
                if progress:
                    progress(f"simulating {label}")
                case = Path(tmp) / label
                scenario = load_scenario(preset, seed=seed, scale=scale, victim_country=victims,
                                         center_country=centers)  # fmt: skip
                write_world(build_world(scenario), case)
                texts = pq.read_table(case / "transcripts.parquet").to_pylist()
                truth = pcsv.read_csv(case / "truth" / "transcripts.csv").to_pylist()
                kinds = {(r["source"], r["call_id"]): str(r["kind"]) for r in truth}
                for r in texts:
                    kind = kinds[(r["source"], r["call_id"])]
                    out.append(Example(r["text"], r["language"], not kind.startswith("normal"),
                                       kind_type(kind), f"sim/{kind}",
                                       f"sim/{label}/{r['call_id']}"))  # fmt: skip
    return out


def render_supplement(seed: int, per_kind: int = 60) -> list[Example]:
    """Simulator transcripts of every conversational kind, ``per_kind`` of each per language,
    rendered straight from the templates: the worlds alone have few ``police`` / ``official``
    calls and no English ones."""
    from scamtrace.simulate.text import TRANSCRIPT_KINDS, render_transcripts

    kinds = [k for k in TRANSCRIPT_KINDS if k != "list_dial"]
    out: list[Example] = []
    for lang in LANGUAGES:
        wanted = [k for k in kinds for _ in range(per_kind)]
        texts = render_transcripts(wanted, lang, seed * 7919 + LANGUAGES.index(lang))
        out.extend(
            Example(t, lang, not k.startswith("normal"), kind_type(k), f"sim/{k}",
                    f"render/{seed}/{lang}/{i}")
            for i, (k, t) in enumerate(zip(wanted, texts, strict=True))
        )  # fmt: skip
    return out
