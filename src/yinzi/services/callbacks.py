"""Callbacks: tell a client's URL that its task ended, signed, with bounded retries.

When an order with a callback URL ends, its ``callback_state`` becomes ``pending`` (see
``orders._ending``). Each worker process runs a :class:`DeliveryLoop` beside its order loop, so
a receiver that hangs never holds up orders: it sends up to ``callback_concurrency`` callbacks at
once, each on a thread of its own, and claims a due callback only when it has a free thread.
Each delivery is claimed by moving ``callback_next_at`` forward with a compare-and-set, so two
workers never send the same attempt.
A 2xx answer delivers it; a 4xx stops at once (the receiver refused it); anything else is retried
after ``callback_backoff_seconds``, doubled each time, up to ``callback_attempts`` tries, after
which the state is ``failed``. Requests go through the guarded fetcher, never follow redirects,
and carry two signatures when the account has a webhook secret:

- Kie's: ``X-Webhook-Timestamp`` and ``X-Webhook-Signature`` = base64 HMAC-SHA256 of
  ``taskId + "." + timestamp``, keyed by the secret string;
- Standard Webhooks': ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` =
  ``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body``, keyed by the base64 part of the secret.

The body is the dialect's: a dialect registers a renderer for its order types with
:func:`register_renderer` (see :mod:`yinzi.dialects`), where the app and the workers are built.
Callbacks of a type with no renderer in this process are left for a process that has one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from yinzi import metrics
from yinzi.db import utcnow
from yinzi.db.models import Account, Order
from yinzi.errors import (
    AddressRefused,
    ConfigurationError,
    FetchError,
    NotFound,
    ValidationFailed,
)

if TYPE_CHECKING:
    from yinzi.context import Context

log = logging.getLogger(__name__)
Render = Callable[["Context", Order], dict[str, Any]]
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def rotate_secret(session: Session, account_id: int) -> str:
    """Give the account a new webhook secret (the old one stops signing at once); returns it.
    The secret is stored to sign callbacks, and shown to its owner only here."""
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound("account not found")
    account.webhook_secret = new_secret()
    return account.webhook_secret


def has_secret(session: Session, account_id: int) -> bool:
    account = session.get(Account, account_id)
    return account is not None and bool(account.webhook_secret)


def signature_headers(secret: str, task_id: str, message_id: str, body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    kie = hmac.new(secret.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    standard = hmac.new(key, signed, hashlib.sha256).digest()
    return {
        "X-Webhook-Timestamp": timestamp,
        "X-Webhook-Signature": base64.b64encode(kie).decode(),
        "webhook-id": message_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": "v1," + base64.b64encode(standard).decode(),
    }


def check_url(ctx: Context, url: str, field: str = "callBackUrl") -> None:
    """Refuse now, as a 422 naming ``field``, a callback URL that delivery would refuse.

    This is the guarded fetcher's own check (scheme, host, every address the host resolves to),
    so the rule at create is the rule at delivery: a host that does not resolve is refused, and
    so is a loopback or private address unless ``fetch.allow_private`` is set. Every dialect
    that takes a callback URL calls this when the task is created.
    """
    try:
        ctx.fetcher.check_url(url)
    except AddressRefused as exc:
        hint = (
            ""
            if ctx.settings.fetch.allow_private
            else "; YINZI_FETCH__ALLOW_PRIVATE=true allows callbacks to loopback and private"
            " addresses (never to the cloud metadata address)"
        )
        raise ValidationFailed(f"{field} cannot receive callbacks: {exc.message}{hint}") from exc
    except FetchError as exc:
        raise ValidationFailed(f"{field} cannot receive callbacks: {exc.message}") from exc


_RENDERERS: dict[str, Render] = {}


def register_renderer(order_types: Iterable[str], render: Render) -> None:
    """Render the callbacks of ``order_types`` with ``render``; registering again is harmless,
    but a second, different renderer for a type is a mistake and refused."""
    for order_type in order_types:
        known = _RENDERERS.setdefault(order_type, render)
        if known is not render:
            raise ConfigurationError(f"two callback renderers for order type {order_type}")


def deliver_due(ctx: Context, limit: int = 10) -> int:
    """Attempt callbacks that are due, one after another, here; returns how many were made."""
    attempted = 0
    for order_no in _due(ctx, limit):
        order = _claim(ctx, order_no)
        if order is not None:
            _attempt(ctx, order, _RENDERERS[order.order_type])
            attempted += 1
    return attempted


class DeliveryLoop:
    """Delivers due callbacks on threads of this process, at most ``callback_concurrency`` at
    once, apart from the order loop; its threads are daemons, so a hanging receiver never keeps
    the process from exiting (an attempt cut short is retried once its claim runs out)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._slots = threading.BoundedSemaphore(ctx.settings.callback_concurrency)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="callbacks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                started = self.send_due()
            except Exception:  # the database may be briefly unavailable; keep going
                log.exception("callback loop error")
                started = 0
            if not started:
                self._stop.wait(self.ctx.settings.poll_interval_seconds)

    def send_due(self) -> int:
        """Start a delivery for each due callback there is a free thread for; returns how many."""
        free = 0
        while self._slots.acquire(blocking=False):
            free += 1
        started = 0
        try:
            for order_no in _due(self.ctx, free) if free else ():
                order = _claim(self.ctx, order_no)
                if order is not None:
                    name = f"callback-{order_no}"
                    threading.Thread(
                        target=self._send, args=(order,), name=name, daemon=True
                    ).start()
                    started += 1
        finally:
            for _ in range(free - started):
                self._slots.release()
        return started

    def _send(self, order: Order) -> None:
        try:
            _attempt(self.ctx, order, _RENDERERS[order.order_type])
        except Exception:
            log.exception("callback of order %s could not be attempted", order.order_no)
        finally:
            self._slots.release()


