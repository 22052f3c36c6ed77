"""Guards against text Whisper invents: segments that no speech in the audio can account for.

Whisper is a language model listening to audio; where the audio gives it little to go on (music,
noise, the padding after the last word) it can still write fluent text. Three checks run on each
segment faster-whisper returns, after its own (the Silero voice-activity filter in front of the
model, and the no-speech and log-probability tests that skip a whole 30-second chunk):

- **Repetition**: a segment whose own text compresses better than ``MAX_COMPRESSION_RATIO``
  (zlib, as Whisper measures it) is a decoding loop ("the the the ...") that the temperature
  fallback failed to escape. faster-whisper reports the ratio of the whole 30-second chunk,
  which real speech that repeats itself (a chorus, a list read twice) also reaches, so the
  guard measures each segment on its own.
- **Doubt**: a segment the model itself believes is not speech (``no_speech_prob`` above
  ``NO_SPEECH``) and whose tokens it found unlikely (``avg_logprob`` below ``LOW_LOGPROB``).
- **Cramming**: a segment whose words are timed into a span far shorter than saying them takes,
  above ``MAX_SYLLABLES_PER_SECOND`` (fast conversational speech is 6 to 7 syllables a second).
  This is Whisper's known failure with word timestamps: a sentence invented at the end of a
  chunk, its words squeezed into the last fraction of a second of audio.

These are properties of any transcript, not of particular recordings; the thresholds are
faster-whisper's defaults where it has one.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Sequence

from yinzi.engines.transcription.base import Word

MAX_COMPRESSION_RATIO = 2.4
NO_SPEECH = 0.6
LOW_LOGPROB = -1.0
MAX_SYLLABLES_PER_SECOND = 12.0
"""Nearly twice the fastest natural speech: only timings that cannot be right are refused."""
MIN_CRAMMED_SYLLABLES = 4
"""Fewer syllables than this are never judged crammed (a short word can be said very fast)."""
_VOWELS = re.compile(r"[aeiouyàâäéèêëîïôöùûüÿáíóúñåæøœ]+", re.IGNORECASE)


def invented(
    text: str, words: Sequence[Word], *, no_speech_prob: float, avg_logprob: float
) -> bool:
    """Whether a segment is likely text that nobody said (see the module docstring)."""
    if compression_ratio(text) > MAX_COMPRESSION_RATIO:
        return True
    if no_speech_prob > NO_SPEECH and avg_logprob < LOW_LOGPROB:
        return True
    return crammed(text, words)


def compression_ratio(text: str) -> float:
    """Bytes of ``text`` over bytes of its zlib compression: high for repetitive text."""
    encoded = text.encode("utf-8")
    return len(encoded) / len(zlib.compress(encoded)) if encoded else 0.0


def crammed(text: str, words: Sequence[Word]) -> bool:
    """Whether ``words`` are timed into a span too short to say ``text``."""
    if not words:
        return False
    count = syllables(text)
    if count < MIN_CRAMMED_SYLLABLES:
        return False
    span = words[-1].end - words[0].start
    return count > MAX_SYLLABLES_PER_SECOND * span


def syllables(text: str) -> int:
    """A rough syllable count: vowel groups of alphabetic words, one per ideograph or kana."""
    count = 0
    for token in text.split():
        spelled = []
        for char in token:
            if _syllabic(char):
                count += 1
            else:
                spelled.append(char)
        letters = "".join(spelled)
        if any(c.isalpha() for c in letters):
            count += max(1, len(_VOWELS.findall(letters)))
    return count


def _syllabic(char: str) -> bool:
    """One character, one syllable: CJK ideographs, kana and Hangul syllables."""
    name = unicodedata.name(char, "")
    return name.startswith(("CJK UNIFIED IDEOGRAPH", "HIRAGANA", "KATAKANA", "HANGUL SYLLABLE"))
