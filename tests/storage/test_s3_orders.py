"""An Open API order end to end with ``storage = s3`` on a SeaweedFS server: the upload and the
results live in the bucket, the order's links download them, and retention deletes them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from yinzi import media
from yinzi.app import create_app
from yinzi.context import Context
from yinzi.db import utcnow
from yinzi.db.migrate import upgrade
from yinzi.media import testing
from yinzi.queue.embedded import Worker
from yinzi.services import retention
from yinzi.settings import S3Settings, Settings
from yinzi.storage.s3 import S3Storage

from helpers import drain, make_settings, new_user


@pytest.fixture(params=[True, False], ids=["presigned", "streamed"])
def s3_env(
    request: pytest.FixtureRequest, tmp_path: Path, s3_settings: S3Settings
) -> Iterator[tuple[Settings, Context]]:
    s3_settings.presign = request.param
    settings = make_settings(tmp_path, storage="s3", s3=s3_settings)
    settings.data_dir.mkdir(parents=True)
    upgrade(settings.db_url)
    ctx = Context.build(settings)
    yield settings, ctx
    ctx.close()


def _objects(storage: S3Storage) -> list[str]:
    answer = storage.client.list_objects_v2(Bucket=storage.bucket, Prefix=storage.prefix)
    return sorted(item["Key"].removeprefix(storage.prefix) for item in answer.get("Contents", []))


def test_an_order_stores_its_upload_and_results_in_the_bucket(
    s3_env: tuple[Settings, Context], tmp_path: Path
) -> None:
    settings, ctx = s3_env
    storage = ctx.storage
    assert isinstance(storage, S3Storage)
    user = new_user(ctx)
    song = testing.song(tmp_path / "song.wav", seconds=3.0)
    worker = Worker(settings)
    with TestClient(create_app(settings, ctx=ctx)) as client:
        with song.open("rb") as f:
            upload = client.post(
                "/api/open/v1/file/upload", files={"file": ("song.wav", f)}, headers=user.auth
            ).json()
        path_key = upload["data"]["pathKey"]
        assert _objects(storage) == [path_key]
        body = {"orderType": "track-separation", "stuff": {"pathKey": path_key}}
        order_no = client.post("/api/open/v1/order/create", json=body, headers=user.auth).json()[
            "data"
        ]["orderNo"]
        assert drain(worker) == 1
        answer = client.get(f"/api/open/v1/order/query?orderNo={order_no}", headers=user.auth)
        result = answer.json()["data"]
        assert result["status"] == "finish", result
        stored = _objects(storage)
        assert len(stored) == 3 and path_key in stored
        for stuff in result["stuffs"]:
            url = stuff["url"]
            if storage.presign:
                assert url.startswith(f"{storage.settings.endpoint_url}/")
                response = httpx.get(url)
            else:
                assert url.startswith("http://testserver/files/results/")
                parts = urlsplit(url)
                response = client.get(f"{parts.path}?{parts.query}")
            assert response.status_code == 200
            path = tmp_path / stuff["name"]
            path.write_bytes(response.content)
            assert media.probe(path).duration == pytest.approx(3.0, abs=0.1)

        later = utcnow() + timedelta(days=settings.retention_days, hours=1)
        assert retention.purge(ctx, now=later) == (1, 1)
        assert _objects(storage) == []
    worker.ctx.close()
