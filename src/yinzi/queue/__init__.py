"""Order queues. The orders table is the truth; a queue only says "look at order N"."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from yinzi.db import Database
    from yinzi.queue.base import Dispatcher
    from yinzi.settings import Settings


def build_dispatcher(settings: Settings, db: Database) -> Dispatcher:
    """The dispatcher of the configured queue (``settings.queue``)."""
    if settings.queue == "celery":
        from yinzi.queue.celery import CeleryDispatcher

        return CeleryDispatcher(settings, db)
    from yinzi.queue.embedded import EmbeddedDispatcher

    return EmbeddedDispatcher()
