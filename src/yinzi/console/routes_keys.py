"""Console pages: API keys.

A new key is shown once, in the answer to the form that created it; afterwards only its name and
first characters are. Only the viewer's own keys can be revoked; another account's key id is a
404, like one that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from starlette.responses import RedirectResponse, Response

from yinzi.api import open_v1, text_to_music, vocal_removal
from yinzi.api.deps import ContextDep
from yinzi.console.auth import ViewerDep, check_csrf
from yinzi.console.forms import alert
from yinzi.console.i18n import N_
from yinzi.console.render import page
from yinzi.context import Context
from yinzi.errors import BadRequest
from yinzi.services import accounts
from yinzi.services.accounts import MAX_KEY_NAME_CHARS

router = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])


@router.get("/keys")
def keys_page(request: Request, ctx: ContextDep, viewer: ViewerDep) -> Response:
    return _keys(request, ctx, viewer.account_id)


@router.post("/keys")
def create_key(
    request: Request,
    ctx: ContextDep,
    viewer: ViewerDep,
    name: Annotated[str, Form(max_length=MAX_KEY_NAME_CHARS)] = "",
) -> Response:
    try:
        with ctx.db.write() as session:
            key = accounts.create_key(session, accounts.by_id(session, viewer.account_id), name)
    except BadRequest as exc:
        extra = {"alert": alert(request, exc.message), "name": name}
        return _keys(request, ctx, viewer.account_id, extra, status=400)
    return _keys(request, ctx, viewer.account_id, {"new_key": key, "new_name": name.strip()})


@router.post("/keys/{key_id}/revoke")
def revoke_key(
    ctx: ContextDep, viewer: ViewerDep, key_id: Annotated[int, Path(ge=1, le=2**62)]
) -> Response:
    with ctx.db.write() as session:
        revoked = accounts.revoke_own_key(session, viewer.account_id, key_id)
    ctx.keys.forget(revoked.key_hash)
    return RedirectResponse("/console/keys", status_code=303)


def _keys(
    request: Request,
    ctx: Context,
    account_id: int,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    with ctx.db.read() as session:
        rows = accounts.list_keys(session, accounts.by_id(session, account_id))
    values = {
        "keys": rows,
        "usage": usage(ctx.settings.base_url),
        **(extra or {}),
    }
    return page(request, "keys.html", values, status=status, nav="keys")


_YATING_BODY = '{"text": "guitar solo bossa nova C minor", "config": {"length": 8}}'


def usage(base: str, key: str = "YOUR_KEY") -> list[dict[str, str]]:
    """How to call each dialect with a key: its name, how it authenticates, a first request."""
    return [
        {
            "name": N_("Open API"),
            "auth": "Authorization: Bearer YOUR_KEY",
            "example": f"curl -H 'Authorization: Bearer {key}' \\\n"
            f"  '{base}{open_v1.PREFIX}/order/list?page=1&perPage=10'",
        },
        {
            "name": N_("Vocal removal (Kie-compatible)"),
            "auth": "Authorization: Bearer YOUR_KEY",
            "example": f"curl -H 'Authorization: Bearer {key}' \\\n"
            f"  '{base}{vocal_removal.CHAT_PREFIX}/credit'",
        },
        {
            "name": N_("Text to music (Yating-compatible)"),
            "auth": "key: YOUR_KEY",
            "example": f"curl -H 'key: {key}' -H 'Content-Type: application/json' \\\n"
            f"  -d '{_YATING_BODY}' \\\n"
            f"  '{base}{text_to_music.PREFIX}'",
        },
    ]
