"""The SDK's operations as step generators (see :mod:`yinzi.sdk._protocol`)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from yinzi.sdk._protocol import Call, Dialect, Fetch, Sleep, Steps, send
from yinzi.sdk.errors import ConnectionFailed, OrderFailed, WaitTimeout, YinziError
from yinzi.sdk.models import Order, OrderPage, VideoInfo

OPEN = "/api/open/v1"
KIE = "/api/v1/vocal-removal"
CREDIT = "/api/v1/chat/credit"
MUSIC = "/v1/textToMusic"
TWO_STEMS = frozenset({"vocals", "accompaniment"})
CAPTION_FORMATS = {"srt": "caption", "vtt": "vtt", "txt": "text", "json": "segments"}
"""Transcript file format → the result's ``business``."""
POLL_MAX = 5.0
ProgressCallback = Callable[[Order], None]


def is_local(path_or_url: str | os.PathLike[str]) -> bool:
    """A :class:`~pathlib.Path`, or a string naming an existing file, is uploaded first; other
    strings (``http(s)`` URLs, ``pathKey`` values) go to the server as they are."""
    if isinstance(path_or_url, os.PathLike):
        return True
    return not path_or_url.lower().startswith(("http://", "https://")) and os.path.isfile(
        path_or_url
    )


def upload(path: str | os.PathLike[str], retries: int) -> Steps[str]:
    local = Path(path)
    if not local.is_file():
        raise FileNotFoundError(f"no such file: {local}")
    data = yield from send(Call("POST", f"{OPEN}/file/upload", upload=local), retries)
    return str(data["pathKey"])


def camel(name: str) -> str:
    """``stem_name`` → ``stemName``: option names as the API spells them."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def create(
    order_type: str,
    path_or_url: str | os.PathLike[str] | None,
    options: dict[str, Any],
    retries: int,
    idempotency_key: str | None = None,
) -> Steps[Order]:
    stuff = {camel(k): v for k, v in options.items() if v is not None}
    if path_or_url is not None:
        if is_local(path_or_url):
            stuff["pathKey"] = yield from upload(path_or_url, retries)
        else:
            stuff["pathKey"] = str(path_or_url)
    call = Call(
        "POST",
        f"{OPEN}/order/create",
        json={"orderType": order_type, "stuff": stuff},
        headers={"Idempotency-Key": idempotency_key or str(uuid.uuid4())},
        idempotent=True,
    )
    data = yield from send(call, retries)
    return Order.from_api(data)


def get(order_no: str, retries: int) -> Steps[Order]:
    call = Call("GET", f"{OPEN}/order/query", params={"orderNo": order_no}, idempotent=True)
    data = yield from send(call, retries)
    return Order.from_api(data)


def list_orders(
    page: int, per_page: int, status: str | None, order_type: str | None, retries: int
) -> Steps[OrderPage]:
    params: dict[str, Any] = {"page": page, "perPage": per_page}
    if status:
        params["status"] = status
    if order_type:
        params["orderType"] = order_type
    call = Call("GET", f"{OPEN}/order/list", params=params, idempotent=True)
    data = yield from send(call, retries)
    return OrderPage.from_api(data)


def order_action(action: str, order_no: str, retries: int) -> Steps[Order]:
    """``cancel`` or ``delete-results``: both answer the order as ``order/query`` shows it."""
    call = Call("POST", f"{OPEN}/order/{action}", json={"orderNo": order_no})
    data = yield from send(call, retries)
    return Order.from_api(data)


def wait(
    order_no: str,
    on_progress: ProgressCallback | None,
    timeout: float | None,
    poll: float,
    retries: int,
) -> Steps[Order]:
    """Poll until the order ends, backing off from ``poll`` to :data:`POLL_MAX` seconds while
    nothing changes. A lost connection is waited out (until ``timeout``), not raised."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay, seen, order = poll, None, None
    while True:
        try:
            order = yield from get(order_no, retries)
        except ConnectionFailed:
            if deadline is not None and time.monotonic() >= deadline:
                raise
        else:
            state = (order.progress, order.stage, order.status)
            if state != seen:
                seen, delay = state, poll
                if on_progress is not None:
                    on_progress(order)
            if order.done:
                if not order.ok:
                    raise OrderFailed(order)
                return order
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WaitTimeout(order_no, timeout or 0.0, order)
            delay = min(delay, left)
        yield Sleep(delay)
        delay = min(POLL_MAX, delay * 1.5)


