"""What the HTTP dialects add beyond their routes, registered where the app and workers are built.

One thing today: the body of the callback each dialect POSTs when one of its orders ends. The
worker loop knows no dialect; it renders callbacks through the table in
:mod:`yinzi.services.callbacks`, which :func:`register_callbacks` fills. ``create_app`` calls it,
and so does every worker process as it starts. A dialect that calls clients back adds a line here.
"""

from __future__ import annotations

from yinzi.services import callbacks


def register_callbacks() -> None:
    """Register every dialect's callback renderer (repeatable)."""
    from yinzi.api import vocal_removal

    callbacks.register_renderer(vocal_removal.TYPES, vocal_removal.callback_body)
