"""Contract tests: what Kie's clients send today, replayed against the vocal-removal dialect.

A TypeScript studio app, a Python voice UI and an MCP server all do the same: authenticate with
``Authorization: Bearer``, call ``GET /api/v1/chat/credit`` first, post
``{"audioUrl" | "taskId" + "audioId", "type", "callBackUrl"}`` to ``generate``, then poll
``record-info`` or wait for the callback, reading ``vocal_separation_info`` (Kie's English docs)
or ``vocal_removal_info`` (its Chinese docs).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from yinzi.context import Context
from yinzi.fetcher import FetchPolicy, GuardedFetcher, IPAddress
from yinzi.media import testing
from yinzi.queue.embedded import Worker
from yinzi.settings import Settings

from helpers import Receiver, User, drain, kie_error, new_user

CREDIT = "/api/v1/chat/credit"
GENERATE = "/api/v1/vocal-removal/generate"
RECORD = "/api/v1/vocal-removal/record-info"
NOT_FOUND = "Not Found - The requested resource or endpoint does not exist"


def _credit(client: TestClient, user: User) -> Any:
    answer = client.get(CREDIT, headers=user.auth)
    assert answer.status_code == 200
    return answer.json()


def test_a_studio_app_checks_credit_separates_an_audio_url_and_polls(
    client: TestClient, user: User, worker: Worker, song: str, receiver: Receiver
) -> None:
    assert _credit(client, user) == {"code": 200, "msg": "success", "data": 1000}
    body = {"audioUrl": song, "type": "separate_vocal", "callBackUrl": receiver.url}
    created = client.post(GENERATE, json=body, headers=user.auth).json()
    assert created["code"] == 200, created
    task_id = created["data"]["taskId"]
    assert _credit(client, user)["data"] == 990  # held while the task runs
    drain(worker)
    record = client.get(RECORD, params={"taskId": task_id}, headers=user.auth).json()["data"]
    assert record["successFlag"] == "SUCCESS"
    assert record["response"]["vocalUrl"] and record["response"]["instrumentalUrl"]
    assert _credit(client, user)["data"] == 990
    (payload,) = receiver.payloads()
    data = payload["data"]
    assert payload["code"] == 200 and data["task_id"] == task_id
    assert data["vocal_separation_info"] == data["vocal_removal_info"]
    assert data["vocal_separation_info"]["vocal_url"]


def test_an_mcp_server_splits_a_generated_track_and_reads_either_callback_key(
    client: TestClient, user: User, worker: Worker, receiver: Receiver
) -> None:
    music = {"orderType": "text-to-music", "stuff": {"text": "pop piano happy", "length": 2}}
    order = client.post("/api/open/v1/order/create", json=music, headers=user.auth).json()
    drain(worker)
    body = {
        "taskId": order["data"]["orderNo"],
        "audioId": order["data"]["messageId"],
        "type": "split_stem",
        "callBackUrl": receiver.url,
    }
    created = client.post(GENERATE, json=body, headers=user.auth).json()
    assert created["code"] == 200, created
    drain(worker)
    (payload,) = receiver.payloads()
    for key in ("vocal_separation_info", "vocal_removal_info"):
        info = payload["data"][key]
        assert info["vocal_url"] and info["drums_url"] and info["bass_url"]
        assert info["fx_url"] and info["fx_url"] == info["other_url"]
        assert info["instrumental_url"] is None


def test_the_credit_call_answers_in_kies_envelope(client: TestClient, ctx: Context) -> None:
    assert kie_error(client.get(CREDIT))[:2] == (401, 401)
    bad = client.get(CREDIT, headers={"Authorization": "Bearer yz_wrong"})
    assert kie_error(bad)[:2] == (401, 401)
    poor = new_user(ctx, credits=7)
    assert _credit(client, poor) == {"code": 200, "msg": "success", "data": 7}
    assert kie_error(client.post(CREDIT, headers=poor.auth))[:2] == (405, 405)
    assert kie_error(client.get("/api/v1/chat/nothing", headers=poor.auth)) == (
        404,
        404,
        "Not Found",
    )


@pytest.mark.parametrize(
    "extra",
    [{"taskId": "t"}, {"audioId": "a"}, {"taskId": "t", "audioId": "a"}],
    ids=["taskId", "audioId", "both"],
)
def test_audio_url_with_task_or_audio_id_is_refused_naming_the_fields(
    client: TestClient, user: User, song: str, receiver: Receiver, extra: dict[str, str]
) -> None:
    body = {"audioUrl": song, "callBackUrl": receiver.url, **extra}
    status, code, msg = kie_error(client.post(GENERATE, json=body, headers=user.auth))
    assert (status, code) == (422, 422)
    assert "audioUrl" in msg and "taskId" in msg and "audioId" in msg
    assert _credit(client, user)["data"] == 1000


def test_an_audio_url_over_the_limit_fails_with_413_in_the_callback(
    client: TestClient,
    ctx: Context,
    user: User,
    worker: Worker,
    song: str,
    receiver: Receiver,
) -> None:
    assert Settings().vocal_removal_max_input_bytes == 20 * 1024**2
    ctx.settings.vocal_removal_max_input_bytes = 20_000  # the 3-s song is larger
    body = {"audioUrl": song, "callBackUrl": receiver.url}
    task_id = client.post(GENERATE, json=body, headers=user.auth).json()["data"]["taskId"]
    drain(worker)
    record = client.get(RECORD, params={"taskId": task_id}, headers=user.auth).json()["data"]
    assert record["successFlag"] == "CREATE_TASK_FAILED"
    assert "over the limit of 19.5 KiB" in record["errorMessage"]
    (payload,) = receiver.payloads()
    assert payload["code"] == 413 and "over the limit" in payload["msg"]
    assert _credit(client, user)["data"] == 1000  # refunded


def test_an_uploaded_file_over_the_limit_is_refused_at_create(
    client: TestClient, ctx: Context, user: User, receiver: Receiver, tmp_path: Path
) -> None:
    audio = testing.tone(tmp_path / "big.wav", seconds=0.1, sample_rate=8000).read_bytes()
    files = {"file": ("big.wav", audio, "audio/wav")}
    key = client.post("/api/open/v1/file/upload", files=files, headers=user.auth).json()
    ctx.settings.vocal_removal_max_input_bytes = len(audio) - 1
    body = {"audioUrl": key["data"]["pathKey"], "callBackUrl": receiver.url}
    status, code, msg = kie_error(client.post(GENERATE, json=body, headers=user.auth))
    assert (status, code) == (422, 422)
    limit = len(audio) - 1
    assert msg == f"audioUrl: the file is {len(audio)} bytes, over the limit of {limit} bytes"


def test_record_info_of_an_unknown_or_foreign_task_uses_kies_wording(
    client: TestClient, ctx: Context, user: User, song: str, receiver: Receiver
) -> None:
    unknown = client.get(RECORD, params={"taskId": "nope"}, headers=user.auth)
    assert kie_error(unknown) == (404, 404, NOT_FOUND)
    body = {"audioUrl": song, "callBackUrl": receiver.url}
    task_id = client.post(GENERATE, json=body, headers=user.auth).json()["data"]["taskId"]
    stranger = new_user(ctx)
    foreign = client.get(RECORD, params={"taskId": task_id}, headers=stranger.auth)
    assert kie_error(foreign) == (404, 404, NOT_FOUND)


def _public_only(ctx: Context) -> None:
    """The production address policy, with a fake DNS: hooks.example is loopback, nothing else
    resolves."""

    def resolve(host: str, port: int) -> list[IPAddress]:
        if host == "hooks.example":
            return [ipaddress.ip_address("127.0.0.1")]
        try:
            return [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            raise OSError(f"{host}: not found") from None

    ctx.settings.fetch.allow_private = False
    ctx.fetcher = GuardedFetcher(FetchPolicy(), resolver=resolve)


@pytest.mark.parametrize(
    ("callback", "reason"),
    [
        ("http://127.0.0.1:9/hook", "127.0.0.1 is a loopback address"),
        ("http://hooks.example/hook", "hooks.example resolves to 127.0.0.1, a loopback address"),
        ("https://10.1.2.3/hook", "10.1.2.3 is a private address"),
    ],
)
def test_a_private_callback_is_refused_at_create_naming_the_setting(
    client: TestClient, ctx: Context, user: User, callback: str, reason: str
) -> None:
    _public_only(ctx)
    body = {"audioUrl": "https://1.1.1.1/song.mp3", "callBackUrl": callback}
    status, code, msg = kie_error(client.post(GENERATE, json=body, headers=user.auth))
    assert (status, code) == (422, 422)
    assert msg.startswith("callBackUrl cannot receive callbacks") and reason in msg
    assert "YINZI_FETCH__ALLOW_PRIVATE=true" in msg
    assert _credit(client, user)["data"] == 1000


def test_a_callback_host_that_does_not_resolve_is_refused_at_create(
    client: TestClient, ctx: Context, user: User
) -> None:
    _public_only(ctx)
    body = {"audioUrl": "https://1.1.1.1/song.mp3", "callBackUrl": "https://nowhere.example/cb"}
    status, code, msg = kie_error(client.post(GENERATE, json=body, headers=user.auth))
    assert (status, code) == (422, 422)
    assert "callBackUrl" in msg and "the host name nowhere.example could not be found" in msg
    assert "ALLOW_PRIVATE" not in msg


def test_with_private_addresses_allowed_only_the_metadata_address_is_refused(
    client: TestClient, user: User, song: str, receiver: Receiver
) -> None:
    assert (
        client.post(
            GENERATE, json={"audioUrl": song, "callBackUrl": receiver.url}, headers=user.auth
        ).json()["code"]
        == 200
    )
    body = {"audioUrl": song, "callBackUrl": "http://169.254.169.254/latest/cb"}
    status, code, msg = kie_error(client.post(GENERATE, json=body, headers=user.auth))
    assert (status, code) == (422, 422)
    assert "metadata" in msg and "ALLOW_PRIVATE" not in msg
