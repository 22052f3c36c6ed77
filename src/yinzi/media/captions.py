"""Captions from transcribed segments: SRT, WebVTT, JSON and plain text.

Cues follow common subtitle conventions: at most ``max_lines`` lines of about ``line_chars``
characters, at most ``max_seconds`` on screen, and a new cue at a pause of ``pause_seconds`` or
after a sentence end once the cue has some substance. Cue times are monotonic, never overlap, and
stay inside the media's duration. A transcript with no speech gives files with no cues.

Cues are cut between words, with the engine's word timings, so a long segment becomes several
cues. Chinese and Japanese are written without spaces: their words are joined without one, a
segment without word timings is split into characters, and a line's length is its width on
screen, where an ideograph takes two columns (so a 42-column line holds 21 of them).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

import srt
import webvtt

from yinzi.engines.transcription.base import Segment, Word

SENTENCE_END = (".", "?", "!", "\u3002", "\uff1f", "\uff01")  # and the CJK full stop, ?, !


@dataclass(frozen=True, slots=True)
class CueRules:
    line_chars: int = 42
    max_lines: int = 2
    max_seconds: float = 7.0
    pause_seconds: float = 0.6
    min_seconds: float = 0.5
    """A short cue is held this long where the next one leaves room."""


@dataclass(frozen=True, slots=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def words_of(segments: Iterable[Segment]) -> list[Word]:
    """Every word with its timing; a segment without word timings is spread evenly."""
    words: list[Word] = []
    for segment in segments:
        if segment.words:
            words.extend(w for w in segment.words if w.text.strip())
            continue
        tokens = tokens_of(segment.text)
        step = (segment.end - segment.start) / max(1, len(tokens))
        words.extend(
            Word(tok, segment.start + i * step, segment.start + (i + 1) * step)
            for i, tok in enumerate(tokens)
        )
    return words


_UNSPACED_RUN = re.compile(
    r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003ffff]"
    r"[\u3000-\u303f\uff00-\uffef.,!?;:)\]\"']*"
)
"""One ideograph, kana or Hangul syllable, with the punctuation that follows it."""


def tokens_of(text: str) -> list[str]:
    """The words of ``text``: split at spaces, and CJK runs into characters."""
    tokens: list[str] = []
    for chunk in text.split():
        cursor = 0
        for match in _UNSPACED_RUN.finditer(chunk):
            if match.start() > cursor:
                tokens.append(chunk[cursor : match.start()])
            tokens.append(match.group())
            cursor = match.end()
        if cursor < len(chunk):
            tokens.append(chunk[cursor:])
    return tokens


def join(tokens: Iterable[str]) -> str:
    """Words as text: a space between two words, none beside a CJK character."""
    text = ""
    for token in (t.strip() for t in tokens):
        if not token:
            continue
        if text and not (_unspaced(text[-1]) or _unspaced(token[0])):
            text += " "
        text += token
    return text


def width(text: str) -> int:
    """Columns ``text`` takes on screen: two for a wide (East Asian) character."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _unspaced(char: str) -> bool:
    return unicodedata.east_asian_width(char) in "WF"


def wrap(tokens: Sequence[str], rules: CueRules) -> tuple[str, ...] | None:
    """Balanced lines for the words ``tokens``, or None when they do not fit the cue's lines."""
    text = join(tokens)
    if width(text) <= rules.line_chars:
        return (text,)
    if rules.max_lines < 2:
        return None
    best: tuple[str, str] | None = None
    balance = 0
    for i in range(1, len(tokens)):
        first, second = join(tokens[:i]), join(tokens[i:])
        if width(first) <= rules.line_chars and width(second) <= rules.line_chars:
            if best is None or abs(width(first) - width(second)) < balance:
                best, balance = (first, second), abs(width(first) - width(second))
    return best


def build_cues(words: Sequence[Word], duration: float, rules: CueRules | None = None) -> list[Cue]:
    rules = rules or CueRules()
    groups: list[list[Word]] = []
    for word in words:
        current = groups[-1] if groups else None
        if current is None or _breaks_before(current, word, rules):
            groups.append([word])
        else:
            current.append(word)
    return _timed(groups, duration, rules)


def _breaks_before(current: list[Word], word: Word, rules: CueRules) -> bool:
    last = current[-1]
    if wrap([w.text for w in [*current, word]], rules) is None:
        return True
    if word.end - current[0].start > rules.max_seconds:
        return True
    if word.start - last.end >= rules.pause_seconds:
        return True
    substantial = sum(width(w.text) for w in current) >= rules.line_chars // 2
    return substantial and last.text.rstrip().endswith(SENTENCE_END)


def _timed(groups: list[list[Word]], duration: float, rules: CueRules) -> list[Cue]:
    cues: list[Cue] = []
    for i, group in enumerate(groups):
        start = max(group[0].start, cues[-1].end if cues else 0.0, 0.0)
        end = max(group[-1].end, start + rules.min_seconds)
        if i + 1 < len(groups):
            end = min(end, max(groups[i + 1][0].start, group[-1].end))
        end = min(end, duration)
        start = min(start, end)
        if end <= start:
            continue
        tokens = [w.text for w in group]
        cues.append(Cue(start, end, wrap(tokens, rules) or (join(tokens),)))
    return cues


def to_srt(cues: Sequence[Cue]) -> str:
    composed: str = srt.compose(
        [
            srt.Subtitle(i + 1, timedelta(seconds=c.start), timedelta(seconds=c.end), c.text)
            for i, c in enumerate(cues)
        ],
        reindex=False,
    )
    return composed


def to_vtt(cues: Sequence[Cue]) -> str:
    vtt = webvtt.WebVTT(
        captions=[webvtt.Caption(_vtt_time(c.start), _vtt_time(c.end), c.text) for c in cues]
    )
    content: str = vtt.content
    return content if content.startswith("WEBVTT") else "WEBVTT\n\n" + content


def _vtt_time(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def to_text(segments: Sequence[Segment]) -> str:
    lines = [s.text.strip() for s in segments if s.text.strip()]
    return "\n".join(lines) + ("\n" if lines else "")


def to_json(
    segments: Sequence[Segment],
    language: str,
    duration: float,
    language_probability: float | None = None,
) -> str:
    probability = None if language_probability is None else round(language_probability, 3)
    return json.dumps(
        {
            "language": language,
            "language_probability": probability,
            "duration": round(duration, 3),
            "segments": [asdict(s) for s in segments],
        },
        ensure_ascii=False,
        indent=1,
    )


@dataclass(frozen=True, slots=True)
class CaptionFile:
    path: Path
    business: str


def write_all(
    folder: Path,
    segments: Sequence[Segment],
    language: str,
    duration: float,
    language_probability: float | None = None,
) -> list[CaptionFile]:
    """Write the transcript in every format; returns the files with their business names.

    ``language_probability`` is the engine's confidence in a detected language (None when the
    language was given); it goes into ``transcript.json`` beside the language."""
    cues = build_cues(words_of(segments), duration)
    contents = {
        ("transcript.srt", "caption"): to_srt(cues),
        ("transcript.txt", "text"): to_text(segments),
        ("transcript.vtt", "vtt"): to_vtt(cues),
        ("transcript.json", "segments"): to_json(
            segments, language, duration, language_probability
        ),
    }
    files = []
    for (name, business), content in contents.items():
        path = folder / name
        path.write_text(content, encoding="utf-8")
        files.append(CaptionFile(path, business))
    return files
