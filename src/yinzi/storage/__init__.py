"""Where inputs and results live, and the signed links that hand them out."""

from __future__ import annotations

from yinzi.storage.base import Storage
from yinzi.storage.local import LocalStorage

__all__ = ["LocalStorage", "Storage"]
