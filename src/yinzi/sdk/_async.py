"""The asyncio client: drives the operations of :mod:`yinzi.sdk._ops` with ``httpx.AsyncClient``."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx

from yinzi.sdk import _ops
from yinzi.sdk._ops import ProgressCallback
from yinzi.sdk._protocol import USER_AGENT, Call, Fetch, Sleep, Steps, auth_headers, fetch_failed
from yinzi.sdk.errors import ConnectionFailed
from yinzi.sdk.models import Order, OrderPage, VideoInfo

T = TypeVar("T")
PathLike = str | os.PathLike[str]
Paths = list[Path]


class AsyncClient:
    """:class:`~yinzi.sdk.Client` with every call a coroutine: ``async with AsyncClient(...)``.

    ``timeout`` bounds each HTTP request (not :meth:`wait`); ``retries`` is how many times a
    call is tried again after a 429 or a lost connection (see :mod:`yinzi.sdk._protocol`).
    """

    def __init__(
        self, base_url: str, api_key: str, *, timeout: float = 30.0, retries: int = 3
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.retries = retries
        self._http = httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout, headers={"User-Agent": USER_AGENT}
        )
        self.vocal_removal = AsyncVocalRemoval(self)
        self.text_to_music = AsyncTextToMusic(self)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    aclose = close

    async def _run(self, steps: Steps[T]) -> T:
        """Drive one operation to its result."""
        try:
            step = next(steps)
            while True:
                step = steps.send(await self._do(step))
        except StopIteration as done:
            result: T = done.value
            return result

    async def _do(self, step: Call | Sleep | Fetch) -> Any:
        if isinstance(step, Sleep):
            await asyncio.sleep(step.seconds)
            return None
        if isinstance(step, Fetch):
            return await self._fetch(step)
        headers = auth_headers(step.dialect, self.api_key) | step.headers
        try:
            if step.upload is None:
                return await self._http.request(
                    step.method, step.path, params=step.params, json=step.json, headers=headers
                )
            with step.upload.open("rb") as file:
                files = {"file": (step.upload.name, file)}
                return await self._http.request(
                    step.method, step.path, files=files, headers=headers
                )
        except httpx.TransportError as exc:
            return exc

    async def _fetch(self, step: Fetch) -> Path:
        partial = step.dest.with_name(step.dest.name + ".part")
        try:
            async with self._http.stream("GET", step.url) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise fetch_failed(step.url, response)
                with partial.open("wb") as out:
                    async for chunk in response.aiter_bytes():
                        out.write(chunk)
        except httpx.TransportError as exc:
            partial.unlink(missing_ok=True)
            raise ConnectionFailed(f"download {step.dest.name}: {exc}") from exc
        return partial.replace(step.dest)

    # -- the Open API ------------------------------------------------------------------------

    async def upload(self, path: PathLike) -> str:
        """Upload a local audio or video file; returns its ``pathKey``."""
        return await self._run(_ops.upload(path, self.retries))

    async def create(
        self,
        order_type: str,
        path_or_url: PathLike | None = None,
        *,
        idempotency_key: str | None = None,
        **options: Any,
    ) -> Order:
        """Create an order; a local file is uploaded first. ``options`` go to ``stuff``
        (``format=``, ``language=``, ``stem_name=``, ``text=`` and ``length=``)."""
        steps = _ops.create(order_type, path_or_url, options, self.retries, idempotency_key)
        return await self._run(steps)

    async def get(self, order_no: str) -> Order:
        return await self._run(_ops.get(order_no, self.retries))

    async def list(
        self,
        *,
        page: int = 1,
        per_page: int = 20,
        status: str | None = None,
        order_type: str | None = None,
    ) -> OrderPage:
        """One page of the account's orders, newest first."""
        return await self._run(_ops.list_orders(page, per_page, status, order_type, self.retries))

    async def iter_orders(
        self, *, per_page: int = 100, status: str | None = None, order_type: str | None = None
    ) -> AsyncIterator[Order]:
        """Every order (matching the filters), page after page."""
        page: int | None = 1
        while page is not None:
            found = await self.list(
                page=page, per_page=per_page, status=status, order_type=order_type
            )
            for order in found.items:
                yield order
            page = found.next_page

    async def cancel(self, order_no: str) -> Order:
        return await self._run(_ops.order_action("cancel", order_no, self.retries))

    async def delete_results(self, order_no: str) -> Order:
        return await self._run(_ops.order_action("delete-results", order_no, self.retries))

    async def wait(
        self,
        order_no: str,
        *,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = None,
        poll: float = 1.0,
    ) -> Order:
        """The order once finished; raises OrderFailed or WaitTimeout."""
        return await self._run(_ops.wait(order_no, on_progress, timeout, poll, self.retries))

    async def download(
        self, order: Order, dest_dir: PathLike, *, businesses: Iterable[str] | None = None
    ) -> Paths:
        return await self._run(_ops.download(order, dest_dir, businesses, self.retries))

    async def separate(
        self,
        path_or_url: PathLike,
        *,
        stems: Iterable[str] = ("vocals", "accompaniment"),
        format: str = "mp3",
        dest: PathLike | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Paths | Order:
        """Separate stems and wait; the stems' paths in ``dest``, or the order without it."""
        return await self._run(
            _ops.separate(path_or_url, stems, format, dest, on_progress, self.retries)
        )

    async def transcribe(
        self,
        path_or_url: PathLike,
        *,
        language: str = "auto",
        dest: PathLike | None = None,
        formats: Iterable[str] = ("srt", "vtt", "txt", "json"),
        on_progress: ProgressCallback | None = None,
    ) -> Paths | Order:
        steps = _ops.transcribe(path_or_url, language, dest, formats, on_progress, self.retries)
        return await self._run(steps)

    async def compose(
        self,
        prompt: str,
        length: int = 8,
        *,
        dest: PathLike | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Paths | Order:
        return await self._run(_ops.compose(prompt, length, dest, on_progress, self.retries))

    async def analyze(self, link: str, *, extract_music: bool = False) -> VideoInfo:
        return await self._run(_ops.analyze(link, extract_music, self.retries))

    async def balance(self) -> int:
        """The account's available credits."""
        return await self._run(_ops.credit(self.retries))


class AsyncVocalRemoval:
    """The Kie-compatible vocal-removal API."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def generate(
        self,
        *,
        callback_url: str,
        audio_url: str | None = None,
        task_id: str | None = None,
        audio_id: str | None = None,
        type: str = "separate_vocal",
        stem_name: str | None = None,
    ) -> str:
        """Start a task; returns its ``taskId``."""
        body = _ops.kie_body(callback_url, audio_url, task_id, audio_id, type, stem_name)
        return await self._client._run(_ops.kie_generate(body, self._client.retries))

    async def record_info(self, task_id: str) -> dict[str, Any]:
        return await self._client._run(_ops.kie_record_info(task_id, self._client.retries))

    async def credit(self) -> int:
        return await self._client._run(_ops.credit(self._client.retries))


class AsyncTextToMusic:
    """The Yating-compatible text-to-music API."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(self, prompt: str, length: int) -> dict[str, Any]:
        return await self._client._run(_ops.music_create(prompt, length, self._client.retries))

    async def get(self, uid: str) -> dict[str, Any]:
        return await self._client._run(_ops.music_get(uid, self._client.retries))

    async def list(
        self, *, page: int = 1, per_page: int = 10, status: str | None = None
    ) -> dict[str, Any]:
        steps = _ops.music_list(page, per_page, status, self._client.retries)
        return await self._client._run(steps)
