"""Screenshots of every console page, in English and Chinese: ``make screenshots``.

Starts a real server on a temporary data folder (fast engines, one worker), makes a demo
administrator and a demo user with a few finished orders and a failed one, and saves each page of
``PAGES`` as ``docs/console/<page>-<lang>.png`` (1280 pixels wide, the whole page) with Debian's
Chromium through Playwright. A page the server does not have answers 404 and is skipped, with a
line saying so. A new page is one line in ``PAGES``.

    .venv/bin/python tools/screenshots.py [--out docs/console] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from playwright.sync_api import Page, sync_playwright

from yinzi.app import create_app
from yinzi.context import Context
from yinzi.db.migrate import upgrade
from yinzi.db.models import Account
from yinzi.media import testing
from yinzi.queue.embedded import Worker
from yinzi.sdk import Client, OrderFailed
from yinzi.services import accounts, console_sessions
from yinzi.settings import FetchSettings, Settings


@dataclass(frozen=True)
class Demo:
    admin_id: int
    user_id: int
    finished: str
    """A finished separation of the demo user."""
    failed: str


PAGES: dict[str, Callable[[Demo], str]] = {
    "overview": lambda d: "/console/",
    "new-order": lambda d: "/console/orders/new",
    "orders": lambda d: "/console/orders",
    "order-finished": lambda d: f"/console/orders/{d.finished}",
    "order-failed": lambda d: f"/console/orders/{d.failed}",
    "credits": lambda d: "/console/credits",
    "keys": lambda d: "/console/keys",
    "webhooks": lambda d: "/console/webhooks",
    "password": lambda d: "/console/password",
    "admin": lambda d: "/console/admin/",
    "admin-accounts": lambda d: "/console/admin/accounts",
    "admin-account": lambda d: f"/console/admin/accounts/{d.user_id}",
    "admin-orders": lambda d: "/console/admin/orders",
    "admin-engines": lambda d: "/console/admin/engines",
    "admin-workers": lambda d: "/console/admin/workers",
}
"""Screenshot name → its path, as the demo user (or, under ``/console/admin/``, the admin)."""
SIGNED_OUT = {"sign-in": "/console/sign-in"}
LANGUAGES = ("en", "zh")
WIDTH, HEIGHT = 1280, 800


@contextmanager
def running_server(data_dir: Path) -> Iterator[tuple[str, Context]]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = Settings(
        data_dir=data_dir,
        public_url=f"http://127.0.0.1:{port}",
        workers=1,
        poll_interval_seconds=0.05,
        separation_engine="separation.spectral",
        stem_engine="separation.spectral",
        transcription_engine="transcription.pocketsphinx",
        fetch=FetchSettings(allow_private=True),
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.db_url)
    ctx = Context.build(settings)
    config = uvicorn.Config(create_app(settings, ctx=ctx), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    serving = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    serving.start()
    worker = Worker(settings)
    stop = threading.Event()
    working = threading.Thread(target=worker.run_forever, args=(stop,), daemon=True)
    working.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield settings.base_url, ctx
    finally:
        stop.set()
        working.join(30)
        server.should_exit = True
        serving.join(10)
        ctx.close()


def make_demo(base: str, ctx: Context, folder: Path) -> Demo:
    with ctx.db.write() as session:
        admin, _ = accounts.create_account(session, "admin@example.com", is_admin=True)
        user, key = accounts.create_account(session, "ana@example.com", credits=500)
        admin_id, user_id = admin.id, user.id
    song = testing.song(folder / "song.wav", seconds=8.0)
    with Client(base, key.key, timeout=60.0) as client:
        finished = client.create("track-separation", song)
        client.create("text-to-music", text="calm piano in c major", length=2)
        failed = client.create("track-separation", "http://127.0.0.1:9/missing.mp3")
        client.wait(finished.order_no, timeout=300, poll=0.2)
        try:
            client.wait(failed.order_no, timeout=120, poll=0.2)
        except OrderFailed:
            pass
    return Demo(admin_id, user_id, finished.order_no, failed.order_no)


def session_token(ctx: Context, account_id: int) -> str:
    with ctx.db.write() as session:
        account = session.get(Account, account_id)
        assert account is not None
        token, _ = console_sessions.start(session, account, hours=1)
    return token


def shoot(page: Page, base: str, path: str, target: Path) -> bool:
    """Save the page at ``path``; False (nothing saved) when it answers 404."""
    answer = page.goto(base + path)
    if answer is None or answer.status == 404:
        return False
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(target), full_page=True)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/console"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, running_server(Path(tmp) / "data") as (base, ctx):
        demo = make_demo(base, ctx, Path(tmp))
        tokens = {
            "admin": session_token(ctx, demo.admin_id),
            "user": session_token(ctx, demo.user_id),
        }
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, headless=True)
            for lang in LANGUAGES:
                shots = [(name, path(demo), True) for name, path in PAGES.items()]
                shots += [(name, path, False) for name, path in SIGNED_OUT.items()]
                for name, path, signed_in in shots:
                    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
                    cookies = [{"name": "yinzi_lang", "value": lang, "url": base + "/console/"}]
                    if signed_in:
                        who = "admin" if path.startswith("/console/admin/") else "user"
                        cookies.append(
                            {
                                "name": "yinzi_session",
                                "value": tokens[who],
                                "url": base + "/console/",
                            }
                        )
                    context.add_cookies(cookies)  # type: ignore[arg-type]
                    target = args.out / f"{name}-{lang}.png"
                    if shoot(context.new_page(), base, path, target):
                        print(f"saved {target}")
                    else:
                        print(f"skipped {name} ({path}: no such page)", file=sys.stderr)
                    context.close()
            browser.close()


if __name__ == "__main__":
    main()
