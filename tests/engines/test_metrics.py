"""Word error rate as the benchmark computes it."""

from __future__ import annotations

import pytest

from yinzi.engines.transcription.metrics import cer, normalise, tokens, wer


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


def test_cer_counts_characters_without_spaces_or_punctuation() -> None:
    assert cer("今天 天气，很好。", "今天天气很好") == 0.0
    assert cer("今天天气很好", "今天天氣很好") == pytest.approx(1 / 6)  # Traditional is an error


def test_tokens_follow_the_evaluation_rules() -> None:
    assert tokens("J'ai une idée, je ris!") == ["j'ai", "une", "idée", "je", "ris"]
    assert tokens("ＡＢＣ-d") == ["abc", "d"]  # NFKC folds full-width letters
