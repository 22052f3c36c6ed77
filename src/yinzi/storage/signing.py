"""HMAC-signed, expiring download links for the local file server, and :class:`RecentLinks`,
which lets any backend reuse a link within the second it was made."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Callable
from urllib.parse import quote

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
    # both values are URL-safe as they are: digits, and unpadded URL-safe base64
    return f"{base_url}/files/{quote(key)}?expires={expires}&signature={sign(secret, key, expires)}"


class RecentLinks:
    """The last link made for each key and lifetime, reused within the same second.

    A link's expiry is counted in whole seconds from the current time (local links here, S3's
    presigned ones with their ``X-Amz-Date``), so a link made again within that second is the
    same text: reusing it changes no answer, and a client polling an order many times a second
    costs one signature per result per second. At most ``max_entries`` are kept.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._links: dict[tuple[str, int], tuple[int, str]] = {}

    def get(self, key: str, ttl_seconds: int, make: Callable[[], str]) -> str:
        second = int(time.time())
        hit = self._links.get((key, ttl_seconds))
        if hit is not None and hit[0] == second:
            return hit[1]
        link = make()
        if len(self._links) >= self.max_entries:
            self._links.clear()
        self._links[key, ttl_seconds] = (second, link)
        return link
