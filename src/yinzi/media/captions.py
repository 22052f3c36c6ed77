"""Captions from transcribed segments: SRT, WebVTT, JSON and plain text.

Cues follow common subtitle conventions: at most ``max_lines`` lines of about ``line_chars``
characters, at most ``max_seconds`` on screen, and a new cue at a pause of ``pause_seconds`` or
after a sentence end once the cue has some substance. Cue times are monotonic, never overlap, and
stay inside the media's duration. A transcript with no speech gives files with no cues.
"""

from __future__ import annotations

import json
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
        tokens = segment.text.split()
        step = (segment.end - segment.start) / max(1, len(tokens))
        words.extend(
            Word(tok, segment.start + i * step, segment.start + (i + 1) * step)
            for i, tok in enumerate(tokens)
        )
    return words


def wrap(text: str, rules: CueRules) -> tuple[str, ...] | None:
    """Balanced lines for ``text``, or None when it does not fit the cue's lines."""
    if len(text) <= rules.line_chars:
        return (text,)
    if rules.max_lines < 2:
        return None
    tokens = text.split()
    best: tuple[str, str] | None = None
    for i in range(1, len(tokens)):
        first, second = " ".join(tokens[:i]), " ".join(tokens[i:])
        if len(first) <= rules.line_chars and len(second) <= rules.line_chars:
            if best is None or abs(len(first) - len(second)) < abs(len(best[0]) - len(best[1])):
                best = (first, second)
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
    text = " ".join(w.text.strip() for w in [*current, word])
    if wrap(text, rules) is None or word.end - current[0].start > rules.max_seconds:
        return True
    if word.start - last.end >= rules.pause_seconds:
        return True
    substantial = sum(len(w.text) for w in current) >= rules.line_chars // 2
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
        lines = wrap(" ".join(w.text.strip() for w in group), rules)
        cues.append(Cue(start, end, lines or (" ".join(w.text.strip() for w in group),)))
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


def to_json(segments: Sequence[Segment], language: str, duration: float) -> str:
    return json.dumps(
        {
            "language": language,
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
    folder: Path, segments: Sequence[Segment], language: str, duration: float
) -> list[CaptionFile]:
    """Write the transcript in every format; returns the files with their business names."""
    cues = build_cues(words_of(segments), duration)
    contents = {
        ("transcript.srt", "caption"): to_srt(cues),
        ("transcript.txt", "text"): to_text(segments),
        ("transcript.vtt", "vtt"): to_vtt(cues),
        ("transcript.json", "segments"): to_json(segments, language, duration),
    }
    files = []
    for (name, business), content in contents.items():
        path = folder / name
        path.write_text(content, encoding="utf-8")
        files.append(CaptionFile(path, business))
    return files
