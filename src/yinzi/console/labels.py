"""What the console calls each order status, stage and order type, in the visitor's language.

Every member of :class:`~yinzi.services.orders.OrderStatus`, :class:`~yinzi.services.orders.Stage`
and every order type of :data:`~yinzi.services.orders.ORDER_KINDS` has an English label here
(the catalogue's source string); an unknown value is shown as it is.
"""

from __future__ import annotations

from yinzi.console import i18n
from yinzi.services.orders import OrderStatus, Stage

STATUSES: dict[str, str] = {
    OrderStatus.PENDING: "Waiting",
    OrderStatus.PROCESSING: "Running",
    OrderStatus.FINISH: "Finished",
    OrderStatus.FAILED: "Failed",
    OrderStatus.TIMEOUT: "Timed out",
}
STAGES: dict[str, str] = {
    Stage.QUEUED: "Queued",
    Stage.FETCHING: "Fetching the input",
    Stage.DECODING: "Decoding",
    Stage.SEPARATING: "Separating",
    Stage.TRANSCRIBING: "Transcribing",
    Stage.COMPOSING: "Composing",
    Stage.ENCODING: "Encoding",
    Stage.STORING: "Storing the results",
    Stage.DONE: "Done",
}
ORDER_TYPES: dict[str, str] = {
    "track-separation": "Vocals and accompaniment",
    "extract-voice": "Vocals only",
    "extract-music": "Accompaniment only",
    "extract-text": "Speech to text",
    "separate_vocal": "Vocal removal (Kie)",
    "split_stem": "All stems",
    "split_stem_advanced": "One stem",
    "text-to-music": "Text to music",
}


def status_label(lang: str, status: str) -> str:
    return _label(lang, STATUSES, status)


def stage_label(lang: str, stage: str) -> str:
    return _label(lang, STAGES, stage)


def order_type_label(lang: str, order_type: str) -> str:
    return _label(lang, ORDER_TYPES, order_type)


def _label(lang: str, labels: dict[str, str], value: str) -> str:
    english = labels.get(value)
    return value if english is None else i18n.gettext(lang, english)
