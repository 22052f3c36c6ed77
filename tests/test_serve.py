"""``yinzi serve`` as a real process: first-start output, clean logs, HTTP timeouts and limits,
its worker processes and its API processes."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

YINZI = [sys.executable, "-c", "from yinzi.cli import main; main()"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_first_start_prints_an_admin_key_and_logs_never_show_it(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "YINZI_DATA_DIR": str(tmp_path / "data"), "YINZI_WORKERS": "1"}
    cmd = [*YINZI, "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        query = f"{base}/api/open/v1/order/query?orderNo=none&apiKey="
        assert httpx.get(query + "yz_wrong-key-attempt-0123456789").json()["msg"] == (
            "Invalid API Key"
        )
    finally:
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    match = re.search(r"(yz_[A-Za-z0-9_-]{30,})", stdout)
    assert match, stdout
    key = match.group(1)
    assert "curl" in stdout and f"Bearer {key}" in stdout
    assert "Admin account: admin@localhost" in stdout
    assert f"{base}/docs" in stdout and f"{base}/healthz" in stdout
    assert f"User Center (web console): {base}/console/" in stdout
    first_link = re.search(rf"{base}/console/set-password/(\S+)", stdout)
    assert first_link, stdout
    command = re.search(r"Admin commands: (\S+) accounts list", stdout)
    assert command and Path(command.group(1)).is_absolute(), stdout
    assert Path(command.group(1)).is_file() and Path(command.group(1)).name == "yinzi"
    # use the key now that we know it, against a second start: no new admin is printed
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(200):
            try:
                response = httpx.get(query + key)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert response.json() == {"code": 400, "data": None, "msg": "Order not found"}
    finally:
        proc.send_signal(signal.SIGINT)
        stdout2, stderr2 = proc.communicate(timeout=30)
    assert "Admin API key" not in stdout2
    assert f"User Center (web console): {base}/console/" in stderr2
    second_link = re.search(rf"{base}/console/set-password/(\S+)", stdout2)
    assert second_link and second_link.group(1) != first_link.group(1)  # the admin has none yet
    assert "order/query" in stdout2 + stderr2  # the access log line is there...
    assert "apiKey=[redacted]" in stdout2 + stderr2
    assert key not in stderr2 and key not in stdout2  # ...without the key
    assert "yz_wrong-key-attempt" not in stderr + stderr2


def _environment(tmp_path: Path, **env: str) -> dict[str, str]:
    settings = {"DATA_DIR": str(tmp_path / "data"), "WORKERS": "0", **env}
    return {**os.environ, **{f"YINZI_{k}": v for k, v in settings.items()}}


@contextmanager
def _serving(tmp_path: Path, *args: str, **env: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A real ``yinzi serve`` with extra arguments and ``YINZI_`` settings; yields it and its
    base URL."""
    port = _free_port()
    full_env = _environment(tmp_path, **env)
    cmd = [*YINZI, "serve", "--port", str(port), *args]
    proc = subprocess.Popen(
        cmd, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)


def _closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed ``sock`` (waits up to 0.2 s for it)."""
    sock.settimeout(0.2)
    try:
        return sock.recv(1024) == b""
    except TimeoutError:
        return False
    except ConnectionError:
        return True


def test_a_slow_header_client_is_dropped_within_the_header_timeout_while_others_are_served(
    tmp_path: Path,
) -> None:
    with _serving(tmp_path, HTTP_HEADER_TIMEOUT_SECONDS="1") as (_, base):
        port = int(base.rsplit(":", 1)[1])
        idle = socket.create_connection(("127.0.0.1", port))
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: yinzi\r\n")
        started = time.monotonic()
        dropped: dict[str, float] = {}
        while len(dropped) < 2 and time.monotonic() - started < 6:
            for name, sock in (("idle", idle), ("slow", slow)):
                if name not in dropped and _closed_by_server(sock):
                    dropped[name] = time.monotonic() - started
            if "slow" not in dropped:
                try:
                    slow.sendall(b"X-Slow: a\r\n")  # a header line every 0.2 s, never the end
                except ConnectionError:
                    dropped["slow"] = time.monotonic() - started
            assert httpx.get(f"{base}/healthz").status_code == 200  # others are served meanwhile
        idle.close()
        slow.close()
    assert set(dropped) == {"idle", "slow"}, dropped
    assert max(dropped.values()) < 3.0, dropped


def test_connections_over_the_limit_are_refused_until_idle_ones_time_out(tmp_path: Path) -> None:
    settings = {"HTTP_LIMIT_CONCURRENCY": "4", "HTTP_HEADER_TIMEOUT_SECONDS": "1.5"}
    with _serving(tmp_path, **settings) as (_, base):
        port = int(base.rsplit(":", 1)[1])
        hoard = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
        time.sleep(0.3)  # let the server accept them
        try:
            refused = httpx.get(f"{base}/healthz").status_code == 503
        except httpx.TransportError:
            refused = True
        assert refused
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the idle hoard is dropped after 1.5 s
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError("the server did not serve again once idle connections went")
        for sock in hoard:
            sock.close()


def _children(pid: int) -> dict[int, str]:
    """The live child processes of ``pid`` and their command lines (from /proc)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes().decode()
        except (OSError, IndexError, ValueError):
            continue  # the process ended while it was read
    return found


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":  # a zombie has exited; only its parent's reaping is left
            alive.append(pid)
    return alive


