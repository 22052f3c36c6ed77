"""The HTTP server of ``yinzi serve``: uvicorn with Yinzi's protocol (:mod:`yinzi._http`), in
this process or in ``settings.api_workers`` processes.

With several API processes, this process binds the socket and uvicorn's supervisor starts them
(spawned: each builds its own app, so its own database pool, auth cache, rate limiter and link
cache; they share only the database, the stored files and the settings), checks that they
answer, and replaces any that dies. Whatever must happen once (migrations, the first admin
account, the embedded workers) the caller does before :func:`run` (see ``yinzi serve``). An API
process ends as soon as the process that started it is gone, ``kill -9`` included.
"""

from __future__ import annotations

import uvicorn
from uvicorn.supervisors import Multiprocess

from yinzi import _http
from yinzi.settings import Settings


class ApiConfig(uvicorn.Config):
    """uvicorn's configuration of Yinzi's API, from Yinzi's settings.

    It travels to each API process pickled, so it carries the settings as plain data; the app
    and the protocol class are made by :meth:`load`, in the process that serves them."""

    def __init__(self, settings: Settings) -> None:
        self.settings_data = settings.model_dump(mode="json")
        super().__init__(
            "yinzi.app:create_app",  # stands in for the app until load() builds it
            host=settings.host,
            port=settings.port,
            workers=settings.api_workers,
            timeout_keep_alive=settings.http_keep_alive_seconds,
            limit_concurrency=settings.http_limit_concurrency,
        )

    def load(self) -> None:
        from yinzi.app import create_app
        from yinzi.logs import configure_logging
        from yinzi.queue.embedded import exit_with_parent

        settings = Settings.model_validate(self.settings_data)
        configure_logging()
        if self.workers > 1:
            exit_with_parent()
        self.app = create_app(settings)
        self.http = _http.protocol(settings.http_header_timeout_seconds)
        super().load()


def run(settings: Settings) -> None:
    """Serve the API until interrupted (SIGINT or SIGTERM)."""
    from yinzi.logs import install_redaction

    config = ApiConfig(settings)
    install_redaction()  # on the handlers uvicorn's logging configuration just made
    if config.workers == 1:
        config.load()  # the app is built here, before the event loop starts
        uvicorn.Server(config).run()
        return
    Multiprocess(config, sockets=[config.bind_socket()]).run()
