"""Open API behaviour beyond the seed's examples: extensions, ownership and error hygiene."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from yinzi.context import Context
from yinzi.db.models import Upload
from yinzi.media import testing

from helpers import User, new_user

CREATE = "/api/open/v1/order/create"
UPLOAD = "/api/open/v1/file/upload"
BODY = {"orderType": "track-separation", "stuff": {"pathKey": "https://example.com/a.mp3"}}


def test_another_accounts_order_is_not_found(client: TestClient, ctx: Context, user: User) -> None:
    order_no = client.post(CREATE, json=BODY, headers=user.auth).json()["data"]["orderNo"]
    stranger = new_user(ctx)
    response = client.get(f"/api/open/v1/order/query?orderNo={order_no}", headers=stranger.auth)
    assert response.json() == {"code": 400, "data": None, "msg": "Order not found"}


def test_insufficient_balance_is_refused_with_the_seed_message(
    client: TestClient, ctx: Context
) -> None:
    poor = new_user(ctx, credits=9)
    response = client.post(CREATE, json=BODY, headers=poor.auth)
    assert response.status_code == 400
    assert response.json()["msg"] == "ErrorCode.USER_BLANCE_NOT_ENOUGH"


def test_format_is_an_optional_extension(client: TestClient, user: User) -> None:
    body = {"orderType": "extract-voice", "stuff": {"pathKey": "https://e.com/a", "format": "ogg"}}
    response = client.post(CREATE, json=body, headers=user.auth)
    assert response.status_code == 400
    assert "mp3, wav, flac" in response.json()["msg"]
    body["stuff"]["format"] = "flac"
    assert client.post(CREATE, json=body, headers=user.auth).json()["code"] == 0


def test_idempotency_key_replays_the_first_order_without_charging_twice(
    client: TestClient, user: User
) -> None:
    headers = {**user.auth, "Idempotency-Key": "job-42"}
    first = client.post(CREATE, json=BODY, headers=headers).json()["data"]
    second = client.post(CREATE, json=BODY, headers=headers).json()["data"]
    assert first == second
    balance = client.get(
        f"/api/open/v1/order/query?orderNo={first['orderNo']}", headers=user.auth
    ).json()["data"]["balance"]
    assert balance == 990
    other = {"orderType": "extract-voice", "stuff": {"pathKey": "https://example.com/a.mp3"}}
    refused = client.post(CREATE, json=other, headers=headers)
    assert refused.status_code == 400
    assert "Idempotency-Key" in refused.json()["msg"]


def test_a_path_key_must_be_a_url_or_an_own_upload(
    client: TestClient, ctx: Context, user: User, tmp_path: Path
) -> None:
    for bad in ("file:///etc/passwd", "uploads/not-there/a.mp3", "../../etc/passwd"):
        body = {"orderType": "extract-music", "stuff": {"pathKey": bad}}
        response = client.post(CREATE, json=body, headers=user.auth)
        assert response.status_code == 400, bad
        assert "pathKey" in response.json()["msg"]
    song = testing.tone(tmp_path / "a.mp3", seconds=0.5).read_bytes()
    upload = client.post(UPLOAD, files={"file": ("a.mp3", song)}, headers=user.auth).json()
    assert upload["code"] == 0
    path_key = upload["data"]["pathKey"]
    stranger = new_user(ctx)
    body = {"orderType": "extract-music", "stuff": {"pathKey": path_key}}
    assert client.post(CREATE, json=body, headers=stranger.auth).status_code == 400
    assert client.post(CREATE, json=body, headers=user.auth).json()["code"] == 0


def test_upload_requires_a_non_empty_file(client: TestClient, user: User) -> None:
    response = client.post("/api/open/v1/file/upload", headers=user.auth)
    assert response.status_code == 400
    empty = client.post(
        "/api/open/v1/file/upload", files={"file": ("a.mp3", b"")}, headers=user.auth
    )
    assert empty.json() == {"code": 400, "data": None, "msg": "the uploaded file is empty"}


def _stored_uploads(ctx: Context) -> list[Path]:
    root = ctx.settings.data_dir / "files" / "uploads"
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda d: testing.text_as_mp3(d / "notes.txt"), "not a readable audio or video file"),
        (lambda d: testing.garbage(d / "song.mp3"), "not a readable audio or video file"),
        (lambda d: testing.video_without_audio(d / "mute.mp4"), "the file has no audio stream"),
    ],
    ids=["text", "random-bytes", "video-without-audio"],
)
def test_an_upload_that_is_not_audio_is_refused_and_not_kept(
    client: TestClient,
    ctx: Context,
    user: User,
    tmp_path: Path,
    build: Callable[[Path], Path],
    reason: str,
) -> None:
    path = build(tmp_path)
    answer = client.post(UPLOAD, files={"file": (path.name, path.read_bytes())}, headers=user.auth)
    assert answer.status_code == 400
    assert answer.json() == {
        "code": 400,
        "data": None,
        "msg": f"file: {reason}; upload an audio or video file",
    }
    assert _stored_uploads(ctx) == []
    with ctx.db.read() as session:
        assert session.query(Upload).count() == 0


@pytest.mark.parametrize(
    "build",
    [
        lambda d: testing.tone(d / "song.mp3"),
        lambda d: testing.tone(d / "song.wav"),
        lambda d: testing.video_with_audio(d / "clip.mp4"),
    ],
    ids=["mp3", "wav", "video-with-audio"],
)
def test_audio_and_video_with_audio_are_taken(
    client: TestClient, ctx: Context, user: User, tmp_path: Path, build: Callable[[Path], Path]
) -> None:
    path = build(tmp_path)
    answer = client.post(UPLOAD, files={"file": (path.name, path.read_bytes())}, headers=user.auth)
    assert answer.json()["code"] == 0, answer.text
    path_key = answer.json()["data"]["pathKey"]
    assert _stored_uploads(ctx) == [ctx.settings.data_dir / "files" / path_key]


def test_a_body_that_is_not_json_is_a_clear_400(client: TestClient, user: User) -> None:
    response = client.post(
        CREATE, content=b"{not json", headers={**user.auth, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == 400
    assert response.json()["msg"]


def test_a_crash_answers_500_without_a_traceback(settings, ctx: Context, user: User) -> None:  # type: ignore[no-untyped-def]
    from yinzi.app import create_app

    app = create_app(settings, ctx=ctx)

    @app.get("/api/open/v1/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as c:
        response = c.get("/api/open/v1/boom")
    assert response.status_code == 500
    assert response.json() == {"code": 500, "data": None, "msg": "Internal server error"}
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text


def test_a_revoked_key_is_invalid(client: TestClient, ctx: Context, user: User) -> None:
    from yinzi.services import accounts

    with ctx.db.write() as s:
        account = accounts.find(s, user.email)
        (key,) = accounts.list_keys(s, account)
        accounts.revoke_key(s, key.id)
    response = client.post(CREATE, json=BODY, headers=user.auth)
    assert response.json() == {"code": 401, "data": None, "msg": "Invalid API Key"}
