"""Open API order calls beyond the seed: progress on ``order/query``, ``order/list``,
``order/cancel`` and ``order/delete-results``, with a real worker on real audio."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from yinzi import runner
from yinzi.context import Context
from yinzi.db.models import Order
from yinzi.media import testing
from yinzi.queue.embedded import Worker
from yinzi.services import billing
from yinzi.services.orders import CANCELLED
from yinzi.settings import Settings
from yinzi.tasks import music

from conftest import FileServer
from helpers import Receiver, User, drain, make_settings, new_user

V1 = "/api/open/v1"
KIE_GENERATE = "/api/v1/vocal-removal/generate"
KIE_RECORD = "/api/v1/vocal-removal/record-info"
STAGES = ["queued", "fetching", "decoding", "separating", "encoding", "storing", "done"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, separation_engine="separation.spectral")


@pytest.fixture
def fast_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    """Progress written every 0.1 s, so a few seconds of work show many steps."""
    monkeypatch.setattr(runner, "PROGRESS_INTERVAL", 0.1)


@pytest.fixture
def running(worker: Worker) -> Iterator[Callable[[], None]]:
    """Starts ``worker`` in a thread, running orders until the test ends."""
    stop = threading.Event()
    thread = threading.Thread(target=lambda: _loop(worker, stop), daemon=True)
    yield thread.start
    stop.set()
    thread.join(60)


def _loop(worker: Worker, stop: threading.Event) -> None:
    while not stop.is_set():
        if not worker.run_once():
            stop.wait(0.05)


def _create(client: TestClient, user: User, url: str, order_type: str = "track-separation") -> str:
    body = {"orderType": order_type, "stuff": {"pathKey": url}}
    answer = client.post(f"{V1}/order/create", json=body, headers=user.auth).json()
    assert answer["code"] == 0, answer
    order_no: str = answer["data"]["orderNo"]
    return order_no


def _query(client: TestClient, user: User, order_no: str) -> dict[str, Any]:
    answer = client.get(f"{V1}/order/query?orderNo={order_no}", headers=user.auth).json()
    assert answer["code"] == 0, answer
    data: dict[str, Any] = answer["data"]
    return data


def _post(client: TestClient, user: User | None, call: str, body: Any) -> Any:
    return client.post(f"{V1}/order/{call}", json=body, headers=user.auth if user else {})


def _error(response: Any, status: int) -> str:
    """The Open API error envelope's message, checking its status and shape."""
    body = response.json()
    assert response.status_code == status, body
    assert set(body) == {"code", "data", "msg"} and body["code"] == status and body["data"] is None
    message: str = body["msg"]
    return message


def _long_song(file_server: FileServer, seconds: float) -> str:
    testing.tone(file_server.root / "long.wav", seconds=seconds)
    return file_server.url("long.wav")


