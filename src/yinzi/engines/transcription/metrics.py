"""Word error rate, as the benchmark and the tests measure transcripts."""

from __future__ import annotations

import re


def normalise(text: str) -> list[str]:
    """Lower-case words without punctuation (apostrophes inside words are kept)."""
    text = re.sub(r"[^\w\s']+", " ", text.lower())
    return [word.strip("'") for word in text.split() if word.strip("'")]


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: word-level Levenshtein distance over the reference length."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        diagonal, row[0] = row[0], i
        for j, hyp_word in enumerate(hyp, start=1):
            cost = min(row[j] + 1, row[j - 1] + 1, diagonal + (ref_word != hyp_word))
            diagonal, row[j] = row[j], cost
    return row[-1] / max(len(ref), 1)
