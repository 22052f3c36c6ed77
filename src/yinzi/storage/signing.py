"""HMAC-signed, expiring download links for the local file server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from urllib.parse import quote, urlencode

from yinzi.errors import Forbidden

_EXPIRES = re.compile(r"[0-9]{1,12}")


class LinkExpired(Forbidden):
    """This download link has expired; query the order again for a fresh one"""


class LinkInvalid(Forbidden):
    """This download link is invalid (its signature does not match)"""


def sign(secret: bytes, key: str, expires: int) -> str:
    mac = hmac.new(secret, f"{key}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def verify(secret: bytes, key: str, expires: str, signature: str, now: float | None = None) -> None:
    """Raise LinkInvalid or LinkExpired unless the link is authentic and current."""
    if not _EXPIRES.fullmatch(expires):
        raise LinkInvalid()
    expires_at = int(expires)
    given = signature.encode("utf-8", "replace")  # any text: compare_digest wants ASCII or bytes
    if not hmac.compare_digest(sign(secret, key, expires_at).encode(), given):
        raise LinkInvalid()
    if (time.time() if now is None else now) > expires_at:
        raise LinkExpired()


def signed_link(base_url: str, secret: bytes, key: str, ttl_seconds: int) -> str:
    """A link to this server's ``/files/`` route for ``key``, valid for ``ttl_seconds``."""
    expires = int(time.time()) + ttl_seconds
    query = urlencode({"expires": expires, "signature": sign(secret, key, expires)})
    return f"{base_url}/files/{quote(key)}?{query}"
