"""Maintenance (``YINZI_MAINTENANCE=true``): every dialect refuses new work in its own envelope,
while queries keep working.

A user has an order and a music task from before; the operator then turns maintenance on.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from yinzi.context import Context
from yinzi.errors import Maintenance
from yinzi.services import accounts, orders

from helpers import User

CREATE = "/api/open/v1/order/create"
QUERY = "/api/open/v1/order/query"
MUSIC = "/v1/textToMusic"
SEPARATION = {"orderType": "track-separation", "stuff": {"pathKey": "https://example.com/a.mp3"}}
SONG = {"text": "calm piano", "config": {"length": 2}}
MESSAGE = "The service is under maintenance; try again later"


@pytest.fixture
def before(client: TestClient, ctx: Context, user: User) -> dict[str, str]:
    """An order (made with an Idempotency-Key) and a music task from before maintenance; then
    maintenance goes on."""
    headers = {**user.auth, "Idempotency-Key": "before"}
    order_no = client.post(CREATE, json=SEPARATION, headers=headers).json()["data"]["orderNo"]
    uid = client.post(MUSIC, json=SONG, headers={"key": user.key}).json()["uid"]
    ctx.settings.maintenance = True
    return {"orderNo": order_no, "uid": uid}


def _open_api_refusal(response: Any) -> None:
    assert response.status_code == 503
    assert response.json() == {"code": 503, "data": None, "msg": MESSAGE}


def test_the_open_api_refuses_orders_uploads_and_analyses_with_503(
    client: TestClient, user: User, before: dict[str, str]
) -> None:
    _open_api_refusal(client.post(CREATE, json=SEPARATION, headers=user.auth))
    music = {"orderType": "text-to-music", "stuff": {"text": "calm piano", "length": 2}}
    _open_api_refusal(client.post(CREATE, json=music, headers=user.auth))
    upload = {"file": ("a.wav", b"RIFF....WAVE")}
    _open_api_refusal(client.post("/api/open/v1/file/upload", files=upload, headers=user.auth))
    link = {"link": "https://v.douyin.com/iAbCdEf/"}
    _open_api_refusal(client.post("/api/open/v1/short-video/analyze", json=link, headers=user.auth))
    query = client.get(f"{QUERY}?orderNo={before['orderNo']}", headers=user.auth).json()
    assert query["code"] == 0
    assert query["data"]["balance"] == 1000 - 10 - 2  # the refused calls held and charged nothing


def test_a_repeated_request_still_gets_the_order_it_made(
    client: TestClient, user: User, before: dict[str, str]
) -> None:
    headers = {**user.auth, "Idempotency-Key": "before"}
    replay = client.post(CREATE, json=SEPARATION, headers=headers).json()
    assert replay["code"] == 0 and replay["data"]["orderNo"] == before["orderNo"]


def test_the_text_to_music_api_refuses_tasks_with_503(
    client: TestClient, user: User, before: dict[str, str]
) -> None:
    response = client.post(MUSIC, json=SONG, headers={"key": user.key})
    assert response.status_code == 503
    assert response.json() == {
        "statusCode": 503,
        "message": MESSAGE,
        "error": "Service Unavailable",
    }
    assert client.get(f"{MUSIC}/{before['uid']}", headers={"key": user.key}).status_code == 200
    assert client.get(MUSIC, headers={"key": user.key}).json()["total"] == 1


def test_the_vocal_removal_api_refuses_tasks_with_455(
    client: TestClient, user: User, before: dict[str, str]
) -> None:
    body = {"audioUrl": "https://example.com/a.mp3", "callBackUrl": "https://example.com/cb"}
    response = client.post("/api/v1/vocal-removal/generate", json=body, headers=user.auth)
    assert response.status_code == 455
    assert response.json() == {"code": 455, "msg": MESSAGE, "data": None}


def test_orders_create_itself_refuses_new_orders(ctx: Context, user: User) -> None:
    ctx.settings.maintenance = True
    with ctx.db.write() as session:
        account = accounts.authenticate(session, user.key)
        with pytest.raises(Maintenance):
            orders.create(
                session, ctx.settings, account, "separate_vocal", "https://example.com/a.mp3", {}
            )