def _wait_for(
    client: TestClient, user: User, order_no: str, done: Callable[[dict[str, Any]], bool]
) -> tuple[dict[str, Any], list[tuple[int, str]]]:
    """Poll the order until ``done`` says so (60 s at most); returns it and what was seen."""
    seen: list[tuple[int, str]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        data = _query(client, user, order_no)
        if not seen or seen[-1] != (data["progress"], data["stage"]):
            seen.append((data["progress"], data["stage"]))
        if done(data):
            return data, seen
        time.sleep(0.03)
    raise AssertionError(f"order {order_no} never got there: {seen}")


# -- progress ----------------------------------------------------------------------------------


def test_pending_orders_show_their_place_in_the_queue(
    client: TestClient, user: User, ctx: Context
) -> None:
    other = new_user(ctx)
    first = _create(client, user, "https://example.com/a.mp3")
    second = _create(client, other, "https://example.com/b.mp3")
    third = _create(client, user, "https://example.com/c.mp3")
    assert [_query(client, user, n)["queuePosition"] for n in (first, third)] == [1, 3]
    assert _query(client, other, second) | {"balance": 0} == {
        "orderNo": second,
        "orderType": "track-separation",
        "status": "pending",
        "cost": 0,
        "reason": None,
        "stuffs": [],
        "progress": 0,
        "stage": "queued",
        "queuePosition": 2,
        "balance": 0,
    }
    _post(client, user, "cancel", {"orderNo": first})
    assert _query(client, user, third)["queuePosition"] == 2
    assert _query(client, user, first)["queuePosition"] is None


def test_progress_grows_through_the_stages_of_a_real_separation(
    client: TestClient,
    user: User,
    file_server: FileServer,
    fast_progress: None,
    running: Callable[[], None],
) -> None:
    order_no = _create(client, user, _long_song(file_server, 40.0))
    running()
    data, seen = _wait_for(client, user, order_no, lambda d: d["status"] == "finish")
    assert (data["progress"], data["stage"], data["queuePosition"]) == (100, "done", None)
    progress = [p for p, _ in seen]
    assert progress == sorted(progress), seen
    assert all(0 <= p <= 100 for p in progress)
    stages = [stage for _, stage in seen]
    assert stages == sorted(stages, key=STAGES.index), seen  # in order, none repeated out of it
    middle = [p for p, stage in seen if stage == "separating"]
    assert len(middle) >= 3 and 10 <= middle[0] < middle[-1] <= 90, seen


# -- list --------------------------------------------------------------------------------------


def test_the_list_shows_the_callers_orders_newest_first_in_pages(
    client: TestClient, user: User, ctx: Context, worker: Worker, song: str
) -> None:
    finished = _create(client, user, song)
    drain(worker)
    made = [finished] + [_create(client, user, f"https://example.com/{i}.mp3") for i in range(4)]
    _create(client, new_user(ctx), "https://example.com/theirs.mp3")
    answer = client.get(f"{V1}/order/list?perPage=2", headers=user.auth).json()
    assert (answer["code"], answer["msg"]) == (0, "success")
    page = answer["data"]
    assert set(page) == {"items", "page", "perPage", "total", "nextPage"}
    assert (page["page"], page["perPage"], page["total"], page["nextPage"]) == (1, 2, 5, 2)
    assert [item["orderNo"] for item in page["items"]] == made[::-1][:2]
    last = client.get(f"{V1}/order/list?perPage=2&page=3", headers=user.auth).json()["data"]
    assert [item["orderNo"] for item in last["items"]] == [finished]
    assert last["nextPage"] is None
    item = last["items"][0]
    query = _query(client, user, finished)
    assert item == {
        **{k: v for k, v in query.items() if k not in ("balance", "stuffs")},
        "stuffs": [{"name": s["name"], "business": s["business"]} for s in query["stuffs"]],
    }
    assert {s["business"] for s in item["stuffs"]} == {"vocals", "accompaniment"}
    pending = client.get(f"{V1}/order/list?status=pending", headers=user.auth).json()["data"]
    assert pending["total"] == 4 and {i["status"] for i in pending["items"]} == {"pending"}
    typed = client.get(f"{V1}/order/list?orderType=extract-text", headers=user.auth).json()
    assert typed["data"] == {"items": [], "page": 1, "perPage": 20, "total": 0, "nextPage": None}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=done", "status must be one of pending, processing, finish, failed, timeout"),
        ("orderType=karaoke", "orderType must be one of track-separation"),
        ("perPage=0", "perPage must be an integer from 1 to 100"),
        ("perPage=101", "perPage must be an integer from 1 to 100"),
        ("page=0", "page must be an integer from 1"),
        ("page=two", "page must be an integer from 1"),
    ],
)
def test_the_list_refuses_bad_filters_naming_them(
    client: TestClient, user: User, query: str, message: str
) -> None:
    assert message in _error(client.get(f"{V1}/order/list?{query}", headers=user.auth), 400)


