"""Tests for ``separation.spleeter``: its checkpoint reader, its network, its stream and its output.

Most tests need the ``spleeter-2stems`` weights (the dev install puts them in the models folder);
without them they are skipped, saying so. The network's reference is a PyTorch U-Net written
here from Spleeter's architecture, so it needs the dev stack's torch too.
"""

from __future__ import annotations

import pickle
import threading
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from yinzi import media
from yinzi.engines import registry
from yinzi.engines.separation._checkpoint import CheckpointError, load_arrays, unpickle_arrays
from yinzi.engines.separation._spleeter_net import UNet
from yinzi.engines.separation.base import Separator
from yinzi.engines.separation.spleeter import SpleeterSeparator
from yinzi.errors import ConfigurationError

from helpers import make_settings

Audio = npt.NDArray[np.float32]
RATE = SpleeterSeparator.sample_rate
STEMS = ("vocals", "accompaniment")
FOUR = ("vocals", "drums", "bass", "other")
MODELS_DIR = make_settings(Path("unused")).models_dir
SPEECH = Path(__file__).parent.parent / "fixtures" / "speech" / "call_me_back.wav"

needs_weights = pytest.mark.skipif(
    SpleeterSeparator.availability(models_dir=MODELS_DIR) is not None,
    reason=f"the spleeter-2stems weights are not installed in {MODELS_DIR} "
    "(yinzi models install spleeter-2stems)",
)


@pytest.fixture(scope="module")
def engine() -> SpleeterSeparator:
    separator = SpleeterSeparator(models_dir=MODELS_DIR, threads=1)
    separator.load()
    return separator


def cut(audio: Audio, sizes: Iterable[int]) -> Iterator[Audio]:
    """Cut ``audio`` into blocks of the given sizes, cycling them until it is used up."""
    sizes = list(sizes)
    start, index = 0, 0
    while start < audio.shape[1]:
        yield audio[:, start : start + sizes[index % len(sizes)]]
        start += sizes[index % len(sizes)]
        index += 1


def run(
    engine: SpleeterSeparator, blocks: Iterable[Audio], stems: Sequence[str] = STEMS
) -> dict[str, Audio]:
    parts: dict[str, list[Audio]] = {stem: [] for stem in stems}
    for out in engine.separate(blocks, stems):
        assert set(out) == set(stems)
        for stem, block in out.items():
            assert block.dtype == np.float32
            parts[stem].append(block)
    return {stem: np.concatenate(p, axis=1) for stem, p in parts.items() if p}


