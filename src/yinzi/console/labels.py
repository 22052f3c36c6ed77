"""What the console calls each stored value: order statuses, stages, order types, ledger kinds,
result names and the ledger notes the system writes, in the visitor's language.

One table per value set; the English text is the catalogue's msgid (marked with ``N_`` so the
extractor finds it), so a page shows ``{{ _(STATUS_LABELS[order.status]) }}`` and translating a
label is adding it to ``messages.po``. Every member of :class:`~yinzi.services.orders.OrderStatus`
and :class:`~yinzi.services.orders.Stage` and every order type has a label (tested); an unknown
value is shown as it is.
"""

from __future__ import annotations

from yinzi.console import i18n
from yinzi.console.i18n import N_

STATUSES = {
    "pending": N_("Waiting"),
    "processing": N_("Running"),
    "finish": N_("Finished"),
    "failed": N_("Failed"),
    "timeout": N_("Timed out"),
}
STAGES = {
    "queued": N_("Queued"),
    "fetching": N_("Fetching the input"),
    "decoding": N_("Decoding"),
    "separating": N_("Separating"),
    "transcribing": N_("Transcribing"),
    "composing": N_("Composing"),
    "encoding": N_("Encoding"),
    "storing": N_("Storing the results"),
    "done": N_("Done"),
}
ORDER_TYPES = {
    "track-separation": N_("Vocals and accompaniment"),
    "extract-voice": N_("Vocals only"),
    "extract-music": N_("Accompaniment only"),
    "extract-text": N_("Speech to text"),
    "separate_vocal": N_("Vocal removal"),
    "split_stem": N_("Split into stems"),
    "split_stem_advanced": N_("Isolate one instrument"),
    "text-to-music": N_("Text to music"),
    "short-video-analyze": N_("Short-video analysis"),
}
LEDGER_KINDS = {
    "grant": N_("Grant"),
    "revoke": N_("Revoked"),
    "hold": N_("Hold"),
    "capture": N_("Charge"),
    "release": N_("Released"),
    "charge": N_("Charge (real time)"),
    "refund": N_("Refund"),
}
BUSINESSES = {
    "vocals": N_("Vocals"),
    "accompaniment": N_("Accompaniment"),
    "instrumental": N_("Accompaniment"),
    "backing_vocals": N_("Backing vocals"),
    "drums": N_("Drums"),
    "percussion": N_("Percussion"),
    "bass": N_("Bass"),
    "guitar": N_("Guitar"),
    "piano": N_("Piano"),
    "other": N_("Other instruments"),
    "music": N_("Music"),
    "caption": N_("Captions (SRT)"),
    "text": N_("Text"),
    "vtt": N_("Captions (WebVTT)"),
    "segments": N_("Segments (JSON)"),
}
NOTES = {
    "initial credits": N_("Initial credits"),
    "granted by an administrator": N_("Granted by an administrator"),
    "revoked by an administrator": N_("Revoked by an administrator"),
}
"""The ledger notes the system itself writes; any other note is an administrator's own text."""
FOR_TEMPLATES = {
    "STATUS_LABELS": STATUSES,
    "STAGE_LABELS": STAGES,
    "TYPE_LABELS": ORDER_TYPES,
    "KIND_LABELS": LEDGER_KINDS,
    "BUSINESS_LABELS": BUSINESSES,
    "NOTE_LABELS": NOTES,
}
"""The tables as pages use them: ``{{ _(STATUS_LABELS[order.status]) }}``."""


def status_label(lang: str, status: str) -> str:
    return _label(lang, STATUSES, status)


def stage_label(lang: str, stage: str) -> str:
    return _label(lang, STAGES, stage)


def order_type_label(lang: str, order_type: str) -> str:
    return _label(lang, ORDER_TYPES, order_type)


def _label(lang: str, labels: dict[str, str], value: str) -> str:
    english = labels.get(value)
    return value if english is None else i18n.gettext(lang, english)
