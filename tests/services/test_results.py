"""Result files as the console shows them: audio or text, the first lines of a text result,
and only the order's own results by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from yinzi.context import Context
from yinzi.db.models import Order
from yinzi.errors import NotFound
from yinzi.services import results


def test_a_text_preview_is_the_first_lines_and_names_find_only_the_orders_results(
    ctx: Context, tmp_path: Path
) -> None:
    lines = [f"{n}\n00:00:0{n % 10},000 --> 00:00:0{n % 10},500\nline {n}\n" for n in range(40)]
    (tmp_path / "a.srt").write_text("\n".join(lines))
    key = "results/ORDER/x/caption.srt"
    ctx.storage.put_file(key, tmp_path / "a.srt")
    order = Order(
        order_no="ORDER",
        results=[
            {"name": "caption.srt", "business": "caption", "key": key},
            {"name": "vocals.mp3", "business": "vocals", "key": "results/ORDER/x/vocals.mp3"},
        ],
    )
    caption, vocals = results.find(order, "caption.srt"), results.find(order, "vocals.mp3")
    assert results.is_text(caption) and not results.is_audio(caption)
    assert results.is_audio(vocals) and not results.is_text(vocals)
    preview = results.preview(ctx, caption)
    assert preview == "\n".join("\n".join(lines).splitlines()[: results.PREVIEW_LINES])
    assert preview.startswith("0\n00:00:00,000 --> 00:00:00,500\nline 0\n")
    assert "line 2" in preview and "line 3" not in preview
    for name in ("../caption.srt", "other.mp3", "results/ORDER/x/caption.srt"):
        with pytest.raises(NotFound):
            results.find(order, name)
