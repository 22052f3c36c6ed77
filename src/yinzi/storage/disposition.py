"""The ``Content-Disposition`` of a download (RFC 6266), one spelling for every way a file is
served: the local ``/files/`` route, objects streamed from S3 and presigned S3 links.

``attachment; filename="FALLBACK"; filename*=UTF-8''ENCODED``: clients that read RFC 5987 take
the exact name from ``filename*`` (every byte outside RFC 5987's attr-chars percent-encoded);
older clients take the fallback, plain printable ASCII in which any other character is ``_``
and quotes and backslashes are escaped. The value is ASCII whatever the name.
"""

from __future__ import annotations

from urllib.parse import quote


def attachment(name: str) -> str:
    """The ``Content-Disposition`` that downloads a file as ``name``."""
    fallback = "".join(char if " " <= char <= "~" else "_" for char in name)
    fallback = fallback.replace("\\", "\\\\").replace('"', '\\"')
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
