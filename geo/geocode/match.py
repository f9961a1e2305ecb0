"""Fuzzy name matching (rapidfuzz) and how a match score turns into a confidence.

Confidence is meant as the chance that the answer is right: an exact, unique name is near
1; a typo-level match with a clear margin over the next candidate is high; two candidates
that score alike (or one name in several districts with nothing to tell them apart) is low.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

MIN_SCORE = 78.0  # below this a name does not match at all


@dataclass
class Match:
    """Candidates (entry indices) for the best name, its score and margin over the next name."""

    key: str
    entries: list[int]
    score: float
    margin: float


def best_match(query: str, table: dict[str, list[int]], limit: int = 6) -> list[Match]:
    """Best-scoring names in ``table`` (key -> entries), best first, with their margins."""
    if not query or not table:
        return []
    hits = process.extract(query, table.keys(), scorer=fuzz.ratio, limit=limit, score_cutoff=60)
    out: list[Match] = []
    for i, (key, score, _) in enumerate(hits):
        if score < MIN_SCORE:
            break
        nxt = next((s for k, s, _ in hits[i + 1 :] if set(table[k]) != set(table[key])), 0.0)
        out.append(Match(key, list(table[key]), float(score), float(score - nxt)))
    return out


def name_confidence(score: float, margin: float) -> float:
    """Chance the name is the one meant, from its score (0-100) and margin over the next."""
    if score >= 99.5:
        base = 0.99
    else:
        base = 0.6 + 0.39 * float(np.clip((score - 80.0) / 20.0, 0.0, 1.0))
        if margin >= 15 and score >= 86:
            base = max(base, 0.93)
    if margin < 4:
        base *= 0.6
    elif margin < 8:
        base *= 0.85
    return round(base, 3)


def pair_score(a: str, b: str) -> float:
    """Similarity of two names (0-100)."""
    return float(fuzz.ratio(a, b))
