"""One contract for every Storage backend: the local folder, and S3 on a real SeaweedFS server
(with presigned links, and with links this server signs and streams)."""

from __future__ import annotations

import hashlib
import re
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from yinzi.api import files
from yinzi.errors import NotFound, PayloadTooLarge, YinziError
from yinzi.settings import S3Settings
from yinzi.storage import LocalStorage, Storage
from yinzi.storage.base import StorageUnavailable
from yinzi.storage.disposition import attachment
from yinzi.storage.s3 import S3Storage

from seaweed import free_port

SECRET = b"contract-secret"
BASE = "http://testserver"
MIB = 1024 * 1024
_BLOCK = bytes(i % 251 for i in range(MIB))


class Pattern:
    """A readable stream of ``size`` deterministic bytes, made as it is read."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.sent = 0
        self.digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        left = self.size - self.sent
        n = min(left if n < 0 else min(n, left), MIB)
        start = self.sent % MIB
        chunk = (_BLOCK[start:] + _BLOCK[:start])[:n]
        self.sent += len(chunk)
        self.digest.update(chunk)
        return chunk


@pytest.fixture(params=["local", "s3-presigned", "s3-streamed"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "files", base_url=BASE, secret=SECRET)
    settings: S3Settings = request.getfixturevalue("s3_settings")
    settings.presign = request.param == "s3-presigned"
    return S3Storage(settings, base_url=BASE, secret=SECRET, part_size=5 * MIB)


@pytest.fixture
def files_app(storage: Storage) -> Iterator[TestClient]:
    """The ``/files/`` route alone, serving ``storage``."""
    app = FastAPI()
    app.include_router(files.router)
    app.state.ctx = SimpleNamespace(storage=storage)

    async def yinzi_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, YinziError)
        return files.render_error(exc)

    app.add_exception_handler(YinziError, yinzi_error)
    with TestClient(app) as client:
        yield client


def _get(client: TestClient, url: str, **headers: str) -> httpx.Response:
    if url.startswith(BASE):
        return client.get(url.removeprefix(BASE), headers=headers)
    return httpx.get(url, headers=headers)


def _write(tmp_path: Path, data: bytes, name: str = "src.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _unfinished_uploads(storage: Storage) -> list[object]:
    if not isinstance(storage, S3Storage):
        return []
    answer = storage.client.list_multipart_uploads(Bucket=storage.bucket, Prefix=storage.prefix)
    return list(answer.get("Uploads", []))


class TestStorageContract:
    def test_put_file_then_read_it_back(self, storage: Storage, tmp_path: Path) -> None:
        key = "results/ORD1/a1/vocals.mp3"
        assert not storage.exists(key)
        storage.put_file(key, _write(tmp_path, b"vocals" * 1000))
        assert storage.exists(key)
        assert storage.size(key) == 6000
        assert b"".join(storage.open_read(key)) == b"vocals" * 1000
        assert b"".join(storage.open_read(key, start=6, end=11)) == b"vocals"

    def test_missing_objects_are_not_found(self, storage: Storage, tmp_path: Path) -> None:
        key = "uploads/none/gone.wav"
        with pytest.raises(NotFound):
            storage.size(key)
        with pytest.raises(NotFound):
            list(storage.open_read(key))
        with pytest.raises(NotFound):
            storage.open_local(key, tmp_path)

    def test_a_large_stream_is_stored_in_parts_without_holding_it(
        self, storage: Storage, tmp_path: Path
    ) -> None:
        key = "uploads/tok20/big.wav"
        stream = Pattern(20 * MIB)
        tracemalloc.start()
        try:
            size = storage.put_stream(key, stream, max_bytes=25 * MIB)  # type: ignore[arg-type]
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert size == 20 * MIB
        assert peak < 16 * MIB, f"put_stream held {peak / MIB:.1f} MiB"
        assert storage.size(key) == 20 * MIB
        local = storage.open_local(key, tmp_path)
        assert hashlib.sha256(local.read_bytes()).digest() == stream.digest.digest()
        assert _unfinished_uploads(storage) == []

    def test_a_stream_past_the_limit_leaves_nothing_behind(
        self, storage: Storage, tmp_path: Path
    ) -> None:
        key = "uploads/tok12/too-big.wav"
        with pytest.raises(PayloadTooLarge):
            storage.put_stream(key, Pattern(14 * MIB), max_bytes=12 * MIB)  # type: ignore[arg-type]
        assert not storage.exists(key)
        assert storage.delete_prefix("uploads/tok12") == 0
        assert _unfinished_uploads(storage) == []
        small = "uploads/tok1/small.wav"
        with pytest.raises(PayloadTooLarge):
            storage.put_stream(small, Pattern(1000), max_bytes=999)  # type: ignore[arg-type]
        assert not storage.exists(small)

    def test_open_local_gives_a_file_with_the_bytes(
        self, storage: Storage, tmp_path: Path, workdir: Path
    ) -> None:
        key = "uploads/tok/song.mp3"
        storage.put_file(key, _write(tmp_path, b"mp3 bytes"))
        path = storage.open_local(key, workdir)
        assert path.read_bytes() == b"mp3 bytes"
        assert path.suffix == ".mp3"

    def test_delete_prefix_takes_whole_segments_across_pages(
        self, storage: Storage, tmp_path: Path
    ) -> None:
        if isinstance(storage, S3Storage):
            storage.delete_batch = 25
        for i in range(130):
            storage.put_stream(f"results/12/r{i // 50}/f{i}.mp3", Pattern(10), max_bytes=10)  # type: ignore[arg-type]
        storage.put_file("results/123/r/keep.mp3", _write(tmp_path, b"keep"))
        assert storage.delete_prefix("results/12") == 130
        assert not storage.exists("results/12/r0/f0.mp3")
        assert storage.exists("results/123/r/keep.mp3")
        assert storage.delete_prefix("results/12/") == 0
        assert storage.delete_prefix("results/123/r/keep.mp3") == 1
        assert not storage.exists("results/123/r/keep.mp3")

    def test_a_link_downloads_the_object_until_it_expires(
        self, storage: Storage, files_app: TestClient, tmp_path: Path
    ) -> None:
        key = "results/ORD2/a1/accompaniment.mp3"
        data = bytes(range(256)) * 64
        storage.put_file(key, _write(tmp_path, data))
        url = storage.url(key, ttl_seconds=60)
        if isinstance(storage, S3Storage) and storage.presign:
            assert not url.startswith(BASE)
        else:
            assert url.startswith(f"{BASE}/files/")
        response = _get(files_app, url)
        assert response.status_code == 200
        assert response.content == data
        assert "accompaniment.mp3" in response.headers["content-disposition"]
        ranged = _get(files_app, url, range="bytes=256-511")
        assert (ranged.status_code, ranged.content) == (206, bytes(range(256)))

        short = storage.url(key, ttl_seconds=1)
        time.sleep(2.2)
        refused = _get(files_app, short)
        assert refused.status_code == 403
        assert refused.content != data

    def test_a_tampered_link_is_refused(
        self, storage: Storage, files_app: TestClient, tmp_path: Path
    ) -> None:
        key = "results/ORD3/a1/vocals.mp3"
        storage.put_file(key, _write(tmp_path, b"secret audio"))
        url = storage.url(key, ttl_seconds=60).replace("ORD3", "ORD4")
        assert _get(files_app, url).status_code == 403


def test_an_unreachable_store_is_a_clear_error_after_the_retries(tmp_path: Path) -> None:
    closed = free_port()
    settings = S3Settings(
        endpoint_url=f"http://127.0.0.1:{closed}",
        access_key_id="a",
        secret_access_key="b",
        region="us-east-1",
        max_attempts=3,
        connect_timeout_seconds=1,
    )
    started = time.monotonic()
    with pytest.raises(StorageUnavailable) as caught:
        S3Storage(settings, base_url=BASE, secret=SECRET)
    assert f"127.0.0.1:{closed}" in caught.value.message
    assert caught.value.status == 503
    assert time.monotonic() - started < 30


NAME = 'say "hi"; café.mp3'


def _disposition_name(header: str) -> tuple[str | None, str | None]:
    """The name an RFC 5987 client and the name an older client read from a disposition."""
    assert header.startswith("attachment;")
    extended = re.search(r"filename\*=UTF-8''([^;\s]+)", header, re.IGNORECASE)
    fallback = re.search(r'filename="((?:[^"\\]|\\.)*)"', header)
    exact = unquote(extended.group(1), errors="strict") if extended else None
    plain = re.sub(r"\\(.)", r"\1", fallback.group(1)) if fallback else None
    return exact, plain


def test_the_disposition_names_the_file_for_new_and_old_clients() -> None:
    header = attachment(NAME)
    assert header.isascii()
    assert _disposition_name(header) == (NAME, 'say "hi"; caf_.mp3')
    assert _disposition_name(attachment("a\\b.mp3")) == ("a\\b.mp3", "a\\b.mp3")


@pytest.mark.parametrize("storage", ["local", "s3-presigned", "s3-streamed"], indirect=True)
def test_a_download_is_named_as_the_file_whatever_its_characters(
    storage: Storage, files_app: TestClient, tmp_path: Path
) -> None:
    key = f"results/ORD9/a1/{NAME}"
    storage.put_file(key, _write(tmp_path, b"named"))
    url = storage.url(key, ttl_seconds=60)
    if isinstance(storage, S3Storage) and storage.presign:
        asked = parse_qs(urlsplit(url).query)["response-content-disposition"][0]
        assert asked == attachment(NAME)
    response = _get(files_app, url)
    assert response.status_code == 200 and response.content == b"named"
    assert _disposition_name(response.headers["content-disposition"])[0] == NAME
    if not (isinstance(storage, S3Storage) and storage.presign):
        assert response.headers["content-disposition"] == attachment(NAME)
