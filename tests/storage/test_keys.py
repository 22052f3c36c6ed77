"""The storage key parser: one exact shape per kind, no spelling that could mean another file."""

from __future__ import annotations

from pathlib import Path

import pytest

from yinzi.errors import NotFound
from yinzi.storage import LocalStorage
from yinzi.storage.keys import InvalidKey, parse_key


@pytest.mark.parametrize(
    ("text", "kind", "owner"),
    [
        ("uploads/AbC_-9/song.mp3", "uploads", "AbC_-9"),
        ("uploads/tok/歌曲.wav", "uploads", "tok"),
        ("results/ORDER123/0123456789ab/vocals.mp3", "results", "ORDER123"),
    ],
)
def test_keys_the_server_makes_parse(text: str, kind: str, owner: str) -> None:
    key = parse_key(text)
    assert (key.kind, key.owner, str(key)) == (kind, owner, text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "uploads",
        "uploads/tok",
        "uploads/tok/a/b",
        "results/o/r",
        "results/o/../x/y",
        "uploads/tok/..",
        "uploads/../x",
        "uploads/./song.mp3",
        "uploads//song.mp3",
        "/uploads/tok/song.mp3",
        "uploads/tok/song.mp3/",
        "uploads/tok/%2e%2e",
        "uploads/tok/a%2Fb",
        "uploads\\tok\\song.mp3",
        "uploads/tok/so\x00ng.mp3",
        "uploads/tok/so\nng.mp3",
        "Uploads/tok/song.mp3",
        "RESULTS/o/r/n",
        "files/tok/song.mp3",
        "uploads/tok/" + "a" * 600,
    ],
)
def test_every_other_spelling_is_refused(text: str) -> None:
    with pytest.raises(InvalidKey):
        parse_key(text)


@pytest.mark.parametrize(
    "key", ["uploads/t/../../x", "uploads/t/./n", "uploads//n", "..", "uploads/t/a\\..\\..\\b"]
)
def test_local_storage_refuses_keys_with_unsafe_segments(tmp_path: Path, key: str) -> None:
    storage = LocalStorage(tmp_path / "files", base_url="http://x", secret=b"s")
    with pytest.raises(NotFound):
        storage.path(key)
