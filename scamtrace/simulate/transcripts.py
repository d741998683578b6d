"""Which calls have a transcript, and the text of each.

A fixed number of scam and of honest calls is sampled uniformly over the whole period while the
call tables stream by (the smallest random keys win), then rendered from templates in the
callers' language. Most transcripts are keyed to the carrier's records (lawful interception in
the victims' country); a share to the VoIP provider's.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from scamtrace.simulate.calls import CallBatch, Category, Stage
from scamtrace.simulate.context import WorldContext
from scamtrace.simulate.text import LANGUAGES, render_transcripts

SCAM_KINDS = {int(s): s.label for s in Stage if s.value >= 0}
HONEST_KINDS = {
    int(Category.DIASPORA): ("normal_diaspora",),
    int(Category.FOREIGN_CALL_CENTER): ("normal_callcenter",),
    int(Category.TELEMARKETER): ("normal_telemarketing",),
    int(Category.VOIP_LOCAL): ("normal_business", "normal_friend"),
    int(Category.WHOLESALE_VOIP): ("normal_diaspora",),
    int(Category.COMPANY_PBX): ("normal_business",),
    int(Category.SALES_TEAM): ("normal_telemarketing",),
    int(Category.ROAMER): ("normal_family", "normal_friend"),
    int(Category.DRIVER): ("normal_delivery",),
    int(Category.NORMAL): ("normal_family", "normal_friend", "normal_business",
                           "normal_bank_service", "normal_delivery"),
}  # fmt: skip


@dataclass
class _Reservoir:
    size: int
    keys: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    ids: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    networks: list[int] = field(default_factory=list)

    def offer(self, keys: npt.NDArray[np.float64], ids: list[str], kinds: list[str],
              languages: list[str], networks: list[int]) -> None:  # fmt: skip
        all_keys = np.concatenate([self.keys, keys])
        all_ids, all_kinds = self.ids + ids, self.kinds + kinds
        all_langs, all_networks = self.languages + languages, self.networks + networks
        keep = np.argsort(all_keys, kind="stable")[: self.size]
        self.keys = all_keys[keep]
        self.ids = [all_ids[i] for i in keep]
        self.kinds = [all_kinds[i] for i in keep]
        self.languages = [all_langs[i] for i in keep]
        self.networks = [all_networks[i] for i in keep]


class TranscriptSampler:
    def __init__(self, ctx: WorldContext) -> None:
        cfg = ctx.scenario.transcripts
        self.ctx = ctx
        self.rng = ctx.rng("transcripts")
        share = {"carrier_cdr": 1 - cfg.voip_share, "voip_cdr": cfg.voip_share}
        self.pools = {
            (source, scam): _Reservoir(round(n * ctx.scenario.scale * share[source]))
            for source in share
            for scam, n in ((True, cfg.scam_calls), (False, cfg.normal_calls))
        }
        self.victim_language = _language(ctx.victim.language)
        self.center_language = _language(ctx.centers.language)

    def observe(self, calls: CallBatch, ids: pa.Array, source: str) -> None:
        talked = calls.answered & (calls.duration >= 20)
        scam = calls.category == int(Category.SCAM)
        for is_scam in (True, False):
            pool = self.pools[(source, is_scam)]
            sel = np.flatnonzero((scam if is_scam else ~scam) & (talked | scam & calls.answered))
            if pool.size == 0 or len(sel) == 0:
                continue
            keys = self.rng.random(len(sel))
            best = sel[np.argsort(keys, kind="stable")[: pool.size]]
            best_keys = np.sort(keys)[: pool.size]
            if is_scam:
                kinds = [SCAM_KINDS[int(s)] for s in calls.stage[best]]
                langs = [self.victim_language] * len(best)
            else:
                pick = self.rng.integers(0, 5, len(best))
                kinds = [HONEST_KINDS[int(c)][p % len(HONEST_KINDS[int(c)])]
                         for c, p in zip(calls.category[best], pick, strict=True)]  # fmt: skip
                # Calls into the victims' country are in its language; the provider's home
                # customers talk among themselves in theirs.
                at_home = [int(Category.VOIP_LOCAL), int(Category.WHOLESALE_VOIP)]
                home = np.isin(calls.category[best], at_home) & ~calls.to_carrier[best]
                langs = [self.center_language if h else self.victim_language for h in home]
            pool.offer(best_keys, ids.take(pa.array(best)).to_pylist(), kinds, langs,
                       [int(n) for n in calls.network[best]])

    def render(self) -> tuple[pa.Table, pa.Table]:
        """The ``transcripts`` table, and its truth: the kind of call behind each text."""
        rows: list[tuple[str, str, str, str, str]] = []
        for (source, scam), pool in self.pools.items():
            # Each pool renders from its own seed, or pools would repeat each other's texts.
            seed = zlib.crc32(f"{self.ctx.scenario.seed}/{source}/{scam}".encode())
            for lang in sorted(set(pool.languages)):
                idx = [i for i, x in enumerate(pool.languages) if x == lang]
                # Each network reads its own script (honest calls: -1, any wording).
                texts = render_transcripts([pool.kinds[i] for i in idx], lang, seed,
                                           [pool.networks[i] for i in idx])
                rows.extend((pool.ids[i], source, lang, t, pool.kinds[i])
                            for i, t in zip(idx, texts, strict=True))  # fmt: skip
        rows.sort(key=lambda r: (r[1], r[0]))
        cols = list(zip(*rows, strict=True)) if rows else [(), (), (), (), ()]
        ids, sources = pa.array(cols[0], pa.string()), pa.array(cols[1], pa.string())
        table = pa.table({
            "call_id": ids, "source": sources,
            "language": pa.array(cols[2], pa.string()), "text": pa.array(cols[3], pa.string()),
        })  # fmt: skip
        truth = pa.table(
            {"source": sources, "call_id": ids, "kind": pa.array(cols[4], pa.string())}
        )
        return table, truth


def _language(code: str) -> str:
    return code if code in LANGUAGES else "en"
