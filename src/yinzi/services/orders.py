"""Orders: creation, ownership and the state machine.

    pending ──claim──▶ processing ──finish──▶ finish      (cost captured, payStatus paid)
       │                   │ ╰──────fail────▶ failed      (reason set, credits released)
       │                   ╰──lease expired──▶ pending*   (*re-claimed by the next worker)
       ├──────────deadline passed────────────▶ timeout    (credits released)
       ╰──────────cancel (the owner)─────────▶ failed     (credits released)

A processing order the owner cancels keeps running until its worker sees ``cancel_requested``
(within about a second, at its next progress write) and fails it with the same reason.

Every transition is a compare-and-set ``UPDATE ... WHERE order_no = :n AND <expected state>``
that raises :class:`StaleClaim` when no row matched, so a lost or doubled queue message, a dead
worker or a slow one can never run an order twice at once, settle it twice or charge it twice.
A worker owns an order through its ``claim_token`` while its lease is current.

No account runs more than ``settings.running_orders_limit`` orders at once, whichever workers and
processes claim them: the limit is part of the claim's ``WHERE`` (its orders that are processing
under a current lease are counted in SQL), and a claim first locks the account's row, so that on
PostgreSQL two claims for one account are decided one after the other, as on SQLite.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import string
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import Connection, Row, bindparam, case, func, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from yinzi import metrics
from yinzi.db import Database, utcnow
from yinzi.db.models import Account, Balance, Order, Upload
from yinzi.errors import (
    BadRequest,
    Cancelled,
    Conflict,
    Maintenance,
    OrderNotFound,
    YinziError,
)
from yinzi.queue.routing import queue_for
from yinzi.services import billing
from yinzi.services.billing import PayStatus
from yinzi.settings import Settings
from yinzi.storage.keys import InvalidKey, parse_key


class OrderStatus(StrEnum):
    PENDING = "pending"  # created, credits held, waiting for a worker
    PROCESSING = "processing"  # claimed by a worker that holds a current lease
    FINISH = "finish"  # results stored, cost captured
    FAILED = "failed"  # ended with a reason; everything held was released
    TIMEOUT = "timeout"  # the deadline passed first; everything held was released


ACTIVE = (OrderStatus.PENDING, OrderStatus.PROCESSING)
ENDED = (OrderStatus.FINISH, OrderStatus.FAILED, OrderStatus.TIMEOUT)
CANCELLED = Cancelled().message
"""The reason of an order its owner cancelled."""


class Stage(StrEnum):
    """Where an order is, as ``order/query`` shows it (see :mod:`yinzi.runner`)."""

    QUEUED = "queued"
    FETCHING = "fetching"
    DECODING = "decoding"
    SEPARATING = "separating"
    TRANSCRIBING = "transcribing"
    COMPOSING = "composing"
    ENCODING = "encoding"
    STORING = "storing"
    DONE = "done"


@dataclass(frozen=True)
class OrderKind:
    name: str
    family: str
    outputs: tuple[str, ...]
    """Result businesses, in the order the API lists them (empty: decided when the order runs,
    by the stem engine's stems or, for ``split_stem_advanced``, by the stem asked for)."""


ORDER_KINDS: dict[str, OrderKind] = {
    kind.name: kind
    for kind in (
        OrderKind("track-separation", "separation", ("vocals", "accompaniment")),
        OrderKind("extract-voice", "separation", ("vocals",)),
        OrderKind("extract-music", "separation", ("accompaniment",)),
        OrderKind("extract-text", "transcription", ("caption", "text", "vtt", "segments")),
        OrderKind("separate_vocal", "separation", ("vocals", "accompaniment")),
        OrderKind("split_stem", "separation", ()),
        OrderKind("split_stem_advanced", "separation", ()),
        OrderKind("text-to-music", "music", ("music",)),
    )
}
FORMATS = ("mp3", "wav", "flac")


class StaleClaim(YinziError):
    """The order is no longer held by this worker"""


def new_order_no() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(18))


def new_message_id() -> str:
    """An order's message id: a dashed UUID (``33e90b1d-81d3-4656-91c4-a5c626cbc396``), the form
    Yating shows as a task's ``uid``, whatever the order's type. Rows made before keep theirs."""
    return str(uuid.uuid4())


