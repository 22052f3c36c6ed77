"""The text-to-music dialect (Yating-compatible), the Open API form, and the hand-off to vocal
removal. Prices: one credit per bar."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from yinzi import media
from yinzi.context import Context
from yinzi.queue.embedded import Worker

from helpers import User, drain, new_user

API = "/v1/textToMusic"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SEED_BODY = {"text": "guitar solo bossa nova C minor", "config": {"length": 8}}


def _key(user: User) -> dict[str, str]:
    return {"key": user.key}


def _create(client: TestClient, user: User, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post(API, json=body or SEED_BODY, headers=_key(user))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def test_create_answers_the_seed_shape(client: TestClient, user: User) -> None:
    created = _create(client, user)
    assert set(created) == {"uid", "status", "createdAt", "updatedAt"}
    assert created["status"] == "pending"
    assert re.match(
        r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$", created["uid"]
    )
    assert ISO.match(created["createdAt"]) and ISO.match(created["updatedAt"])


def test_a_finished_task_has_a_clip_of_the_asked_length(
    client: TestClient, user: User, worker: Worker, tmp_path: Any
) -> None:
    uid = _create(client, user)["uid"]
    pending = client.get(f"{API}/{uid}", headers=_key(user)).json()
    assert pending == {
        "uid": uid,
        "status": "pending",
        "text": SEED_BODY["text"],
        "config": {"length": 8},
        "audioUrl": None,
        "progress": 0,  # extra fields (docs/text-to-music.md)
        "stage": "queued",
    }
    drain(worker)
    done = client.get(f"{API}/{uid}", headers=_key(user)).json()
    assert done["status"] == "completed" and done["audioUrl"]
    assert (done["progress"], done["stage"]) == (100, "done")
    clip = client.get(done["audioUrl"].removeprefix("http://testserver"))
    assert clip.status_code == 200
    (tmp_path / "clip.mp3").write_bytes(clip.content)
    seconds = media.probe(tmp_path / "clip.mp3").duration
    assert 8 * 4 * 60 / 200 <= seconds <= 8 * 4 * 60 / 50  # 8 bars of 4/4 at a musical tempo


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"text": "", "config": {"length": 8}}, "text should not be empty"),
        ({"text": "C minor 4 ever", "config": {"length": 8}}, "only English letters"),
        ({"text": "x" * 201, "config": {"length": 8}}, "200 characters"),
        ({"text": "piano", "config": {"length": 13}}, "not greater than 12"),
        ({"text": "piano", "config": {"length": 0}}, "not be less than 1"),
        ({"text": "piano", "config": {"length": 2.5}}, "integer"),
        ({"text": "piano"}, "integer"),
    ],
)
def test_validation_errors_use_the_service_style(
    client: TestClient, user: User, body: dict[str, Any], message: str
) -> None:
    response = client.post(API, json=body, headers=_key(user))
    assert response.status_code == 400
    answer = response.json()
    assert answer["statusCode"] == 400 and answer["error"] == "Bad Request"
    assert isinstance(answer["message"], list)
    assert any(message in m for m in answer["message"])


def test_missing_or_invalid_keys_are_401(client: TestClient) -> None:
    for headers in ({}, {"key": "yz_nope"}):
        response = client.post(API, json=SEED_BODY, headers=headers)
        assert response.status_code == 401
        assert response.json()["statusCode"] == 401


def test_another_accounts_task_is_404(client: TestClient, ctx: Context, user: User) -> None:
    uid = _create(client, user)["uid"]
    stranger = new_user(ctx)
    response = client.get(f"{API}/{uid}", headers=_key(stranger))
    assert response.status_code == 404 and response.json()["statusCode"] == 404
    listing = client.get(API, headers=_key(stranger)).json()
    assert listing["total"] == 0 and listing["data"] == []


def test_the_list_pages_newest_first_and_filters_by_status(
    client: TestClient, user: User, worker: Worker
) -> None:
    uids = [_create(client, user, {"text": f"piano {w}", "config": {"length": 1}})["uid"]
            for w in ("one", "two", "three")]  # fmt: skip
    page = client.get(f"{API}?page=1&perPage=2", headers=_key(user)).json()
    assert (page["page"], page["perPage"], page["total"], page["nextPage"]) == (1, 2, 3, 2)
    assert [t["uid"] for t in page["data"]] == [uids[2], uids[1]]
    assert set(page["data"][0]) == {
        "uid",
        "taskId",
        "status",
        "createdAt",
        "updatedAt",
        "text",
        "config",
        "audioUrl",
    }
    last = client.get(f"{API}?page=2&perPage=2", headers=_key(user)).json()
    assert last["nextPage"] is None and [t["uid"] for t in last["data"]] == [uids[0]]
    assert client.get(f"{API}?status=completed", headers=_key(user)).json()["total"] == 0
    drain(worker)
    assert client.get(f"{API}?status=completed", headers=_key(user)).json()["total"] == 3
    for bad in ("page=0", "perPage=0", "perPage=1000", "page=x", "status=done"):
        response = client.get(f"{API}?{bad}", headers=_key(user))
        assert response.status_code == 400 and response.json()["error"] == "Bad Request", bad


def test_the_same_seed_gives_the_same_music(ctx: Context) -> None:
    from yinzi.engines import registry
    from yinzi.engines.music.base import MusicRequest

    composer = registry.load("music.procedural", "music")

    def render(seed: int) -> Any:
        import numpy as np

        result = composer.compose(MusicRequest("jazz piano in F", 2, seed))
        return np.concatenate(list(result.blocks), axis=1)

    first, again, other = render(7), render(7), render(8)
    assert first.tobytes() == again.tobytes()
    assert first.tobytes() != other.tobytes()


def test_an_error_refunds_and_carries_a_reason(
    client: TestClient, ctx: Context, user: User, worker: Worker
) -> None:
    uid = _create(client, user, {"text": "piano", "config": {"length": 4}})["uid"]
    worker.ctx.settings.music_engine = "music.nothing"

    drain(worker)
    task = client.get(f"{API}/{uid}", headers=_key(user)).json()
    assert task["status"] == "error" and task["reason"] and task["audioUrl"] is None
    from yinzi.services import billing

    with ctx.db.read() as session:
        assert billing.balance(session, user.id) == billing.BalanceView(1000, 0)


def test_the_open_api_form_and_the_hand_off_to_vocal_removal(
    client: TestClient, user: User, worker: Worker
) -> None:
    auth = {"Authorization": f"Bearer {user.key}"}
    body = {"orderType": "text-to-music", "stuff": {"text": "pop piano happy", "length": 2}}
    created = client.post("/api/open/v1/order/create", json=body, headers=auth).json()
    assert created["code"] == 0, created
    order_no = created["data"]["orderNo"]
    drain(worker)
    query = client.get(f"/api/open/v1/order/query?orderNo={order_no}", headers=auth).json()
    assert query["data"]["status"] == "finish"
    assert query["data"]["cost"] == 2 and query["data"]["balance"] == 998
    assert [s["business"] for s in query["data"]["stuffs"]] == ["music"]
    uid = created["data"]["messageId"]
    kie = {"taskId": order_no, "audioId": uid, "callBackUrl": "http://127.0.0.1:9/hook"}
    task = client.post("/api/v1/vocal-removal/generate", json=kie, headers=auth).json()
    assert task["code"] == 200, task
    drain(worker)
    record = client.get(
        f"/api/v1/vocal-removal/record-info?taskId={task['data']['taskId']}", headers=auth
    ).json()["data"]
    assert record["successFlag"] == "SUCCESS" and record["musicId"] == uid
    assert record["response"]["vocalUrl"] and record["response"]["instrumentalUrl"]
    bad = {"orderType": "text-to-music", "stuff": {"text": "piano 9", "length": 2}}
    refused = client.post("/api/open/v1/order/create", json=bad, headers=auth).json()
    assert refused["code"] == 400 and "English letters" in refused["msg"]


def test_a_whole_number_written_as_a_float_is_that_integer(
    client: TestClient, ctx: Context, user: User
) -> None:
    from yinzi.services import billing

    uid = _create(client, user, {"text": "calm piano", "config": {"length": 4.0}})["uid"]
    task = client.get(f"{API}/{uid}", headers=_key(user)).json()
    assert task["config"] == {"length": 4} and isinstance(task["config"]["length"], int)
    with ctx.db.read() as session:
        assert billing.balance(session, user.id).held == 4
    half = client.post(
        API, json={"text": "calm piano", "config": {"length": 4.5}}, headers=_key(user)
    )
    assert half.status_code == 400
    assert half.json()["message"] == ["config.length must be an integer number"]


def test_the_open_api_takes_a_whole_float_length_and_refuses_a_fraction(
    client: TestClient, user: User
) -> None:
    create = "/api/open/v1/order/create"
    body: dict[str, Any] = {"orderType": "text-to-music", "stuff": {"text": "calm", "length": 3.0}}
    created = client.post(create, json=body, headers=user.auth).json()
    assert created["code"] == 0, created
    body["stuff"]["length"] = 3.5
    refused = client.post(create, json=body, headers=user.auth).json()
    assert refused == {"code": 400, "data": None, "msg": "stuff.length must be an integer number"}
