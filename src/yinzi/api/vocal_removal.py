"""The vocal-removal dialect (Kie-compatible): ``{"code": 200, "msg": "success", "data": ...}``.

Errors use the same envelope with ``code`` equal to the HTTP status, one of the codes Kie
documents: 401, 402, 404, 409, 422, 429, 451, 455 and 500. A task is an order of type
``separate_vocal``, ``split_stem`` or ``split_stem_advanced`` (one named stem and the rest, see
:mod:`yinzi.services.stem_names`); its ``taskId`` is the order number. Kie's balance call,
``GET /api/v1/chat/credit``, is here too (:data:`chat_router`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from yinzi.api.deps import ContextDep, DispatcherDep, IdempotencyKey, bearer_token
from yinzi.api.limits import MAX_ID, MAX_URL, MAX_WORD
from yinzi.context import Context
from yinzi.db.models import Account, Order, Upload
from yinzi.errors import (
    MissingApiKey,
    NotFound,
    OrderNotFound,
    ValidationFailed,
    YinziError,
)
from yinzi.services import billing, callbacks, orders, stem_names
from yinzi.services.orders import OrderStatus

PREFIX = "/api/v1/vocal-removal"
CHAT_PREFIX = "/api/v1/chat"
router = APIRouter(prefix=PREFIX, tags=["Vocal removal (Kie-compatible)"])
chat_router = APIRouter(prefix=CHAT_PREFIX, tags=["Vocal removal (Kie-compatible)"])
CODES = (401, 402, 404, 409, 422, 429, 451, 455, 500)
TYPES = ("separate_vocal", "split_stem", stem_names.ORDER_TYPE)
URL_FIELDS = (
    "originUrl",
    "instrumentalUrl",
    "vocalUrl",
    "backingVocalsUrl",
    "drumsUrl",
    "bassUrl",
    "guitarUrl",
    "pianoUrl",
    "keyboardUrl",
    "percussionUrl",
    "stringsUrl",
    "synthUrl",
    "fxUrl",
    "brassUrl",
    "woodwindsUrl",
)
STEM_FIELDS = {
    "vocals": "vocalUrl",
    "accompaniment": "instrumentalUrl",
    "backing_vocals": "backingVocalsUrl",
    "drums": "drumsUrl",
    "bass": "bassUrl",
    "guitar": "guitarUrl",
    "piano": "pianoUrl",
    "keyboard": "keyboardUrl",
    "percussion": "percussionUrl",
    "strings": "stringsUrl",
    "synth": "synthUrl",
    "fx": "fxUrl",
    "brass": "brassUrl",
    "woodwinds": "woodwindsUrl",
}
INPUT_CODES = {
    "fetch_failed": 451,
    "address_refused": 451,
    "input_too_large": 451,
    "insufficient_credits": 402,
}
CALLBACK_CODES = {
    "fetch_failed": 400,
    "address_refused": 400,
    "media_error": 400,
    "input_error": 400,
    "insufficient_credits": 400,
    "timeout": 408,
    "input_too_large": 413,
    "unsupported": 501,
    "configuration_error": 501,
}
"""Callback ``code`` of a failure, by the order's error code; any other failure is 531 when the
task's credits were given back and 500 when it held none (see :func:`callback_code`)."""
NOT_FOUND = "Not Found - The requested resource or endpoint does not exist"


def render_error(exc: YinziError) -> JSONResponse:
    if exc.keeps_status or exc.status in CODES:
        code = exc.status
    else:
        code = 500 if exc.status >= 500 else 422
    return JSONResponse({"code": code, "msg": exc.message, "data": None}, code)


def has_credentials(request: Request) -> bool:
    return bearer_token(request) is not None


def ok(data: Any) -> dict[str, Any]:
    return {"code": 200, "msg": "success", "data": data}


class GenerateRequest(BaseModel):
    taskId: str | None = Field(None, max_length=MAX_ID)
    audioId: str | None = Field(None, max_length=MAX_ID)
    callBackUrl: str | None = Field(None, max_length=MAX_URL)
    type: str = Field("separate_vocal", max_length=MAX_WORD)
    audioUrl: str | None = Field(None, max_length=MAX_URL)
    stemName: str | None = Field(None, max_length=MAX_WORD)


def _account(request: Request, ctx: ContextDep) -> Account:
    """The caller's account, checked (and rate-limited) before the body is validated."""
    key = bearer_token(request)
    if not key:
        raise MissingApiKey("Authorization: Bearer <API key> is required")
    account = ctx.keys.check(ctx.db, key)
    ctx.limiter.hit(key)
    return account