def request_hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def check_accepting(settings: Settings) -> None:
    """Refuse new work (orders, analyses, uploads) while ``settings.maintenance`` is on.

    Every dialect's create calls come through here, so maintenance means the same everywhere;
    queries and downloads never call it and keep working."""
    if settings.maintenance:
        raise Maintenance()


def check_source(session: Session, account: Account, source: str) -> None:
    """``source`` must be an http(s) URL, a file this account uploaded, or one of its results.

    A key is parsed (:func:`~yinzi.storage.keys.parse_key`) before anything else, so ownership
    is decided for the one object the key names; no spelling reaches another account's files.
    """
    if source.lower().startswith(("http://", "https://")):
        return
    if "://" in source:
        raise BadRequest("pathKey must be an http(s) URL or the pathKey of an uploaded file")
    try:
        key = parse_key(source)
    except InvalidKey as exc:
        raise BadRequest(f"pathKey is not a valid file key: {exc}") from exc
    if key.kind == "uploads":
        upload = session.get(Upload, str(key))
        owned = upload is not None and upload.account_id == account.id
    else:
        order = session.get(Order, key.owner)
        owned = (
            order is not None
            and order.account_id == account.id
            and any(item["key"] == str(key) for item in order.results)
        )
    if not owned:
        raise BadRequest("pathKey is not an http(s) URL or a file uploaded with this API key")


