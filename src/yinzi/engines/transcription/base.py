"""The transcription interface.

A transcriber takes a stream of mono float32 blocks shaped ``(1, samples)`` at its own
``sample_rate`` and returns a :class:`Transcription`: the language it transcribed and an iterator
of :class:`Segment` in time order, so long inputs stream through with bounded memory. Times are
seconds from the start of the input. Silence or music without speech yields no segments; that is
a result, not an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from yinzi.engines.separation.base import Block, Progress
from yinzi.errors import InputError

__all__ = [
    "Block",
    "Progress",
    "Segment",
    "Transcriber",
    "Transcription",
    "UnsupportedLanguage",
    "Word",
]


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    start: float
    end: float
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    """Word timings where the engine gives them (empty otherwise)."""


@dataclass
class Transcription:
    language: str
    """ISO 639-1 code of the language transcribed (asked for, or detected); for Chinese, the
    BCP 47 tag of the script asked for where one was (``zh-TW``, ``zh-Hant``)."""
    segments: Iterator[Segment]
    language_probability: float | None = None
    """How sure the engine is of a detected ``language`` (0 to 1); None when it was given."""


class UnsupportedLanguage(InputError):
    """This engine cannot transcribe the requested language"""

    code = "unsupported_language"

    @classmethod
    def for_engine(
        cls, engine: str, language: str, languages: Iterable[str]
    ) -> UnsupportedLanguage:
        known = ", ".join(sorted(languages))
        return cls(
            f"the {engine} engine cannot transcribe language {language!r}; it knows: {known}"
        )


class Transcriber(Protocol):
    name: str
    sample_rate: int
    languages: tuple[str, ...]
    """ISO 639-1 codes it can transcribe."""

    def transcribe(
        self,
        blocks: Iterable[Block],
        *,
        language: str | None = None,
        progress: Progress | None = None,
    ) -> Transcription:
        """Transcribe ``blocks``; ``language`` None means detect it (or the only one known).

        Raises UnsupportedLanguage, before reading any audio, for a language not in
        ``languages``.
        """
        ...
