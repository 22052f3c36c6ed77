"""Quotes: the price the new-order page shows is the price the order holds and is charged."""

from __future__ import annotations

from pathlib import Path

import pytest

from yinzi.context import Context
from yinzi.db.models import Order
from yinzi.media import testing
from yinzi.queue.embedded import EmbeddedDispatcher, Worker
from yinzi.services import accounts, billing, pricing, submit, uploads
from yinzi.settings import Price, Prices, Settings

from conftest import FileServer
from helpers import User, drain, make_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    prices = Prices(extract_voice=Price(minimum=3, per_minute=7))
    return make_settings(tmp_path, prices=prices, separation_engine="separation.spectral")


@pytest.mark.parametrize(
    ("seconds", "credits"), [(None, None), (0.5, 7), (60.0, 7), (61.0, 14), (150.0, 21)]
)
def test_a_quote_is_the_larger_of_the_minimum_and_the_started_minutes(
    settings: Settings, seconds: float | None, credits: int | None
) -> None:
    quote = pricing.quote(settings, "extract-voice", seconds=seconds)
    assert (quote.minimum, quote.per_minute, quote.credits) == (3, 7, credits)


def test_music_and_analysis_have_prices_of_their_own(settings: Settings) -> None:
    music = pricing.quote(settings, "text-to-music", length=5)
    assert music.credits == 5 * settings.prices.text_to_music.per_bar
    analysis = pricing.quote(settings, pricing.ANALYZE)
    assert analysis.fixed == analysis.credits == settings.prices.short_video_analyze
    assert set(pricing.quotes(settings)) == set(pricing.ORDER_TYPES)
    with pytest.raises(ValueError, match="unknown order type"):
        pricing.quote(settings, "teleport")


def test_a_real_order_holds_and_is_charged_what_was_quoted(
    ctx: Context, user: User, worker: Worker, file_server: FileServer
) -> None:
    path = file_server.root / "long.wav"
    testing.song(path, seconds=65.0)
    with ctx.db.read() as session:
        account = accounts.find(session, user.email)
    with path.open("rb") as stream:
        key = uploads.store(ctx, account, stream, "long.wav", "audio/wav")
    seconds = uploads.duration(ctx, key)
    assert seconds == pytest.approx(65.0, abs=0.05)
    quoted = pricing.quote(ctx.settings, "extract-voice", seconds=seconds).credits
    assert quoted == 14

    order = submit.submit(
        ctx, EmbeddedDispatcher(), account, "extract-voice", submit.Stuff(path_key=key)
    )
    assert order.held == pricing.quote(ctx.settings, "extract-voice").minimum
    assert drain(worker) == 1
    with ctx.db.read() as session:
        done = session.get(Order, order.order_no)
        assert done is not None and done.status == "finish"
        assert done.cost == quoted
        kinds = [
            (e.kind, e.available_delta, e.held_delta) for e in billing.entries(session, account.id)
        ]
    assert kinds[-2:] == [("hold", -11, 11), ("capture", 0, -14)]
