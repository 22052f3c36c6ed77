"""The User Center: a web console under ``/console/`` for accounts, keys, credits and orders.

Server-rendered pages (Jinja2, ``templates/``), a little JavaScript for what a page cannot do
without it (``static/``; no inline script, no CDN), English and Simplified Chinese through one
Babel catalogue (``locale/``). The console calls the services as the signed-in account; it never
holds an API key. One module of routes per area:

- ``routes_auth``: sign-in, sign-out, sign-up, password change and set-password links;
- ``routes_home``: the overview, the language switch, the orders feed the pages poll;
- ``routes_keys``: API keys;
- ``routes_orders``: new orders, the order list and each order's page;
- ``routes_billing``: the credit ledger and webhook secrets;
- ``routes_admin``: administration, for admin accounts only.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from yinzi.console import (
    routes_admin,
    routes_auth,
    routes_billing,
    routes_home,
    routes_keys,
    routes_orders,
)
from yinzi.console.errors import render_error
from yinzi.console.security import ConsoleMiddleware

PREFIX = "/console"
UPLOAD_PATHS = (f"{PREFIX}/uploads", f"{PREFIX}/orders")
"""Console paths that take a file (up to ``max_upload_bytes``, like the Open API's upload)."""
__all__ = ["PREFIX", "UPLOAD_PATHS", "install", "render_error"]


def install(app: FastAPI) -> None:
    """Add the console's routes, static files and middleware to ``app``."""
    for module in (
        routes_auth,
        routes_home,
        routes_keys,
        routes_orders,
        routes_billing,
        routes_admin,
    ):
        app.include_router(module.router, include_in_schema=False)
    static = resources.files("yinzi.console") / "static"
    app.mount(f"{PREFIX}/static", StaticFiles(directory=str(static)), name="console-static")
    app.add_middleware(ConsoleMiddleware, prefix=PREFIX)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=307)
