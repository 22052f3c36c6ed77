"""The asyncio client against a real server: the same calls as coroutines."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sdk.conftest import Proxy, Server, ServerFactory

from yinzi import media
from yinzi.media import testing
from yinzi.sdk import AsyncClient, AuthenticationError, NotFoundError, Order, OrderFailed


def test_an_async_user_uploads_orders_watches_and_downloads(server: Server, tmp_path: Path) -> None:
    song = testing.song(tmp_path / "song.wav", seconds=2.0)

    async def story() -> tuple[list[Order], list[Path], int]:
        async with AsyncClient(server.url, server.user.key) as client:
            order = await client.create("extract-voice", await client.upload(song))
            seen: list[Order] = []
            done = await client.wait(order.order_no, on_progress=seen.append, poll=0.1)
            paths = await client.download(done, tmp_path / "out")
            return seen, paths, await client.balance()

    seen, paths, balance = asyncio.run(story())
    assert seen[-1].ok and [p.name for p in paths] == ["vocals.mp3"]
    assert media.probe(paths[0]).duration == pytest.approx(2.0, abs=0.2)
    assert balance == 990


def test_async_helpers_and_dialects(server: Server, song: str, tmp_path: Path) -> None:
    async def story() -> None:
        async with AsyncClient(server.url, server.user.key) as client:
            stems = await client.separate(song, stems=["accompaniment"], dest=tmp_path)
            assert stems == [tmp_path / "accompaniment.mp3"]
            music = await client.compose("soft strings", 1)
            assert isinstance(music, Order) and music.ok
            task = await client.text_to_music.create("soft strings", 1)
            assert (await client.text_to_music.get(task["uid"]))["uid"] == task["uid"]
            assert await client.vocal_removal.credit() == await client.balance()
            with pytest.raises(NotFoundError):
                await client.get("nosuchorder")
        async with AsyncClient(server.url, "sk-wrong") as stranger:
            with pytest.raises(AuthenticationError):
                await stranger.text_to_music.list()

    asyncio.run(story())


def test_async_listing_and_cancelling(yinzi_server: ServerFactory, song: str) -> None:
    server = yinzi_server(worker=False)

    async def story() -> None:
        async with AsyncClient(server.url, server.user.key) as client:
            made = [(await client.create("extract-music", song)).order_no for _ in range(3)]
            listed = [o.order_no async for o in client.iter_orders(per_page=2)]
            assert listed == made[::-1]
            cancelled = await client.cancel(made[0])
            assert cancelled.reason == "cancelled by the user"
            with pytest.raises(OrderFailed):
                await client.wait(made[0], timeout=5)

    asyncio.run(story())


def test_async_wait_rides_out_an_outage(server: Server, proxy: Proxy, song: str) -> None:
    async def story() -> Order:
        async with AsyncClient(proxy.url, server.user.key, retries=1) as client:
            order = await client.create("extract-voice", song)
            proxy.refuse(4)  # two polls, each tried twice (retries=1), refused
            return await client.wait(order.order_no, timeout=60, poll=0.2)

    assert asyncio.run(story()).ok and proxy.refused == 4
