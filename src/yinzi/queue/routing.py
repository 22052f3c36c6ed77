"""Routing: which queue an order goes to, decided once, by the process that creates the order.

An order's engine and that engine's device give the keys ``ENGINE/DEVICE``, ``ENGINE`` and
``FAMILY``; the first key found in ``settings.routes`` names the queue, and anything no route
names goes to ``cpu``. The engine is the one its type is configured to use, with ``auto``
resolved by :func:`yinzi.engines.registry.choose` exactly as a worker resolves it (the first
engine of the family that can run with these settings); when no engine of the family can run
here, the order is routed by its family alone and the worker that takes it says why it fails.

Everything is decided with the creating process's settings and installed engines, so the API
processes need the routes and device settings of the workers (or engines named explicitly and
routes by engine name, which need no device at all). The queue is stored on the order, so the
embedded workers (``settings.worker_queues``) and Celery workers (``-Q``) take exactly the orders
of their queues, and a later change of routes never strands an order already made.
"""

from __future__ import annotations

import functools

from yinzi.errors import ConfigurationError
from yinzi.settings import Settings

DEFAULT_QUEUE = "cpu"


def engine_for(settings: Settings, order_type: str) -> str:
    """The engine that runs ``order_type`` under these settings: the configured name, or the one
    ``auto`` picks (``FAMILY.auto`` when none can run here). Unknown types are a ValueError."""
    from yinzi.engines import registry
    from yinzi.services.orders import ORDER_KINDS

    kind = ORDER_KINDS.get(order_type)
    if kind is None:
        raise ValueError(f"unknown order type {order_type!r}; known: {', '.join(ORDER_KINDS)}")
    if kind.family == "separation":
        name = settings.separation_engine if kind.outputs else settings.stem_engine
    elif kind.family == "transcription":
        name = settings.transcription_engine
    else:
        name = settings.music_engine
    try:
        return registry.choose(kind.family, name, settings.engine_options)[0]
    except ConfigurationError:
        return f"{kind.family}.auto"


def device_for(settings: Settings, engine: str) -> str:
    """``cuda`` or ``cpu``: where ``engine`` runs under these settings (``auto`` probed once)."""
    configured = {
        "separation.demucs": settings.demucs.device,
        "music.musicgen": settings.musicgen.device,
        "transcription.faster_whisper": settings.whisper.device,
    }.get(engine, "cpu")
    if configured == "auto":
        return _probe(engine)
    return "cuda" if configured.startswith("cuda") else "cpu"


@functools.cache
def _probe(engine: str) -> str:
    """Whether the library of ``engine`` sees a GPU here; ``cpu`` when it is not installed."""
    try:
        if engine == "transcription.faster_whisper":
            import ctranslate2

            return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def queue_for(settings: Settings, order_type: str) -> str:
    """The queue an order of ``order_type`` goes to (see the module docstring)."""
    engine = engine_for(settings, order_type)
    family = engine.split(".", 1)[0]
    keys = [f"{engine}/{device_for(settings, engine)}", engine, family]
    for key in keys:
        if key in settings.routes:
            return settings.routes[key]
    return DEFAULT_QUEUE
