"""API keys never reach a log line, however the request spells them."""

from __future__ import annotations

import logging

import pytest

from yinzi.logs import RedactingFilter, redact

KEY = "yz_JzxPZR7lGc_Ckij7jRkhr76M5ZI-jnAo_VV8lxF_xBk"
ESCAPED_KEY = "".join(f"%{b:02X}" for b in KEY.encode())


@pytest.mark.parametrize(
    "line",
    [
        f"GET /api/open/v1/order/query?orderNo=1&apiKey={KEY} HTTP/1.1",
        f"GET /api/open/v1/order/query?orderNo=1&api%4Bey={KEY} HTTP/1.1",
        f"GET /api/open/v1/order/query?api%4bey={ESCAPED_KEY}&orderNo=1 HTTP/1.1",
        f"GET /api/open/v1/order/query?apiKey={ESCAPED_KEY} HTTP/1.1",
        f"GET /api/open/v1/order/query?%61%70%69%4B%65%79={KEY[:3]}%5F{KEY[3:]} HTTP/1.1",
        f"Authorization: Bearer {KEY}",
    ],
)
def test_keys_are_masked_in_every_spelling(line: str) -> None:
    masked = redact(line)
    assert KEY not in masked and ESCAPED_KEY not in masked
    assert KEY[3:15] not in masked


def test_the_access_log_record_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.access")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="test.access"):
        path = f"/api/open/v1/order/query?api%4Bey={ESCAPED_KEY}"
        logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1", "GET", path, "1.1", 400)
    assert KEY not in caplog.text and ESCAPED_KEY not in caplog.text
    assert "[redacted]" in caplog.text


def test_text_without_a_key_is_left_as_it_was() -> None:
    for text in ("order %s took %02d:%02d", "50%2F50 split", "GET /files/a%20b.mp3 HTTP/1.1"):
        assert redact(text) == text


def test_set_password_links_are_masked() -> None:
    token = "Q2xP7pLk0Zr9d1N4c8vWm3Yb6Tg5Hs2Ja0Kf7Ue1Rx"
    masked = redact(f'"POST /console/set-password/{token} HTTP/1.1" 200')
    assert token not in masked and "/console/set-password/[redacted]" in masked
