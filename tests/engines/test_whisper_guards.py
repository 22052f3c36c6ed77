"""The guards that drop segments Whisper invents, on made-up segments."""

from __future__ import annotations

from yinzi.engines.transcription._whisper_guards import crammed, invented, syllables
from yinzi.engines.transcription.base import Word

SURE = {"no_speech_prob": 0.05, "avg_logprob": -0.3}


def timed(text: str, start: float, seconds_per_word: float) -> list[Word]:
    return [
        Word(w, start + i * seconds_per_word, start + (i + 1) * seconds_per_word)
        for i, w in enumerate(text.split())
    ]


def test_syllables_are_counted_for_words_and_ideographs() -> None:
    assert syllables("Thank you for watching") == 5
    assert syllables("明天早上") == 4
    assert syllables("ok 50") == 1


def test_ordinary_speech_is_kept() -> None:
    text = "We can meet at the library near the old station on Friday morning."
    assert not invented(text, timed(text, 2.0, 0.3), **SURE)


def test_a_sentence_squeezed_into_the_last_moment_is_dropped() -> None:
    text = "Thank you very much for watching and see you next time."
    words = timed(text, 11.7, 0.03)  # eleven words in a third of a second
    assert crammed(text, words) and invented(text, words, **SURE)


def test_one_short_word_said_fast_is_not_crammed() -> None:
    assert not crammed("yes", timed("yes", 1.0, 0.05))


def test_a_repetition_loop_is_dropped() -> None:
    text = "I'm going to go. " * 8
    assert invented(text, timed(text, 0.0, 0.3), **SURE)


def test_a_segment_the_model_doubts_is_dropped() -> None:
    text = "And so on."
    assert invented(text, timed(text, 0.0, 0.4), no_speech_prob=0.9, avg_logprob=-1.4)
    assert not invented(text, timed(text, 0.0, 0.4), no_speech_prob=0.9, avg_logprob=-0.2)