def test_every_new_call_needs_the_api_key(client: TestClient) -> None:
    assert _error(client.get(f"{V1}/order/list"), 401) == "API Key is required"
    for call in ("cancel", "delete-results"):
        assert _error(_post(client, None, call, {"orderNo": "x"}), 401) == "API Key is required"
    wrong = {"Authorization": "Bearer nope"}
    assert _error(client.get(f"{V1}/order/list", headers=wrong), 401) == "Invalid API Key"


@pytest.mark.parametrize("call", ["cancel", "delete-results"])
def test_an_order_call_needs_an_order_of_the_callers_own(
    client: TestClient, user: User, ctx: Context, call: str
) -> None:
    theirs = _create(client, new_user(ctx), "https://example.com/a.mp3")
    unknown = client.get(f"{V1}/order/query?orderNo={theirs}", headers=user.auth)
    assert _error(_post(client, user, call, {"orderNo": theirs}), 400) == _error(unknown, 400)
    assert _error(_post(client, user, call, {}), 400) == "orderNo is required"
    assert _error(_post(client, user, call, {"orderNo": "  "}), 400) == "orderNo is required"


# -- cancel ------------------------------------------------------------------------------------


def test_cancelling_a_pending_order_ends_it_at_once_and_releases_its_credits(
    client: TestClient, user: User, ctx: Context, worker: Worker, song: str
) -> None:
    order_no = _create(client, user, song)
    answer = _post(client, user, "cancel", {"orderNo": order_no}).json()
    assert (answer["code"], answer["msg"]) == (0, "success")
    assert answer["data"] == _query(client, user, order_no)
    assert answer["data"]["status"] == "failed" and answer["data"]["reason"] == CANCELLED
    assert (answer["data"]["stage"], answer["data"]["balance"]) == ("done", 1000)
    assert drain(worker) == 0  # no worker runs it afterwards
    with ctx.db.read() as session:
        assert billing.returned(session, order_no) == 10
        assert billing.ledger_totals(session, user.id) == billing.BalanceView(1000, 0)
    again = _error(_post(client, user, "cancel", {"orderNo": order_no}), 400)
    assert again == f"order {order_no} has already ended (failed)"


def test_cancelling_a_finished_order_is_refused(
    client: TestClient, user: User, worker: Worker, song: str
) -> None:
    order_no = _create(client, user, song)
    drain(worker)
    message = _error(_post(client, user, "cancel", {"orderNo": order_no}), 400)
    assert message == f"order {order_no} has already ended (finish)"
    assert _query(client, user, order_no)["status"] == "finish"


def test_cancelling_a_processing_order_stops_its_worker_within_seconds(
    client: TestClient,
    user: User,
    ctx: Context,
    settings: Settings,
    file_server: FileServer,
    running: Callable[[], None],
) -> None:
    order_no = _create(client, user, _long_song(file_server, 150.0))
    running()
    _wait_for(client, user, order_no, lambda d: d["stage"] == "separating" and d["progress"] > 12)
    answer = _post(client, user, "cancel", {"orderNo": order_no}).json()
    assert answer["code"] == 0 and answer["data"]["status"] == "processing"
    asked = time.monotonic()
    data, _ = _wait_for(client, user, order_no, lambda d: d["status"] != "processing")
    assert time.monotonic() - asked < 5
    assert (data["status"], data["reason"], data["stuffs"]) == ("failed", CANCELLED, [])
    assert data["progress"] < 90 and data["stage"] == "done"
    assert data["balance"] == 1000
    with ctx.db.read() as session:
        assert billing.ledger_totals(session, user.id) == billing.BalanceView(1000, 0)
    time.sleep(0.3)  # the worker cleans up as it returns
    assert not (settings.data_dir / "tmp" / order_no).exists()
    assert ctx.storage.delete_prefix(f"results/{order_no}/") == 0


# -- delete results ----------------------------------------------------------------------------


