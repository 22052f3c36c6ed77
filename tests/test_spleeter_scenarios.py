"""Stories of separations made by ``separation.spleeter``, end to end through the Open API.

They need the ``spleeter-2stems`` weights in the models folder (the dev install puts them
there) and are skipped, saying so, without them.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from fastapi.testclient import TestClient

from yinzi import media
from yinzi.engines.separation.spleeter import SpleeterSeparator
from yinzi.media import testing
from yinzi.queue.embedded import Worker
from yinzi.settings import Settings

from helpers import User, drain, make_settings

pytestmark = pytest.mark.skipif(
    SpleeterSeparator.availability(models_dir=make_settings(Path("unused")).models_dir) is not None,
    reason="the spleeter-2stems weights are not installed (yinzi models install spleeter-2stems)",
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The conftest's settings, with Spleeter named for both kinds of separation order."""
    return make_settings(
        tmp_path, separation_engine="separation.spleeter", stem_engine="separation.spleeter"
    )


def _order(client: TestClient, user: User, order_type: str, song: Path) -> str:
    with song.open("rb") as f:
        upload = client.post(
            "/api/open/v1/file/upload", files={"file": (song.name, f)}, headers=user.auth
        ).json()
    body = {"orderType": order_type, "stuff": {"pathKey": upload["data"]["pathKey"]}}
    response = client.post("/api/open/v1/order/create", json=body, headers=user.auth).json()
    assert response["code"] == 0, response
    return str(response["data"]["orderNo"])


def _results(client: TestClient, user: User, order_no: str, dest: Path) -> dict[str, Path]:
    query = f"/api/open/v1/order/query?orderNo={order_no}"
    data = client.get(query, headers=user.auth).json()["data"]
    assert data["status"] == "finish", data
    paths = {}
    for stuff in data["stuffs"]:
        parts = urlsplit(stuff["url"])
        response = client.get(f"{parts.path}?{parts.query}")
        assert response.status_code == 200
        paths[stuff["business"]] = dest / stuff["name"]
        paths[stuff["business"]].write_bytes(response.content)
    return paths


def _corr(a: np.ndarray, b: np.ndarray) -> float:  # type: ignore[type-arg]
    return float(np.dot(a.ravel(), b.ravel()) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9))


def test_a_user_separates_a_song_with_spleeter(
    client: TestClient, user: User, worker: Worker, tmp_path: Path
) -> None:
    order_no = _order(client, user, "track-separation", testing.song(tmp_path / "song.wav", 6.0))
    assert drain(worker) == 1
    paths = _results(client, user, order_no, tmp_path)
    assert list(paths) == ["vocals", "accompaniment"]
    truths = dict(zip(("vocals", "accompaniment"), testing.song_stems(6.0), strict=True))
    for stem, path in paths.items():
        assert media.probe(path).duration == pytest.approx(6.0, abs=0.1)
        estimate = media.read_all(path)
        n = min(estimate.shape[1], truths[stem].shape[1])
        other = truths["accompaniment" if stem == "vocals" else "vocals"]
        # each stem resembles its own source far more than the other one
        assert _corr(estimate[:, :n], truths[stem][:, :n]) > 0.8
        assert _corr(estimate[:, :n], other[:, :n]) < 0.5


def test_a_stem_split_gives_four_stems_that_add_up_to_the_song(
    client: TestClient, user: User, worker: Worker, tmp_path: Path
) -> None:
    song = testing.song(tmp_path / "song.wav", 4.0, format="wav")
    order_no = _order(client, user, "split_stem", song)
    assert drain(worker) == 1
    paths = _results(client, user, order_no, tmp_path)
    assert sorted(paths) == ["bass", "drums", "other", "vocals"]
    stems = [media.read_all(path) for path in paths.values()]
    n = min(stem.shape[1] for stem in stems)
    mixture = media.read_all(song)[:, :n]
    total = sum(stem[:, :n] for stem in stems)
    assert _corr(total, mixture) > 0.99