CurrentAccount = Annotated[Account, Depends(_account)]


def callback_url(ctx: Context, value: str | None) -> str:
    """A callback URL that could be delivered to: http(s), a valid host, no spaces, and an
    address the fetch policy allows (:func:`yinzi.services.callbacks.check_url`)."""
    url = (value or "").strip()
    try:
        parts = urlsplit(url)
        valid = (
            parts.scheme.lower() in ("http", "https")
            and bool(parts.hostname)
            and not any(c.isspace() for c in url)
        )
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        valid = False
    if not valid:
        raise ValidationFailed("callBackUrl is required and must be a valid http(s) URL")
    callbacks.check_url(ctx, url)
    return url


def _source(ctx: Context, account: Account, body: GenerateRequest) -> str:
    if body.audioUrl and (body.taskId or body.audioId):
        raise ValidationFailed(
            "audioUrl cannot be combined with taskId or audioId: send either audioUrl, "
            "or taskId and audioId"
        )
    if body.audioUrl:
        url = body.audioUrl.strip()
        if url.lower().startswith(("http://", "https://")):
            ctx.fetcher.check_url(url)
        else:
            _check_upload_size(ctx, url)
        return url
    if not body.taskId or not body.audioId:
        raise ValidationFailed("taskId and audioId are required (or audioUrl)")
    with ctx.db.read() as session:
        music = session.get(Order, body.taskId)
    if (
        music is None
        or music.account_id != account.id
        or music.order_type != "text-to-music"
        or body.audioId not in (music.message_id, "0")
    ):
        raise NotFound(f"no music task {body.taskId} with audio {body.audioId}")
    if music.status != OrderStatus.FINISH or not music.results:
        raise ValidationFailed(f"music task {body.taskId} has not completed")
    key: str = music.results[0]["key"]
    return key


def _check_upload_size(ctx: Context, key: str) -> None:
    """Refuse an uploaded file over the ``audioUrl`` limit now (a URL is cut off downloading)."""
    limit = ctx.settings.vocal_removal_max_input_bytes
    with ctx.db.read() as session:
        upload = session.get(Upload, key)
    if upload is not None and upload.size > limit:
        raise ValidationFailed(
            f"audioUrl: the file is {upload.size} bytes, over the limit of {limit} bytes"
        )


