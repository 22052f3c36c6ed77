"""``/healthz``: is this process able to serve? It checks the database, the broker and the storage.

Invariants:

- A check is a callable that returns when the dependency answers and raises when it does not.
  Each runs in one thread of its own, all of them at once, and one that has not answered when
  ``timeout`` seconds have passed counts as failed: a hung dependency cannot hang the endpoint.
- One round of checks at a time per process: callers that arrive during a round wait for its
  report instead of starting their own, and the report is then reused for
  :data:`CACHE_SECONDS`. A check still running from an earlier round (a hung dependency) is
  waited for again, never started a second time, so a hung backend holds one thread, not one
  per request.
- Each check is bounded by itself too: the broker gets one connection attempt with a short
  timeout (:func:`broker_probe`), S3 a client of its own with one attempt and short timeouts.
- The broker is checked only when the queue has one: a dispatcher (and a storage backend) takes
  part by having a ``check()`` method (:class:`Checkable`). The embedded queue has no broker.
- No secret reaches the answer: errors are one line, URL credentials are masked, and every
  secret-looking setting (passwords, tokens, keys) is replaced by ``***`` wherever it appears.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import make_url, text
from sqlalchemy.exc import ArgumentError

from yinzi import __version__
from yinzi.db import Database
from yinzi.settings import Settings

CACHE_SECONDS = 1.0
"""How long one process reuses a health report."""

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@")
_SECRET_NAME = re.compile(r"secret|password|token|(^|_)key$", re.IGNORECASE)
_ERROR_LENGTH = 300

Probe = Callable[[], None]


@runtime_checkable
class Checkable(Protocol):
    def check(self) -> None:
        """Return when the backend answers a cheap request; raise with the reason otherwise."""
        ...


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    ms: float
    error: str | None = None


def database_probe(db: Database) -> Probe:
    """``SELECT 1`` on a pooled connection."""

    def probe() -> None:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    return probe


def broker_probe(url: str, timeout: float) -> Probe:
    """One connection to the Celery broker at ``url``: one attempt, ``timeout`` to connect and
    to read, no retries (kombu is imported only when the probe runs)."""

    def probe() -> None:
        from kombu.connection import Connection

        options = {"socket_timeout": timeout, "socket_connect_timeout": timeout, "max_retries": 0}
        broker = Connection(url, connect_timeout=timeout, transport_options=options)  # type: ignore[no-untyped-call]
        with broker:
            broker.ensure_connection(max_retries=0)  # type: ignore[no-untyped-call]

    return probe


def probes(
    db: Database,
    dispatcher: object,
    storage: object,
    *,
    broker_url: str | None = None,
    timeout: float = 2.0,
) -> dict[str, Probe]:
    """The checks of a process: the database always, the broker and storage when checkable.

    With ``broker_url`` (the Celery queue) the broker is checked by :func:`broker_probe`;
    another checkable dispatcher by its own ``check()``."""
    found = {"database": database_probe(db)}
    if broker_url:
        found["broker"] = broker_probe(broker_url, timeout)
    elif isinstance(dispatcher, Checkable):
        found["broker"] = dispatcher.check
    if isinstance(storage, Checkable):
        found["storage"] = storage.check
    return found


def setting_secrets(settings: Settings) -> list[str]:
    """Every secret a setting holds: secret-named values and the passwords inside URLs."""
    found: list[str] = []

    def walk(value: Any, name: str = "") -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, str(key))
        elif isinstance(value, str) and value:
            if _SECRET_NAME.search(name) and len(value) >= 4:
                found.append(value)
            try:
                password = make_url(value).password if "://" in value else None
            except (ArgumentError, ValueError):
                password = None
            if password:
                found.append(str(password))

    walk(settings.model_dump(mode="json"))
    walk(settings.db_url, "database_url")
    return sorted(set(found), key=len, reverse=True)


def redact(message: str, secrets: Iterable[str]) -> str:
    """One line of ``message`` with URL credentials and every known secret masked."""
    line = next((part.strip() for part in message.splitlines() if part.strip()), "")
    line = _URL_CREDENTIALS.sub(r"\g<scheme>***@", line)
    for secret in secrets:
        line = line.replace(secret, "***")
    return line[:_ERROR_LENGTH]


class _Run:
    """One run of one probe, in a daemon thread of its own."""

    def __init__(self, name: str, probe: Probe) -> None:
        self.started = time.monotonic()
        self.error: BaseException | None = None
        self.thread = threading.Thread(
            target=self._target, args=(probe,), name=f"health-{name}", daemon=True
        )
        self.thread.start()

    def _target(self, probe: Probe) -> None:
        try:
            probe()
        except BaseException as exc:
            self.error = exc

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    def result(self, deadline: float, timeout: float, secrets: Iterable[str]) -> CheckResult:
        """The outcome once the probe ended, or a failure when it still runs at ``deadline``."""
        self.thread.join(max(0.0, deadline - time.monotonic()))
        ms = round((time.monotonic() - self.started) * 1000, 1)
        if self.running:
            return CheckResult(False, ms, f"no answer within {timeout:g} s")
        if self.error is None:
            return CheckResult(True, ms)
        return CheckResult(False, ms, redact(f"{type(self.error).__name__}: {self.error}", secrets))


@dataclass
class _Round:
    """One check of every probe; callers that arrive while it runs wait for its report."""

    done: threading.Event = field(default_factory=threading.Event)
    report: dict[str, Any] | None = None


class Health:
    """A process's health report: one round of probes at a time, cached for ``cache_seconds``."""

    def __init__(
        self,
        checks: Callable[[], dict[str, Probe]],
        *,
        timeout: float,
        secrets: Iterable[str] = (),
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self._checks = checks
        self._timeout = timeout
        self._secrets = list(secrets)
        self._cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._round: _Round | None = None
        self._runs: dict[str, _Run] = {}
        self._report: dict[str, Any] | None = None
        self._expires = 0.0

    def report(self) -> dict[str, Any]:
        """``{"status": "ok"|"degraded", "ready": bool, "version", "checks": {name: result}}``;
        ready (and ``ok``) when every check passed. Answers within the timeout."""
        with self._lock:
            if self._report is not None and time.monotonic() < self._expires:
                return self._report
            leading = self._round is None
            if self._round is None:
                self._round = _Round()
            current = self._round
        if not leading:
            current.done.wait(self._timeout + 0.5)
            if current.report is None:
                raise RuntimeError("the health checks did not finish")
            return current.report
        try:
            current.report = self._run()
        finally:
            with self._lock:
                self._round = None
                if current.report is not None:
                    self._report = current.report
                    self._expires = time.monotonic() + self._cache_seconds
            current.done.set()
        return current.report

    def _run(self) -> dict[str, Any]:
        """Start every probe that is not still running from an earlier round, then wait for
        them all until one shared deadline."""
        deadline = time.monotonic() + self._timeout
        runs: dict[str, _Run] = {}
        for name, probe in self._checks().items():
            earlier = self._runs.get(name)
            runs[name] = earlier if earlier is not None and earlier.running else _Run(name, probe)
        self._runs = runs
        results = {
            name: run.result(deadline, self._timeout, self._secrets) for name, run in runs.items()
        }
        ready = all(result.ok for result in results.values())
        return {
            "status": "ok" if ready else "degraded",
            "ready": ready,
            "version": __version__,
            "checks": {name: asdict(results[name]) for name in sorted(results)},
        }
