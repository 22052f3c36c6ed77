"""The vocal-removal dialect (Kie-compatible): the seed's record-info, errors and callbacks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from yinzi.context import Context
from yinzi.db.models import Order
from yinzi.media import testing
from yinzi.queue.embedded import Worker
from yinzi.services import accounts
from yinzi.services.callbacks import new_secret

from conftest import FileServer
from helpers import User, drain, new_user

GENERATE = "/api/v1/vocal-removal/generate"
RECORD = "/api/v1/vocal-removal/record-info"
SEED_URL_FIELDS = {
    "originUrl",
    "instrumentalUrl",
    "vocalUrl",
    "backingVocalsUrl",
    "drumsUrl",
    "bassUrl",
    "guitarUrl",
    "pianoUrl",
    "keyboardUrl",
    "percussionUrl",
    "stringsUrl",
    "synthUrl",
    "fxUrl",
    "brassUrl",
    "woodwindsUrl",
}


class Receiver:
    """A callback receiver on loopback answering a scripted list of statuses."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.calls: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append((dict(self.headers), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([])
    yield r
    r.close()


@pytest.fixture
def song(file_server: FileServer) -> str:
    testing.song(file_server.root / "song.wav", seconds=3.0)
    return file_server.url("song.wav")


def _generate(client: TestClient, user: User, body: dict[str, Any], **headers: str) -> Any:
    return client.post(GENERATE, json=body, headers={**user.auth, **headers})


def _deliver(worker: Worker, rounds: int = 20) -> None:
    import time

    for _ in range(rounds):
        drain(worker)
        time.sleep(0.06)


def test_record_info_answers_the_seed_shape(
    client: TestClient, user: User, worker: Worker, song: str, receiver: Receiver
) -> None:
    body = {"audioUrl": song, "callBackUrl": receiver.url, "type": "separate_vocal"}
    created = _generate(client, user, body)
    assert created.status_code == 200
    assert created.json()["code"] == 200 and created.json()["msg"] == "success"
    task_id = created.json()["data"]["taskId"]
    pending = client.get(f"{RECORD}?taskId={task_id}", headers=user.auth).json()["data"]
    assert pending["successFlag"] == "PENDING" and pending["completeTime"] is None
    drain(worker)
    answer = client.get(f"{RECORD}?taskId={task_id}", headers=user.auth).json()
    assert (answer["code"], answer["msg"]) == (200, "success")
    data = answer["data"]
    assert set(data) == {
        "taskId",
        "musicId",
        "callbackUrl",
        "musicIndex",
        "completeTime",
        "response",
        "successFlag",
        "createTime",
        "errorCode",
        "errorMessage",
    }
    assert data["taskId"] == task_id and data["callbackUrl"] == receiver.url
    assert data["musicIndex"] == 0 and data["successFlag"] == "SUCCESS"
    assert isinstance(data["createTime"], int) and data["completeTime"] >= data["createTime"]
    assert data["errorCode"] is None and data["errorMessage"] is None
    assert set(data["response"]) == SEED_URL_FIELDS
    filled = {k for k, v in data["response"].items() if v}
    assert filled == {"originUrl", "instrumentalUrl", "vocalUrl"}
    assert (
        client.get(data["response"]["vocalUrl"].removeprefix("http://testserver")).status_code
        == 200
    )


def test_split_stem_fills_the_stems_and_leaves_instrumental_null(
    client: TestClient, user: User, worker: Worker, song: str, receiver: Receiver
) -> None:
    body = {"audioUrl": song, "callBackUrl": receiver.url, "type": "split_stem"}
    task_id = _generate(client, user, body).json()["data"]["taskId"]
    drain(worker)
    data = client.get(f"{RECORD}?taskId={task_id}", headers=user.auth).json()["data"]
    assert data["successFlag"] == "SUCCESS", data
    response = data["response"]
    assert response["instrumentalUrl"] is None
    assert all(response[k] for k in ("vocalUrl", "drumsUrl", "bassUrl", "otherUrl"))
    assert response["guitarUrl"] is None and response["pianoUrl"] is None
    balance = client.post(
        "/api/open/v1/order/create",
        json={"orderType": "extract-voice", "stuff": {"pathKey": song}},
        headers=user.auth,
    )
    assert balance.json()["code"] == 0  # 1000 - 50 left enough for more


