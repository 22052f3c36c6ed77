"""Signed links: a link made again within the same second is reused, never past it."""

from __future__ import annotations

import pytest

from yinzi.storage import signing
from yinzi.storage.signing import RecentLinks, signed_link, verify


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(1_800_000_000.25)
    monkeypatch.setattr(signing.time, "time", clock)
    return clock


def test_a_link_is_signed_once_per_key_lifetime_and_second(clock: Clock) -> None:
    made: list[tuple[str, int]] = []
    links = RecentLinks()

    def link(key: str, ttl: int) -> str:
        def make() -> str:
            made.append((key, ttl))
            return signed_link("http://yinzi", b"secret", key, ttl)

        return links.get(key, ttl, make)

    first = link("results/A/vocals.mp3", 3600)
    clock.now += 0.7  # the same second
    assert link("results/A/vocals.mp3", 3600) == first
    assert link("results/A/accompaniment.mp3", 3600) != first
    assert link("results/A/vocals.mp3", 60) != first
    assert len(made) == 3
    clock.now += 0.1  # the next second: a new link, which expires a second later
    later = link("results/A/vocals.mp3", 3600)
    assert later != first and len(made) == 4
    assert "expires=1800003601&" in later


def test_reused_links_are_the_links_signing_would_make_now(clock: Clock) -> None:
    links = RecentLinks(max_entries=2)
    for step in range(10):
        clock.now += 0.4
        for key in ("results/A/a.mp3", "results/A/b.mp3", "results/A/c.mp3"):
            got = links.get(key, 60, lambda key=key: signed_link("", b"s", key, 60))
            assert got == signed_link("", b"s", key, 60), step
    query = got.split("?", 1)[1]
    expires, signature = (part.split("=", 1)[1] for part in query.split("&"))
    verify(b"s", "results/A/c.mp3", expires, signature)