def music(samples: int, seed: int = 0) -> Audio:
    """A stereo instrumental: a wide chord pad, a bass line and a noise-burst beat."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / RATE
    bar = (t / 2.0).astype(int)
    root = np.asarray([220.0, 174.6, 261.6, 196.0])[bar % 4]
    left = sum(np.sin(2 * np.pi * k * root * t) / k for k in range(1, 8))
    right = sum(np.sin(2 * np.pi * k * 1.5 * root * t) / k for k in range(1, 8))
    bass = np.sin(2 * np.pi * root / 4 * t) * 1.5
    beat = np.zeros(samples)
    hit = rng.uniform(-1, 1, 3000) * np.exp(-np.arange(3000) / 400)
    for start in range(0, samples - 3000, RATE // 4):
        beat[start : start + 3000] += hit * 3
    mix = np.stack([0.8 * left + 0.2 * right, 0.2 * left + 0.8 * right]) + bass + beat
    return (0.03 * mix).astype(np.float32)


def voice() -> Audio:
    """The speech fixture at 44.1 kHz, centred."""
    return media.read_all(SPEECH, sample_rate=RATE, channels=2)


def si_sdr(reference: Audio, estimate: Audio) -> float:
    ref, est = reference.astype(np.float64).ravel(), estimate.astype(np.float64).ravel()
    target = np.dot(est, ref) / np.dot(ref, ref) * ref
    return float(10 * np.log10(np.dot(target, target) / np.dot(est - target, est - target)))


# -- the checkpoint reader ------------------------------------------------------------------


@needs_weights
@pytest.mark.parametrize("stem", ["vocals", "accompaniment"])
def test_the_real_checkpoints_load_as_named_float_arrays(stem: str) -> None:
    arrays = load_arrays(MODELS_DIR / "spleeter-2stems" / f"{stem}.ckpt")
    assert arrays["down1_conv.1.weight"].shape == (16, 2, 5, 5)
    assert arrays["up7.0.weight"].shape == (2, 1, 4, 4)
    assert all(a.dtype == np.float32 for a in arrays.values())


class _Evil:
    def __init__(self, target: object, argument: str) -> None:
        self.target, self.argument = target, argument

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return self.target, (self.argument,)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"w": _Evil(__import__("os").system, "echo owned")}, id="os.system"),
        pytest.param({"w": _Evil(eval, "1 + 1")}, id="builtins.eval"),
        pytest.param({"w": _Evil(__import__("subprocess").getoutput, "id")}, id="subprocess"),
    ],
)
def test_foreign_globals_are_refused_before_anything_runs(payload: object) -> None:
    data = pickle.dumps(payload, protocol=2)
    with pytest.raises(CheckpointError, match="refusing to load"):
        unpickle_arrays(data)


def test_a_foreign_global_inside_a_checkpoint_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.ckpt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("evil/data.pkl", pickle.dumps({"w": _Evil(eval, "1")}, protocol=4))
    with pytest.raises(CheckpointError, match=r"builtins\.eval"):
        load_arrays(path)


def test_tensor_storages_and_non_arrays_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="persistent id"):
        unpickle_arrays(b"\x80\x02X\x01\x00\x00\x00aQ.")  # a persistent id, as torch writes
    with pytest.raises(CheckpointError, match="named array"):
        unpickle_arrays(pickle.dumps({"w": [1.0, 2.0]}, protocol=2))
    with pytest.raises(CheckpointError, match="dict"):
        unpickle_arrays(pickle.dumps(np.zeros(3, np.float32), protocol=2))
    (tmp_path / "junk.ckpt").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_arrays(tmp_path / "junk.ckpt")


def test_numpy_arrays_round_trip_through_the_restricted_unpickler() -> None:
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(2, np.int64)}
    loaded = unpickle_arrays(pickle.dumps(arrays, protocol=2))
    for key, value in arrays.items():
        np.testing.assert_array_equal(loaded[key], value)


# -- the network against a PyTorch reference ------------------------------------------------


def _torch_unet(arrays: dict[str, npt.NDArray[np.float32]], patch: Audio) -> Audio:
    """Spleeter's U-Net written out in PyTorch from the architecture, run on ``patch``."""
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional

    def weight(key: str) -> object:
        return torch.from_numpy(arrays[key])

    def batch_norm(x: object, prefix: str) -> object:
        stats = [weight(f"{prefix}.running_{s}") for s in ("mean", "var")]
        return functional.batch_norm(
            x, *stats, weight(f"{prefix}.weight"), weight(f"{prefix}.bias"), eps=1e-3
        )

    with torch.no_grad():
        x = torch.from_numpy(patch)[None]
        skips = []
        for k in range(1, 7):
            padded = functional.pad(x, (1, 2, 1, 2))
            conv = functional.conv2d(
                padded, weight(f"down{k}_conv.1.weight"), weight(f"down{k}_conv.1.bias"), stride=2
            )
            skips.append(conv)  # the skips take the convolution before its batch-norm
            x = functional.leaky_relu(batch_norm(conv, f"down{k}_act.0"), 0.2)
        x = skips.pop()
        for k in range(1, 7):
            if k > 1:
                x = torch.cat([skips.pop(), x], dim=1)
            x = functional.conv_transpose2d(
                x, weight(f"up{k}.0.weight"), weight(f"up{k}.0.bias"), stride=2
            )[:, :, 1:-2, 1:-2]
            x = batch_norm(functional.relu(x), f"up{k}.3")
        x = functional.conv2d(
            x, weight("up7.0.weight"), weight("up7.0.bias"), dilation=2, padding=3
        )
        mask: Audio = torch.sigmoid(x)[0].numpy()
    return mask


