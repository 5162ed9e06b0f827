"""The benchmark corpus: realistic, valid OCO declarations of 1 to ~100 goods items, generated once per run."""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bench.network import allowed_pairs
from gateway.samples import make_declaration

__all__ = ["KB", "Declaration", "SizeSummary", "generate_corpus", "max_items_for", "relabel"]

KB = 1024
_MAX_ITEMS = 100  # the upper bound; the size cap may lower it


@dataclass(frozen=True, slots=True)
class Declaration:
    """One declaration of the corpus and who submits it.

    Attributes:
        participant: the submitter (its submit topic).
        member: destination member (``ResponsibleCountryCode``).
        lrn: the trader's reference, unique in the corpus.
        items: goods items in the declaration.
        payload: the XML bytes.
    """

    participant: str
    member: str
    lrn: str
    items: int
    payload: bytes

    @property
    def key(self) -> bytes:
        """The Kafka key a member system would use (as the gateway's own ``record_key``)."""
        return f"{self.participant}:{self.lrn}".encode()


@dataclass(frozen=True, slots=True)
class SizeSummary:
    """Size distribution of a corpus (sizes in KB of 1024 bytes, total in MB of 1024 KB)."""

    count: int
    min_kb: float
    median_kb: float
    max_kb: float
    total_mb: float
    min_items: int
    max_items: int

    @classmethod
    def of(cls, corpus: Sequence[Declaration]) -> SizeSummary:
        """Summarise a corpus.

        Args:
            corpus: at least one declaration.
        """
        if not corpus:
            raise ValueError("an empty corpus has no size distribution")
        sizes = [len(d.payload) for d in corpus]
        return cls(count=len(sizes), min_kb=min(sizes) / KB, median_kb=statistics.median(sizes) / KB,
                   max_kb=max(sizes) / KB, total_mb=sum(sizes) / KB / KB,
                   min_items=min(d.items for d in corpus), max_items=max(d.items for d in corpus))


def max_items_for(max_kb: float, seed: int = 0) -> int:
    """Return how many goods items fit in ``max_kb``, from a straight line through 1 and 100 items.

    The generator's bytes per item may change; calibrating keeps the corpus in the intended size range.

    Args:
        max_kb: largest declaration wanted, in KB.
        seed: seed of the two calibration declarations.
    """
    one = len(make_declaration(member="FJ", lrn="CALIBRATE", items=1, seed=seed))
    hundred = len(make_declaration(member="FJ", lrn="CALIBRATE", items=_MAX_ITEMS, seed=seed))
    per_item = (hundred - one) / (_MAX_ITEMS - 1)
    fit = 1 + int((max_kb * KB - one) / per_item) if per_item > 0 else _MAX_ITEMS
    return max(1, min(_MAX_ITEMS, fit))


def generate_corpus(count: int, *, seed: int = 2026, max_kb: float = 50.0,
                    pairs: Sequence[tuple[str, str]] | None = None) -> list[Declaration]:
    """Return ``count`` valid declarations, item counts uniform in 1..N where N items make about ``max_kb``.

    Reproducible: the same arguments give the same bytes. Mixes imports and exports, originals and
    amendments, with and without AEO holders, over every authorised (participant, member) pair.

    Args:
        count: number of declarations (at least 1).
        seed: seed of every random choice.
        max_kb: size cap in KB; a declaration over it is regenerated with one item fewer.
        pairs: the (participant, member) pairs to draw from; every pair of the benchmark network by default.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, not {count}")
    rng = random.Random(seed)
    pairs = list(pairs) if pairs is not None else allowed_pairs()
    top = max_items_for(max_kb, seed)
    corpus = []
    for n in range(count):
        participant, member = rng.choice(pairs)
        items = rng.randint(1, top)
        lrn = f"BENCH-{n:07d}"
        type_code = "EXA" if rng.random() < 0.2 else "IMA"
        function_code = "13" if rng.random() < 0.1 else "9"
        aeo = ([(f"{member}AEO{rng.randint(1000, 9999)}", rng.choice(("AEOC", "AEOS", "AEOF")))]
               if rng.random() < 0.33 else [])
        doc_seed = rng.randrange(2**32)
        while True:
            payload = make_declaration(member=member, lrn=lrn, items=items, aeo=aeo, type_code=type_code,
                                       function_code=function_code, seed=doc_seed)
            if len(payload) <= max_kb * KB or items == 1:
                break
            items -= 1  # the straight line is an estimate: the cap is what the corpus promises
        corpus.append(Declaration(participant, member, lrn, items, payload))
    return corpus


def relabel(declaration: Declaration, lrn: str) -> Declaration:
    """Return a copy under another LRN (the LRN appears once in the payload), for re-sending it as new.

    Args:
        declaration: a corpus declaration.
        lrn: the new LRN, at most 35 characters.
    """
    old = declaration.lrn.encode()
    if declaration.payload.count(old) != 1:
        raise ValueError(f"LRN {declaration.lrn!r} does not appear exactly once in its payload")
    return replace(declaration, lrn=lrn, payload=declaration.payload.replace(old, lrn.encode(), 1))