def _verify(secret: str, headers: dict[str, str], body: bytes, task_id: str) -> None:
    timestamp = headers["X-Webhook-Timestamp"]
    kie = hmac.new(secret.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()
    assert headers["X-Webhook-Signature"] == base64.b64encode(kie).decode()
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    standard = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{standard}"


def _sign_with_secret(ctx: Context, user: User) -> str:
    with ctx.db.write() as session:
        account = accounts.find(session, user.email)
        account.webhook_secret = new_secret()
        return account.webhook_secret


def test_a_signed_callback_is_retried_after_a_500(
    client: TestClient, ctx: Context, user: User, worker: Worker, song: str
) -> None:
    secret = _sign_with_secret(ctx, user)
    worker.ctx.settings.callback_backoff_seconds = 0.05
    receiver = Receiver([500, 200])
    try:
        body = {"audioUrl": song, "callBackUrl": receiver.url}
        task_id = _generate(client, user, body).json()["data"]["taskId"]
        _deliver(worker)
    finally:
        receiver.close()
    assert len(receiver.calls) == 2
    headers, raw = receiver.calls[1]
    _verify(secret, headers, raw, task_id)
    payload = json.loads(raw)
    assert payload["code"] == 200 and payload["msg"] == "vocal Removal generated successfully."
    info = payload["data"]["vocal_removal_info"]
    assert payload["data"]["task_id"] == task_id
    assert info["vocal_url"] and info["instrumental_url"] and info["drums_url"] is None
    record = client.get(f"{RECORD}?taskId={task_id}", headers=user.auth).json()["data"]
    assert record["successFlag"] == "SUCCESS"


def test_a_4xx_stops_retrying_and_the_results_stay(
    client: TestClient, user: User, worker: Worker, song: str
) -> None:
    worker.ctx.settings.callback_backoff_seconds = 0.05
    receiver = Receiver([400, 200])
    try:
        task_id = _generate(client, user, {"audioUrl": song, "callBackUrl": receiver.url}).json()[
            "data"
        ]["taskId"]
        _deliver(worker)
    finally:
        receiver.close()
    assert len(receiver.calls) == 1
    record = client.get(f"{RECORD}?taskId={task_id}", headers=user.auth).json()["data"]
    assert record["successFlag"] == "CALLBACK_EXCEPTION"
    assert record["response"]["vocalUrl"]


def test_callback_exception_after_every_attempt_fails(
    client: TestClient, user: User, worker: Worker, song: str
) -> None:
    worker.ctx.settings.callback_backoff_seconds = 0.05
    receiver = Receiver([500, 502, 503, 200])
    try:
        task_id = _generate(client, user, {"audioUrl": song, "callBackUrl": receiver.url}).json()[
            "data"
        ]["taskId"]
        _deliver(worker, rounds=40)
    finally:
        receiver.close()
    assert len(receiver.calls) == 3
    record = client.get(f"{RECORD}?taskId={task_id}", headers=user.auth).json()["data"]
    assert record["successFlag"] == "CALLBACK_EXCEPTION"


def test_a_failed_task_calls_back_with_the_failure(
    client: TestClient, user: User, worker: Worker, file_server: FileServer, receiver: Receiver
) -> None:
    testing.text_as_mp3(file_server.root / "fake.mp3")
    body = {"audioUrl": file_server.url("fake.mp3"), "callBackUrl": receiver.url}
    task_id = _generate(client, user, body).json()["data"]["taskId"]
    _deliver(worker, rounds=3)
    record = client.get(f"{RECORD}?taskId={task_id}", headers=user.auth).json()["data"]
    assert record["successFlag"] == "CREATE_TASK_FAILED"
    assert record["errorCode"] == 422 and "not a readable" in record["errorMessage"]
    payload = json.loads(receiver.calls[0][1])
    assert payload["code"] == 422 and payload["data"]["vocal_removal_info"] is None


def _error(response: Any) -> tuple[int, int, str]:
    body = response.json()
    assert set(body) == {"code", "msg", "data"} and body["data"] is None
    return response.status_code, body["code"], body["msg"]


def test_kie_errors_use_the_seed_codes(
    client: TestClient, ctx: Context, user: User, song: str, receiver: Receiver
) -> None:
    good = {"audioUrl": song, "callBackUrl": receiver.url}
    assert _error(client.post(GENERATE, json=good))[:2] == (401, 401)
    bad_key = {"Authorization": "Bearer yz_wrong"}
    assert _error(client.post(GENERATE, json=good, headers=bad_key))[:2] == (401, 401)
    poor = new_user(ctx, credits=5)
    assert _error(_generate(client, poor, good))[:2] == (402, 402)
    for bad, word in (
        ({**good, "type": "karaoke"}, "type"),
        ({"audioUrl": song}, "callBackUrl"),
        ({"callBackUrl": receiver.url}, "audioId"),
    ):
        status, code, msg = _error(_generate(client, user, bad))
        assert (status, code) == (422, 422) and word in msg
    refused = {**good, "audioUrl": "http://169.254.169.254/latest/meta-data"}
    assert _error(_generate(client, user, refused))[:2] == (451, 451)
    unknown = {"taskId": "nope", "audioId": "x", "callBackUrl": receiver.url}
    assert _error(_generate(client, user, unknown))[:2] == (404, 404)
    assert _error(client.get(f"{RECORD}?taskId=nope", headers=user.auth))[:2] == (404, 404)
    first = _generate(client, user, good, **{"Idempotency-Key": "k"}).json()["data"]
    assert _generate(client, user, good, **{"Idempotency-Key": "k"}).json()["data"] == first
    changed = {**good, "type": "split_stem"}
    assert _error(_generate(client, user, changed, **{"Idempotency-Key": "k"}))[:2] == (409, 409)
    stranger = new_user(ctx)
    other = client.get(f"{RECORD}?taskId={first['taskId']}", headers=stranger.auth)
    assert _error(other)[:2] == (404, 404)


def test_maintenance_refuses_new_tasks_while_queries_work(
    client: TestClient, ctx: Context, user: User, song: str, receiver: Receiver
) -> None:
    body = {"audioUrl": song, "callBackUrl": receiver.url}
    task_id = _generate(client, user, body).json()["data"]["taskId"]
    ctx.settings.maintenance = True
    assert _error(_generate(client, user, body))[:2] == (455, 455)
    assert client.get(f"{RECORD}?taskId={task_id}", headers=user.auth).json()["code"] == 200


def test_the_per_key_rate_limit_answers_429_with_retry_after(
    client: TestClient, ctx: Context, user: User
) -> None:
    from yinzi.services.ratelimit import RateLimiter

    ctx.limiter = RateLimiter(3)
    for _ in range(3):
        client.get(f"{RECORD}?taskId=nope", headers=user.auth)
    limited = client.get(f"{RECORD}?taskId=nope", headers=user.auth)
    assert _error(limited)[:2] == (429, 429)
    assert int(limited.headers["Retry-After"]) >= 1
    other = new_user(ctx)
    assert client.get(f"{RECORD}?taskId=nope", headers=other.auth).status_code == 404


def test_split_stem_with_a_six_stem_demucs_model_fills_guitar_and_piano(
    client: TestClient, user: User, worker: Worker, song: str, receiver: Receiver, tmp_path: Any
) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("demucs")
    from yinzi.engines.separation.demucs_testing import build_tiny_demucs

    sources = ("drums", "bass", "other", "vocals", "guitar", "piano")
    repo = build_tiny_demucs(tmp_path / "models", sources=sources).parent
    settings = worker.ctx.settings
    settings.stem_engine = "separation.demucs"
    settings.demucs.model, settings.demucs.repo = "tiny0000", str(repo)
    body = {"audioUrl": song, "callBackUrl": receiver.url, "type": "split_stem"}
    task_id = _generate(client, user, body).json()["data"]["taskId"]
    drain(worker)
    data = client.get(f"{RECORD}?taskId={task_id}", headers=user.auth).json()["data"]
    assert data["successFlag"] == "SUCCESS", data
    filled = {k for k, v in data["response"].items() if v}
    assert filled == {
        "originUrl",
        "vocalUrl",
        "drumsUrl",
        "bassUrl",
        "guitarUrl",
        "pianoUrl",
        "otherUrl",
    }


def test_a_callback_to_a_refused_address_fails_at_once_saying_why(
    client: TestClient, ctx: Context, user: User, worker: Worker, song: str
) -> None:
    """The address policy refuses the same address every time: one attempt, no retries, and
    record-info says why (the metadata address is refused even where private ones are allowed)."""
    worker.ctx.settings.callback_backoff_seconds = 0.05
    body = {"audioUrl": song, "callBackUrl": "http://169.254.169.254/latest/cb"}
    task_id = _generate(client, user, body).json()["data"]["taskId"]
    _deliver(worker, rounds=10)
    record = client.get(f"{RECORD}?taskId={task_id}", headers=user.auth).json()["data"]
    assert record["successFlag"] == "CALLBACK_EXCEPTION"
    assert record["errorCode"] == 500
    assert "metadata" in record["errorMessage"] and "callback" in record["errorMessage"]
    assert record["response"]["vocalUrl"]
    with ctx.db.read() as session:
        order = session.get(Order, task_id)
        assert order is not None and order.callback_attempts == 1