@needs_weights
@pytest.mark.parametrize("stem", ["vocals", "accompaniment"])
def test_the_numpy_network_matches_a_pytorch_reference(stem: str) -> None:
    arrays = load_arrays(MODELS_DIR / "spleeter-2stems" / f"{stem}.ckpt")
    rng = np.random.default_rng(1)
    # magnitudes of a loud and varied spectrogram: each frame its own level, some silence
    levels = rng.uniform(0, 30, (1, 512, 1)) * (rng.uniform(size=(1, 512, 1)) > 0.1)
    patch = (np.abs(rng.standard_normal((2, 512, 1024))) * levels).astype(np.float32)
    expected = _torch_unet(arrays, patch)
    got = UNet(arrays)(patch)
    assert got.shape == expected.shape == (2, 512, 1024)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)


# -- the engine ----------------------------------------------------------------------------


def test_it_is_a_registered_separator_that_says_when_its_weights_are_missing(
    tmp_path: Path,
) -> None:
    engine: Separator = SpleeterSeparator(models_dir=tmp_path)
    assert engine.name == "separation.spleeter"
    assert engine.sample_rate == 44100
    assert engine.stems == ("vocals", "accompaniment", "drums", "bass", "other")
    problem = registry.check("separation.spleeter", {"models_dir": str(tmp_path), "threads": 1})
    assert problem is not None and "yinzi models install spleeter-2stems" in problem
    (tmp_path / "spleeter-2stems").mkdir()
    (tmp_path / "spleeter-2stems" / "vocals.ckpt").write_bytes(b"truncated")
    assert "damaged" in (SpleeterSeparator.availability(models_dir=tmp_path) or "")


@needs_weights
def test_the_installed_weights_are_available() -> None:
    assert registry.check("separation.spleeter", {"models_dir": str(MODELS_DIR)}) is None


@needs_weights
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize(
    ("samples", "sizes"),
    [(1, [1]), (5000, [1, 2, 3, 5, 8, 13]), (600_000, [44_100, 1, 20_000])],
)
def test_output_has_exactly_the_input_length(
    engine: SpleeterSeparator, channels: int, samples: int, sizes: list[int]
) -> None:
    mixture = music(samples)[:channels]
    out = run(engine, cut(mixture, sizes))
    for stem in STEMS:
        assert out[stem].shape == (channels, samples)
    np.testing.assert_allclose(out["vocals"] + out["accompaniment"], mixture, atol=1e-5)


@needs_weights
def test_block_pattern_does_not_change_the_result(engine: SpleeterSeparator) -> None:
    mixture = music(RATE * 13)  # two patches of the networks
    whole = run(engine, [mixture], FOUR)
    cut_up = run(engine, cut(mixture, [4096, 1, 100_000, 333]), FOUR)
    for stem in FOUR:
        np.testing.assert_allclose(cut_up[stem], whole[stem], atol=1e-5)


@needs_weights
def test_four_stems_add_up_to_the_mixture_and_stereo_stays_stereo(
    engine: SpleeterSeparator,
) -> None:
    mixture = music(RATE * 3)
    out = run(engine, [mixture], (*FOUR, "accompaniment"))
    np.testing.assert_allclose(sum(out[s] for s in FOUR), mixture, atol=1e-5)
    np.testing.assert_allclose(
        out["drums"] + out["bass"] + out["other"], out["accompaniment"], atol=1e-5
    )


@needs_weights
def test_silence_empty_input_and_bad_requests(engine: SpleeterSeparator) -> None:
    out = run(engine, [np.zeros((2, 30_000), np.float32)])
    assert all(np.abs(block).max() == 0 for block in out.values())
    assert list(engine.separate(iter([]), STEMS)) == []
    with pytest.raises(ValueError, match="unknown stem"):
        list(engine.separate([np.zeros((2, 10), np.float32)], ["guitar"]))
    with pytest.raises(ValueError, match="mono or stereo"):
        list(engine.separate([np.zeros((3, 10), np.float32)], STEMS))


