"""Account B tries to reach account A's files by spelling a key differently, on both dialects.

Every spelling is refused when the order is created: nothing is held, no order exists, and so no
record-info or order query can ever hand B a link to A's bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from yinzi.context import Context
from yinzi.db.models import Order
from yinzi.media import testing
from yinzi.services import billing

from helpers import User, new_user

UPLOAD = "/api/open/v1/file/upload"
CREATE = "/api/open/v1/order/create"
GENERATE = "/api/v1/vocal-removal/generate"


@dataclass
class Scene:
    b: User
    a_key: str
    """A's upload, ``uploads/<token>/<name>``."""
    a_result: str
    """A key inside A's results."""
    b_key: str
    b_order: str


def _upload(client: TestClient, user: User, tmp_path: Path, name: str) -> str:
    path = testing.tone(tmp_path / name, seconds=0.5)
    with path.open("rb") as f:
        answer = client.post(UPLOAD, files={"file": (name, f)}, headers=user.auth).json()
    key: str = answer["data"]["pathKey"]
    return key


def _order(client: TestClient, user: User, key: str) -> str:
    body = {"orderType": "extract-voice", "stuff": {"pathKey": key}}
    answer = client.post(CREATE, json=body, headers=user.auth).json()
    assert answer["code"] == 0, answer
    order_no: str = answer["data"]["orderNo"]
    return order_no


@pytest.fixture
def scene(client: TestClient, ctx: Context, user: User, tmp_path: Path) -> Scene:
    a_key = _upload(client, user, tmp_path, "a-song.wav")
    a_order = _order(client, user, a_key)
    a_result = f"results/{a_order}/0123456789ab/vocals.mp3"
    with ctx.db.write() as session:  # as a finished order leaves it
        row = session.get(Order, a_order)
        assert row is not None
        row.results = [{"name": "vocals.mp3", "business": "vocals", "key": a_result}]
    b = new_user(ctx, email="b@example.com")
    b_key = _upload(client, b, tmp_path, "b-song.wav")
    return Scene(b, a_key, a_result, b_key, _order(client, b, b_key))


def _spellings(s: Scene) -> list[str]:
    _, a_token, a_name = s.a_key.split("/")
    _, b_token, b_name = s.b_key.split("/")
    b = s.b_order
    a_order = s.a_result.split("/")[1]
    return [
        f"results/{b}/../../uploads/{a_token}/{a_name}",
        f"results/{b}/%2e%2e/%2e%2e/uploads/{a_token}/{a_name}",
        f"results/{b}/%2E%2E/%2E%2E/uploads/{a_token}/{a_name}",
        f"results/{b}/./../../uploads/{a_token}/{a_name}",
        f"results/{b}//../../uploads/{a_token}/{a_name}",
        f"results/{b}/x/../../{a_order}/0123456789ab/vocals.mp3",
        f"results/{b}/../{a_order}/0123456789ab/vocals.mp3",
        f"uploads/{b_token}/{b_name}/../../{a_token}/{a_name}",
        f"uploads/{b_token}/../{a_token}/{a_name}",
        f"uploads/{a_token}/{a_name}/..",
        f"uploads/{b_token}/{b_name}/..",
        f"results\\{b}\\..\\..\\uploads\\{a_token}\\{a_name}",
        f"Results/{b}/../../uploads/{a_token}/{a_name}",
        f"UPLOADS/{a_token}/{a_name}",
        f"Uploads/{a_token}/{a_name}",
        f"/uploads/{a_token}/{a_name}",
        f"./uploads/{a_token}/{a_name}",
        f"uploads/{b_token}/{b_name}\x00",
        s.a_key,
        s.a_result,
    ]


SPELLINGS = range(20)


@pytest.mark.parametrize("index", SPELLINGS)
def test_open_api_refuses_every_spelling_of_another_accounts_file(
    client: TestClient, ctx: Context, scene: Scene, index: int
) -> None:
    b = scene.b
    key = _spellings(scene)[index]
    body = {"orderType": "extract-voice", "stuff": {"pathKey": key}}
    answer = client.post(CREATE, json=body, headers=b.auth)
    assert answer.status_code == 400, (key, answer.text)
    assert answer.json()["code"] == 400
    assert any(word in answer.json()["msg"] for word in ("pathKey", "NUL"))
    _assert_nothing_created(ctx, b)


@pytest.mark.parametrize("index", SPELLINGS)
def test_vocal_removal_refuses_every_spelling_of_another_accounts_file(
    client: TestClient, ctx: Context, scene: Scene, index: int
) -> None:
    b = scene.b
    key = _spellings(scene)[index]
    body = {"audioUrl": key, "callBackUrl": "http://127.0.0.1:9/cb"}
    answer = client.post(GENERATE, json=body, headers=b.auth)
    assert answer.status_code == 422, (key, answer.text)
    assert answer.json()["code"] == 422
    _assert_nothing_created(ctx, b)


def test_a_users_own_keys_still_work(client: TestClient, ctx: Context, scene: Scene) -> None:
    b = scene.b
    _order(client, b, scene.b_key)
    body = {"audioUrl": scene.b_key, "callBackUrl": "http://127.0.0.1:9/cb"}
    assert client.post(GENERATE, json=body, headers=b.auth).json()["code"] == 200


def test_a_result_key_must_be_one_of_the_orders_results(
    client: TestClient, ctx: Context, user: User, scene: Scene
) -> None:
    a_order = scene.a_result.split("/")[1]
    made_up = f"results/{a_order}/0123456789ab/other.mp3"
    body = {"orderType": "extract-voice", "stuff": {"pathKey": made_up}}
    assert client.post(CREATE, json=body, headers=user.auth).json()["code"] == 400
    body["stuff"]["pathKey"] = scene.a_result
    assert client.post(CREATE, json=body, headers=user.auth).json()["code"] == 0


def _assert_nothing_created(ctx: Context, user: User) -> None:
    with ctx.db.read() as session:
        count = session.query(Order).filter(Order.account_id == user.id).count()
        balance = billing.balance(session, user.id)
    assert count == 1  # only the order the scene made
    assert balance.held == 10
