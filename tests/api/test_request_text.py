"""Request text the database cannot hold is a client error in every dialect, never a 500.

PostgreSQL refuses NUL in text, and a lone surrogate escape (``"\\ud800"``) parses as JSON but
cannot be encoded as UTF-8. Before the check, looking up ``?orderNo=%00`` on PostgreSQL, or storing
such a pathKey, callBackUrl or taskId on either backend, answered 500. Every test runs on SQLite
and, when a server answers, on PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from yinzi.context import Context
from yinzi.db.models import Upload
from yinzi.media import testing
from yinzi.services import billing
from yinzi.settings import Settings

from helpers import User, make_settings

CREATE = "/api/open/v1/order/create"
GENERATE = "/api/v1/vocal-removal/generate"
MESSAGE = "text in the request must not contain NUL characters or lone surrogates"
# each dialect's answer: (HTTP status, body)
OPEN_API = (400, {"code": 400, "data": None, "msg": MESSAGE})
VOCAL_REMOVAL = (422, {"code": 422, "msg": MESSAGE, "data": None})
TEXT_TO_MUSIC = (400, {"statusCode": 400, "message": [MESSAGE], "error": "Bad Request"})


@pytest.fixture
def settings(tmp_path: Path, backend_url: str) -> Settings:
    return make_settings(tmp_path, database_url=backend_url)


def post(client: TestClient, user: User, path: str, body: bytes) -> Any:
    headers = {**user.auth, "key": user.key, "Content-Type": "application/json"}
    return client.post(path, content=body, headers=headers)


def pathkey(value: bytes) -> bytes:
    return b'{"orderType": "track-separation", "stuff": {"pathKey": "' + value + b'"}}'


@pytest.mark.parametrize("bad", [b"\\u0000", b"\\ud800"], ids=["nul", "lone-surrogate"])
@pytest.mark.parametrize(
    ("path", "body", "answer"),
    [
        (CREATE, pathkey(b"uploads/BAD"), OPEN_API),
        (CREATE, pathkey(b"https://a.test/BAD.mp3"), OPEN_API),
        (
            GENERATE,
            b'{"audioUrl": "http://127.0.0.1/a", "callBackUrl": "http://a.test/BAD"}',
            VOCAL_REMOVAL,
        ),
        (
            GENERATE,
            b'{"taskId": "BAD", "audioId": "0", "callBackUrl": "http://a.test/"}',
            VOCAL_REMOVAL,
        ),
        ("/api/open/v1/short-video/analyze", b'{"link": "http://127.0.0.1:9/BAD"}', OPEN_API),
        ("/v1/textToMusic", b'{"text": "jazz", "config": {"length": 1, "BAD": 1}}', TEXT_TO_MUSIC),
    ],
    ids=["upload-key", "url", "callback", "task-id", "link", "object-key"],
)
def test_bad_text_in_a_json_body_is_refused_in_the_dialects_envelope(
    client: TestClient, ctx: Context, user: User, path: str, body: bytes, bad: bytes, answer: Any
) -> None:
    response = post(client, user, path, body.replace(b"BAD", bad))
    assert (response.status_code, response.json()) == answer
    with ctx.db.read() as session:
        assert billing.balance(session, user.id).available == 1000  # nothing held or charged


@pytest.mark.parametrize(
    ("url", "answer"),
    [
        ("/api/open/v1/order/query?orderNo=a%00b", OPEN_API),
        ("/api/v1/vocal-removal/record-info?taskId=%00", VOCAL_REMOVAL),
        ("/v1/textToMusic/a%00", TEXT_TO_MUSIC),
    ],
)
def test_a_nul_in_a_parameter_is_refused_in_the_dialects_envelope(
    client: TestClient, user: User, url: str, answer: Any
) -> None:
    response = client.get(url, headers={**user.auth, "key": user.key})
    assert (response.status_code, response.json()) == answer


def test_a_surrogate_sent_as_raw_bytes_is_refused_too(client: TestClient, user: User) -> None:
    body = pathkey("x\ud800".encode("utf-8", "surrogatepass"))
    assert post(client, user, CREATE, body).json() == OPEN_API[1]


def test_an_escaped_surrogate_pair_is_ordinary_text(client: TestClient, user: User) -> None:
    body = b'{"orderType": "\\ud83c\\udfb5", "stuff": {"pathKey": "x"}}'
    answer = post(client, user, CREATE, body).json()
    assert answer["msg"].startswith("Unsupported orderType '\N{MUSICAL NOTE}'")


def test_a_deeply_nested_body_is_not_a_server_error(client: TestClient, user: User) -> None:
    deep = b"[" * 30_000 + b"]" * 30_000  # far past the parser's recursion, under 64 KiB
    assert post(client, user, CREATE, deep).status_code == 400
    assert post(client, user, GENERATE, deep).status_code == 422


def test_an_upload_with_an_overlong_content_type_is_kept_without_it(
    client: TestClient, ctx: Context, user: User, tmp_path: Path
) -> None:
    """The part's Content-Type comes from the client: a long one was a 500 on PostgreSQL."""
    odd = "audio/" + "x" * 300
    song = testing.tone(tmp_path / "a.mp3", seconds=0.5).read_bytes()
    for content_type, kept in [(odd, None), ("Audio/MPEG; rate=44100", "audio/mpeg")]:
        files = {"file": ("a.mp3", song, content_type)}
        answer = client.post("/api/open/v1/file/upload", files=files, headers=user.auth).json()
        assert answer["code"] == 0, answer
        with ctx.db.read() as session:
            assert session.get(Upload, answer["data"]["pathKey"]).content_type == kept
