"""Kie's ``type: "split_stem_advanced"``: one named stem and the rest of the mix.

What a Kie client sends, answered as Kie answers it: the stem in its group's field, the rest of
the mix in ``instrumentalUrl``, and the two adding up to the input. The spectral engine makes
the stems (vocals, drums, bass, other) unless a test says otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
import pytest
from fastapi.testclient import TestClient

from yinzi import media
from yinzi.context import Context
from yinzi.db.models import Order
from yinzi.media import testing
from yinzi.queue.embedded import Worker
from yinzi.services import billing
from yinzi.settings import Settings

from conftest import FileServer
from helpers import Receiver, User, drain, make_settings, six_stem_demucs

GENERATE = "/api/v1/vocal-removal/generate"
RECORD = "/api/v1/vocal-removal/record-info"
UPLOAD = "/api/open/v1/file/upload"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, stem_engine="separation.spectral")


@pytest.fixture
def hook() -> Iterator[Receiver]:
    r = Receiver([])
    yield r
    r.close()


@pytest.fixture
def song_file(file_server: FileServer) -> Path:
    return testing.song(file_server.root / "song.wav", seconds=3.0)


@pytest.fixture
def song(file_server: FileServer, song_file: Path) -> str:
    return file_server.url(song_file.name)


def _generate(client: TestClient, user: User, **body: Any) -> Any:
    return client.post(GENERATE, json={"type": "split_stem_advanced", **body}, headers=user.auth)


def _task(client: TestClient, user: User, **body: Any) -> str:
    answer = _generate(client, user, **body).json()
    assert answer["code"] == 200, answer
    task_id: str = answer["data"]["taskId"]
    return task_id


def _record(client: TestClient, user: User, task_id: str) -> dict[str, Any]:
    data: dict[str, Any] = client.get(f"{RECORD}?taskId={task_id}", headers=user.auth).json()[
        "data"
    ]
    return data


def _filled(record: dict[str, Any]) -> set[str]:
    return {field for field, url in record["response"].items() if url}


def _download(client: TestClient, url: str, path: Path) -> npt.NDArray[np.float32]:
    parts = urlsplit(url)
    answer = client.get(f"{parts.path}?{parts.query}")
    assert answer.status_code == 200
    path.write_bytes(answer.content)
    return media.read_all(path)


def _available(ctx: Context, user: User) -> int:
    with ctx.db.read() as session:
        return billing.balance(session, user.id).available


def test_a_kick_gives_the_drum_stem_and_the_rest_of_the_mix_which_add_up_to_the_song(
    client: TestClient,
    ctx: Context,
    user: User,
    worker: Worker,
    song: str,
    song_file: Path,
    hook: Receiver,
    tmp_path: Path,
) -> None:
    task_id = _task(client, user, audioUrl=song, stemName="Kick", callBackUrl=hook.url)
    assert _record(client, user, task_id)["successFlag"] == "PENDING"
    drain(worker)
    record = _record(client, user, task_id)
    assert record["successFlag"] == "SUCCESS", record
    assert _filled(record) == {"originUrl", "drumsUrl", "instrumentalUrl"}
    drums = _download(client, record["response"]["drumsUrl"], tmp_path / "drums.mp3")
    rest = _download(client, record["response"]["instrumentalUrl"], tmp_path / "rest.mp3")
    n = min(drums.shape[1], rest.shape[1])
    mixture = media.read_all(song_file)[:, :n]
    residual = mixture - (drums[:, :n] + rest[:, :n])
    # only the two mp3 encodings' error (about 4%); the song's vocals alone would be over 50%
    assert np.linalg.norm(residual) < 0.1 * np.linalg.norm(mixture)
    assert np.linalg.norm(drums[:, :n]) > 0.05 * np.linalg.norm(mixture)  # a real split
    with ctx.db.read() as session:
        order = session.get(Order, task_id)
        assert order is not None and order.options["stemName"] == "Kick"
    (_, body), *_ = hook.calls
    info = json.loads(body)["data"]["vocal_removal_info"]
    assert {field for field, url in info.items() if url} == {
        "origin_url",
        "drums_url",
        "instrumental_url",
    }


@pytest.mark.parametrize(
    ("stem_name", "field"),
    [
        ("string section", "stringsUrl"),
        ("BACKING_VOCALS", "backingVocalsUrl"),
        ("bass-guitar", "bassUrl"),
    ],
)
def test_names_match_whatever_their_case_and_spacing_and_fill_their_group_field(
    client: TestClient,
    user: User,
    worker: Worker,
    tmp_path: Path,
    hook: Receiver,
    stem_name: str,
    field: str,
) -> None:
    path = testing.song(tmp_path / "upload.wav", seconds=2.0)
    with path.open("rb") as f:
        key = client.post(UPLOAD, files={"file": (path.name, f)}, headers=user.auth).json()
    pathkey = key["data"]["pathKey"]
    task_id = _task(client, user, audioUrl=pathkey, stemName=stem_name, callBackUrl=hook.url)
    drain(worker)
    record = _record(client, user, task_id)
    assert record["successFlag"] == "SUCCESS", record
    assert _filled(record) == {"originUrl", field, "instrumentalUrl"}


def test_the_task_is_charged_its_own_configured_price(
    client: TestClient, ctx: Context, user: User, worker: Worker, song: str, hook: Receiver
) -> None:
    assert ctx.settings.prices.split_stem_advanced.minimum == 20
    ctx.settings.prices.split_stem_advanced.minimum = 17
    before = _available(ctx, user)
    task_id = _task(client, user, audioUrl=song, stemName="Drums", callBackUrl=hook.url)
    assert _available(ctx, user) == before - 17  # held at create
    drain(worker)
    assert _record(client, user, task_id)["successFlag"] == "SUCCESS"
    assert _available(ctx, user) == before - 17
    with ctx.db.read() as session:
        assert billing.balance(session, user.id).held == 0
        order = session.get(Order, task_id)
        assert order is not None and order.cost == 17


def _refused(answer: Any) -> str:
    assert answer.status_code == 422
    body = answer.json()
    assert body["code"] == 422 and body["data"] is None
    message: str = body["msg"]
    return message


def test_an_unknown_name_is_refused_with_the_names_that_work_and_nothing_is_held(
    client: TestClient, ctx: Context, user: User, song: str, hook: Receiver
) -> None:
    before = _available(ctx, user)
    message = _refused(
        _generate(client, user, audioUrl=song, stemName="Kazoo", callBackUrl=hook.url)
    )
    assert message.startswith("stemName 'Kazoo' is not a stem name; accepted: vocals: Lead Vocal")
    assert "drums: Drum Kit" in message and "Kick" in message and "String Section" in message
    assert "Lead Guitar" not in message  # the spectral engine makes no guitar stem
    assert _available(ctx, user) == before


def test_a_guitar_needs_a_six_stem_engine_and_an_orchestra_no_stem_holds(
    client: TestClient, user: User, song: str, hook: Receiver
) -> None:
    guitar = _refused(
        _generate(client, user, audioUrl=song, stemName="Guitar", callBackUrl=hook.url)
    )
    assert "stemName 'Guitar' needs a guitar stem" in guitar and "htdemucs_6s" in guitar
    orchestra = _refused(
        _generate(client, user, audioUrl=song, stemName="orchestra", callBackUrl=hook.url)
    )
    assert orchestra.startswith("stemName 'Orchestra' cannot be isolated: an orchestra spans")


@pytest.mark.parametrize("stem_name", [None, "", "  "])
def test_the_type_requires_a_stem_name(
    client: TestClient, user: User, song: str, hook: Receiver, stem_name: str | None
) -> None:
    body = {"audioUrl": song, "callBackUrl": hook.url, "stemName": stem_name}
    message = _refused(_generate(client, user, **body))
    assert message == "stemName is required for split_stem_advanced"


def test_other_types_ignore_a_stem_name(
    client: TestClient, user: User, song: str, hook: Receiver
) -> None:
    body = {"audioUrl": song, "callBackUrl": hook.url, "stemName": "Kazoo"}
    answer = client.post(GENERATE, json={**body, "type": "separate_vocal"}, headers=user.auth)
    assert answer.json()["code"] == 200


def test_the_open_api_takes_the_type_with_stuff_stem_name(
    client: TestClient, user: User, worker: Worker, song: str
) -> None:
    create = "/api/open/v1/order/create"
    stuff = {"pathKey": song, "stemName": "808"}
    made = client.post(
        create, json={"orderType": "split_stem_advanced", "stuff": stuff}, headers=user.auth
    )
    order_no = made.json()["data"]["orderNo"]
    drain(worker)
    data = client.get(f"/api/open/v1/order/query?orderNo={order_no}", headers=user.auth).json()
    assert [s["business"] for s in data["data"]["stuffs"]] == ["bass", "accompaniment"]
    missing = client.post(
        create,
        json={"orderType": "split_stem_advanced", "stuff": {"pathKey": song}},
        headers=user.auth,
    ).json()
    assert missing == {
        "code": 400,
        "data": None,
        "msg": "stuff.stemName is required for split_stem_advanced",
    }


def test_a_six_stem_demucs_model_isolates_a_guitar(
    client: TestClient, user: User, worker: Worker, song: str, hook: Receiver, tmp_path: Path
) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("demucs")
    six_stem_demucs(worker.ctx.settings, tmp_path / "models")
    task_id = _task(client, user, audioUrl=song, stemName="Lead Guitar", callBackUrl=hook.url)
    drain(worker)
    record = _record(client, user, task_id)
    assert record["successFlag"] == "SUCCESS", record
    assert _filled(record) == {"originUrl", "guitarUrl", "instrumentalUrl"}
