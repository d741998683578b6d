"""Calls that read the same script, and the dialling lines they tie together.

A call center hands its operators a script; the lines of a script come back, word for word or
nearly, in call after call, whoever reads them and whatever the callee answers. Two whole
transcripts of one script are far apart all the same (the callee, the names, the order, the
optional turns and the interruptions differ), so the unit compared here is the *script line*:

1. The caller's turns (all turns when the text has no ``caller:`` / ``callee:`` prefixes) are
   cut into sentences, normalised (NFKC, case folded, digits masked, punctuation dropped) and
   sentences too short to be specific ("喂，你好", "Hello?") are left out.
2. Each sentence becomes a set of character shingles (2 characters where it is mostly Chinese,
   5 otherwise: no word segmentation needed) and a ``datasketch`` MinHash; an LSH index finds
   near-duplicate sentences, checked with the exact Jaccard similarity against ``threshold``.
   The most said sentence leads a script line of the sentences near it, then the next, and so
   on (no chaining): a line read with another name, a stutter, a filler, or cut by an
   interruption and said again stays the same script line.
3. Two transcripts read the same script when they share at least ``min_shared`` script lines
   (one line said in many unrelated calls -- "can you hear me?" -- is not enough), or when each
   consists of the same single line (a recorded message). A line the other side also says (in
   two calls or more) is conversation, not script, and links nothing. Transcripts linked this
   way, directly or through others, form one group.

:func:`script_groups` gives the group of each text (-1: a text alone), :func:`group_table` adds
it to a table, and :func:`campaign_links` turns shared groups into links between the dialling
lines (SIP accounts, presented numbers) the calls came from.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from functools import lru_cache
from itertools import combinations

import pyarrow as pa
from datasketch import MinHash, MinHashLSH

__all__ = [
    "DEFAULT_MIN_SHARED",
    "DEFAULT_THRESHOLD",
    "campaign_links",
    "group_table",
    "script_groups",
    "script_lines",
]

DEFAULT_THRESHOLD = 0.6
"""Jaccard similarity of two sentences' shingles above which they are one script line; tuned
on simulated transcripts (``benchmarks/language_indicators.py --sweep``)."""

DEFAULT_MIN_SHARED = 2
"""Script lines two transcripts must share to be read from one script."""

NUM_PERM = 128
_MIN_WEIGHT = 16  # a sentence needs 16 "letters" (a Chinese character counts 3) to be kept
_MAX_LINES = 48  # script lines per transcript used for linking (the rarest ones)

_TURN = re.compile(r"^\s*(caller|callee)\s*[:：]\s?", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[。！？!?；;¿¡\n]+|(?<=[.])\s+|\.{2,}|…+|—+|-{2,}")
_NOT_WORD = re.compile(r"[\W_]+")
_DIGITS = re.compile(r"[0-9]+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_CJK_SPACE = re.compile(r"(?<=[\u3040-\u9fff]) (?=[\u3040-\u9fff])")


def _turns(text: str, speaker: str | None) -> tuple[list[str], list[str]]:
    """The turns of ``speaker`` and those of everyone else (all turns are the speaker's when
    ``speaker`` is None or the text has no speaker prefixes)."""
    turns: list[tuple[str | None, str]] = []
    prefixed = False
    for line in text.splitlines():
        m = _TURN.match(line)
        if m:
            prefixed = True
            turns.append((m.group(1).lower(), line[m.end() :]))
        elif turns:
            turns[-1] = (turns[-1][0], turns[-1][1] + "\n" + line)
        else:
            turns.append((None, line))
    if not prefixed or speaker is None:
        return [t for _, t in turns], []
    who = speaker.lower()
    return [t for w, t in turns if w == who], [t for w, t in turns if w != who]


def _sentences(turns: Iterable[str]) -> list[str]:
    return [sentence for turn in turns for sentence in _turn_sentences(turn)]


@lru_cache(maxsize=1 << 16)
def _turn_sentences(turn: str) -> tuple[str, ...]:
    """The normalised, long enough sentences of one turn (turns repeat: cached)."""
    out: list[str] = []
    folded = _DIGITS.sub("0", unicodedata.normalize("NFKC", turn).casefold())
    for sentence in _SENTENCE_END.split(folded):
        norm = _NOT_WORD.sub(" ", sentence).strip()
        if not norm:
            continue
        cjk = len(_CJK.findall(norm))
        if 2 * cjk + len(norm) - norm.count(" ") >= _MIN_WEIGHT:
            out.append(_CJK_SPACE.sub("", norm) if cjk else norm)
    return tuple(out)


def script_lines(text: str, speaker: str | None = "caller") -> list[str]:
    """The normalised sentences of ``text`` that can carry a script: those of ``speaker``'s
    turns (every turn when ``speaker`` is None or the text has no speaker prefixes), with
    digits masked, punctuation dropped and the too-short ones left out."""
    return _sentences(_turns(text or "", speaker)[0])


def _shingles(line: str) -> set[str]:
    k = 2 if 2 * len(_CJK.findall(line)) >= len(line) else 5
    if len(line) <= k:
        return {line}
    return {line[i : i + k] for i in range(len(line) - k + 1)}


def _hash(data: bytes) -> int:
    return zlib.crc32(data)


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _line_clusters(
    lines: Sequence[str], counts: Sequence[int], threshold: float, num_perm: int
) -> list[int]:
    """Cluster id of each distinct line (``counts``: how often each is said). The most said
    line not yet placed leads a new cluster of the unplaced lines within ``threshold`` Jaccard
    similarity of it: clusters do not chain (a cut-short line close to two others does not
    merge them)."""
    shingles = [_shingles(line) for line in lines]
    sketches = MinHash.bulk(
        ([s.encode("utf-8") for s in sh] for sh in shingles), num_perm=num_perm, hashfunc=_hash
    )
    # Bands favour recall (a missed pair is lost; a false candidate is checked exactly).
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=(0.2, 0.8))
    with lsh.insertion_session() as session:
        for i, m in enumerate(sketches):
            session.insert(i, m, check_duplication=False)
    cluster = [-1] * len(lines)
    for i in sorted(range(len(lines)), key=lambda i: (-counts[i], i)):
        if cluster[i] >= 0:
            continue
        cluster[i] = i
        a = shingles[i]
        for j in lsh.query(sketches[i]):
            if cluster[j] < 0:
                b = shingles[j]
                if len(a & b) >= threshold * len(a | b):
                    cluster[j] = i
    return cluster


def script_groups(
    texts: Sequence[str | None],
    threshold: float = DEFAULT_THRESHOLD,
    *,
    min_shared: int = DEFAULT_MIN_SHARED,
    speaker: str | None = "caller",
    num_perm: int = NUM_PERM,
) -> list[int]:
    """The script group of each text: texts that read the same script share a group id
    (0, 1, ... in order of first appearance); a text that reads no one else's script gets -1.

    ``threshold`` is the Jaccard similarity of shingles above which two sentences are one
    script line; ``min_shared`` how many script lines two transcripts must share; ``speaker``
    whose turns are read (None: everyone's).
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    if min_shared < 1:
        raise ValueError(f"min_shared must be at least 1, got {min_shared!r}")
    split = [_turns(t or "", speaker) for t in texts]
    per_text = [_sentences(own) for own, _ in split]
    replies = [_sentences(other) for _, other in split]
    said = Counter(line for lines in per_text for line in dict.fromkeys(lines))
    if not said:
        return [-1] * len(texts)
    answered = Counter(line for lines in replies for line in dict.fromkeys(lines))
    heard = said + answered
    distinct = list(heard)  # in order of first appearance: the result is deterministic
    index = {line: i for i, line in enumerate(distinct)}
    cluster = _line_clusters(distinct, [heard[line] for line in distinct], threshold, num_perm)
    # What the other side says too ("I can hear you now", "is that Mr Garcia?") is
    # conversation, not script: it links nothing.
    chatter = Counter(c for lines in replies for c in {cluster[index[line]] for line in lines})
    sets = [sorted({cluster[index[line]] for line in lines}) for lines in per_text]
    # Nor does a script line said in one call only.
    spread = Counter(c for s in sets for c in s)
    sets = [[c for c in s if spread[c] > 1 and chatter[c] < 2] for s in sets]

    uf = _UnionFind(len(texts))
    first: dict[Hashable, int] = {}
    for t, (lines, kept) in enumerate(zip(per_text, sets, strict=True)):
        for key in _link_keys(kept, len(set(lines)), min_shared, spread):
            if key in first:
                uf.union(first[key], t)
            else:
                first[key] = t
    roots = [uf.find(t) for t in range(len(texts))]
    size = Counter(roots)
    ids: dict[int, int] = {}
    out: list[int] = []
    for root in roots:
        if size[root] < 2:
            out.append(-1)
        else:
            out.append(ids.setdefault(root, len(ids)))
    return out


def _link_keys(
    clusters: list[int], n_lines: int, min_shared: int, spread: Counter[int]
) -> Iterable[Hashable]:
    """Keys two transcripts share exactly when they should be linked."""
    if not clusters:
        return ()
    if n_lines < min_shared:  # a short text (a recorded message): all of it must match
        if len(clusters) == n_lines:
            return (("whole", tuple(clusters)),)
        return ()
    if len(clusters) < min_shared:
        return ()
    if len(clusters) > _MAX_LINES:  # very long calls: the rarest lines say the most
        clusters = sorted(sorted(clusters, key=lambda c: (spread[c], c))[:_MAX_LINES])
    return combinations(clusters, min_shared)


def group_table(
    table: pa.Table,
    text_column: str = "text",
    threshold: float = DEFAULT_THRESHOLD,
    *,
    column: str = "script_group",
    min_shared: int = DEFAULT_MIN_SHARED,
    speaker: str | None = "caller",
) -> pa.Table:
    """``table`` with a ``script_group`` column (int64; -1 for a text alone), from
    :func:`script_groups` over ``table[text_column]``."""
    texts = table.column(text_column).to_pylist()
    groups = script_groups(texts, threshold, min_shared=min_shared, speaker=speaker)
    return table.append_column(column, pa.array(groups, pa.int64()))


def campaign_links(
    transcripts: pa.Table,
    call_lines: Mapping[str, str],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    min_shared: int = DEFAULT_MIN_SHARED,
    speaker: str | None = "caller",
    max_group_lines: int = 200,
    text_column: str = "text",
    call_id_column: str = "call_id",
    score_column: str | None = None,
    min_score: float = 0.5,
) -> list[tuple[str, str, int]]:
    """Links between dialling lines whose calls read the same scripts.

    ``call_lines`` maps a transcript's ``call_id`` to the line that placed the call (a SIP
    account, a presented number: whatever key the detect stage ties together); calls it does not
    map are left out. Returns ``(line_a, line_b, shared_groups)`` with ``line_a < line_b`` and
    ``shared_groups`` the number of script groups read on both lines, sorted by the lines.

    Honest callers read scripts too (a bank's service line, a call center): with
    ``score_column`` (a scam score per transcript, such as the classifier's), only groups whose
    mean score is at least ``min_score`` link lines. A script group read on more than
    ``max_group_lines`` lines links each of them to the line that read it most (a star, not
    every pair): the lines stay tied together without a quadratic number of links.
    """
    ids = transcripts.column(call_id_column).to_pylist()
    texts = transcripts.column(text_column).to_pylist()
    groups = script_groups(texts, threshold, min_shared=min_shared, speaker=speaker)
    if score_column is not None:
        scores = transcripts.column(score_column).to_pylist()
        total: dict[int, float] = defaultdict(float)
        for group, score in zip(groups, scores, strict=True):
            total[group] += float(score or 0.0)
        size = Counter(groups)
        scam = {g for g in size if g >= 0 and total[g] >= min_score * size[g]}
        groups = [g if g in scam else -1 for g in groups]
    calls: dict[int, Counter[str]] = defaultdict(Counter)
    for call_id, group in zip(ids, groups, strict=True):
        line = call_lines.get(call_id) if call_id is not None and group >= 0 else None
        if line:
            calls[group][line] += 1
    shared: Counter[tuple[str, str]] = Counter()
    for counts in calls.values():
        lines = sorted(counts)
        if len(lines) <= max_group_lines:
            pairs: Iterable[tuple[str, str]] = combinations(lines, 2)
        else:
            hub = min(lines, key=lambda line: (-counts[line], line))
            pairs = ((min(hub, line), max(hub, line)) for line in lines if line != hub)
        for a, b in pairs:
            shared[(a, b)] += 1
    return [(a, b, n) for (a, b), n in sorted(shared.items())]
