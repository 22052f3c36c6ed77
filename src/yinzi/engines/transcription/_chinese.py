"""Chinese language tags and the script a transcript is written in.

Whisper has one language for Chinese, ``zh``, and writes whichever script its training data
happened to use, often Traditional characters for Mainland speech. A request names the script
it wants with a BCP 47 tag: ``zh`` (and ``zh-CN``, ``zh-Hans``, ``zh-SG``) means Simplified,
``zh-TW``, ``zh-Hant`` and ``zh-HK`` mean Traditional. The transcript is converted with OpenCC
(Open Chinese Convert), which maps characters and common phrases between the two scripts; it
leaves every other character, Latin letters and digits included, as it is.

Tags are matched without regard to case (the Open API lower-cases them); the canonical spelling
is what a transcript reports as its language.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

SIMPLIFIED = "t2s"
"""OpenCC's configuration for Traditional (and mixed) text to Simplified."""
_VARIANTS: dict[str, tuple[str, str]] = {
    "zh": ("zh", SIMPLIFIED),
    "zh-cn": ("zh-CN", SIMPLIFIED),
    "zh-sg": ("zh-SG", SIMPLIFIED),
    "zh-hans": ("zh-Hans", SIMPLIFIED),
    "zh-tw": ("zh-TW", "s2tw"),
    "zh-hk": ("zh-HK", "s2hk"),
    "zh-hant": ("zh-Hant", "s2t"),
}
"""Each accepted tag, lower-cased: its canonical spelling and OpenCC configuration."""

TAGS = tuple(canonical for canonical, _ in _VARIANTS.values() if canonical != "zh")
"""The Chinese tags accepted besides ``zh``."""


def canonical(tag: str) -> str | None:
    """The canonical spelling of a Chinese tag (``zh-tw`` is ``zh-TW``), None if not one."""
    variant = _VARIANTS.get(tag.lower())
    return variant[0] if variant is not None else None


def converter(tag: str) -> Callable[[str], str]:
    """The function that writes text in the script ``tag`` asks for (a Chinese tag)."""
    return _opencc(_VARIANTS[tag.lower()][1])


@functools.cache
def _opencc(configuration: str) -> Callable[[str], str]:
    import opencc

    convert: Callable[[str], str] = opencc.OpenCC(configuration).convert
    return convert
