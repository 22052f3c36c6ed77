"""The words the order and credit pages show for stored values (statuses, stages, order types,
ledger kinds), in the page's language. One table per value set; the English text is the
catalogue's msgid, so translating a label is adding it to ``messages.po``."""

from __future__ import annotations

from yinzi.console import i18n

STATUSES = {
    "pending": "Waiting",
    "processing": "Running",
    "finish": "Finished",
    "failed": "Failed",
    "timeout": "Timed out",
}
STAGES = {
    "queued": "Queued",
    "fetching": "Fetching the input",
    "decoding": "Decoding",
    "separating": "Separating",
    "transcribing": "Transcribing",
    "composing": "Composing",
    "encoding": "Encoding",
    "storing": "Storing the results",
    "done": "Done",
}
ORDER_TYPES = {
    "track-separation": "Vocals and accompaniment",
    "extract-voice": "Vocals only",
    "extract-music": "Accompaniment only",
    "extract-text": "Speech to text",
    "separate_vocal": "Vocal removal",
    "split_stem": "Split into stems",
    "split_stem_advanced": "Isolate one instrument",
    "text-to-music": "Text to music",
    "short-video-analyze": "Short-video analysis",
}
LEDGER_KINDS = {
    "grant": "Grant",
    "revoke": "Revoked",
    "hold": "Hold",
    "capture": "Charge",
    "release": "Released",
    "charge": "Charge (real time)",
    "refund": "Refund",
}
TABLES = {
    "status": STATUSES,
    "stage": STAGES,
    "order_type": ORDER_TYPES,
    "ledger_kind": LEDGER_KINDS,
}


def label(lang: str, table: str, value: str | None) -> str:
    """``value``'s label from ``table`` in ``lang``; an unknown value is shown as it is."""
    english = TABLES[table].get(value or "")
    return i18n.gettext(lang, english) if english else (value or "")
