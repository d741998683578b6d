"""Scam classifier quality, as tables.

1. English ``scam-dialogue`` (BothBosu, 1,600 synthetic dialogues), shuffled and split 80/20 with
   ``--split-seed`` (0: the split the packaged model was trained on; another seed retrains):
   F1 on the held-out 20 %, also with test dialogues that occur in the training part removed
   (de-duplicated), on a length-matched subsample (as many scam as non-scam dialogues in every
   length decile, so that length alone is worth nothing), and with every dialogue cut to its
   first 600 characters.
2. Cross-domain: a model trained the same way but without any scam-dialogue text, scored on all
   1,600 dialogues (and their length-matched subsample).
3. Simulated transcripts of ``hard`` worlds held out by seed (``--seeds``, training uses
   1001-1003): one world per language (Chinese victims as in the preset; Spanish victims called
   from China; British victims). Type accuracy over the conversational calls (every kind but
   ``list_dial``: the type of a call is its stage, ``followup`` counting as ``official``, or
   ``normal``), binary F1 over them, and the share of ``list_dial`` openers flagged (most have no
   words that could give them away).
4. Early warning on those worlds: the threshold at which 1 % of normal calls would ever raise an
   alert, and for scam calls the median share of turns heard before the alert (a call never
   alerted counts as infinitely late); also on the scam-dialogue test split.

    python benchmarks/language_quality.py
    python benchmarks/language_quality.py --seeds 1,2,3,4,5 --markdown
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

from scamtrace.language.classifier import ScamClassifier, load_classifier
from scamtrace.language.early import alert_timing, false_alarm_threshold, score_calls
from scamtrace.language.training.corpus import (
    Example,
    World,
    duplicate_of,
    find_scam_dialogue,
    read_scam_dialogue,
    scam_dialogue_split,
    simulated_transcripts,
)
from scamtrace.language.training.train import DIALOGUE_SPLIT_SEED, train

HELD_OUT_WORLDS: dict[str, World] = {
    "zh": ("hard", None, None),
    "es": ("hard", "ES", "CN"),
    "en": ("hard", "GB", None),
}
CUT_CHARS = 600


def prf(truth: Sequence[bool], flagged: npt.NDArray[np.bool_]) -> tuple[float, float, float]:
    t = np.asarray(truth, dtype=bool)
    tp = float(np.sum(t & flagged))
    p = tp / max(1.0, float(flagged.sum()))
    r = tp / max(1.0, float(t.sum()))
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def length_matched(rows: Sequence[Example], seed: int, bins: int = 10) -> list[Example]:
    """As many scam as non-scam rows in every length decile (of all rows), drawn at random."""
    rng = np.random.default_rng(seed)
    lengths = np.array([len(e.text) for e in rows])
    edges = np.quantile(lengths, np.linspace(0, 1, bins + 1)[1:-1])
    which = np.searchsorted(edges, lengths, side="right")
    keep: list[int] = []
    for b in range(bins):
        members = [int(i) for i in np.flatnonzero(which == b)]
        scam = [i for i in members if rows[i].scam]
        normal = [i for i in members if not rows[i].scam]
        n = min(len(scam), len(normal))
        for group in (scam, normal):
            keep += [int(i) for i in rng.choice(group, n, replace=False)]
    return [rows[i] for i in sorted(keep)]


def dialogue_rows(
    table: Table, label: str, clf: ScamClassifier, sets: list[tuple[str, list[Example]]]
) -> None:
    for name, rows in sets:
        texts = [e.text for e in rows]
        scores, types = clf.predict(texts, ["en"] * len(rows))
        p, r, f1 = prf([e.scam for e in rows], scores >= 0.5)
        typed = [(t, e.type) for t, e in zip(types, rows, strict=True)
                 if e.scam and e.type is not None]  # fmt: skip
        type_acc = np.mean([a == b for a, b in typed]) if typed else float("nan")
        table.add_row(label, name, f"{len(rows):,}", f"{p:.3f}", f"{r:.3f}", f"{f1:.3f}",
                      f"{type_acc:.3f}")  # fmt: skip


def cut(rows: Sequence[Example], chars: int) -> list[Example]:
    return [Example(e.text[:chars], e.language, e.scam, e.type, e.source, e.group) for e in rows]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seeds", default="1,2,3", help="held-out simulation seeds")
    parser.add_argument("--split-seed", type=int, default=DIALOGUE_SPLIT_SEED)
    parser.add_argument("--dialogue", default=None, help="scam-dialogue_all.csv or its folder")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = parser.parse_args()
    started = time.perf_counter()
    console = Console(width=140)
    seeds = [int(s) for s in args.seeds.split(",") if s]
    tables: list[Table] = []

    path = find_scam_dialogue(args.dialogue)
    in_domain: ScamClassifier | None = None
    if args.split_seed == DIALOGUE_SPLIT_SEED:
        packaged = load_classifier()
        ok = packaged.meta.get("dialogue_split_seed") == args.split_seed
        in_domain = packaged if ok else None
    if path is not None:
        rows = read_scam_dialogue(path)
        train_rows, test_rows = scam_dialogue_split(rows, args.split_seed)
        if in_domain is None:
            console.print(f"training on scam-dialogue split {args.split_seed} ...")
            in_domain = train(0, dialogue=path, split_seed=args.split_seed)
        console.print("training the cross-domain model (no scam-dialogue) ...")
        cross = train(0, use_dialogue=False)
        dup = duplicate_of(train_rows)
        table = Table(title="scam-dialogue (English, synthetic): flagged = score >= 0.5")
        for col in ("model", "evaluated on", "n", "precision", "recall", "F1", "type acc"):
            table.add_column(col, justify="left" if col in ("model", "evaluated on") else "right")
        dialogue_rows(table, f"packaged (80 % split {args.split_seed})", in_domain, [
            ("held-out 20 %", test_rows),
            ("held-out, de-duplicated", [e for e in test_rows if not dup(e)]),
            ("held-out, length-matched", length_matched(test_rows, args.split_seed)),
            (f"held-out, first {CUT_CHARS} chars", cut(test_rows, CUT_CHARS)),
        ])  # fmt: skip
        unique = list({e.text: e for e in rows}.values())
        dialogue_rows(table, "cross-domain (none of it)", cross, [
            ("held-out 20 %", test_rows),
            ("all, de-duplicated", unique),
            ("all, length-matched", length_matched(unique, args.split_seed)),
            (f"all, first {CUT_CHARS} chars", cut(unique, CUT_CHARS)),
        ])  # fmt: skip
        tables.append(table)
    else:
        console.print("[yellow]scam-dialogue not found: its rows are left out[/]")
        test_rows = []
    clf = in_domain or load_classifier()

    sim = Table(title=f"simulated hard worlds, held-out seeds {args.seeds} (model: packaged)")
    for col in ("language", "world", "calls", "type acc", "F1", "list_dial flagged",
                "types confused", "threshold @1% FA", "median share before alert",
                "scams alerted"):  # fmt: skip
        sim.add_column(col, justify="left" if col in ("language", "world", "types confused")
                       else "right")  # fmt: skip
    for lang, world in HELD_OUT_WORLDS.items():
        examples = [e for e in simulated_transcripts(seeds, (world,)) if e.language == lang]
        talk = [e for e in examples if e.source != "sim/list_dial"]
        dial = [e for e in examples if e.source == "sim/list_dial"]
        scores, types = clf.predict([e.text for e in talk], [lang] * len(talk))
        acc = float(np.mean([t == e.type for t, e in zip(types, talk, strict=True)]))
        _, _, f1 = prf([e.scam for e in talk], scores >= 0.5)
        confused = Counter(f"{e.type}->{t}" for t, e in zip(types, talk, strict=True)
                           if t != e.type).most_common(2)  # fmt: skip
        dial_scores, _ = clf.predict([e.text for e in dial], [lang] * len(dial))
        turn_scores = score_calls([e.text for e in talk], [lang] * len(talk), clf)
        normal = [s for s, e in zip(turn_scores, talk, strict=True) if not e.scam]
        scam = [s for s, e in zip(turn_scores, talk, strict=True) if e.scam]
        threshold = false_alarm_threshold(normal, 0.01)
        shares = alert_timing(scam, threshold)
        median = float(np.median(np.nan_to_num(shares, nan=np.inf)))
        label = "-".join(x for x in world if x)
        sim.add_row(lang, label, f"{len(talk):,}", f"{acc:.3f}", f"{f1:.3f}",
                    f"{np.mean(dial_scores >= 0.5):.3f} of {len(dial)}",
                    ", ".join(f"{k} {v}" for k, v in confused) or "-", f"{threshold:.3f}",
                    f"{median:.3f}", f"{np.mean(~np.isnan(shares)):.3f}")  # fmt: skip
    if test_rows:
        turn_scores = score_calls([e.text for e in test_rows], ["en"] * len(test_rows), clf)
        normal = [s for s, e in zip(turn_scores, test_rows, strict=True) if not e.scam]
        scam = [s for s, e in zip(turn_scores, test_rows, strict=True) if e.scam]
        threshold = false_alarm_threshold(normal, 0.01)
        shares = alert_timing(scam, threshold)
        median = float(np.median(np.nan_to_num(shares, nan=np.inf)))
        sim.add_row("en", "scam-dialogue held-out 20 %", f"{len(test_rows):,}", "-", "-", "-",
                    "-", f"{threshold:.3f}", f"{median:.3f}",
                    f"{np.mean(~np.isnan(shares)):.3f}")  # fmt: skip
    tables.append(sim)

    for table in tables:
        if args.markdown:
            print(_markdown(table))
        else:
            console.print(table)
    console.print(f"model: {clf!r}; {time.perf_counter() - started:.0f} s")


def _markdown(table: Table) -> str:
    heads = [str(c.header) for c in table.columns]
    cells = [list(c._cells) for c in table.columns]
    lines = [f"**{table.title}**", "", "| " + " | ".join(heads) + " |",
             "|" + "|".join("---" for _ in heads) + "|"]  # fmt: skip
    for i in range(len(cells[0]) if cells else 0):
        lines.append("| " + " | ".join(str(col[i]) for col in cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
