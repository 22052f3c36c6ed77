"""Odd requests get clear 4xx answers in the dialect's envelope, never a 500, and a 500 that
does happen leaves the connection usable."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from yinzi.app import create_app
from yinzi.context import Context
from yinzi.media import testing

from helpers import User, serving

MUSIC = "/v1/textToMusic"


def test_a_non_ascii_link_signature_is_an_invalid_link(client: TestClient) -> None:
    answer = client.get("/files/x?expires=1&signature=%C3%A9")
    assert answer.status_code == 403
    assert answer.json()["code"] == 403 and "invalid" in answer.json()["msg"]


@pytest.mark.parametrize("expires", ["%C2%B2", "%EF%BC%91", "%D9%A1", "99999999999999999999999"])
def test_odd_expiry_numbers_are_an_invalid_link(client: TestClient, expires: str) -> None:
    answer = client.get(f"/files/x?expires={expires}&signature=abc")
    assert answer.status_code == 403


@pytest.mark.parametrize(
    "query",
    [
        "page=%C2%B2",
        "perPage=%C2%B3",
        "page=9999999999999999999",
        "perPage=9999999999999999999",
        "page=%EF%BC%91",  # fullwidth 1
        "page=%D9%A1",  # Arabic-Indic 1
        "page=-1",
        "page=1.5",
    ],
)
def test_paging_takes_only_plain_numbers(client: TestClient, user: User, query: str) -> None:
    answer = client.get(f"{MUSIC}?{query}", headers={"key": user.key})
    assert answer.status_code == 400, answer.text
    assert answer.json()["statusCode"] == 400 and answer.json()["error"] == "Bad Request"


@pytest.mark.parametrize("method", ["DELETE", "PUT", "PATCH", "TRACE"])
def test_unsupported_methods_answer_405_in_each_envelope(
    client: TestClient, user: User, method: str
) -> None:
    music = client.request(method, MUSIC, headers={"key": user.key})
    assert music.status_code == 405
    assert music.json() == {
        "statusCode": 405,
        "message": "Method Not Allowed",
        "error": "Method Not Allowed",
    }
    assert "POST" in music.headers["allow"]
    open_api = client.request(method, "/api/open/v1/order/create", headers=user.auth)
    assert open_api.status_code == 405
    assert open_api.json() == {"code": 405, "data": None, "msg": "Method Not Allowed"}
    kie = client.request(method, "/api/v1/vocal-removal/generate", headers=user.auth)
    assert kie.status_code == 405 and kie.json()["code"] == 405


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/open/v1/nothing", {"code": 404, "data": None, "msg": "Not Found"}),
        ("/nothing", {"code": 404, "data": None, "msg": "Not Found"}),
        ("/api/v1/vocal-removal/nothing", {"code": 404, "msg": "Not Found", "data": None}),
        (f"{MUSIC}/a/b", {"statusCode": 404, "message": "Not Found", "error": "Not Found"}),
    ],
)
def test_unknown_routes_answer_404_in_each_envelope(
    client: TestClient, path: str, body: dict[str, object]
) -> None:
    answer = client.get(path)
    assert answer.status_code == 404
    assert answer.json() == body


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/api/open/v1/order/create", {}),
        ("/api/v1/vocal-removal/generate", {}),
        (MUSIC, {}),
    ],
)
def test_a_malformed_body_without_a_key_is_401(
    client: TestClient, path: str, headers: dict[str, str]
) -> None:
    answer = client.post(path, content=b"{not json", headers={"Content-Type": "application/json"})
    assert answer.status_code == 401, answer.text


def test_a_bad_body_with_a_wrong_kie_key_is_401(client: TestClient) -> None:
    answer = client.post(
        "/api/v1/vocal-removal/generate",
        json={"type": 5},
        headers={"Authorization": "Bearer yz_wrong-key-0123456789abcdef"},
    )
    assert answer.status_code == 401


def test_long_file_names_are_cut_by_bytes_keeping_the_extension(
    client: TestClient, user: User, tmp_path: Path
) -> None:
    path = testing.tone(tmp_path / "a.wav", seconds=0.2)
    name = "歌" * 87 + ".wav"
    with path.open("rb") as f:
        answer = client.post(
            "/api/open/v1/file/upload", files={"file": (name, f)}, headers=user.auth
        )
    assert answer.json()["code"] == 0, answer.text
    stored = answer.json()["data"]["pathKey"].rsplit("/", 1)[1]
    assert stored.endswith(".wav") and stored.startswith("歌")
    assert len(stored.encode()) <= 120
    stored.encode().decode("utf-8")  # never cut inside a character


def test_a_500_answers_in_the_envelope_and_keeps_the_connection(ctx: Context) -> None:
    app = create_app(ctx.settings, ctx=ctx)

    @app.get("/api/open/v1/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    request = b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n"
    with serving(app) as port, socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request % b"/api/open/v1/boom")
        first = _read_response(sock)
        sock.sendall(request % b"/healthz")
        second = _read_response(sock)
    assert first.startswith(b"HTTP/1.1 500") and b'"code":500' in first
    assert b"a bug" not in first and b"connection: close" not in first.lower()
    assert second.startswith(b"HTTP/1.1 200")


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += sock.recv(4096)
    return head + b"\r\n\r\n" + body


def test_range_errors_on_files_are_json(client: TestClient, ctx: Context, tmp_path: Path) -> None:
    source = tmp_path / "f.bin"
    source.write_bytes(b"0123456789")
    ctx.storage.put_file("results/o/r/f.bin", source)
    url = ctx.storage.url("results/o/r/f.bin", ttl_seconds=60).removeprefix("http://testserver")
    malformed = client.get(url, headers={"Range": "pages=1-2"})
    assert malformed.status_code == 400
    assert malformed.json()["code"] == 400
    beyond = client.get(url, headers={"Range": "bytes=50-60"})
    assert beyond.status_code == 416
    assert beyond.json()["code"] == 416
    assert beyond.headers["content-range"] == "bytes */10"
    assert client.get(url, headers={"Range": "bytes=2-4"}).content == b"234"


@pytest.mark.parametrize("text", ["jazz\n", "jazz\r\n", "\njazz"])
def test_a_prompt_with_a_newline_is_refused(client: TestClient, user: User, text: str) -> None:
    answer = client.post(
        MUSIC, json={"text": text, "config": {"length": 2}}, headers={"key": user.key}
    )
    assert answer.status_code == 400
    assert answer.json()["message"] == ["text must contain only English letters and spaces"]


@pytest.mark.parametrize(
    "callback", ["http://", "https://", "http://exa mple.com/cb", "http://host:port/cb", "ftp://x/"]
)
def test_malformed_callback_urls_are_refused_at_create(
    client: TestClient, user: User, callback: str
) -> None:
    body = {"audioUrl": "https://a.example/song.mp3", "callBackUrl": callback}
    answer = client.post("/api/v1/vocal-removal/generate", json=body, headers=user.auth)
    assert answer.status_code == 422
    assert "callBackUrl" in answer.json()["msg"]


def test_open_api_music_errors_name_the_open_api_field(client: TestClient, user: User) -> None:
    body = {"orderType": "text-to-music", "stuff": {"text": "calm piano", "length": 20}}
    answer = client.post("/api/open/v1/order/create", json=body, headers=user.auth).json()
    assert answer["code"] == 400
    assert "stuff.length" in answer["msg"] and "config.length" not in answer["msg"]


def test_a_stored_page_is_downloaded_never_rendered(
    client: TestClient, ctx: Context, tmp_path: Path
) -> None:
    page = tmp_path / "x.html"
    page.write_text("<script>alert(1)</script>")
    ctx.storage.put_file("uploads/t/x.html", page)
    url = ctx.storage.url("uploads/t/x.html", ttl_seconds=60).removeprefix("http://testserver")
    answer = client.get(url)
    assert answer.headers["content-disposition"].startswith("attachment")
    assert answer.headers["x-content-type-options"] == "nosniff"