@needs_weights
def test_stock_options_leave_everything_above_11_khz_out_of_both_stems() -> None:
    stock = SpleeterSeparator(models_dir=MODELS_DIR, extension="zeros", filter="ratio")
    mixture = music(RATE * 2) + noise_above(12_000, RATE * 2)
    out = run(stock, [mixture])
    for stem in STEMS:
        spectrum = np.abs(np.fft.rfft(out[stem][:, RATE // 2 : -RATE // 2], axis=1))
        above = np.fft.rfftfreq(RATE, 1 / RATE) > 11_300
        assert spectrum[:, above].max() < 1e-3 * spectrum.max()
    with pytest.raises(ConfigurationError, match="filter"):
        SpleeterSeparator(models_dir=MODELS_DIR, filter="magic")


def noise_above(hz: float, samples: int) -> Audio:
    spectrum = np.fft.rfft(np.random.default_rng(5).normal(0, 0.05, (2, samples)), axis=1)
    spectrum[:, np.fft.rfftfreq(samples, 1 / RATE) < hz] = 0
    return np.fft.irfft(spectrum, n=samples, axis=1).astype(np.float32)


@needs_weights
def test_progress_reports_input_seconds(engine: SpleeterSeparator) -> None:
    seen: list[float] = []
    list(engine.separate(cut(music(RATE * 2), [RATE]), STEMS, seen.append))
    assert seen == [1.0, 2.0]


@needs_weights
def test_speech_over_an_instrumental_comes_apart(engine: SpleeterSeparator) -> None:
    vocals = voice()
    accompaniment = music(vocals.shape[1], seed=3)
    mixture = vocals + accompaniment
    out = run(engine, cut(mixture, [RATE]))
    vocal_gain = si_sdr(vocals, out["vocals"]) - si_sdr(vocals, mixture)
    accompaniment_gain = si_sdr(accompaniment, out["accompaniment"]) - si_sdr(
        accompaniment, mixture
    )
    # measured about +12.7 and +21.2 dB; the floors catch a broken engine, not a noisy machine
    assert vocal_gain > 5
    assert accompaniment_gain > 10


def test_blas_threads_are_limited_and_restored() -> None:
    from threadpoolctl import threadpool_info

    from yinzi.engines.separation.spleeter import _blas_threads

    def counts() -> list[int]:
        return [int(lib["num_threads"]) for lib in threadpool_info() if lib["user_api"] == "blas"]

    before = counts()
    if not before:
        pytest.skip("numpy's BLAS is not one threadpoolctl can control here")
    with _blas_threads(1):
        assert counts() == [1] * len(before)
    assert counts() == before


# -- threads ----------------------------------------------------------------------------------


@needs_weights
@pytest.mark.parametrize("channels", [1, 2])
def test_two_threads_give_exactly_what_one_thread_gives(
    engine: SpleeterSeparator, channels: int
) -> None:
    mixture = music(RATE * 13)[:channels]  # two patches: the instrument split's state carries
    stems = ("vocals", "accompaniment", *FOUR[1:])
    threaded = SpleeterSeparator(models_dir=MODELS_DIR, threads=2)
    one, two = run(engine, [mixture], stems), run(threaded, [mixture], stems)
    for stem in stems:
        np.testing.assert_array_equal(two[stem], one[stem])


@needs_weights
@pytest.mark.parametrize(("threads", "blas"), [(1, 1), (2, 1), (4, 2)])
def test_threads_run_the_two_networks_at_once_each_on_its_share_of_blas(
    monkeypatch: pytest.MonkeyPatch, threads: int, blas: int
) -> None:
    from threadpoolctl import threadpool_info

    if not any(lib["user_api"] == "blas" for lib in threadpool_info()):
        pytest.skip("numpy's BLAS is not one threadpoolctl can control here")
    together = threading.Barrier(2, timeout=30)  # passes only if both networks run at once
    seen: list[tuple[str, list[int]]] = []
    network = UNet.__call__

    def watched(self: UNet, patch: Audio) -> Audio:
        counts = [int(lib["num_threads"]) for lib in threadpool_info() if lib["user_api"] == "blas"]
        seen.append((threading.current_thread().name, counts))
        if threads > 1:
            together.wait()
        return network(self, patch)

    monkeypatch.setattr(UNet, "__call__", watched)
    separator = SpleeterSeparator(models_dir=MODELS_DIR, threads=threads)
    run(separator, [music(RATE)])
    assert len(seen) == 2
    assert all(counts and set(counts) == {blas} for _, counts in seen)
    names = {name for name, _ in seen}
    if threads == 1:
        assert names == {threading.current_thread().name}
    else:
        assert len(names) == 2