def create(
    session: Session,
    settings: Settings,
    account: Account,
    order_type: str,
    source: str,
    options: dict[str, Any],
    *,
    idempotency_key: str | None = None,
    fingerprint: str | None = None,
    callback_url: str | None = None,
    hold: int | None = None,
) -> Order:
    """Create an order and hold its price, in the caller's transaction.

    The hold is the type's minimum unless ``hold`` says otherwise (a price known at create).
    Orders that need no input (``source`` empty) skip the input check. Under maintenance
    nothing new is created, but a repeated request still gets the order it already made.
    """
    if idempotency_key:
        existing = _by_idempotency_key(session, account.id, idempotency_key)
        if existing is not None:
            return _replay(existing, fingerprint)
    check_accepting(settings)
    if source:
        check_source(session, account, source)
    now = utcnow()
    order = Order(
        order_no=new_order_no(),
        account_id=account.id,
        order_type=order_type,
        status=OrderStatus.PENDING,
        pay_status=PayStatus.WAITING,
        message_id=new_message_id(),
        source=source,
        options=options,
        held=0,
        idempotency_key=idempotency_key,
        request_hash=fingerprint,
        callback_url=callback_url,
        deadline_at=now + timedelta(seconds=settings.order_timeout_seconds),
        queue=queue_for(settings, order_type),
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent request with the same Idempotency-Key won
        raise Conflict("a request with this Idempotency-Key is already being processed") from exc
    billing.hold(
        session, order, settings.prices.for_type(order_type).minimum if hold is None else hold
    )
    metrics.order_created(session, order_type)
    return order


def _by_idempotency_key(session: Session, account_id: int, key: str) -> Order | None:
    return session.execute(
        select(Order).where(Order.account_id == account_id, Order.idempotency_key == key)
    ).scalar_one_or_none()


def _replay(order: Order, fingerprint: str | None) -> Order:
    if order.request_hash != fingerprint:
        raise Conflict()
    return order


def get(session: Session, account: Account, order_no: str) -> Order:
    """The account's order; another account's order is reported as not found."""
    order = session.get(Order, order_no)
    if order is None or order.account_id != account.id:
        raise OrderNotFound()
    return order


class Shown(Protocol):
    """The columns of an order that ``order/query`` and ``order/list`` show: an :class:`Order`,
    or a row of :func:`shown`."""

    order_no: str
    order_type: str
    status: str
    cost: int
    reason: str | None
    results: list[Any]
    progress: int
    stage: str
    purged_at: datetime | None
    created_at: datetime


_SHOWN = (
    select(
        Order.order_no,
        Order.order_type,
        Order.status,
        Order.cost,
        Order.reason,
        Order.results,
        Order.progress,
        Order.stage,
        Order.purged_at,
        Order.created_at,
        Balance.available,
    )
    .join(Balance, Balance.account_id == Order.account_id)
    .where(Order.order_no == bindparam("order_no"), Order.account_id == bindparam("account_id"))
)


def shown(connection: Connection, account_id: int, order_no: str) -> Row[Any]:
    """The account's order as :class:`Shown` columns, with the account's ``available`` balance:
    one query. Clients poll ``order/query`` while their orders run, so this reads only the
    columns shown, into a plain row (no ORM object to build), with a statement built once."""
    row = connection.execute(_SHOWN, {"order_no": order_no, "account_id": account_id}).first()
    if row is None:
        raise OrderNotFound()
    return row


# -- worker-side transitions ---------------------------------------------------------------


def _claimable(now: datetime, settings: Settings) -> Any:
    """Waiting (see :func:`_waiting`), and its account is under its running limit."""
    return _waiting(now, settings) & (_running(now) < settings.running_orders_limit)


def _waiting(now: datetime, settings: Settings) -> Any:
    """Waiting, or its worker's lease expired; and on one of ``settings.worker_queues`` (any
    queue when that is empty)."""
    return (
        (Order.attempts < settings.max_attempts)
        & Order.cancel_requested.is_(False)
        & or_(
            Order.status == OrderStatus.PENDING,
            (Order.status == OrderStatus.PROCESSING) & (Order.lease_until < now),
        )
        & (Order.queue.in_(settings.worker_queues) if settings.worker_queues else true())
    )


_RUNNING = aliased(Order, name="running")
"""One alias for every statement: SQLAlchemy adapts each column of a new alias afresh (about 2 ms
per statement), while statements on this one are built and compiled from its caches."""


def _running(now: datetime) -> Any:
    """How many orders of the order's account are processing under a current lease."""
    running = _RUNNING
    return (
        select(func.count())
        .select_from(running)
        .where(
            running.account_id == Order.account_id,
            running.status == OrderStatus.PROCESSING,
            running.lease_until >= now,
        )
        .correlate(Order)
        .scalar_subquery()
    )


def claim(db: Database, settings: Settings, order_no: str) -> tuple[Order, str] | None:
    """Take ``order_no`` if it is waiting or its worker's lease expired; None otherwise."""
    now = utcnow()
    token = secrets.token_hex(16)
    with db.write() as session:
        owner = select(Order.account_id).where(Order.order_no == order_no).scalar_subquery()
        session.execute(
            select(Account.id).where(Account.id == owner).with_for_update(key_share=True)
        )
        matched = session.execute(
            update(Order)
            .where(Order.order_no == order_no, _claimable(now, settings))
            .values(
                status=OrderStatus.PROCESSING,
                claim_token=token,
                lease_until=now + timedelta(seconds=settings.lease_seconds),
                attempts=Order.attempts + 1,
                started_at=now,
                updated_at=now,
            )
        ).rowcount  # type: ignore[attr-defined]
        if matched != 1:
            return None
        order = session.get(Order, order_no, populate_existing=True)
        assert order is not None
        return order, token


def still_waiting(db: Database, settings: Settings, order_no: str) -> bool:
    """Whether ``order_no`` is still waiting for a worker of these queues before its deadline.

    After a refused claim this means its account was running its limit of orders (or has just
    stopped), so the order should be tried again shortly rather than left to a reaper."""
    now = utcnow()
    with db.read() as session:
        found = session.execute(
            select(Order.order_no).where(
                Order.order_no == order_no, Order.deadline_at >= now, _waiting(now, settings)
            )
        ).first()
        return found is not None


def next_claimable(db: Database, settings: Settings, limit: int = 8) -> list[str]:
    with db.read() as session:
        rows = session.execute(
            select(Order.order_no)
            .where(_claimable(utcnow(), settings))
            .order_by(Order.created_at)
            .limit(limit)
        )
        return list(rows.scalars())


def _cas(session: Session, order_no: str, token: str, *when: Any, **values: Any) -> Order:
    """Update the order only while ``token`` still holds it (and the conditions ``when`` hold);
    raise StaleClaim otherwise."""
    matched = session.execute(
        update(Order)
        .where(
            Order.order_no == order_no,
            Order.claim_token == token,
            Order.status == OrderStatus.PROCESSING,
            *when,
        )
        .values(**values)
    ).rowcount  # type: ignore[attr-defined]
    if matched != 1:
        raise StaleClaim()
    order = session.get(Order, order_no, populate_existing=True)
    assert order is not None
    return order


def report_progress(
    db: Database,
    settings: Settings,
    order_no: str,
    token: str,
    progress: int,
    stage: str,
    *,
    renew: bool = False,
) -> bool:
    """Record the worker's ``progress`` (never lowered) and ``stage``, renewing the lease too
    when ``renew``; returns whether the owner asked to cancel the order."""
    values: dict[str, Any] = {
        "progress": case((Order.progress > progress, Order.progress), else_=progress),
        "stage": stage,
    }
    if renew:
        now = utcnow()
        values["lease_until"] = now + timedelta(seconds=settings.lease_seconds)
        values["updated_at"] = now
    with db.write() as session:
        return bool(_cas(session, order_no, token, **values).cancel_requested)


def cancel_requested(db: Database, order_no: str, token: str) -> bool:
    """Whether the owner asked to cancel the order ``token`` holds; StaleClaim once it does not."""
    with db.read() as session:
        return _cancel_flag(session, order_no, token)


def _cancel_flag(session: Session, order_no: str, token: str) -> bool:
    flag = session.execute(
        select(Order.cancel_requested).where(
            Order.order_no == order_no,
            Order.claim_token == token,
            Order.status == OrderStatus.PROCESSING,
        )
    ).scalar_one_or_none()
    if flag is None:
        raise StaleClaim()
    return bool(flag)


def set_duration(
    db: Database, settings: Settings, order_no: str, token: str, seconds: float
) -> int:
    """Record the input's duration and raise the hold to the real price; returns the price."""
    with db.write() as session:
        order = _cas(session, order_no, token, duration=seconds, updated_at=utcnow())
        price = settings.prices.for_type(order.order_type).for_duration(seconds)
        billing.hold_up_to(session, order, price)
        return price


def _ending(status: OrderStatus, now: datetime, **values: Any) -> dict[str, Any]:
    """The columns of an order that reaches a final status: no claim, no lease, finished now,
    and its callback (if it has a callback URL) due at once."""
    return {
        "status": status,
        "claim_token": None,
        "lease_until": None,
        "finished_at": now,
        "updated_at": now,
        "callback_state": case((Order.callback_url.is_not(None), "pending"), else_=None),
        "callback_next_at": now,
        "stage": Stage.DONE,
        **values,
    }


def finish(
    db: Database,
    settings: Settings,
    order_no: str,
    token: str,
    results: list[dict[str, str]],
    seconds: float,
    price: int | None = None,
) -> int:
    """Settle a finished order at the price of the ``seconds`` actually decoded.

    The price is computed from the decoded length, not the header's claim: if the file held more
    than it declared, the hold is raised here (or the whole transition fails with
    InsufficientCredits); if it held less, only what was processed is charged. Returns the cost.
    """
    now = utcnow()
    ending = _ending(OrderStatus.FINISH, now, results=results, duration=seconds, progress=100)
    with db.write() as session:
        try:
            order = _cas(session, order_no, token, Order.cancel_requested.is_(False), **ending)
        except StaleClaim:
            if _cancel_flag(session, order_no, token):
                raise Cancelled() from None
            raise
        if price is None:
            price = settings.prices.for_type(order.order_type).for_duration(seconds)
        billing.hold_up_to(session, order, price)
        billing.capture(session, order, price)
        metrics.order_ended(session, order.order_type, OrderStatus.FINISH)
        return price


def fail(
    db: Database, order_no: str, token: str, reason: str, code: str = "internal_error"
) -> None:
    now = utcnow()
    with db.write() as session:
        ended = _ending(OrderStatus.FAILED, now, reason=reason, error_code=code)
        order = _cas(session, order_no, token, **ended)
        billing.release(session, order)
        metrics.order_ended(session, order.order_type, OrderStatus.FAILED)


def expire_overdue(db: Database, settings: Settings) -> list[str]:
    """End orders past their deadline (``timeout``) or out of attempts (``failed``)."""
    now = utcnow()
    with db.read() as session:
        overdue = session.execute(
            select(Order.order_no, Order.deadline_at, Order.cancel_requested).where(
                Order.status.in_(ACTIVE),
                (Order.deadline_at < now)
                | (
                    ((Order.attempts >= settings.max_attempts) | Order.cancel_requested)
                    & (Order.lease_until < now)
                ),
            )
        ).all()
    ended = []
    for order_no, deadline, cancelled in overdue:
        if deadline < now:
            status, code = OrderStatus.TIMEOUT, "timeout"
            reason = "the order did not finish before its deadline"
        elif cancelled:  # its worker stopped before it saw the cancel
            status, code, reason = OrderStatus.FAILED, Cancelled.code, CANCELLED
        else:
            status, code = OrderStatus.FAILED, "worker_lost"
            reason = f"the order's worker stopped {settings.max_attempts} times; giving up"
        if _end_active(db, order_no, status, reason, code, now):
            ended.append(order_no)
    return ended


def _end_active(
    db: Database, order_no: str, status: OrderStatus, reason: str, code: str, now: datetime
) -> bool:
    with db.write() as session:
        matched = session.execute(
            update(Order)
            .where(Order.order_no == order_no, Order.status.in_(ACTIVE))
            .values(**_ending(status, now, reason=reason, error_code=code))
        ).rowcount  # type: ignore[attr-defined]
        if matched != 1:
            return False
        order = session.get(Order, order_no, populate_existing=True)
        assert order is not None
        billing.release(session, order)
        metrics.order_ended(session, order.order_type, status)
        return True


# -- the owner's calls -----------------------------------------------------------------------


def queue_position(session: Session | Connection, order: Shown) -> int | None:
    """1 for the next pending order to be claimed, 2 for the one after...; None unless pending.

    Workers claim the oldest waiting order first, whoever made it, so this counts the pending
    orders created before it (ties broken by order number)."""
    if order.status != OrderStatus.PENDING:
        return None
    ahead = session.execute(
        select(func.count())
        .select_from(Order)
        .where(
            Order.status == OrderStatus.PENDING,
            Order.cancel_requested.is_(False),
            (Order.created_at < order.created_at)
            | ((Order.created_at == order.created_at) & (Order.order_no < order.order_no)),
        )
    ).scalar_one()
    return int(ahead) + 1


def page(
    session: Session,
    account: Account,
    number: int,
    size: int,
    *,
    status: str | None = None,
    order_type: str | None = None,
) -> tuple[list[Order], int]:
    """One page of the account's orders, newest first, and how many there are in all."""
    where = [Order.account_id == account.id]
    if status is not None:
        where.append(Order.status == status)
    if order_type is not None:
        where.append(Order.order_type == order_type)
    total = session.execute(select(func.count()).select_from(Order).where(*where)).scalar_one()
    rows = session.execute(
        select(Order)
        .where(*where)
        .order_by(Order.created_at.desc(), Order.order_no.desc())
        .offset((number - 1) * size)
        .limit(size)
    ).scalars()
    return list(rows), int(total)


def cancel(db: Database, account: Account, order_no: str) -> None:
    """Cancel the account's order: a pending one ends now (failed, its credits released); a
    processing one is marked, and its worker fails it at its next progress write. An order
    that has ended already is a BadRequest."""
    now = utcnow()
    with db.write() as session:
        order = get(session, account, order_no)
        ended = session.execute(
            update(Order)
            .where(Order.order_no == order_no, Order.status == OrderStatus.PENDING)
            .values(**_ending(OrderStatus.FAILED, now, reason=CANCELLED, error_code=Cancelled.code))
        ).rowcount  # type: ignore[attr-defined]
        if ended == 1:
            session.refresh(order)
            billing.release(session, order)
            metrics.order_ended(session, order.order_type, OrderStatus.FAILED)
            return
        marked = session.execute(
            update(Order)
            .where(Order.order_no == order_no, Order.status == OrderStatus.PROCESSING)
            .values(cancel_requested=True, updated_at=now)
        ).rowcount  # type: ignore[attr-defined]
        if marked != 1:
            session.refresh(order)
            raise BadRequest(f"order {order_no} has already ended ({order.status})")


def check_ended(order: Order) -> None:
    """BadRequest unless ``order`` has ended (finished, failed or timed out)."""
    if order.status not in ENDED:
        raise BadRequest(f"order {order.order_no} has not ended yet ({order.status})")
