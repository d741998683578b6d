"""Scam classifier throughput: transcripts of about 300 words per second, per language.

The transcripts are turns of simulated calls of every kind, end to end, about 300 words each
(Chinese: 450 characters, about 300 words). The packaged model scores them in batches of 512,
with one and with two threads. Early warning scores every prefix of a call (one text per turn
heard), so it is measured in whole calls per second.

    python benchmarks/language_speed.py
    python benchmarks/language_speed.py --n 8000
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from rich.console import Console
from rich.table import Table

from scamtrace.language import load_classifier
from scamtrace.language.early import score_calls
from scamtrace.simulate.text import TRANSCRIPT_KINDS, render_transcripts

WORDS = 300
CHARS_PER_ZH_WORD = 1.5


def long_transcripts(language: str, n: int, seed: int = 0) -> list[str]:
    """``n`` transcripts of about 300 words: turns of simulated calls of every kind, end to end."""
    kinds = [TRANSCRIPT_KINDS[i % len(TRANSCRIPT_KINDS)] for i in range(n * 8)]
    turns = [t for call in render_transcripts(kinds, language, seed) for t in call.split("\n")]
    out: list[str] = []
    current: list[str] = []
    size = 0.0
    for turn in turns:
        current.append(turn)
        size += len(turn) / CHARS_PER_ZH_WORD if language == "zh" else len(turn.split())
        if size >= WORDS:
            out.append("\n".join(current))
            current, size = [], 0.0
            if len(out) == n:
                break
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--n", type=int, default=4000, help="transcripts per language")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()

    started = time.perf_counter()
    clf = load_classifier()
    load_s = time.perf_counter() - started
    clf.predict(["warm-up"], ["en"])
    table = Table(title=f"scam classifier speed (best of {args.repeat})")
    for col in ("language", "texts", "words", "chars", "1 thread /s", "2 threads /s",
                "early warning calls/s"):  # fmt: skip
        table.add_column(col, justify="right" if col != "language" else "left")
    for lang in ("zh", "es", "en"):
        texts = long_transcripts(lang, args.n)
        langs = [lang] * len(texts)
        rates = []
        for jobs in (1, 2):
            best = float("inf")
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                clf.predict(texts, langs, n_jobs=jobs)
                best = min(best, time.perf_counter() - t0)
            rates.append(len(texts) / best)
        short = texts[:500]
        t0 = time.perf_counter()
        score_calls(short, [lang] * len(short), clf)
        early = len(short) / (time.perf_counter() - t0)
        words = (sum(len(t) / CHARS_PER_ZH_WORD for t in texts) if lang == "zh"
                 else sum(len(t.split()) for t in texts)) / len(texts)  # fmt: skip
        chars = sum(len(t) for t in texts) / len(texts)
        table.add_row(lang, f"{len(texts):,}", f"{words:.0f}", f"{chars:.0f}",
                      f"{rates[0]:,.0f}", f"{rates[1]:,.0f}", f"{early:,.0f}")  # fmt: skip
    console = Console()
    console.print(table)
    console.print(f"model loaded in {load_s:.2f} s; {platform.processor() or platform.machine()}, "
                  f"{os.cpu_count()} CPUs, Python {platform.python_version()}")  # fmt: skip


if __name__ == "__main__":
    main()
