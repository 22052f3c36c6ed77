"""``/healthz``: the database, broker and storage checks, the ready flag, caching, no secrets."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient

from yinzi import __version__, health
from yinzi.app import create_app
from yinzi.context import Context
from yinzi.settings import Settings

from helpers import make_settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class UnreachableBroker:
    """A dispatcher whose broker refuses connections, and whose error names the broker's URL
    with its password (as client libraries' errors sometimes do)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def dispatch(self, order_no: str) -> None:
        raise ConnectionError(f"cannot send {order_no} to {self.url}")

    def check(self) -> None:
        try:
            socket.create_connection(("127.0.0.1", _free_port()), timeout=1).close()
        except OSError as exc:
            raise ConnectionError(f"broker {self.url} unreachable: {exc}") from exc


def test_a_healthy_process_is_ready(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["ready"] is True and body["version"] == __version__
    assert set(body["checks"]) == {"database", "storage"}  # the embedded queue has no broker
    for check in body["checks"].values():
        assert check["ok"] is True and check["error"] is None and check["ms"] >= 0


def test_unwritable_storage_is_degraded_and_not_ready(
    client: TestClient, settings: Settings
) -> None:
    files = settings.data_dir / "files"
    shutil.rmtree(files)
    files.write_text("a file where the storage folder should be")
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["ready"]) == ("degraded", False)
    assert body["checks"]["database"]["ok"] is True
    storage = body["checks"]["storage"]
    assert storage["ok"] is False and "NotADirectoryError" in storage["error"]


def test_an_unreachable_database_and_broker_fail_without_leaking_secrets(
    tmp_path: Path,
) -> None:
    password, broker_password = "Tops3cretPw", "brokerPw99"
    settings = make_settings(
        tmp_path,
        database_url=f"postgresql+psycopg://yinzi:{password}@127.0.0.1:{_free_port()}/yinzi",
        signing_secret="link-signing-secret",
        metrics_token="metrics-bearer-token",
        health_timeout_seconds=5.0,
    )
    broker = UnreachableBroker(f"redis://:{broker_password}@127.0.0.1:6399/0")
    with TestClient(create_app(settings, dispatcher=broker)) as test_client:
        response = test_client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False
    assert body["checks"]["database"]["ok"] is False and body["checks"]["database"]["error"]
    broker_check = body["checks"]["broker"]
    assert broker_check["ok"] is False
    assert broker_check["error"].startswith("ConnectionError: broker redis://***@127.0.0.1:6399/0")
    assert body["checks"]["storage"]["ok"] is True
    for secret in (password, broker_password, "link-signing-secret", "metrics-bearer-token"):
        assert secret not in response.text


def test_errors_are_redacted_to_one_line() -> None:
    secrets = ["hunter22"]
    message = "could not reach postgresql://app:pw@db:5432/x\nusing key hunter22\ntraceback..."
    assert health.redact(message, secrets) == "could not reach postgresql://***@db:5432/x"
    assert health.redact("token hunter22 refused", secrets) == "token *** refused"


def test_secrets_are_found_in_urls_and_secret_named_settings(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        database_url="postgresql+psycopg://u:dbpass@db/yinzi",
        signing_secret="sign-me",
        metrics_token="scrape-me",
    )
    found = health.setting_secrets(settings)
    assert {"dbpass", "sign-me", "scrape-me"} <= set(found)


def test_a_hung_check_fails_after_the_timeout() -> None:
    release = threading.Event()
    checker = health.Health(lambda: {"slow": lambda: release.wait(10) and None}, timeout=0.2)
    started = time.monotonic()
    report = checker.report()
    release.set()
    assert time.monotonic() - started < 2
    assert report["checks"]["slow"]["ok"] is False
    assert "no answer within 0.2 s" in report["checks"]["slow"]["error"]


def test_the_report_is_cached_for_a_second(ctx: Context) -> None:
    runs: list[float] = []

    def probe() -> None:
        runs.append(time.monotonic())

    checker = health.Health(lambda: {"counted": probe}, timeout=1.0, cache_seconds=0.3)
    first = checker.report()
    assert [checker.report() for _ in range(20)] == [first] * 20
    assert len(runs) == 1
    time.sleep(0.35)
    checker.report()
    assert len(runs) == 2
    assert health.CACHE_SECONDS == 1.0


def test_local_storage_check_leaves_nothing_behind(ctx: Context) -> None:
    assert isinstance(ctx.storage, health.Checkable)
    ctx.storage.check()
    root = ctx.settings.data_dir / "files"
    assert list(root.iterdir()) == []


def test_callers_that_arrive_during_a_round_share_its_report() -> None:
    runs: list[float] = []

    def probe() -> None:
        runs.append(time.monotonic())
        time.sleep(0.3)

    checker = health.Health(lambda: {"slow": probe}, timeout=2.0, cache_seconds=0.0)
    start = threading.Barrier(6)
    reports: list[dict[str, object]] = []

    def ask() -> None:
        start.wait()
        reports.append(checker.report())

    callers = [threading.Thread(target=ask) for _ in range(6)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(5)
    assert len(reports) == 6 and all(report == reports[0] for report in reports)
    assert len(runs) == 1


def test_a_hung_check_is_waited_for_again_never_started_twice() -> None:
    release = threading.Event()
    starts: list[float] = []

    def hung() -> None:
        starts.append(time.monotonic())
        release.wait(10)

    checker = health.Health(lambda: {"hung": hung}, timeout=0.2, cache_seconds=0.0)
    for _ in range(3):
        asked = time.monotonic()
        report = checker.report()
        assert time.monotonic() - asked < 1
        assert report["checks"]["hung"]["error"] == "no answer within 0.2 s"
    assert len(starts) == 1
    release.set()
    assert checker.report()["checks"]["hung"]["ok"] is True
    assert len(starts) == 1  # the run that hung answered at last; its answer is the report
    assert checker.report()["ready"] is True
    assert len(starts) == 2


class SilentServer:
    """A TCP server that accepts connections and never answers (a hung backend)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.held.append(connection)

    def close(self) -> None:
        self.listener.close()
        for connection in self.held:
            connection.close()


def _health_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("health-") and t.is_alive()]


def test_healthz_answers_in_time_when_the_broker_never_answers(tmp_path: Path) -> None:
    broker = SilentServer()
    settings = make_settings(
        tmp_path,
        queue="celery",
        celery={"broker_url": f"redis://127.0.0.1:{broker.port}/0"},
        health_timeout_seconds=1.0,
    )
    answers: list[tuple[int, float, dict[str, object]]] = []
    try:
        with TestClient(create_app(settings)) as client:

            def ask() -> None:
                asked = time.monotonic()
                response = client.get("/healthz")
                answers.append((response.status_code, time.monotonic() - asked, response.json()))

            callers = [threading.Thread(target=ask) for _ in range(4)]
            for caller in callers:
                caller.start()
            for caller in callers:
                caller.join(10)
        assert [status for status, _, _ in answers] == [503] * 4
        assert max(seconds for _, seconds, _ in answers) < 1.8
        assert all(body == answers[0][2] for _, _, body in answers)
        assert answers[0][2]["checks"]["broker"]["ok"] is False  # type: ignore[index]
        assert len(broker.held) == 1  # one probe for the four requests, one connection attempt
        deadline = time.monotonic() + 3
        while _health_threads() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _health_threads()  # the probe gave up by itself: no thread left hanging
    finally:
        broker.close()
