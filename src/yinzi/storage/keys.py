"""Storage keys: the one parser that every key a client hands us goes through.

A key names an object in the storage key space, and it is only ever one of two shapes:

    uploads/<token>/<name>                  a file an account uploaded (or had extracted)
    results/<order_no>/<attempt>/<name>     a result of an order

Parsing is strict and never normalises: a key with ``..`` or ``.`` segments, empty segments
(``//``, a leading or trailing ``/``), backslashes, percent-escapes, control characters (NUL
included), another spelling of the prefix (``Results/``) or another number of segments is
refused as a whole. What passes names exactly one object, with the same text on every backend,
so ownership decided from the parsed key (the upload's row, the order in the key) is ownership
of the object itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

MAX_KEY_CHARS = 512
"""The longest key accepted (upload names are cut to fit well inside it)."""

_SEGMENT = re.compile(r"[^\x00-\x1f\x7f/\\%]+")
_SHAPES = {"uploads": 3, "results": 4}


class InvalidKey(ValueError):
    """The text is not a storage key this server made"""


@dataclass(frozen=True)
class StorageKey:
    kind: Literal["uploads", "results"]
    owner: str
    """The upload's token, or the order number of a result."""
    segments: tuple[str, ...]

    def __str__(self) -> str:
        return "/".join(self.segments)


def parse_key(text: str) -> StorageKey:
    """The storage key ``text`` names; raises :class:`InvalidKey` unless it is one exactly."""
    if len(text) > MAX_KEY_CHARS:
        raise InvalidKey(f"a storage key has at most {MAX_KEY_CHARS} characters")
    segments = tuple(text.split("/"))
    for segment in segments:
        check_segment(segment)
    expected = _SHAPES.get(segments[0])
    if expected is None or len(segments) != expected:
        raise InvalidKey("a storage key is uploads/<token>/<name> or results/<order>/<run>/<name>")
    kind: Literal["uploads", "results"] = "uploads" if segments[0] == "uploads" else "results"
    return StorageKey(kind, segments[1], segments)


def check_segment(segment: str) -> None:
    """One path segment: not empty, not ``.`` or ``..``, no separator, escape or control char."""
    if segment in (".", "..") or not _SEGMENT.fullmatch(segment):
        raise InvalidKey(f"a storage key may not contain the segment {segment!r}")


def is_prefix_of_keys(prefix: str) -> bool:
    """Whether ``prefix`` (segments, optionally ending in ``/``) is safe to delete under."""
    try:
        for segment in prefix.rstrip("/").split("/"):
            check_segment(segment)
    except InvalidKey:
        return False
    return True
