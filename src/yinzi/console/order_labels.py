"""The words the order and credit pages show for stored values (statuses, stages, order types,
ledger kinds, result names). One table per value set; the English text is the catalogue's
msgid, so a page shows ``{{ _(STATUS_LABELS[order.status]) }}`` and translating a label is
adding it to ``messages.po``."""

from __future__ import annotations

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
BUSINESSES = {
    "vocals": "Vocals",
    "accompaniment": "Accompaniment",
    "instrumental": "Accompaniment",
    "backing_vocals": "Backing vocals",
    "drums": "Drums",
    "percussion": "Percussion",
    "bass": "Bass",
    "guitar": "Guitar",
    "piano": "Piano",
    "other": "Other instruments",
    "music": "Music",
    "caption": "Captions (SRT)",
    "text": "Text",
    "vtt": "Captions (WebVTT)",
    "segments": "Segments (JSON)",
}
NOTES = {
    "initial credits": "Initial credits",
    "granted by an administrator": "Granted by an administrator",
    "revoked by an administrator": "Revoked by an administrator",
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
