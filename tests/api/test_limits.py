"""Size limits: bodies are refused before they are stored, and no oversized string is kept.

Uploads may carry at most ``max_upload_bytes`` (here 100 KB), every other body 64 KiB; each
string field has a maximum length. Every refusal is in the dialect's own envelope.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from yinzi.app import create_app
from yinzi.context import Context
from yinzi.db.migrate import upgrade
from yinzi.db.models import Order, Upload
from yinzi.media import testing
from yinzi.settings import Settings

from helpers import User, make_settings, new_user, serving

UPLOAD = "/api/open/v1/file/upload"
CREATE = "/api/open/v1/order/create"
GENERATE = "/api/v1/vocal-removal/generate"
MUSIC = "/v1/textToMusic"
LIMIT = 100_000


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, max_upload_bytes=LIMIT)


def _stored(ctx: Context) -> list[Path]:
    root = ctx.settings.data_dir / "files"
    return [p for p in root.rglob("*") if p.is_file()]


def _rows(ctx: Context) -> tuple[int, int]:
    with ctx.db.read() as session:
        return session.query(Order).count(), session.query(Upload).count()


def test_an_upload_over_the_limit_is_refused_with_413_and_nothing_stored(
    client: TestClient, ctx: Context, user: User
) -> None:
    big = b"\0" * (LIMIT + 1)
    answer = client.post(UPLOAD, files={"file": ("big.wav", big)}, headers=user.auth)
    assert answer.status_code == 413
    assert answer.json()["code"] == 413
    assert "limit" in answer.json()["msg"]
    assert _stored(ctx) == [] and _rows(ctx) == (0, 0)


def test_a_file_of_exactly_the_limit_is_taken(
    client: TestClient, ctx: Context, user: User, tmp_path: Path
) -> None:
    song = testing.tone(tmp_path / "ok.wav", seconds=0.2, sample_rate=8000).read_bytes()
    exact = song + b"\0" * (LIMIT - len(song))  # bytes after the audio data are ignored
    answer = client.post(UPLOAD, files={"file": ("ok.wav", exact)}, headers=user.auth)
    assert answer.json()["code"] == 0, answer.text
    assert [p.stat().st_size for p in _stored(ctx)] == [LIMIT]


def test_an_upload_is_refused_by_its_declared_length_before_the_key_or_body_is_read(
    client: TestClient, ctx: Context
) -> None:
    headers = {"Content-Type": "multipart/form-data; boundary=x", "Content-Length": "900000000"}
    answer = client.post(UPLOAD, content=b"--x--\r\n", headers=headers)
    assert answer.status_code == 413
    assert answer.json() == {"code": 413, "data": None, "msg": answer.json()["msg"]}


def test_a_streamed_upload_is_cut_off_at_the_limit(ctx: Context, user: User) -> None:
    """A chunked body (no Content-Length) is answered 413 once it passes the limit: the client
    is told while it is still sending, long before it could send 50 MB."""
    with (
        serving(create_app(ctx.settings, ctx=ctx)) as port,
        socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
    ):
        sock.sendall(
            f"POST {UPLOAD} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {user.key}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
        sent = _send_until_answered(sock, part, 50 * 1024 * 1024)
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b'"code":413' in reply
    assert sent < 50 * 1024 * 1024
    assert _stored(ctx) == [] and _rows(ctx) == (0, 0)


def _send_until_answered(sock: socket.socket, first: bytes, most: int) -> int:
    chunk = b"\0" * 65536
    sent = 0
    try:
        for block in _chunks(first, chunk, most):
            if select.select([sock], [], [], 0)[0]:
                break
            sock.sendall(block)
            sent += len(block)
    except (BrokenPipeError, ConnectionResetError):
        pass
    select.select([sock], [], [], 10)
    return sent


def _chunks(first: bytes, chunk: bytes, most: int) -> Iterator[bytes]:
    yield b"%x\r\n%s\r\n" % (len(first), first)
    for _ in range(most // len(chunk)):
        yield b"%x\r\n%s\r\n" % (len(chunk), chunk)


BIG_JSON = {"orderType": "extract-voice", "stuff": {"pathKey": "x", "pad": "a" * 70_000}}


def test_json_bodies_over_64_kib_get_413_in_each_dialects_envelope(
    client: TestClient, ctx: Context, user: User
) -> None:
    open_api = client.post(CREATE, json=BIG_JSON, headers=user.auth)
    assert open_api.status_code == 413
    assert open_api.json()["code"] == 413 and open_api.json()["data"] is None
    kie = client.post(GENERATE, json=BIG_JSON, headers=user.auth)
    assert kie.status_code == 413 and kie.json()["code"] == 413
    music = client.post(MUSIC, json={"text": "a" * 70_000}, headers={"key": user.key})
    assert music.status_code == 413
    assert music.json()["statusCode"] == 413 and music.json()["error"] == "Payload Too Large"
    assert _rows(ctx) == (0, 0)


def test_the_json_limit_is_configurable(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, max_body_bytes=2048)
    settings.data_dir.mkdir(parents=True)
    upgrade(settings.db_url)
    ctx = Context.build(settings)
    user = new_user(ctx)
    with TestClient(create_app(settings, ctx=ctx)) as client:
        body = {"orderType": "extract-voice", "stuff": {"pathKey": "p" * 3000}}
        assert client.post(CREATE, json=body, headers=user.auth).status_code == 413
    ctx.close()


@pytest.mark.parametrize(
    ("path", "body", "headers", "field"),
    [
        (CREATE, {"orderType": "extract-voice", "stuff": {"pathKey": "u" * 2049}}, {}, "pathKey"),
        (CREATE, {"orderType": "x" * 33}, {}, "orderType"),
        (
            CREATE,
            {"orderType": "extract-voice", "stuff": {"pathKey": "https://a.example/x"}},
            {"Idempotency-Key": "k" * 201},
            "Idempotency-Key",
        ),
        (
            GENERATE,
            {"audioUrl": "https://a.example/" + "x" * 2040, "callBackUrl": "https://c.example/"},
            {},
            "audioUrl",
        ),
        (
            GENERATE,
            {"audioUrl": "https://a.example/x", "callBackUrl": "https://c.example/" + "x" * 2040},
            {},
            "callBackUrl",
        ),
        (
            GENERATE,
            {"taskId": "t" * 65, "audioId": "a", "callBackUrl": "https://c.example/"},
            {},
            "taskId",
        ),
        ("/api/open/v1/short-video/analyze", {"link": "l" * 4097}, {}, "link"),
    ],
)
def test_every_string_field_has_a_maximum_length(
    client: TestClient,
    ctx: Context,
    user: User,
    path: str,
    body: dict[str, object],
    headers: dict[str, str],
    field: str,
) -> None:
    answer = client.post(path, json=body, headers={**user.auth, **headers})
    assert answer.status_code in (400, 422), answer.text
    assert field in answer.json()["msg"] and "at most" in answer.json()["msg"]
    assert _rows(ctx) == (0, 0)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/open/v1/order/query", {"orderNo": "o" * 65}),
        ("/api/v1/vocal-removal/record-info", {"taskId": "t" * 65}),
    ],
)
def test_query_parameters_have_a_maximum_length(
    client: TestClient, user: User, path: str, params: dict[str, str]
) -> None:
    answer = client.get(path, params=params, headers=user.auth)
    assert answer.status_code in (400, 422)
    assert "at most" in answer.json()["msg"]


def test_an_overlong_api_key_is_refused_without_a_lookup(client: TestClient) -> None:
    answer = client.get("/api/open/v1/order/query?orderNo=x&apiKey=" + "yz_" + "k" * 300)
    assert answer.json() == {"code": 401, "data": None, "msg": "Invalid API Key"}
