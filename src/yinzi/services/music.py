"""Text-to-music requests: the rules a prompt and a length follow, and the order they make.

Every dialect that creates music (the Open API's ``text-to-music`` type, the Yating-compatible
``/v1/textToMusic`` and the console) checks its input with :func:`validate` and creates the
order with :func:`create_task`, which holds the whole price at once (bars are known up front).
"""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any

from yinzi.db.models import Account, Order
from yinzi.errors import ValidationFailed
from yinzi.services import orders

if TYPE_CHECKING:
    from yinzi.context import Context

ORDER_TYPE = "text-to-music"
TEXT = re.compile(r"[A-Za-z ]+")
MAX_TEXT = 200
MAX_LENGTH = 12


class BadMusicRequest(ValidationFailed):
    """Bad Request"""

    status = 400

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def validate(text: Any, length: Any, length_field: str = "config.length") -> tuple[str, int]:
    """The seed's rules: English letters and spaces, 1 to 200 characters; length 1 to 12.

    A whole-number float (``4.0``, as many JSON encoders write 4) counts as that integer.
    ``length_field`` is how the caller's dialect names the length in its messages."""
    problems = []
    if isinstance(length, float) and length.is_integer():
        length = int(length)
    if not isinstance(text, str) or not text.strip():
        problems.append("text should not be empty")
    elif len(text) > MAX_TEXT:
        problems.append(f"text must be shorter than or equal to {MAX_TEXT} characters")
    elif not TEXT.fullmatch(text):
        problems.append("text must contain only English letters and spaces")
    if isinstance(length, bool) or not isinstance(length, int):
        problems.append(f"{length_field} must be an integer number")
    elif not 1 <= length <= MAX_LENGTH:
        problems.append(f"{length_field} must not be less than 1 and not greater than {MAX_LENGTH}")
    if problems:
        raise BadMusicRequest(problems)
    return str(text).strip(), int(length)


def create_task(
    ctx: Context,
    account: Account,
    text: str,
    length: int,
    *,
    idempotency_key: str | None = None,
    fingerprint: str | None = None,
) -> Order:
    """Create a text-to-music order holding its whole price (known from the bars asked)."""
    options = {"text": text, "length": length, "seed": secrets.randbelow(2**31)}
    with ctx.db.write() as session:
        return orders.create(
            session,
            ctx.settings,
            account,
            ORDER_TYPE,
            "",
            options,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            hold=ctx.settings.prices.text_to_music.per_bar * length,
        )
