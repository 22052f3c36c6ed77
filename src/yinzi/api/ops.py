"""Operations endpoints: ``/healthz`` (readiness of this process) and ``/metrics`` (Prometheus).

``/healthz`` answers 200 when every check passed and 503 otherwise, with the same JSON body
either way (see :mod:`yinzi.health`). ``/metrics`` answers the Prometheus text format; when
``YINZI_METRICS_TOKEN`` is set it needs ``Authorization: Bearer TOKEN`` and answers 401 without.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from yinzi import health, metrics
from yinzi.context import Context
from yinzi.settings import Settings


def install(app: FastAPI, settings: Settings, ctx: Context) -> None:
    timeout = settings.health_timeout_seconds
    broker_url = settings.celery.broker_url if settings.queue == "celery" else None
    checker = health.Health(
        lambda: health.probes(
            ctx.db, app.state.dispatcher, ctx.storage, broker_url=broker_url, timeout=timeout
        ),
        timeout=timeout,
        secrets=health.setting_secrets(settings),
    )
    depth = metrics.QueueDepth(ctx.db)

    @app.get("/healthz", tags=["health"])
    def healthz() -> JSONResponse:
        report = checker.report()
        return JSONResponse(report, status_code=200 if report["ready"] else 503)

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    def scrape(request: Request) -> Response:
        if not metrics.authorized(request.headers.get("authorization"), settings.metrics_token):
            return PlainTextResponse(
                "a valid metrics token is required\n",
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return Response(metrics.exposition(depth), media_type=metrics.CONTENT_TYPE)
