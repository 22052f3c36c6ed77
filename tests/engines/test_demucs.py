"""Tests for the ``separation.demucs`` engine, with a tiny random-weight model built offline."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("demucs")

from yinzi.engines.separation._demucs_chunks import CrossfadeChunker  # noqa: E402
from yinzi.engines.separation.base import Separator  # noqa: E402
from yinzi.engines.separation.demucs import DemucsSeparator  # noqa: E402
from yinzi.engines.separation.demucs_testing import TINY_SIGNATURE, build_tiny_demucs  # noqa: E402
from yinzi.errors import ConfigurationError  # noqa: E402

Audio = npt.NDArray[np.float32]
RATE = DemucsSeparator.sample_rate
FOUR = ("drums", "bass", "other", "vocals")
SIX = (*FOUR, "guitar", "piano")


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """One intra-op thread: the tiny model gains nothing from more, and a busy machine makes
    several spin-waiting threads very slow."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local Demucs repository laid out like the published one: a bag and its model file."""
    dest = tmp_path_factory.mktemp("demucs")
    build_tiny_demucs(dest, bag="htdemucs")
    return dest


def cut(audio: Audio, sizes: Iterable[int]) -> Iterator[Audio]:
    """Cut ``audio`` into blocks of the given sizes, cycling them until it is used up."""
    sizes = list(sizes)
    start, index = 0, 0
    while start < audio.shape[1]:
        size = sizes[index % len(sizes)]
        yield audio[:, start : start + size]
        start += size
        index += 1


def run(engine: DemucsSeparator, blocks: Iterable[Audio], stems: Sequence[str]) -> dict[str, Audio]:
    parts: dict[str, list[Audio]] = {stem: [] for stem in stems}
    for out in engine.separate(blocks, stems):
        assert set(out) == set(stems)
        for stem, block in out.items():
            assert block.dtype == np.float32
            parts[stem].append(block)
    return {stem: np.concatenate(p, axis=1) for stem, p in parts.items()}


def music(channels: int, seconds: float, seed: int = 0) -> Audio:
    """Two tones (panned apart in stereo) over a little noise."""
    t = np.arange(int(seconds * RATE)) / RATE
    rng = np.random.default_rng(seed)
    tones = [0.3 * np.sin(2 * np.pi * f * t) for f in (220.0, 330.0)[:channels]]
    return (np.stack(tones) + rng.normal(0, 0.05, (channels, t.size))).astype(np.float32)


def test_it_is_a_separator_with_known_stems_before_loading() -> None:
    engine: Separator = DemucsSeparator()
    assert engine.name == "separation.demucs"
    assert engine.sample_rate == 44100
    assert engine.stems == (*FOUR, "accompaniment")
    assert DemucsSeparator(model="htdemucs_6s").stems == (*SIX, "accompaniment")