def _workers_of(proc: subprocess.Popen[str], count: int) -> list[int]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        workers = [pid for pid, cmd in _children(proc.pid).items() if "spawn_main" in cmd]
        if len(workers) == count:
            return workers
        time.sleep(0.1)
    raise AssertionError(f"yinzi serve did not start {count} workers")


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


@needs_proc
def test_sigterm_stops_serve_and_joins_its_workers_as_ctrl_c_does(tmp_path: Path) -> None:
    with _serving(tmp_path, WORKERS="2") as (proc, _):
        workers = _workers_of(proc, 2)
        children = list(_children(proc.pid))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert _alive(workers) == []  # stopped and joined before serve exited
        deadline = time.monotonic() + 5
        while _alive(children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _alive(children) == []


@needs_proc
def test_workers_exit_when_serve_is_killed(tmp_path: Path) -> None:
    with _serving(tmp_path, WORKERS="2") as (proc, _):
        workers = _workers_of(proc, 2)
        children = list(_children(proc.pid))
        proc.kill()
        proc.wait(timeout=5)
        deadline = time.monotonic() + 5
        while _alive(children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _alive(workers) == [] and _alive(children) == []


def _listening_socket(port: int) -> str:
    """The ``socket:[inode]`` link of the socket listening on 127.0.0.1:``port``."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == f"0100007F:{port:04X}" and fields[3] == "0A":  # 0A: LISTEN
            return f"socket:[{fields[9]}]"
    raise AssertionError(f"nothing listens on port {port}")


def _holds(pid: int, link: str) -> bool:
    """Whether process ``pid`` has the socket ``link`` open."""
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd) == link:
                return True
        except OSError:  # closed while it was read
            continue
    return False


@needs_proc
def test_api_workers_answer_from_processes_of_their_own_and_orders_run_once(
    tmp_path: Path, song: str
) -> None:
    env = {"WORKERS": "1", "FETCH__ALLOW_PRIVATE": "true", "POLL_INTERVAL_SECONDS": "0.05"}
    environ = _environment(tmp_path, **env)
    subprocess.run([*YINZI, "migrate"], env=environ, check=True, capture_output=True)
    made = [*YINZI, "accounts", "create", "api@example.com", "--credits", "100"]
    key = subprocess.run(made, env=environ, check=True, capture_output=True, text=True).stdout
    auth = {"Authorization": f"Bearer {key.strip()}"}
    with _serving(tmp_path, "--api-workers", "2", **env) as (proc, base):
        socket_link = _listening_socket(int(base.rsplit(":", 1)[1]))
        spawned = _workers_of(proc, 3)
        api = [pid for pid in spawned if _holds(pid, socket_link)]
        assert len(api) == 2  # the third is the one embedded worker, started once
        for paused in api:  # while one API process is stopped, the other answers alone
            os.kill(paused, signal.SIGSTOP)
            try:
                for _ in range(3):
                    with httpx.Client(base_url=base) as client:  # a new connection each time
                        assert client.get("/healthz").status_code == 200
            finally:
                os.kill(paused, signal.SIGCONT)
        body = {"orderType": "track-separation", "stuff": {"pathKey": song}}
        created = httpx.post(f"{base}/api/open/v1/order/create", json=body, headers=auth).json()
        order_no = created["data"]["orderNo"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            query = f"{base}/api/open/v1/order/query?orderNo={order_no}"
            shown = httpx.get(query, headers=auth).json()["data"]
            if shown["status"] not in ("pending", "processing"):
                break
            time.sleep(0.2)
        assert shown["status"] == "finish", shown
        assert shown["balance"] == 100 - shown["cost"] and shown["cost"] > 0
        assert all(item["url"].startswith(f"{base}/files/") for item in shown["stuffs"])
    from yinzi.db import Database
    from yinzi.db.models import Order

    db = Database(f"sqlite:///{tmp_path / 'data' / 'yinzi.db'}")
    try:
        with db.read() as session:
            order = session.get(Order, order_no)
            assert order is not None and order.attempts == 1
    finally:
        db.dispose()


@needs_proc
def test_api_processes_exit_when_serve_is_killed(tmp_path: Path) -> None:
    with _serving(tmp_path, "--api-workers", "2") as (proc, _):
        api = _workers_of(proc, 2)
        proc.kill()
        proc.wait(timeout=5)
        deadline = time.monotonic() + 5
        while _alive(api) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _alive(api) == []