def _due(ctx: Context, limit: int) -> list[str]:
    """Up to ``limit`` callbacks due now whose order type this process can render."""
    if not _RENDERERS:
        return []
    with ctx.db.read() as session:
        return list(
            session.execute(
                select(Order.order_no)
                .where(
                    Order.callback_state == "pending",
                    Order.callback_next_at <= utcnow(),
                    Order.order_type.in_(list(_RENDERERS)),
                )
                .order_by(Order.callback_next_at)
                .limit(limit)
            ).scalars()
        )


def _claim(ctx: Context, order_no: str) -> Order | None:
    now = utcnow()
    hold = timedelta(seconds=ctx.settings.callback_timeout_seconds + 30)
    with ctx.db.write() as session:
        matched = session.execute(
            update(Order)
            .where(
                Order.order_no == order_no,
                Order.callback_state == "pending",
                Order.callback_next_at <= now,
            )
            .values(callback_next_at=now + hold, callback_attempts=Order.callback_attempts + 1)
        ).rowcount  # type: ignore[attr-defined]
        if matched != 1:
            return None
        return session.get(Order, order_no, populate_existing=True)


def _attempt(ctx: Context, order: Order, render: Render) -> None:
    body = json.dumps(render(ctx, order), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json"}
    with ctx.db.read() as session:
        account = session.get(Account, order.account_id)
    if account is not None and account.webhook_secret:
        headers |= signature_headers(account.webhook_secret, order.order_no, order.message_id, body)
    assert order.callback_url is not None
    final = False
    try:
        response = ctx.fetcher.request(
            "POST",
            order.callback_url,
            headers=headers,
            content=body,
            follow_redirects=False,
            timeout_seconds=ctx.settings.callback_timeout_seconds,
        )
        status, error = response.status_code, f"the receiver answered HTTP {response.status_code}"
    except AddressRefused as exc:  # the policy will refuse it every time: no retries
        status, error = 0, exc.message
        final = True
    except FetchError as exc:
        status, error = 0, exc.message
    _record(ctx, order, status, error, final)


def _record(ctx: Context, order: Order, status: int, error: str, final: bool = False) -> None:
    values: dict[str, Any]
    if 200 <= status < 300:
        values = {"callback_state": "delivered", "callback_error": None}
    elif final or 400 <= status < 500 or order.callback_attempts >= ctx.settings.callback_attempts:
        values = {"callback_state": "failed", "callback_error": error}
        log.info("callback of order %s failed for good: %s", order.order_no, error)
    else:
        delay = ctx.settings.callback_backoff_seconds * 2 ** (order.callback_attempts - 1)
        values = {"callback_error": error, "callback_next_at": utcnow() + timedelta(seconds=delay)}
    with ctx.db.write() as session:
        session.execute(update(Order).where(Order.order_no == order.order_no).values(**values))
        outcome = str(values.get("callback_state") or "retry")
        metrics.on_commit(session, lambda: metrics.callback_outcome(outcome))
