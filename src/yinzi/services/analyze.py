"""Short-video analysis: a share link in, title, author, cover, video and music out.

Real-time and charged at once: the price is taken before the platform is asked and given back if
the analysis fails. Answers are cached per link for ``links.cache_seconds`` so repeated requests do
not hammer a platform; a cached answer is charged like a fresh one. With ``extract_music`` and no
music address from the platform, the video's audio track is stored as an MP3 upload of the
account's (usable as a ``pathKey``) and returned as a signed link.
"""

from __future__ import annotations

import multiprocessing
import re
import secrets
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio

from yinzi import media
from yinzi.db.models import Account, Upload
from yinzi.engines import registry
from yinzi.engines.links.base import LinkAnalyzer, LinkError, VideoInfo
from yinzi.errors import BadRequest, FetchError, MediaError
from yinzi.services import billing, orders
from yinzi.services.ratelimit import ConcurrencyGate

if TYPE_CHECKING:
    from yinzi.context import Context

_URL = re.compile(r"https?://[^\s<>\"'\u3000-\u303f\uff01-\uff0f\uff1a-\uff20]+", re.IGNORECASE)
_BARE = re.compile(r"(?<![\w.])((?:[\w-]+\.)+(?:com|cn|tv|net)/[\w/?=&%.-]+)", re.IGNORECASE)
_TRAILING = ".,;:!?)]}>'\""


def find_url(text: str) -> str:
    """The first web address in ``text`` (apps share "title + link + noise")."""
    match = _URL.search(text)
    if match:
        return match.group(0).rstrip(_TRAILING)
    bare = _BARE.search(text)
    if bare:
        return "https://" + bare.group(1).rstrip(_TRAILING)
    raise BadRequest("no link found: the text must contain an http(s) address")


@dataclass(frozen=True)
class Analysis:
    title: str
    author: str
    cover: str | None
    video_url: str | None
    music_url: str | None
    balance: int


class _TtlCache:
    def __init__(self) -> None:
        self._items: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            hit = self._items.get(key)
            if hit is None or hit[0] < time.monotonic():
                self._items.pop(key, None)
                return None
            return hit[1]

    def put(self, key: Any, value: Any, ttl: float) -> None:
        if ttl <= 0:
            return
        with self._lock:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[key] = (time.monotonic() + ttl, value)


class LinkState:
    """A process's analyzer, caches and transcoding process (one per Context)."""

    def __init__(self) -> None:
        self.infos = _TtlCache()
        self.music = _TtlCache()
        self.analyzer: LinkAnalyzer | None = None
        self._transcoder: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def transcoder(self) -> ProcessPoolExecutor:
        """A process of its own for decoding and encoding, started on first use: heavy media
        work never runs in the API process."""
        with self._lock:
            if self._transcoder is None:
                spawn = multiprocessing.get_context("spawn")
                self._transcoder = ProcessPoolExecutor(max_workers=1, mp_context=spawn)
            return self._transcoder

    def close(self) -> None:
        with self._lock:
            if self._transcoder is not None:
                self._transcoder.shutdown(cancel_futures=True)
                self._transcoder = None


def analyze(ctx: Context, account: Account, text: str, *, extract_music: bool = False) -> Analysis:
    orders.check_accepting(ctx.settings)
    url = find_url(text)
    price = ctx.settings.prices.short_video_analyze
    ref = f"analyze:{secrets.token_hex(8)}"
    with ctx.db.write() as session:
        billing.charge(session, account.id, price, ref)
    try:
        info = _info(ctx, url)
        music = info.music_url
        if music is None and extract_music:
            music = _music_link(ctx, account, info, url)
    except Exception:
        with ctx.db.write() as session:
            billing.refund(session, account.id, price, ref)
        raise
    with ctx.db.read() as session:
        balance = billing.balance(session, account.id).available
    return Analysis(info.title, info.author, info.cover, info.video_url, music, balance)


def _info(ctx: Context, url: str) -> VideoInfo:
    cached: VideoInfo | None = ctx.links.infos.get(url)
    if cached is None:
        cached = _analyzer(ctx).analyze(url)
        ctx.links.infos.put(url, cached, ctx.settings.links.cache_seconds)
    return cached


def _analyzer(ctx: Context) -> LinkAnalyzer:
    if ctx.links.analyzer is None:
        name = ctx.settings.links.engine
        options = ctx.settings.engine_options(name)
        ctx.links.analyzer = registry.load(name, "links", fetcher=ctx.fetcher, **options)
    return ctx.links.analyzer


def _music_link(ctx: Context, account: Account, info: VideoInfo, link: str) -> str:
    """Store the video's audio track as the account's MP3 upload; a fresh signed link to it.

    A failure names the user's ``link``, not the platform's video address it never gave."""
    key: str | None = ctx.links.music.get((account.id, info.webpage_url))
    if key is None or not ctx.storage.exists(key):
        try:
            key = _extract_music(ctx, account, info)
        except (FetchError, MediaError) as exc:
            reason = exc.reason if isinstance(exc, FetchError) else exc.message
            host = urlsplit(link).hostname or "the platform"
            message = f"could not take the music from the video of the link on {host}: {reason}"
            raise LinkError(message) from exc
        ctx.links.music.put((account.id, info.webpage_url), key, ctx.settings.links.cache_seconds)
    return ctx.storage.url(key, ttl_seconds=ctx.settings.link_ttl_seconds)


def _extract_music(ctx: Context, account: Account, info: VideoInfo) -> str:
    if not info.video_url:
        raise LinkError("the page has no video to take the music from")
    key = f"uploads/{secrets.token_urlsafe(18)}/music.mp3"
    with tempfile.TemporaryDirectory(dir=_scratch(ctx)) as tmp:
        video = ctx.fetcher.download(info.video_url, Path(tmp) / "video", headers=info.http_headers)
        music = Path(tmp) / "music.mp3"
        ctx.links.transcoder().submit(transcode_to_mp3, video.path, music).result()
        size = music.stat().st_size
        ctx.storage.put_file(key, music)
    with ctx.db.write() as session:
        session.add(
            Upload(
                key=key,
                account_id=account.id,
                filename="music.mp3",
                size=size,
                content_type="audio/mpeg",
            )
        )
    return key


def transcode_to_mp3(src: Path, dest: Path) -> None:
    """The audio track of ``src`` as an MP3 at ``dest`` (run in the transcoding process)."""
    media.probe(src)
    with media.AudioWriter(dest, format="mp3") as writer:
        for block in media.read_blocks(src):
            writer.write(block)


def _scratch(ctx: Context) -> Path:
    folder = ctx.settings.data_dir / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def analyze_gated(
    gate: ConcurrencyGate,
    ctx: Context,
    account: Account,
    text: str,
    *,
    extract_music: bool = False,
) -> Analysis:
    """:func:`analyze` in the links gate's own threads (see ``ConcurrencyGate``), so a site that
    hangs holds none of the threads that answer other requests."""
    with gate.enter(account.id):
        work = partial(analyze, ctx, account, text, extract_music=extract_music)
        return await anyio.to_thread.run_sync(work, limiter=gate.limiter)
