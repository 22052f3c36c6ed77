"""The vocal-removal dialect (Kie-compatible): the seed's record-info, errors and callbacks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from yinzi.api import vocal_removal
from yinzi.context import Context
from yinzi.db.models import Order
from yinzi.engines.separation.spectral import SpectralSeparator
from yinzi.media import testing
from yinzi.queue.embedded import Worker
from yinzi.services import accounts, orders
from yinzi.services.callbacks import new_secret

from conftest import FileServer
from helpers import Receiver, User, drain, kie_error, new_user, six_stem_demucs

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
    assert (pending["progress"], pending["stage"]) == (0, "queued")  # extra fields
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
        "progress",  # extra fields (docs/vocal-removal.md)
        "stage",
    }
    assert (data["progress"], data["stage"]) == (100, "done")
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
    assert response["fxUrl"] == response["otherUrl"]  # Kie has no "other" field
    info = receiver.payloads()[0]["data"]["vocal_separation_info"]
    assert info["fx_url"] and info["fx_url"] == info["other_url"]
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
    assert payload["code"] == 400  # unreadable input: Kie's callback code for bad input
    assert payload["data"]["vocal_removal_info"] is None
    assert payload["data"]["vocal_separation_info"] is None


def test_kie_errors_use_the_seed_codes(
    client: TestClient, ctx: Context, user: User, song: str, receiver: Receiver
) -> None:
    good = {"audioUrl": song, "callBackUrl": receiver.url}
    assert kie_error(client.post(GENERATE, json=good))[:2] == (401, 401)
    bad_key = {"Authorization": "Bearer yz_wrong"}
    assert kie_error(client.post(GENERATE, json=good, headers=bad_key))[:2] == (401, 401)
    poor = new_user(ctx, credits=5)
    assert kie_error(_generate(client, poor, good))[:2] == (402, 402)
    for bad, word in (
        ({**good, "type": "karaoke"}, "type"),
        ({"audioUrl": song}, "callBackUrl"),
        ({"callBackUrl": receiver.url}, "audioId"),
    ):
        status, code, msg = kie_error(_generate(client, user, bad))
        assert (status, code) == (422, 422) and word in msg
    refused = {**good, "audioUrl": "http://169.254.169.254/latest/meta-data"}
    assert kie_error(_generate(client, user, refused))[:2] == (451, 451)
    unknown = {"taskId": "nope", "audioId": "x", "callBackUrl": receiver.url}
    assert kie_error(_generate(client, user, unknown))[:2] == (404, 404)
    assert kie_error(client.get(f"{RECORD}?taskId=nope", headers=user.auth))[:2] == (404, 404)
    first = _generate(client, user, good, **{"Idempotency-Key": "k"}).json()["data"]
    assert _generate(client, user, good, **{"Idempotency-Key": "k"}).json()["data"] == first
    changed = {**good, "type": "split_stem"}
    assert kie_error(_generate(client, user, changed, **{"Idempotency-Key": "k"}))[:2] == (409, 409)
    stranger = new_user(ctx)
    other = client.get(f"{RECORD}?taskId={first['taskId']}", headers=stranger.auth)
    assert kie_error(other)[:2] == (404, 404)


def test_maintenance_refuses_new_tasks_while_queries_work(
    client: TestClient, ctx: Context, user: User, song: str, receiver: Receiver
) -> None:
    body = {"audioUrl": song, "callBackUrl": receiver.url}
    task_id = _generate(client, user, body).json()["data"]["taskId"]
    ctx.settings.maintenance = True
    assert kie_error(_generate(client, user, body))[:2] == (455, 455)
    assert client.get(f"{RECORD}?taskId={task_id}", headers=user.auth).json()["code"] == 200


def test_the_per_key_rate_limit_answers_429_with_retry_after(
    client: TestClient, ctx: Context, user: User
) -> None:
    from yinzi.services.ratelimit import RateLimiter

    ctx.limiter = RateLimiter(3)
    for _ in range(3):
        client.get(f"{RECORD}?taskId=nope", headers=user.auth)
    limited = client.get(f"{RECORD}?taskId=nope", headers=user.auth)
    assert kie_error(limited)[:2] == (429, 429)
    assert int(limited.headers["Retry-After"]) >= 1
    other = new_user(ctx)
    assert client.get(f"{RECORD}?taskId=nope", headers=other.auth).status_code == 404


def test_split_stem_with_a_six_stem_demucs_model_fills_guitar_and_piano(
    client: TestClient, user: User, worker: Worker, song: str, receiver: Receiver, tmp_path: Any
) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("demucs")
    six_stem_demucs(worker.ctx.settings, tmp_path / "models")
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
        "fxUrl",
    }


def test_a_callback_to_a_refused_address_fails_at_once_saying_why(
    client: TestClient, ctx: Context, user: User, worker: Worker, song: str, receiver: Receiver
) -> None:
    """The address policy refuses the same address every time: one attempt, no retries, and
    record-info says why (the metadata address is refused even where private ones are allowed).
    Such an address is refused at create; here the stored URL is changed afterwards, as when a
    host name that passed at create resolves elsewhere at delivery."""
    worker.ctx.settings.callback_backoff_seconds = 0.05
    body = {"audioUrl": song, "callBackUrl": receiver.url}
    task_id = _generate(client, user, body).json()["data"]["taskId"]
    with ctx.db.write() as session:
        stored = session.get(Order, task_id)
        assert stored is not None
        stored.callback_url = "http://169.254.169.254/latest/cb"
    _deliver(worker, rounds=10)
    record = client.get(f"{RECORD}?taskId={task_id}", headers=user.auth).json()["data"]
    assert record["successFlag"] == "CALLBACK_EXCEPTION"
    assert record["errorCode"] == 500
    assert "metadata" in record["errorMessage"] and "callback" in record["errorMessage"]
    assert record["response"]["vocalUrl"]
    with ctx.db.read() as session:
        order = session.get(Order, task_id)
        assert order is not None and order.callback_attempts == 1


def _failed_task(ctx: Context, user: User, code: str, hold: int | None = None) -> Order:
    """A separate_vocal task that failed with ``code``, holding ``hold`` credits until then."""
    with ctx.db.write() as session:
        account = accounts.find(session, user.email)
        created = orders.create(
            session,
            ctx.settings,
            account,
            "separate_vocal",
            "https://example.com/a.mp3",
            {},
            callback_url="https://example.com/hook",
            hold=hold,
        )
    claimed = orders.claim(ctx.db, ctx.settings, created.order_no)
    assert claimed is not None
    if code == "timeout":
        with ctx.db.write() as session:
            stored = session.get(Order, created.order_no)
            assert stored is not None
            stored.deadline_at = stored.created_at - timedelta(seconds=1)
        assert orders.expire_overdue(ctx.db, ctx.settings) == [created.order_no]
    else:
        orders.fail(ctx.db, created.order_no, claimed[1], f"failed: {code}", code)
    with ctx.db.read() as session:
        ended = session.get(Order, created.order_no)
        assert ended is not None
        return ended


@pytest.mark.parametrize(
    ("error_code", "hold", "expected", "record_code"),
    [
        ("fetch_failed", None, 400, 451),
        ("address_refused", None, 400, 451),
        ("media_error", None, 400, 422),
        ("insufficient_credits", None, 400, 402),
        ("timeout", None, 408, 500),
        ("input_too_large", None, 413, 451),
        ("unsupported", None, 501, 500),
        ("configuration_error", None, 501, 500),
        ("engine_failed", None, 531, 500),
        ("internal_error", None, 531, 500),
        ("worker_lost", None, 531, 500),
        ("engine_failed", 0, 500, 500),
    ],
)
def test_callback_codes_follow_kies_list(
    ctx: Context, user: User, error_code: str, hold: int | None, expected: int, record_code: int
) -> None:
    """Known causes get their own code; any other failure is 531 ("failed, credits refunded")
    when credits held for it came back, and 500 when it held none. record-info's errorCode
    keeps the codes of Kie's response list."""
    order = _failed_task(ctx, user, error_code, hold)
    body = vocal_removal.callback_body(ctx, order)
    assert body["code"] == expected
    assert vocal_removal.error_code(order) == record_code
    assert body["data"]["vocal_separation_info"] is None
    assert body["data"]["vocal_removal_info"] is None


def test_an_engine_without_the_stems_asked_for_fails_unsupported(
    client: TestClient,
    user: User,
    worker: Worker,
    song: str,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An engine that makes no "accompaniment" cannot do separate_vocal: Kie's 501."""
    monkeypatch.setattr(SpectralSeparator, "stems", ("vocals", "drums"))
    worker.ctx.settings.separation_engine = "separation.spectral"
    body = {"audioUrl": song, "callBackUrl": receiver.url}
    task_id = _generate(client, user, body).json()["data"]["taskId"]
    drain(worker)
    (payload,) = receiver.payloads()
    assert payload["code"] == 501, payload
    assert "unknown stem(s) ['accompaniment']" in payload["msg"]
    record = client.get(f"{RECORD}?taskId={task_id}", headers=user.auth).json()["data"]
    assert record["successFlag"] == "GENERATE_AUDIO_FAILED"
