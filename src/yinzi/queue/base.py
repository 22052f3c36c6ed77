"""The dispatch interface every queue backend implements (embedded now, Celery to scale out)."""

from __future__ import annotations

from typing import Protocol


class Dispatcher(Protocol):
    def dispatch(self, order_no: str) -> None:
        """Ask a worker to run ``order_no`` (via ``yinzi.runner.run_order``).

        Delivery may be lost or doubled: the order's claim makes running it exactly-once, and the
        embedded workers' polling (or a reaper) picks up anything a lost message left behind.
        """
        ...
