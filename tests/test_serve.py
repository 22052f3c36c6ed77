"""``yinzi serve`` as a real process: first-start output, a request, and clean logs."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_first_start_prints_an_admin_key_and_logs_never_show_it(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "YINZI_DATA_DIR": str(tmp_path / "data"), "YINZI_WORKERS": "1"}
    cmd = [sys.executable, "-c", "from yinzi.cli import main; main()", "serve", "--port", str(port)]
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
    assert "order/query" in stdout2 + stderr2  # the access log line is there...
    assert "apiKey=[redacted]" in stdout2 + stderr2
    assert key not in stderr2 and key not in stdout2  # ...without the key
    assert "yz_wrong-key-attempt" not in stderr + stderr2
