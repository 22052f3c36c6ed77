"""Console pages: keys."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from yinzi.console.auth import check_csrf

router = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])
