"""Word and character error rates, as the benchmark and the tests measure transcripts."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence


def normalise(text: str) -> list[str]:
    """Lower-case words without punctuation (apostrophes inside words are kept)."""
    text = re.sub(r"[^\w\s']+", " ", text.lower())
    return [word.strip("'") for word in text.split() if word.strip("'")]


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: word-level Levenshtein distance over the reference length."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    return edit_distance(ref, hyp) / max(len(ref), 1)


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate, for Chinese: spaces and punctuation do not count."""
    ref, hyp = tokens(reference, chinese=True), tokens(hypothesis, chinese=True)
    return edit_distance(ref, hyp) / max(len(ref), 1)


def tokens(text: str, *, chinese: bool = False) -> list[str]:
    """The units scored: words, or for Chinese characters, after the evaluation set's rules.

    Unicode NFKC, lower case, punctuation and symbols removed (an apostrophe between two
    letters is kept: ``j'ai``), whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).lower()
    kept = []
    for i, char in enumerate(text):
        inside = 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()
        if char in "'\u2019" and inside:
            kept.append("'")
        elif unicodedata.category(char)[0] in "PS":
            kept.append(" ")
        else:
            kept.append(char)
    joined = "".join(kept)
    return [c for c in joined if not c.isspace()] if chinese else joined.split()


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Levenshtein distance: substitutions, deletions and insertions."""
    row = list(range(len(hypothesis) + 1))
    for i, ref_item in enumerate(reference, start=1):
        diagonal, row[0] = row[0], i
        for j, hyp_item in enumerate(hypothesis, start=1):
            cost = min(row[j] + 1, row[j - 1] + 1, diagonal + (ref_item != hyp_item))
            diagonal, row[j] = row[j], cost
    return row[-1]
