"""A JSON body whose strings are not Unicode text is a client error in every dialect, never a 500.

``"\\ud800"`` (a lone surrogate escape) parses, but cannot be encoded as UTF-8: before the check,
storing it as a pathKey or a callBackUrl, or echoing it in an error message, answered 500.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from yinzi.context import Context
from yinzi.services import billing

from helpers import User

LONE = b"\\ud800"
CREATE = "/api/open/v1/order/create"
GENERATE = "/api/v1/vocal-removal/generate"
MESSAGE = "the request body must be valid JSON text: a string in it is not Unicode"


def post(client: TestClient, user: User, path: str, body: bytes) -> Any:
    headers = {**user.auth, "key": user.key, "Content-Type": "application/json"}
    return client.post(path, content=body, headers=headers)


@pytest.mark.parametrize(
    ("path", "body", "status", "answer"),
    [
        (
            CREATE,
            b'{"orderType": "track-separation", "stuff": {"pathKey": "uploads/' + LONE + b'"}}',
            400,
            {"code": 400, "data": None, "msg": MESSAGE},
        ),
        (
            CREATE,
            b'{"orderType": "track-separation", "stuff": {"pathKey": "https://a.test/'
            + LONE
            + b'"}}',
            400,
            {"code": 400, "data": None, "msg": MESSAGE},
        ),
        (
            GENERATE,
            b'{"audioUrl": "http://127.0.0.1/a.mp3", "callBackUrl": "http://a.test/' + LONE + b'"}',
            422,
            {"code": 422, "msg": MESSAGE, "data": None},
        ),
        (
            GENERATE,
            b'{"taskId": "' + LONE + b'", "audioId": "0", "callBackUrl": "http://a.test/"}',
            422,
            {"code": 422, "msg": MESSAGE, "data": None},
        ),
        (
            "/api/open/v1/short-video/analyze",
            b'{"link": "http://127.0.0.1:9/' + LONE + b'"}',
            400,
            {"code": 400, "data": None, "msg": MESSAGE},
        ),
        (
            "/v1/textToMusic",
            b'{"text": "jazz", "config": {"length": 1, "' + LONE + b'": 1}}',
            400,
            {"statusCode": 400, "message": [MESSAGE], "error": "Bad Request"},
        ),
    ],
)
def test_a_lone_surrogate_is_refused_in_the_dialects_envelope(
    client: TestClient, ctx: Context, user: User, path: str, body: bytes, status: int, answer: Any
) -> None:
    response = post(client, user, path, body)
    assert (response.status_code, response.json()) == (status, answer)
    with ctx.db.read() as session:
        assert billing.balance(session, user.id).available == 1000  # nothing held or charged


def test_a_surrogate_sent_as_raw_bytes_is_refused_too(client: TestClient, user: User) -> None:
    body = '{"orderType": "track-separation", "stuff": {"pathKey": "x\ud800"}}'
    response = post(client, user, CREATE, body.encode("utf-8", "surrogatepass"))
    assert response.json() == {"code": 400, "data": None, "msg": MESSAGE}


def test_an_escaped_surrogate_pair_is_ordinary_text(client: TestClient, user: User) -> None:
    body = b'{"orderType": "\\ud83c\\udfb5", "stuff": {"pathKey": "x"}}'
    answer = post(client, user, CREATE, body).json()
    assert answer["msg"].startswith("Unsupported orderType '\N{MUSICAL NOTE}'")


def test_a_deeply_nested_body_is_not_a_server_error(client: TestClient, user: User) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    assert post(client, user, CREATE, deep).status_code == 400
    assert post(client, user, GENERATE, deep).status_code == 422
