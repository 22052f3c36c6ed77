"""``/healthz``: is this process able to serve? It checks the database, the broker and the storage.

Invariants:

- A check is a callable that returns when the dependency answers and raises when it does not;
  every check runs in its own thread and counts as failed once ``timeout`` seconds pass, so one
  hung dependency cannot hang the endpoint.
- The broker is checked only when the queue has one: a dispatcher (and a storage backend) takes
  part by having a ``check()`` method (:class:`Checkable`). The embedded queue has no broker.
- The report is cached for :data:`CACHE_SECONDS`, so each process checks at most once a second
  however often it is asked.
- No secret reaches the answer: errors are one line, URL credentials are masked, and every
  secret-looking setting (passwords, tokens, keys) is replaced by ``***`` wherever it appears.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
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


def probes(db: Database, dispatcher: object, storage: object) -> dict[str, Probe]:
    """The checks of a process: the database always, the broker and storage when checkable."""
    found = {"database": database_probe(db)}
    if isinstance(dispatcher, Checkable):
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


def run_probe(probe: Probe, timeout: float, secrets: Iterable[str]) -> CheckResult:
    """Run ``probe`` in a daemon thread; a probe still running after ``timeout`` has failed."""
    outcome: list[BaseException | None] = []
    start = time.perf_counter()

    def target() -> None:
        try:
            probe()
        except BaseException as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    thread = threading.Thread(target=target, name="health-check", daemon=True)
    thread.start()
    thread.join(timeout)
    ms = round((time.perf_counter() - start) * 1000, 1)
    if not outcome:
        return CheckResult(False, ms, f"no answer within {timeout:g} s")
    error = outcome[0]
    if error is None:
        return CheckResult(True, ms)
    return CheckResult(False, ms, redact(f"{type(error).__name__}: {error}", secrets))


class Health:
    """A process's health report, cached for :data:`CACHE_SECONDS`."""

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
        self._report: dict[str, Any] | None = None
        self._expires = 0.0

    def report(self) -> dict[str, Any]:
        """``{"status": "ok"|"degraded", "ready": bool, "version", "checks": {name: result}}``;
        ready (and ``ok``) when every check passed."""
        with self._lock:
            if self._report is None or time.monotonic() >= self._expires:
                self._report = self._run()
                self._expires = time.monotonic() + self._cache_seconds
            return self._report

    def _run(self) -> dict[str, Any]:
        results: dict[str, CheckResult] = {}
        threads = []
        for name, probe in self._checks().items():

            def one(name: str = name, probe: Probe = probe) -> None:
                results[name] = run_probe(probe, self._timeout, self._secrets)

            thread = threading.Thread(target=one, name=f"health-{name}", daemon=True)
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        ready = all(result.ok for result in results.values())
        return {
            "status": "ok" if ready else "degraded",
            "ready": ready,
            "version": __version__,
            "checks": {name: asdict(results[name]) for name in sorted(results)},
        }
