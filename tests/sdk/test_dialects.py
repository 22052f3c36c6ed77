"""The Kie-compatible and Yating-compatible dialects through the SDK, against a real server."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sdk.conftest import Server

from yinzi.sdk import Client

from helpers import Receiver


@pytest.fixture
def client(server: Server) -> Iterator[Client]:
    with Client(server.url, server.user.key) as yinzi:
        yield yinzi


def until(fetch: Callable[[], Any], ready: Callable[[Any], bool], seconds: float = 60.0) -> Any:
    """Call ``fetch`` until ``ready`` says yes to what it answers; returns that answer."""
    deadline = time.monotonic() + seconds
    while not ready(answer := fetch()):
        assert time.monotonic() < deadline, f"timed out at {answer}"
        time.sleep(0.1)
    return answer


def test_a_vocal_removal_task_runs_and_reports_its_stems(
    client: Client, song: str, receiver: Receiver
) -> None:
    task_id = client.vocal_removal.generate(audio_url=song, callback_url=receiver.url)
    record = until(
        lambda: client.vocal_removal.record_info(task_id), lambda r: r["successFlag"] != "PENDING"
    )
    assert record["taskId"] == task_id and record["successFlag"] == "SUCCESS"
    assert (record["progress"], record["stage"]) == (100, "done")
    assert record["response"]["vocalUrl"] and record["response"]["instrumentalUrl"]
    assert client.vocal_removal.credit() == client.balance() < 1000


def test_a_music_task_is_created_listed_and_separated(client: Client, receiver: Receiver) -> None:
    task = client.text_to_music.create("calm piano", 2)
    assert task["status"] == "pending"
    done = until(
        lambda: client.text_to_music.get(task["uid"]),
        lambda t: t["status"] in ("completed", "error"),
    )
    assert done["status"] == "completed"
    assert done["audioUrl"] and done["config"] == {"length": 2}
    assert (done["progress"], done["stage"]) == (100, "done")
    listed = client.text_to_music.list(per_page=5, status="completed")
    assert listed["total"] == 1 and listed["data"][0]["uid"] == task["uid"]
    task_id = listed["data"][0]["taskId"]
    stems = client.vocal_removal.generate(
        task_id=task_id, audio_id=task["uid"], callback_url=receiver.url
    )
    record = until(
        lambda: client.vocal_removal.record_info(stems), lambda r: r["successFlag"] != "PENDING"
    )
    assert record["successFlag"] == "SUCCESS" and record["musicId"] == task["uid"]
