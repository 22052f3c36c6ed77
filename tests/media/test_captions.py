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


def test_a_long_segment_is_cut_between_its_words() -> None:
    spoken = "for the trip we need tents sleeping bags a small stove two pots and matches " * 3
    words = tuple(Word(w, i * 0.35, i * 0.35 + 0.3) for i, w in enumerate(spoken.split()))
    segment = Segment(0.0, words[-1].end, spoken.strip(), words)  # one 15-second segment
    cues = captions.build_cues(captions.words_of([segment]), 16.0)
    assert len(cues) >= 3
    assert all(c.end - c.start <= 7.0 and len(c.lines) <= 2 for c in cues)
    assert all(len(line) <= 42 for c in cues for line in c.lines)
    assert " ".join(c.text.replace("\n", " ") for c in cues) == spoken.strip()


def test_chinese_is_joined_without_spaces_and_wrapped_by_width() -> None:
    text = "明天早上我要去火车站接朋友，然后我们一起去公园散步，晚上再去吃饭。"
    words = tuple(Word(c, i * 0.25, i * 0.25 + 0.2) for i, c in enumerate(text))
    cues = captions.build_cues(captions.words_of([Segment(0.0, words[-1].end, text, words)]), 9)
    assert "".join(c.text.replace("\n", "") for c in cues) == text
    for cue in cues:
        assert " " not in cue.text
        assert all(captions.width(line) <= 42 for line in cue.lines)  # 21 ideographs a line


def test_chinese_without_word_timings_is_split_into_characters() -> None:
    segment = Segment(0.0, 12.0, "今天天气很好，我们一起去公园散步吧。请把窗户关上，外面刮风了。")
    words = captions.words_of([segment])
    assert [w.text for w in words[:6]] == ["今", "天", "天", "气", "很", "好，"]
    cues = captions.build_cues(words, 12.0)
    assert len(cues) >= 2 and all(c.end - c.start <= 7.0 for c in cues)
    assert "".join(c.text.replace("\n", "") for c in cues) == segment.text


def test_mixed_text_keeps_spaces_between_latin_words() -> None:
    assert captions.join(["我", "用", "Linux", "and", "Mac", "。"]) == "我用Linux and Mac。"
    assert captions.tokens_of("Hello 世界! ok") == ["Hello", "世", "界!", "ok"]


def test_json_carries_the_detected_language_and_its_probability(tmp_path: Path) -> None:
    files = {f.business: f.path for f in captions.write_all(tmp_path, [], "fr", 3.0, 0.91234)}
    data = json.loads(files["segments"].read_text())
    assert (data["language"], data["language_probability"]) == ("fr", 0.912)
