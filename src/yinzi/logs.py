"""Logging set-up. API keys never reach a log line, whatever the logger or format."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

_SECRETS = [
    (re.compile(r"(?i)(apiKey=)[^&\s\"']+"), r"\1[redacted]"),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1[redacted]"),
    (re.compile(r"yz_[A-Za-z0-9_-]{20,}"), "yz_[redacted]"),
    (re.compile(r"(/console/set-password/)[^/?\s\"']+"), r"\1[redacted]"),
]

_SUSPECT = re.compile(r"(?i)apikey=|bearer|yz_|/console/set-password/|%[0-9a-f]{2}")
"""What every secret above, or a percent-escape that could spell one, contains: text without
any of it is left alone at the cost of one search (every access log line goes through here)."""


def redact(text: str) -> str:
    """``text`` with API keys masked. A key (or its parameter's name, ``api%4Bey``) written with
    percent-escapes is found in the decoded text, which is then what is kept; text without a key
    is left as it was (a format string's ``%02d`` is not an escape to decode)."""
    if not _SUSPECT.search(text):
        return text
    masked = _mask(text)
    if "%" in text:
        decoded = unquote(text)
        decoded_masked = _mask(decoded)
        if decoded_masked != decoded:
            return decoded_masked
    return masked


def _mask(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message and arguments (uvicorn's access log keeps its args)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "yinzi_redacted", False):  # by the logger's filter, now its handler's
            return True
        record.yinzi_redacted = True
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        return True


def install_redaction() -> None:
    """Attach the filter to the root and uvicorn loggers and to all their handlers."""
    for name in ("", "uvicorn", "uvicorn.access", "uvicorn.error", "yinzi"):
        logger = logging.getLogger(name)
        targets: list[logging.Filterer] = [logger, *logger.handlers]
        for target in targets:
            if not any(isinstance(f, RedactingFilter) for f in target.filters):
                target.addFilter(RedactingFilter())


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_redaction()
