"""Signed download links: fresh, expiring, tamper-proof, with HTTP Range."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from yinzi.context import Context


@pytest.fixture
def stored(ctx: Context, tmp_path: Path) -> str:
    src = tmp_path / "vocals.mp3"
    src.write_bytes(bytes(range(256)) * 40)
    key = "results/ORDER/abc/vocals.mp3"
    ctx.storage.put_file(key, src)
    return key


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_a_signed_link_downloads_the_file(client: TestClient, ctx: Context, stored: str) -> None:
    url = ctx.storage.url(stored, ttl_seconds=3600)
    assert url.startswith("http://testserver/files/")
    expires = int(parse_qs(urlsplit(url).query)["expires"][0])
    assert abs(expires - (time.time() + 3600)) < 5
    response = client.get(_path(url))
    assert response.status_code == 200
    assert response.content == bytes(range(256)) * 40
    assert response.headers["content-type"] == "audio/mpeg"
    assert "vocals.mp3" in response.headers["content-disposition"]


def test_downloads_support_range_requests(client: TestClient, ctx: Context, stored: str) -> None:
    url = _path(ctx.storage.url(stored, ttl_seconds=60))
    response = client.get(url, headers={"Range": "bytes=10-19"})
    assert response.status_code == 206
    assert response.content == bytes(range(10, 20))
    assert response.headers["content-range"] == f"bytes 10-19/{256 * 40}"


def test_an_expired_link_answers_403_saying_so(
    client: TestClient, ctx: Context, stored: str
) -> None:
    url = _path(ctx.storage.url(stored, ttl_seconds=-1))
    response = client.get(url)
    assert response.status_code == 403
    assert "expired" in response.json()["msg"]


@pytest.mark.parametrize("tamper", ["signature", "expires", "key"])
def test_a_tampered_link_answers_403(
    client: TestClient, ctx: Context, stored: str, tamper: str
) -> None:
    url = _path(ctx.storage.url(stored, ttl_seconds=60))
    if tamper == "signature":
        url = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    elif tamper == "expires":
        url = url.replace("expires=", "expires=9")
    else:
        url = url.replace("vocals.mp3", "accompaniment.mp3")
    response = client.get(url)
    assert response.status_code == 403
    assert "invalid" in response.json()["msg"]


def test_a_link_cannot_escape_the_storage_folder(client: TestClient, ctx: Context) -> None:
    from yinzi.storage.signing import sign

    secret = ctx.storage.secret  # type: ignore[attr-defined]
    key = "../signing.key"
    expires = int(time.time()) + 60
    signature = sign(secret, key, expires)
    response = client.get(f"/files/..%2Fsigning.key?expires={expires}&signature={signature}")
    assert response.status_code == 404
    assert "signing" not in response.text


def _signed_path(ctx: Context, key: str) -> str:
    from yinzi.storage.signing import sign

    expires = int(time.time()) + 60
    signature = sign(ctx.storage.secret, key, expires)  # type: ignore[attr-defined]
    return f"/files/{key}?expires={expires}&signature={signature}"


@pytest.mark.parametrize("key", ["stray/x.mp3", "results/ORDER/vocals.mp3", "uploads/t/a/x.mp3"])
def test_a_signed_path_that_is_not_a_storage_key_is_not_served(
    client: TestClient, ctx: Context, tmp_path: Path, key: str
) -> None:
    src = tmp_path / "x.mp3"
    src.write_bytes(b"not a result")
    ctx.storage.put_file(key, src)
    response = client.get(_signed_path(ctx, key))
    assert response.status_code == 404
    assert response.json() == {"code": 404, "msg": "no such file"}


def test_a_range_header_past_the_length_limit_is_refused(
    client: TestClient, ctx: Context, stored: str
) -> None:
    from yinzi.api.files import MAX_RANGE_CHARS

    url = _path(ctx.storage.url(stored, ttl_seconds=60))
    padded = "bytes=" + " " * MAX_RANGE_CHARS + "0-9"
    response = client.get(url, headers={"Range": padded})
    assert response.status_code == 400
    assert "longer than" in response.json()["msg"]


def test_too_many_ranges_are_refused_with_416(
    client: TestClient, ctx: Context, stored: str
) -> None:
    from yinzi.api.files import MAX_RANGES

    url = _path(ctx.storage.url(stored, ttl_seconds=60))
    many = "bytes=" + ",".join(f"{i}-{i}" for i in range(MAX_RANGES + 1))
    response = client.get(url, headers={"Range": many})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{256 * 40}"
    allowed = "bytes=" + ",".join(f"{i * 10}-{i * 10}" for i in range(MAX_RANGES))
    served = client.get(url, headers={"Range": allowed})
    if ctx.settings.storage == "local":
        assert served.status_code == 206
        assert served.headers["content-type"].startswith("multipart/byteranges")
    else:  # streamed from the object store: several ranges give the whole object
        assert served.status_code == 200
        assert served.content == bytes(range(256)) * 40
