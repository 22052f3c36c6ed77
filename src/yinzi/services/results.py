"""An order's result files as its owner sees them: which play as audio, which read as text, and
the first lines of a text result.

Results are looked up by name in the order's own ``results`` list, so a name can only ever reach
a file of that order (callers get the order with :func:`yinzi.services.orders.get`, which
refuses another account's).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from yinzi.db.models import Order
from yinzi.errors import NotFound

if TYPE_CHECKING:
    from yinzi.context import Context

AUDIO = (".mp3", ".wav", ".flac", ".ogg", ".m4a")
TEXT = (".srt", ".txt", ".vtt", ".json")
PREVIEW_LINES = 12
PREVIEW_BYTES = 4096


def find(order: Order, name: str) -> dict[str, str]:
    """The result called ``name`` of ``order`` (NotFound when it has none, or they were
    deleted)."""
    for item in order.results:
        if item["name"] == name:
            return dict(item)
    raise NotFound("this result does not exist")


def is_audio(item: dict[str, str]) -> bool:
    return item["key"].lower().endswith(AUDIO)


def is_text(item: dict[str, str]) -> bool:
    return item["key"].lower().endswith(TEXT)


def link(ctx: Context, item: dict[str, str]) -> str:
    """A signed, expiring download link to the result."""
    return ctx.storage.url(item["key"], ttl_seconds=ctx.settings.link_ttl_seconds)


def preview(ctx: Context, item: dict[str, str], lines: int = PREVIEW_LINES) -> str:
    """The first ``lines`` lines (at most :data:`PREVIEW_BYTES` bytes) of a text result."""
    scratch = ctx.settings.data_dir / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch) as work:
        path = ctx.storage.open_local(item["key"], Path(work))
        with path.open("rb") as f:
            head = f.read(PREVIEW_BYTES)
    text = head.decode("utf-8", "replace")
    return "\n".join(text.splitlines()[:lines])