def download(
    order: Order, dest_dir: str | os.PathLike[str], businesses: Iterable[str] | None, retries: int
) -> Steps[list[Path]]:
    """Download the order's files (those whose ``business`` is listed, when given) into
    ``dest_dir``; an order read from a list is queried first for fresh links."""
    wanted = None if businesses is None else set(businesses)
    if any(f.url is None for f in order.files) or not order.files:
        order = yield from get(order.order_no, retries)
    if order.done and not order.ok:
        raise OrderFailed(order)
    if not order.ok:
        raise YinziError(f"order {order.order_no} is {order.status}: wait for it to finish first")
    folder = Path(dest_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for item in order.files:
        if (wanted is None or item.business in wanted) and item.url:
            name = Path(item.name).name or item.business
            paths.append((yield Fetch(item.url, folder / name)))
    return paths


def run_and_fetch(
    created: Steps[Order],
    dest: str | os.PathLike[str] | None,
    businesses: Iterable[str] | None,
    on_progress: ProgressCallback | None,
    retries: int,
) -> Steps[list[Path] | Order]:
    """Create, wait, then download into ``dest`` (the paths), or return the order without it."""
    order = yield from created
    order = yield from wait(order.order_no, on_progress, None, 1.0, retries)
    if dest is None:
        return order
    wanted = None if businesses is None else list(businesses)
    if wanted is not None:
        missing = sorted(set(wanted) - {f.business for f in order.files})
        if missing:
            made = ", ".join(f.business for f in order.files)
            raise YinziError(f"order {order.order_no} made no {', '.join(missing)} (made: {made})")
    return (yield from download(order, dest, wanted, retries))


def separate(
    path_or_url: str | os.PathLike[str],
    stems: Iterable[str],
    fmt: str,
    dest: str | os.PathLike[str] | None,
    on_progress: ProgressCallback | None,
    retries: int,
) -> Steps[list[Path] | Order]:
    """``track-separation`` for vocals and/or accompaniment, ``split_stem`` for other stems."""
    wanted = list(dict.fromkeys(stems))
    if not wanted:
        raise ValueError("stems must name at least one stem")
    order_type = "track-separation" if set(wanted) <= TWO_STEMS else "split_stem"
    created = create(order_type, path_or_url, {"format": fmt}, retries)
    return (yield from run_and_fetch(created, dest, wanted, on_progress, retries))


def transcribe(
    path_or_url: str | os.PathLike[str],
    language: str,
    dest: str | os.PathLike[str] | None,
    formats: Iterable[str],
    on_progress: ProgressCallback | None,
    retries: int,
) -> Steps[list[Path] | Order]:
    unknown = [f for f in formats if f not in CAPTION_FORMATS]
    if unknown:
        raise ValueError(f"formats must be among {', '.join(CAPTION_FORMATS)}, not {unknown}")
    wanted = [CAPTION_FORMATS[f] for f in formats]
    created = create("extract-text", path_or_url, {"language": language}, retries)
    return (yield from run_and_fetch(created, dest, wanted, on_progress, retries))


def compose(
    prompt: str,
    length: int,
    dest: str | os.PathLike[str] | None,
    on_progress: ProgressCallback | None,
    retries: int,
) -> Steps[list[Path] | Order]:
    created = create("text-to-music", None, {"text": prompt, "length": length}, retries)
    return (yield from run_and_fetch(created, dest, None, on_progress, retries))


def analyze(link: str, extract_music: bool, retries: int) -> Steps[VideoInfo]:
    body = {"link": link, "extractMusic": extract_music}
    data = yield from send(Call("POST", f"{OPEN}/short-video/analyze", json=body), retries)
    return VideoInfo.from_api(data)


def credit(retries: int) -> Steps[int]:
    data = yield from send(Call("GET", CREDIT, Dialect.KIE, idempotent=True), retries)
    return int(data)


def kie_body(
    callback_url: str,
    audio_url: str | None,
    task_id: str | None,
    audio_id: str | None,
    task_type: str,
    stem_name: str | None,
) -> dict[str, Any]:
    """The ``generate`` body, leaving out what was not given."""
    body = {
        "callBackUrl": callback_url,
        "audioUrl": audio_url,
        "taskId": task_id,
        "audioId": audio_id,
        "type": task_type,
        "stemName": stem_name,
    }
    return {k: v for k, v in body.items() if v is not None}


def kie_generate(body: dict[str, Any], retries: int) -> Steps[str]:
    call = Call(
        "POST",
        f"{KIE}/generate",
        Dialect.KIE,
        json=body,
        headers={"Idempotency-Key": str(uuid.uuid4())},
        idempotent=True,
    )
    data = yield from send(call, retries)
    return str(data["taskId"])


def kie_record_info(task_id: str, retries: int) -> Steps[dict[str, Any]]:
    call = Call(
        "GET", f"{KIE}/record-info", Dialect.KIE, params={"taskId": task_id}, idempotent=True
    )
    data: dict[str, Any] = yield from send(call, retries)
    return data


def music_create(prompt: str, length: int, retries: int) -> Steps[dict[str, Any]]:
    body = {"text": prompt, "config": {"length": length}}
    data: dict[str, Any] = yield from send(Call("POST", MUSIC, Dialect.YATING, json=body), retries)
    return data


def music_get(uid: str, retries: int) -> Steps[dict[str, Any]]:
    call = Call("GET", f"{MUSIC}/{uid}", Dialect.YATING, idempotent=True)
    data: dict[str, Any] = yield from send(call, retries)
    return data


def music_list(page: int, per_page: int, status: str | None, retries: int) -> Steps[dict[str, Any]]:
    params: dict[str, Any] = {"page": page, "perPage": per_page}
    if status:
        params["status"] = status
    call = Call("GET", MUSIC, Dialect.YATING, params=params, idempotent=True)
    data: dict[str, Any] = yield from send(call, retries)
    return data