@router.post("/generate")
def generate(
    account: CurrentAccount,
    body: GenerateRequest,
    ctx: ContextDep,
    dispatcher: DispatcherDep,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    orders.check_accepting(ctx.settings)  # before the body is judged: come back later
    if body.type not in TYPES:
        raise ValidationFailed(f"type must be one of {', '.join(TYPES)}")
    callback = callback_url(ctx, body.callBackUrl)
    source = _source(ctx, account, body)
    options: dict[str, Any] = {"format": "mp3", "audioId": body.audioId, "musicTaskId": body.taskId}
    if body.audioUrl:
        options["maxInputBytes"] = ctx.settings.vocal_removal_max_input_bytes
    if body.type == stem_names.ORDER_TYPE:  # the other types ignore stemName
        options |= stem_names.order_options(ctx.settings, body.stemName)
    with ctx.db.write() as session:
        order = orders.create(
            session,
            ctx.settings,
            account,
            body.type,
            source,
            options,
            idempotency_key=idempotency_key,
            fingerprint=orders.request_hash(body.model_dump(mode="json")),
            callback_url=callback,
        )
    dispatcher.dispatch(order.order_no)
    return ok({"taskId": order.order_no})


@router.get("/record-info")
def record_info(
    account: CurrentAccount,
    ctx: ContextDep,
    taskId: Annotated[str, Query(max_length=MAX_ID)] = "",
) -> dict[str, Any]:
    if not taskId:
        raise ValidationFailed("taskId is required")
    with ctx.db.read() as session:
        try:
            order: Order | None = orders.get(session, account, taskId)
        except OrderNotFound:
            order = None
    if order is None or order.order_type not in TYPES:
        raise NotFound(NOT_FOUND)
    return ok(record(ctx, order))


@chat_router.get("/credit")
def credit(account: CurrentAccount, ctx: ContextDep) -> dict[str, Any]:
    """Kie's balance call: the credits the account has available (held credits excluded)."""
    with ctx.db.read() as session:
        return ok(billing.balance(session, account.id).available)


def success_flag(order: Order) -> str:
    if order.status == OrderStatus.FINISH:
        return "CALLBACK_EXCEPTION" if order.callback_state == "failed" else "SUCCESS"
    if order.status == OrderStatus.FAILED and order.error_code in _INPUT_FAILURES:
        return "CREATE_TASK_FAILED"
    if order.status in (OrderStatus.FAILED, OrderStatus.TIMEOUT):
        return "GENERATE_AUDIO_FAILED"
    return "PENDING"


_INPUT_FAILURES = (*INPUT_CODES, "media_error", "input_error")


def error_code(order: Order) -> int | None:
    if order.status == OrderStatus.FINISH and order.callback_state == "failed":
        return 500  # CALLBACK_EXCEPTION: the results are there, the callback was not delivered
    if order.status not in (OrderStatus.FAILED, OrderStatus.TIMEOUT):
        return None
    if order.error_code in INPUT_CODES:
        return INPUT_CODES[order.error_code]
    return 422 if order.error_code in _INPUT_FAILURES else 500


def error_message(order: Order) -> str | None:
    if order.status in (OrderStatus.FAILED, OrderStatus.TIMEOUT):
        return order.reason
    if order.status == OrderStatus.FINISH and order.callback_state == "failed":
        return f"the callback could not be delivered: {order.callback_error}"
    return None


def urls(ctx: Context, order: Order) -> dict[str, str | None]:
    fields: dict[str, str | None] = dict.fromkeys(URL_FIELDS)
    if order.status != OrderStatus.FINISH:
        return fields
    ttl = ctx.settings.link_ttl_seconds
    if order.source.lower().startswith(("http://", "https://")):
        fields["originUrl"] = order.source
    elif ctx.storage.exists(order.source):
        fields["originUrl"] = ctx.storage.url(order.source, ttl_seconds=ttl)
    for item in order.results:
        field = STEM_FIELDS.get(item["business"], f"{_camel(item['business'])}Url")
        fields[field] = ctx.storage.url(item["key"], ttl_seconds=ttl)
    if order.order_type == "split_stem" and fields.get("otherUrl") and not fields["fxUrl"]:
        fields["fxUrl"] = fields["otherUrl"]  # Kie has no "other" field; clients read fxUrl
    return fields


def record(ctx: Context, order: Order) -> dict[str, Any]:
    finished = order.finished_at if order.status == OrderStatus.FINISH else None
    return {
        "taskId": order.order_no,
        "musicId": order.options.get("audioId"),
        "callbackUrl": order.callback_url,
        "musicIndex": 0,
        "completeTime": _ms(finished),
        "response": urls(ctx, order),
        "successFlag": success_flag(order),
        "createTime": _ms(order.created_at),
        "errorCode": error_code(order),
        "errorMessage": error_message(order),
        "progress": order.progress,
        "stage": order.stage,
    }


def callback_body(ctx: Context, order: Order) -> dict[str, Any]:
    """The JSON POSTed to ``callBackUrl`` when the task ends."""
    if order.status == OrderStatus.FINISH:
        info = {_snake(k): v for k, v in urls(ctx, order).items()}
        return {
            "code": 200,
            "msg": "vocal Removal generated successfully.",
            "data": _callback_data(order, info),
        }
    return {
        "code": callback_code(ctx, order),
        "msg": f"vocal Removal generation failed: {order.reason}",
        "data": _callback_data(order, None),
    }


def _callback_data(order: Order, info: dict[str, Any] | None) -> dict[str, Any]:
    """Kie's English docs call the stems ``vocal_separation_info``, its Chinese docs
    ``vocal_removal_info``: both keys are sent, holding the same object."""
    return {"task_id": order.order_no, "vocal_separation_info": info, "vocal_removal_info": info}


def callback_code(ctx: Context, order: Order) -> int:
    """The callback ``code`` of a failed or timed-out task, one of Kie's 400, 408, 413, 500, 501
    and 531: the cause when it is known (:data:`CALLBACK_CODES`), else 531 ("failed, credits
    refunded") when credits held for the task were given back, and 500 when it held none."""
    known = CALLBACK_CODES.get(order.error_code or "")
    if known is not None:
        return known
    with ctx.db.read() as session:
        refunded = billing.returned(session, order.order_no)
    return 531 if refunded else 500


def _ms(moment: Any) -> int | None:
    from datetime import UTC

    return None if moment is None else int(moment.replace(tzinfo=UTC).timestamp() * 1000)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()