def test_the_module_imports_and_constructs_without_torch() -> None:
    code = (
        "import sys; sys.modules['torch'] = sys.modules['demucs'] = None\n"
        "from yinzi.engines.separation.demucs import DemucsSeparator\n"
        "print(DemucsSeparator(model='htdemucs_6s').stems)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "guitar" in done.stdout


def test_streams_odd_blocks_to_exact_lengths(repo: Path) -> None:
    audio = music(2, 4.0)
    engine = DemucsSeparator(model="htdemucs", repo=repo, chunk_seconds=1.5)
    seen: list[float] = []
    stems = engine.stems
    parts: dict[str, list[Audio]] = {stem: [] for stem in stems}
    for out in engine.separate(cut(audio, [4099, 777, 12345]), stems, progress=seen.append):
        for stem, block in out.items():
            parts[stem].append(block)
    out = {stem: np.concatenate(p, axis=1) for stem, p in parts.items()}
    assert set(out) == {*FOUR, "accompaniment"}
    for stem in stems:
        assert out[stem].shape == audio.shape, stem
        assert np.all(np.isfinite(out[stem]))
    np.testing.assert_allclose(out["accompaniment"], audio - out["vocals"], atol=1e-6)
    assert seen == sorted(seen) and len(seen) >= 4
    assert seen[-1] == pytest.approx(audio.shape[1] / RATE)


def test_output_does_not_depend_on_block_sizes(repo: Path) -> None:
    audio = music(2, 3.0, seed=1)
    engine = DemucsSeparator(model="htdemucs", repo=repo, chunk_seconds=1.0)
    whole = run(engine, [audio], ["drums", "vocals"])
    pieces = run(engine, cut(audio, [1, 5003, 44101]), ["drums", "vocals"])
    for stem in whole:
        np.testing.assert_allclose(pieces[stem], whole[stem], atol=1e-5)


def test_chunk_seams_are_smooth(repo: Path) -> None:
    """Small chunks give nearly what one big chunk gives, with no jump at the seams."""
    audio = music(2, 4.0, seed=2)
    stems = ["drums", "vocals"]
    single = run(DemucsSeparator(model=TINY_SIGNATURE, repo=repo, chunk_seconds=10), [audio], stems)
    chunked = run(DemucsSeparator(model=TINY_SIGNATURE, repo=repo, chunk_seconds=1), [audio], stems)
    for stem in stems:
        error = chunked[stem] - single[stem]
        assert np.sqrt(np.mean(error**2)) < 0.2 * single[stem].std(), stem
        steps = np.abs(np.diff(chunked[stem], axis=1))
        smooth = np.abs(np.diff(single[stem], axis=1))
        assert steps.max() <= 1.2 * smooth.max(), stem


def test_mono_stays_mono(repo: Path) -> None:
    audio = music(1, 2.5)
    engine = DemucsSeparator(model="htdemucs", repo=repo, chunk_seconds=1.0)
    out = run(engine, cut(audio, [10000]), engine.stems)
    for stem in engine.stems:
        assert out[stem].shape == audio.shape
    np.testing.assert_allclose(out["accompaniment"], audio - out["vocals"], atol=1e-6)


def test_a_model_outside_the_published_names_is_loaded_to_learn_its_stems(tmp_path: Path) -> None:
    build_tiny_demucs(tmp_path, sources=SIX, bag="six")
    engine = DemucsSeparator(model="six", repo=tmp_path)
    assert engine.stems == (*SIX, "accompaniment")
    out = run(engine, [music(2, 1.2)], ["guitar", "piano", "accompaniment"])
    assert out["piano"].shape == (2, int(1.2 * RATE))


def test_short_and_empty_inputs(repo: Path) -> None:
    engine = DemucsSeparator(model="htdemucs", repo=repo, chunk_seconds=1.0)
    assert list(engine.separate([], ["vocals"])) == []
    out = run(engine, [music(2, 0.01)], ["vocals"])
    assert out["vocals"].shape == (2, int(0.01 * RATE))


def test_bad_requests_and_options(repo: Path) -> None:
    engine = DemucsSeparator(model="htdemucs", repo=repo)
    with pytest.raises(ValueError, match="unknown stem"):
        list(engine.separate([music(2, 0.1)], ["kazoo"]))
    with pytest.raises(ValueError, match="mono or stereo"):
        list(engine.separate([np.zeros((3, 100), np.float32)], ["vocals"]))
    with pytest.raises(ConfigurationError, match="chunk_seconds"):
        DemucsSeparator(chunk_seconds=0.5)
    with pytest.raises(ConfigurationError, match="overlap"):
        DemucsSeparator(overlap=1.0)
    with pytest.raises(ConfigurationError, match="longer than this model allows"):
        DemucsSeparator(model="htdemucs", repo=repo, segment=30).load()
    with pytest.raises(ConfigurationError, match="device"):
        DemucsSeparator(model="htdemucs", repo=repo, device="nonsense").load()


def test_a_missing_model_in_a_folder_fails_quickly_saying_how_to_get_it(
    repo: Path, tmp_path: Path
) -> None:
    started = time.monotonic()
    with pytest.raises(ConfigurationError, match="YINZI_DEMUCS__REPO"):
        DemucsSeparator(model="htdemucs_6s", repo=repo).load()
    with pytest.raises(ConfigurationError, match="does not exist"):
        DemucsSeparator(repo=tmp_path / "nowhere").load()
    assert time.monotonic() - started < 5
    assert DemucsSeparator.availability(model="htdemucs", repo=repo) is None
    problem = DemucsSeparator.availability(model="htdemucs_6s", repo=repo)
    assert problem is not None and "not in" in problem


def test_without_network_a_model_not_downloaded_fails_quickly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise urllib.error.URLError("no network in this test")

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)
    problem = DemucsSeparator.availability(model="htdemucs")
    assert problem is not None and "not downloaded" in problem
    started = time.monotonic()
    with pytest.raises(ConfigurationError, match="could not be downloaded"):
        DemucsSeparator(model="htdemucs").load()
    assert time.monotonic() - started < 5


def test_crossfade_is_exact_for_a_model_that_agrees_with_itself() -> None:
    """An identity "model" comes back unchanged however the chunks fall."""
    audio = music(2, 1.0)
    chunker = CrossfadeChunker(lambda chunk: chunk[None].copy(), 2, length=1000, crossfade=250)
    pieces = [p for block in cut(audio, [333]) for p in chunker.push(block)]
    pieces += list(chunker.finish())
    out = np.concatenate([p.sources[0] for p in pieces], axis=1)
    mixture = np.concatenate([p.mixture for p in pieces], axis=1)
    np.testing.assert_allclose(out, audio, atol=1e-6)
    np.testing.assert_array_equal(mixture, audio)
    assert pieces[-1].end == audio.shape[1]


def test_a_model_in_the_torch_hub_cache_loads_without_network(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Earlier downloads from dl.fbaipublicfiles.com are found in the torch hub cache."""
    import huggingface_hub.constants

    checkpoints = tmp_path / "torch" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (model_file,) = repo.glob(f"{TINY_SIGNATURE}-*.th")
    (checkpoints / "955717e8-8726e21a.th").write_bytes(model_file.read_bytes())
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "torch"))
    assert DemucsSeparator.availability(model="htdemucs") is None
    engine = DemucsSeparator(model="htdemucs")
    assert engine.load().sources == list(FOUR)
