"""The examples in docs/sdk.md run as written against a real server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sdk.conftest import Server

from yinzi.media import testing

DOCS = Path(__file__).resolve().parents[2] / "docs" / "sdk.md"


def sdk_examples() -> list[str]:
    """The ``python`` blocks of the "Python SDK" part (the file's first top-level section)."""
    text = DOCS.read_text()
    section = re.split(r"^# ", text, flags=re.MULTILINE)[1]
    assert section.startswith("Python SDK")
    return re.findall(r"^```python\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL)


def test_the_docs_have_examples() -> None:
    assert len(sdk_examples()) >= 4


@pytest.mark.parametrize("index", range(len(sdk_examples())))
def test_an_example_in_the_docs_runs(
    index: int, server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    testing.song(tmp_path / "song.mp3", seconds=2.0)
    monkeypatch.chdir(tmp_path)
    code = sdk_examples()[index]
    code = code.replace("http://localhost:8000", server.url)
    code = code.replace("YOUR_API_KEY", server.user.key)
    exec(compile(code, f"{DOCS.name} example {index + 1}", "exec"), {"__name__": "example"})
