"""Captions: subtitle conventions hold for any transcript, and the files parse back."""

from __future__ import annotations

import json
from pathlib import Path

import srt
import webvtt
from hypothesis import given, settings
from hypothesis import strategies as st

from yinzi.engines.transcription.base import Segment, Word
from yinzi.media import captions
from yinzi.media.captions import CueRules

VOCAB = ["a", "the", "voice", "of", "music", "extraordinarily", "is", "here.", "why?", "yes!"]


@st.composite
def transcripts(draw: st.DrawFn) -> tuple[list[Segment], float]:
    t = draw(st.floats(0, 2))
    segments = []
    for _ in range(draw(st.integers(0, 6))):
        words = []
        for _ in range(draw(st.integers(1, 30))):
            t += draw(st.floats(0, 1.5))  # gap before the word
            length = draw(st.floats(0.05, 0.9))
            words.append(Word(draw(st.sampled_from(VOCAB)), t, t + length))
            t += length
        text = " ".join(w.text for w in words)
        timed = draw(st.booleans())
        segments.append(Segment(words[0].start, words[-1].end, text, tuple(words) if timed else ()))
    duration = t + draw(st.floats(0, 3))
    return segments, duration


@settings(max_examples=200, deadline=None)
@given(transcripts())
def test_cues_follow_subtitle_conventions(case: tuple[list[Segment], float]) -> None:
    segments, duration = case
    rules = CueRules()
    words = captions.words_of(segments)
    cues = captions.build_cues(words, duration, rules)
    previous_end = 0.0
    for cue in cues:
        assert previous_end <= cue.start < cue.end <= duration + 1e-9
        previous_end = cue.end
        assert 1 <= len(cue.lines) <= rules.max_lines
        for line in cue.lines:
            assert len(line) <= rules.line_chars
    # every word appears once, in order
    assert " ".join(c.text.replace("\n", " ") for c in cues).split() == [w.text for w in words]


@settings(max_examples=100, deadline=None)
@given(transcripts())
def test_cues_last_at_most_seven_seconds(case: tuple[list[Segment], float]) -> None:
    segments, duration = case
    for cue in captions.build_cues(captions.words_of(segments), duration):
        assert cue.end - cue.start <= 7.0 + 1e-9


def test_cues_split_at_pauses_and_sentence_ends() -> None:
    spoken = "this is the first sentence here. and this is another one"
    words = [Word(w, i * 0.3, i * 0.3 + 0.25) for i, w in enumerate(spoken.split())]
    words.append(Word("later", 10.0, 10.4))  # after a long pause
    cues = captions.build_cues(words, 12.0)
    assert [c.text.replace("\n", " ") for c in cues] == [
        "this is the first sentence here.",
        "and this is another one",
        "later",
    ]


def test_files_parse_back_with_standard_parsers(tmp_path: Path) -> None:
    words = tuple(
        Word(w, i * 0.5, i * 0.5 + 0.4) for i, w in enumerate("hello there world".split())
    )
    segments = [Segment(0.0, 1.4, "hello there world", words)]
    files = {f.business: f.path for f in captions.write_all(tmp_path, segments, "en", 2.0)}
    assert set(files) == {"caption", "text", "vtt", "segments"}
    subs = list(srt.parse(files["caption"].read_text()))
    assert [s.content for s in subs] == ["hello there world"]
    assert subs[0].start.total_seconds() == 0.0 and subs[0].end.total_seconds() == 1.4
    vtt = webvtt.read(str(files["vtt"]))
    assert [c.text for c in vtt] == ["hello there world"]
    assert vtt[0].start == "00:00:00.000" and vtt[0].end == "00:00:01.400"
    assert files["text"].read_text() == "hello there world\n"
    data = json.loads(files["segments"].read_text())
    assert data["language"] == "en"
    assert data["segments"][0]["words"][1] == {
        "text": "there",
        "start": 0.5,
        "end": 0.9,
        "confidence": None,
    }


def test_no_speech_gives_files_with_no_cues(tmp_path: Path) -> None:
    files = {f.business: f.path for f in captions.write_all(tmp_path, [], "en", 5.0)}
    assert list(srt.parse(files["caption"].read_text())) == []
    assert list(webvtt.read(str(files["vtt"]))) == []
    assert files["text"].read_text() == ""
    assert json.loads(files["segments"].read_text())["segments"] == []


def test_cues_never_run_past_the_media() -> None:
    words = [Word("late", 9.8, 10.6)]  # the engine's last word overshoots a 10-s file
    (cue,) = captions.build_cues(words, 10.0)
    assert cue.end == 10.0
