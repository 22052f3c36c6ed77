"""Parallel stem writing: the same files as serial writing, bounded queues, and no partial file
or stray thread after a failure in an encoder or in the engine feeding it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pytest

from yinzi.errors import YinziError
from yinzi.media import AudioWriter, OutputFormat, StemWriter, read_all
from yinzi.media import stems as stems_module
from yinzi.media import testing as fx

FORMATS: list[OutputFormat] = list(get_args(OutputFormat))
BLOCKS = [1, 1151, 0, 1153, 4096, 7, 30000]


def stem_blocks(seconds: float = 2.0) -> Iterator[dict[str, np.ndarray]]:
    """The song's two stems, cut into odd blocks, as an engine yields them."""
    vocals, accompaniment = fx.song_stems(seconds=seconds)
    start = 0
    for size in BLOCKS * 4:
        yield {
            "vocals": vocals[:, start : start + size],
            "accompaniment": accompaniment[:, start : start + size],
        }
        start += size
    yield {"vocals": vocals[:, start:], "accompaniment": accompaniment[:, start:]}


def paths(folder: Path, format: str) -> dict[str, Path]:
    return {name: folder / f"{name}.{format}" for name in ("vocals", "accompaniment")}


def encoder_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("encode-")]


class FailingWriter(AudioWriter):
    """Fails on the given call to ``write`` (or on ``close``) for the file named ``bad.*``."""

    fail_on: int | str = 3

    def __init__(self, path: Path, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self.calls = 0

    def write(self, block: np.ndarray) -> None:
        self.calls += 1
        if self.path.stem == "bad" and self.calls == self.fail_on:
            self.abort()  # as AudioWriter does when its encoder fails
            raise YinziError("could not encode mp3 audio")
        super().write(block)

    def close(self) -> None:
        if self.path.stem == "bad" and self.fail_on == "close":
            self.abort()
            raise YinziError("could not finish the mp3 file")
        super().close()


@pytest.mark.parametrize("format", FORMATS)
def test_parallel_files_equal_serial_ones(tmp_path: Path, format: OutputFormat) -> None:
    (tmp_path / "serial").mkdir()
    (tmp_path / "parallel").mkdir()
    serial = {
        name: AudioWriter(path, format=format)
        for name, path in paths(tmp_path / "serial", format).items()
    }
    for blocks in stem_blocks():
        for name, block in blocks.items():
            serial[name].write(block)
    for writer in serial.values():
        writer.close()

    with StemWriter(paths(tmp_path / "parallel", format), format=format, depth=2) as writer:
        for blocks in stem_blocks():
            writer.write(blocks)

    assert writer.samples_written == {"vocals": 88200, "accompaniment": 88200}
    for name in ("vocals", "accompaniment"):
        ours, theirs = tmp_path / "parallel" / f"{name}.{format}", serial[name].path
        assert ours.read_bytes() == theirs.read_bytes()
        assert read_all(ours).shape == (2, 88200)
    assert not encoder_threads()


@pytest.mark.parametrize("fail_on", [1, 3, "close"])
def test_an_encoder_error_surfaces_and_removes_every_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_on: int | str
) -> None:
    monkeypatch.setattr(FailingWriter, "fail_on", fail_on)
    monkeypatch.setattr(stems_module, "AudioWriter", FailingWriter)
    files = {"good": tmp_path / "good.mp3", "bad": tmp_path / "bad.mp3"}
    vocals, _ = fx.song_stems(seconds=1.0)

    with pytest.raises(YinziError, match="could not"):
        with StemWriter(files, format="mp3", depth=1) as writer:
            for start in range(0, vocals.shape[1], 4410):
                block = vocals[:, start : start + 4410]
                writer.write({"good": block, "bad": block})

    assert list(tmp_path.iterdir()) == []
    assert not encoder_threads()


def test_an_engine_that_raises_midway_leaves_no_file_and_no_thread(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="the engine crashed"):
        with StemWriter(paths(tmp_path, "mp3"), format="mp3", depth=1) as writer:
            for count, blocks in enumerate(stem_blocks()):
                writer.write(blocks)
                if count == 10:
                    raise RuntimeError("the engine crashed")

    assert list(tmp_path.iterdir()) == []
    assert not encoder_threads()


def test_the_queue_is_bounded_so_a_slow_encoder_holds_the_engine_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()

    class GatedWriter(AudioWriter):
        def write(self, block: np.ndarray) -> None:
            gate.wait()
            super().write(block)

    monkeypatch.setattr(stems_module, "AudioWriter", GatedWriter)
    block = fx.sine(0.1)
    with StemWriter({"only": tmp_path / "only.wav"}, format="wav", depth=2) as writer:

        def produce() -> None:
            for _ in range(6):  # one being encoded, two queued: the fourth write waits
                writer.write({"only": block})

        producer = threading.Thread(target=produce)
        producer.start()
        producer.join(timeout=0.5)
        assert producer.is_alive()
        gate.set()
        producer.join()

    assert read_all(tmp_path / "only.wav").shape == (2, 6 * block.shape[1])


def test_bad_blocks_and_names_are_refused_before_anything_is_queued(tmp_path: Path) -> None:
    with StemWriter(paths(tmp_path, "wav"), format="wav") as writer:
        with pytest.raises(ValueError, match=r"no file for 'drums'"):
            writer.write({"vocals": fx.sine(0.1), "drums": fx.sine(0.1)})
        with pytest.raises(ValueError, match=r"expected a \(2, n\) array"):
            writer.write({"vocals": fx.sine(0.1, channels=1)})
    assert writer.samples_written == {"vocals": 0, "accompaniment": 0}
    with pytest.raises(ValueError, match="closed"):
        writer.write({"vocals": fx.sine(0.1)})


def test_a_writer_that_cannot_start_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="depth"):
        StemWriter(paths(tmp_path, "wav"), format="wav", depth=0)
    with pytest.raises(YinziError, match="could not start a mp3 encoder"):
        StemWriter(paths(tmp_path, "mp3"), format="mp3", sample_rate=96000)
    assert list(tmp_path.iterdir()) == []
    assert not encoder_threads()
