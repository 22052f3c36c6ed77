"""Writing several files at once: one :class:`~yinzi.media.AudioWriter` per stem, each encoding
in its own thread while the caller (an engine's loop) goes on producing blocks.

Invariants:

- Each file gets exactly the blocks written for it, in order (one FIFO queue and one thread per
  file), so the files are the same as writing them one after the other would make.
- Memory stays bounded: each queue holds at most ``depth`` blocks; :meth:`StemWriter.write` waits
  while an encoder is that far behind. Blocks are handed over, not copied: the caller must not
  change an array after writing it.
- An encoder that fails stops taking blocks: the next ``write`` or ``close`` raises its error
  (the first, if several fail) and removes every file. Leaving the ``with`` block by an exception
  (an engine that raises midway) stops every encoder and removes every file. An encoder thread
  never blocks on anything but its own queue, and keeps emptying it after a failure, so the
  caller can never wait forever; no thread outlives ``close`` or the ``with`` block.

Encoding releases the GIL (LAME through ctypes, ffmpeg through PyAV), so the threads use spare
cores; where every core is busy they cost a few context switches and nothing more.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Final, Self

import numpy as np
import numpy.typing as npt

from yinzi.media.encode import AudioWriter, OutputFormat, check_block

Block = npt.NDArray[np.float32]
_END: Final = "end"  # close the file
_STOP: Final = "stop"  # remove the file


class StemWriter:
    """Encode one file per name in ``paths``, in parallel; use it as a context manager.

    The other arguments are :class:`~yinzi.media.AudioWriter`'s, the same for every file.
    """

    def __init__(
        self,
        paths: Mapping[str, Path],
        *,
        format: OutputFormat,
        sample_rate: int = 44100,
        channels: int = 2,
        bitrate: int = 192_000,
        depth: int = 4,
    ) -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self._writers: dict[str, AudioWriter] = {}
        try:
            for name, path in paths.items():  # in this thread, so a bad argument raises here
                self._writers[name] = AudioWriter(
                    path, format=format, sample_rate=sample_rate, channels=channels, bitrate=bitrate
                )
        except BaseException:
            for writer in self._writers.values():
                writer.abort()
            raise
        self._channels = channels
        self._queues = {name: queue.Queue[Block | str](depth) for name in self._writers}
        self._written = dict.fromkeys(self._writers, 0)
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._encode, args=(name,), name=f"encode-{name}", daemon=True)
            for name in self._writers
        ]
        for thread in self._threads:
            thread.start()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._finish(_STOP)

    @property
    def samples_written(self) -> dict[str, int]:
        """Samples per channel handed to each file so far."""
        return dict(self._written)

    def write(self, blocks: Mapping[str, Block]) -> None:
        """Queue each block for its file; raises the first encoder error, if any."""
        self._raise_failure()
        if not self._threads:
            raise ValueError("the writer is closed")
        for name, block in blocks.items():
            if name not in self._writers:
                raise ValueError(f"no file for {name!r}; the files are {sorted(self._writers)}")
            check_block(block, self._channels)
        for name, block in blocks.items():
            if block.shape[1]:
                self._queues[name].put(block)
                self._written[name] += block.shape[1]

    def close(self) -> None:
        """Finish every file; raises the first encoder error (and removes every file)."""
        self._finish(_END)
        self._raise_failure()

    def _encode(self, name: str) -> None:
        """An encoder thread: write blocks until told to end or stop."""
        writer, blocks = self._writers[name], self._queues[name]
        block: Block | str = _STOP
        try:
            while isinstance(block := blocks.get(), np.ndarray):
                writer.write(block)
            if block == _END:
                writer.close()
                return
        except BaseException as exc:  # the writer has removed its file
            with self._lock:
                self._error = self._error or exc
            while isinstance(block, np.ndarray):
                block = blocks.get()  # keep the queue moving until told to end or stop
        writer.abort()

    def _finish(self, how: str) -> None:
        """Tell every thread to end (or stop) and wait for it; no-op once done."""
        if not self._threads:
            return
        for blocks in self._queues.values():
            blocks.put(how)  # never waits for long: every thread keeps emptying its queue
        for thread in self._threads:
            thread.join()
        self._threads = []

    def _raise_failure(self) -> None:
        if self._error is None:
            return
        self._finish(_STOP)
        for writer in self._writers.values():
            writer.abort()  # also the files other threads finished
        raise self._error
