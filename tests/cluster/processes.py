"""Real processes of a Yinzi cluster on loopback, for ``tests/cluster`` and ``bench/cluster.py``:
a private Redis broker, ``yinzi serve`` API processes and ``yinzi worker`` Celery workers.

Every Yinzi process gets the same settings as environment variables (:func:`environment`), as a
deployment's ``yinzi.env`` gives them, and a data folder of its own: processes share only the
database, the broker and the bucket. Ports are picked free at start, so parallel runs never
collide; each process writes a log file, named after it, into the caller's folder.

The Redis server writes every command to its append-only file before answering (``appendfsync
always``), so :meth:`RedisServer.stop` then :meth:`RedisServer.start` keeps every queued message,
as a production broker must.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

from yinzi.settings import Settings

from seaweed import free_port, port_answers

YINZI = [sys.executable, "-m", "yinzi"]


def environment(settings: BaseModel, prefix: str = "YINZI_") -> dict[str, str]:
    """The ``YINZI_*`` variables that give a process the explicitly set fields of ``settings``
    (nested settings joined with ``__``, lists and mappings as JSON, as pydantic-settings reads
    them)."""
    env: dict[str, str] = {}
    for name in sorted(settings.model_fields_set):
        value = getattr(settings, name)
        key = f"{prefix}{name.upper()}"
        if isinstance(value, BaseModel):
            env.update(environment(value, f"{key}__"))
        elif isinstance(value, dict | list):
            env[key] = json.dumps(value)
        elif isinstance(value, bool):
            env[key] = "true" if value else "false"
        elif value is not None:
            env[key] = str(value)
    return env


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A new, empty database on the PostgreSQL server of ``admin_url``, dropped afterwards (its
    connections closed by force); yields its SQLAlchemy URL."""
    import psycopg

    name = f"yinzi_test_{secrets.token_hex(6)}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        try:
            yield f"{base}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _wait(ready: Any, what: str, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} was not ready within {timeout} s; see {log}")
        time.sleep(0.1)


@dataclass
class RedisServer:
    """A ``redis-server`` of this run's own on a free loopback port, persisting to ``root``."""

    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20.0) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.root.mkdir(parents=True, exist_ok=True)
        log = self.root / "redis.log"
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.root)]
        args += ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
        with log.open("ab") as out:
            self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        _wait(self._answers, "redis-server", timeout, log)

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited; see {self.root / 'redis.log'}")
        return port_answers(self.port)

    def stop(self) -> None:
        """Shut down (Redis writes and closes its files on SIGTERM)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(20)
        self.process = None


@dataclass
class Process:
    """One Yinzi command in a process group of its own (so :meth:`kill` reaches its children)."""

    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.args,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """``kill -9`` the process and every child it started."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout: float = 20.0) -> None:
        if not self.running():
            return
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class Cluster:
    """API processes and Celery workers started from one :class:`Settings` (``queue = celery``).

    ``settings.signing_secret`` must be set: a link one API process signs opens on another."""

    settings: Settings
    root: Path
    apis: dict[str, Process] = field(default_factory=dict)
    """Base URL to API process."""
    workers: dict[str, Process] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)

    def _process(self, name: str, args: list[str]) -> Process:
        data_dir = self.root / name
        data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(sys.path),
            **environment(self.settings),
            "YINZI_DATA_DIR": str(data_dir),
        }
        process = Process(name, [*YINZI, *args], env, self.root / f"{name}.log")
        self.processes.append(process)
        return process

    def start_api(self, name: str) -> Process:
        """Start ``yinzi serve`` with no embedded workers (the database is migrated already)."""
        port = free_port()
        process = self._process(name, ["serve", "--port", str(port), "--workers", "0"])
        process.start()
        self.apis[f"http://127.0.0.1:{port}"] = process
        return process

    def start_worker(self, name: str, queues: list[str]) -> Process:
        """Start ``yinzi worker`` (a Celery worker, one pool process) on ``queues``."""
        args = ["worker", "--queues", ",".join(queues), "--concurrency", "1"]
        process = self.workers.get(name) or self._process(name, args)
        self.workers[name] = process
        process.start()
        return process

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Wait until every API answers ``/healthz`` with 200 and every worker is consuming."""
        for base, process in self.apis.items():
            _wait(lambda b=base, p=process: _healthy(b, p), process.name, timeout, process.log)
        for process in self.workers.values():
            _wait(lambda p=process: _consuming(p, 0), process.name, timeout, process.log)

    def restart_worker(self, name: str, timeout: float = 90.0) -> None:
        """Start a killed worker again, as a service manager would, and wait until it consumes."""
        process = self.workers[name]
        since = process.log.stat().st_size
        process.start()
        _wait(lambda: _consuming(process, since), name, timeout, process.log)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def _healthy(base: str, process: Process) -> bool:
    if not process.running():
        raise RuntimeError(f"{process.name} exited; see {process.log}")
    try:
        return httpx.get(f"{base}/healthz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def _consuming(process: Process, since: int) -> bool:
    """Whether the worker logged that it is ready after byte ``since`` of its log."""
    if not process.running():
        raise RuntimeError(f"{process.name} exited; see {process.log}")
    with process.log.open("rb") as log:
        log.seek(since)
        return b" ready." in log.read()