def test_deleting_results_removes_the_files_and_keeps_the_order(
    client: TestClient, user: User, ctx: Context, worker: Worker, song: str
) -> None:
    order_no = _create(client, user, song)
    drain(worker)
    before = _query(client, user, order_no)
    links = [s["url"].removeprefix("http://testserver") for s in before["stuffs"]]
    assert len(links) == 2 and all(client.get(link).status_code == 200 for link in links)
    answer = _post(client, user, "delete-results", {"orderNo": order_no}).json()
    assert (answer["code"], answer["msg"]) == (0, "success")
    data = answer["data"]
    assert data == _query(client, user, order_no)
    assert (data["status"], data["cost"], data["stuffs"]) == ("finish", before["cost"], [])
    assert data["reason"] == "results were deleted by the owner"
    assert all(client.get(link).status_code == 404 for link in links)
    assert ctx.storage.delete_prefix(f"results/{order_no}/") == 0
    listed = client.get(f"{V1}/order/list", headers=user.auth).json()["data"]["items"]
    assert [(i["orderNo"], i["stuffs"]) for i in listed] == [(order_no, [])]
    again = _post(client, user, "delete-results", {"orderNo": order_no}).json()
    assert again["data"]["reason"] == "results were deleted by the owner"


def test_deleting_the_results_of_a_failed_order_keeps_its_reason(
    client: TestClient, user: User
) -> None:
    order_no = _create(client, user, "https://example.com/a.mp3")
    _post(client, user, "cancel", {"orderNo": order_no})
    data = _post(client, user, "delete-results", {"orderNo": order_no}).json()["data"]
    assert data["reason"] == f"{CANCELLED} (results were deleted by the owner)"


def test_results_of_an_order_still_running_cannot_be_deleted(
    client: TestClient, user: User
) -> None:
    order_no = _create(client, user, "https://example.com/a.mp3")
    message = _error(_post(client, user, "delete-results", {"orderNo": order_no}), 400)
    assert message == f"order {order_no} has not ended yet (pending)"


def test_music_reports_its_progress_in_bars_made(settings: Settings, tmp_path: Path) -> None:
    """The runner divides text-to-music reports by the bars asked for."""
    options = {"text": "calm piano", "length": 4, "seed": 1}
    order = Order(order_no="x", order_type="text-to-music", options=options)
    reports: list[float] = []
    music.run(settings, order, None, tmp_path, reports.append)
    assert len(reports) == 4 and reports == sorted(reports)
    assert reports[-1] == pytest.approx(4.0)


def test_the_other_dialects_show_a_cancelled_task_as_failed(
    client: TestClient, user: User, worker: Worker, song: str, receiver: Receiver
) -> None:
    body = {"audioUrl": song, "callBackUrl": receiver.url, "type": "separate_vocal"}
    task_id = client.post(KIE_GENERATE, json=body, headers=user.auth).json()["data"]["taskId"]
    music = {"text": "calm piano", "config": {"length": 2}}
    uid = client.post("/v1/textToMusic", json=music, headers={"key": user.key}).json()["uid"]
    _post(client, user, "cancel", {"orderNo": task_id})
    music_order = client.get(f"{V1}/order/list?orderType=text-to-music", headers=user.auth)
    _post(client, user, "cancel", {"orderNo": music_order.json()["data"]["items"][0]["orderNo"]})
    assert drain(worker) == 0
    record = client.get(f"{KIE_RECORD}?taskId={task_id}", headers=user.auth).json()["data"]
    assert (record["successFlag"], record["errorMessage"]) == ("GENERATE_AUDIO_FAILED", CANCELLED)
    assert record["stage"] == "done"
    [callback] = receiver.payloads()
    assert callback["data"]["task_id"] == task_id
    assert callback["msg"] == f"vocal Removal generation failed: {CANCELLED}"
    task = client.get(f"/v1/textToMusic/{uid}", headers={"key": user.key}).json()
    assert (task["status"], task["reason"], task["stage"]) == ("error", CANCELLED, "done")
