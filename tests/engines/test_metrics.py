"""Word error rate as the benchmark computes it."""

from __future__ import annotations

import pytest

from yinzi.engines.transcription.metrics import normalise, wer


def test_normalisation_ignores_case_and_punctuation() -> None:
    assert normalise("The birch canoe, slid; on the 'smooth' planks.") == [
        "the", "birch", "canoe", "slid", "on", "the", "smooth", "planks",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("hypothesis", "expected"),
    [
        ("the cat sat", 0.0),
        ("the cat", 1 / 3),  # one deletion
        ("the black cat sat", 1 / 3),  # one insertion
        ("a dog sat", 2 / 3),  # two substitutions
        ("", 1.0),
    ],
)
def test_wer_counts_edits_over_the_reference_length(hypothesis: str, expected: float) -> None:
    assert wer("The cat sat.", hypothesis) == pytest.approx(expected)
