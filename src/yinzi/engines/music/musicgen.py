"""``music.musicgen``: text-to-music with Meta's MusicGen, run by Hugging Face ``transformers``.

The model (a Hugging Face repository id such as ``facebook/musicgen-small``, or a local folder
written by ``save_pretrained``) is loaded with its processor on the first ``compose`` and kept
on the instance; constructing the engine loads nothing. ``torch`` and ``transformers`` are
imported only then, so this module imports without the ``yinzi[musicgen]`` extra.

MusicGen has no tempo control: it decides the feel of the music from the prompt. The composer
contract still fixes a clip's length as ``bars * 4 * 60 / tempo`` seconds, so this engine uses
a configured *nominal* ``tempo`` (120 BPM by default), reports it, and generates exactly that
many seconds; the music's own pulse need not match it.

Invariants of a composition: 44.1 kHz stereo float32, exactly ``round(seconds * 44100)``
samples, a short fade-out at the end, peaks at most ``PEAK_CEILING``; the same prompt, length,
seed, model and device give the same audio (sampling is seeded from ``request.seed`` in a forked
random state, so the process's global torch generator is left as it was).

The published MusicGen weights are licensed CC-BY-NC 4.0: non-commercial use only.
"""

from __future__ import annotations

import importlib
import math
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from yinzi.engines import availability
from yinzi.engines._torch import resolve_device
from yinzi.engines.availability import is_local_folder, missing_musicgen_folder
from yinzi.engines.music.base import Composition, MusicRequest
from yinzi.engines.separation.base import Block
from yinzi.errors import ConfigurationError, EngineError

__all__ = ["SAMPLE_RATE", "MusicGenComposer"]

SAMPLE_RATE = 44100
"""Rate of every composition, whatever the model's own (32 kHz for the published ones)."""
BLOCK_SECONDS = 1.0
FADE_OUT_SECONDS = 0.05
PEAK_CEILING = 0.89
"""About -1 dBFS, headroom for lossy encoding."""
TARGET_RMS = 0.1
"""About -20 dBFS: quiet clips are raised towards it, loud ones left alone."""
MAX_GAIN = 4.0
"""At most +12 dB, so a near-silent clip is not turned into loud noise."""


@dataclass(frozen=True)
class _Loaded:
    model: Any
    processor: Any
    device: str
    sample_rate: int
    frame_rate: float
    num_codebooks: int


class MusicGenComposer:
    """Compose with a MusicGen checkpoint through ``transformers``."""

    name = "music.musicgen"

    def __init__(
        self,
        *,
        model: str = "facebook/musicgen-small",
        device: str = "auto",
        local_files_only: bool = False,
        guidance_scale: float = 3.0,
        tempo: float = 120.0,
    ) -> None:
        if not tempo > 0:
            raise ConfigurationError("the MusicGen nominal tempo must be positive")
        if guidance_scale < 0:
            raise ConfigurationError("the MusicGen guidance_scale must not be negative")
        self.model = model
        self.device = device
        self.local_files_only = local_files_only
        self.guidance_scale = guidance_scale
        self.tempo = float(tempo)
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    @classmethod
    def availability(cls, *, model: str = "facebook/musicgen-small", **_: object) -> str | None:
        """Why ``model`` cannot be used here without a download, or None when it is on disk."""
        return availability.musicgen(model=model)

    def seconds(self, bars: int) -> float:
        """The clip length the contract gives ``bars`` bars of 4/4 at the nominal tempo."""
        return bars * 4 * 60 / self.tempo

    def compose(self, request: MusicRequest) -> Composition:
        if request.bars < 1:
            raise ConfigurationError("a composition needs at least one bar")
        loaded = self.load()
        samples = round(self.seconds(request.bars) * SAMPLE_RATE)
        raw = self._generate(loaded, request, samples)
        audio = _finish(raw, loaded.sample_rate, samples)
        return Composition(
            sample_rate=SAMPLE_RATE,
            tempo=self.tempo,
            key=None,
            blocks=_blocks(audio),
            details={"model": self.model, "tempo": "nominal (MusicGen has no tempo control)"},
        )

    def load(self) -> _Loaded:
        """The model and processor, loaded once (thread-safely) and kept."""
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded

    def _load(self) -> _Loaded:
        if is_local_folder(self.model) and (problem := missing_musicgen_folder(self.model)):
            raise ConfigurationError(problem + "; see docs/musicgen.md")

        hf: Any = importlib.import_module("transformers")  # typed loosely: stubs vary by version
        device = resolve_device(self.device)
        source = os.path.expanduser(self.model) if is_local_folder(self.model) else self.model
        try:
            model = hf.MusicgenForConditionalGeneration.from_pretrained(
                source, local_files_only=self.local_files_only
            )
            processor = hf.AutoProcessor.from_pretrained(
                source, local_files_only=self.local_files_only
            )
        except (OSError, ValueError) as exc:
            raise ConfigurationError(self._unavailable(exc)) from exc
        model.to(device).eval()
        codec = model.config.audio_encoder
        return _Loaded(
            model=model,
            processor=processor,
            device=device,
            sample_rate=int(codec.sampling_rate),
            frame_rate=float(codec.frame_rate),
            num_codebooks=int(model.decoder.num_codebooks),
        )

    def _unavailable(self, exc: Exception) -> str:
        how = (
            "it is not in the local Hugging Face cache"
            if self.local_files_only
            else f"it cannot be loaded or fetched: {exc}"
        )
        return (
            f"the MusicGen model {self.model!r} is not available here ({how}). Run once with "
            "internet access and local_files_only off so transformers downloads it (e.g. "
            f"`hf download {self.model}`), or set YINZI_MUSICGEN__MODEL to a local "
            "folder saved with save_pretrained; see docs/musicgen.md"
        )

    def _generate(self, loaded: _Loaded, request: MusicRequest, samples: int) -> Any:
        """Generate at the model's rate, at least enough for ``samples`` at 44.1 kHz."""
        import torch

        frames = math.ceil(samples / SAMPLE_RATE * loaded.frame_rate) + 1
        # The codebook delay pattern costs num_codebooks - 1 steps before the first full frame.
        new_tokens = frames + loaded.num_codebooks
        inputs = loaded.processor(text=[request.prompt], padding=True, return_tensors="pt")
        inputs = {key: value.to(loaded.device) for key, value in inputs.items()}
        cuda = [torch.device(loaded.device).index or 0] if loaded.device.startswith("cuda") else []
        try:
            with torch.random.fork_rng(devices=cuda), torch.inference_mode():
                torch.manual_seed(request.seed)
                audio = loaded.model.generate(
                    **inputs,
                    do_sample=True,
                    guidance_scale=self.guidance_scale,
                    max_new_tokens=new_tokens,
                )
        except RuntimeError as exc:
            raise EngineError(f"MusicGen generation failed: {exc}") from exc
        return audio[0].float().cpu().numpy()


def _finish(raw: npt.NDArray[np.float32], rate: int, samples: int) -> npt.NDArray[np.float32]:
    """``raw`` ``(channels, n)`` at ``rate`` → stereo at 44.1 kHz, exactly ``samples`` long."""
    audio = np.asarray(raw, dtype=np.float64)
    if rate != SAMPLE_RATE:
        from scipy.signal import resample_poly

        common = math.gcd(SAMPLE_RATE, rate)
        audio = resample_poly(audio, SAMPLE_RATE // common, rate // common, axis=-1)
    audio = audio[:, :samples]
    if audio.shape[1] < samples:  # never expected: generation asks for a spare frame
        audio = np.pad(audio, ((0, 0), (0, samples - audio.shape[1])))
    if audio.shape[0] == 1:
        audio = np.repeat(audio, 2, axis=0)
    audio = np.nan_to_num(audio[:2])
    _fade_out(audio)
    audio *= _gain(audio)
    return np.ascontiguousarray(audio, dtype=np.float32)


def _fade_out(audio: npt.NDArray[np.float64]) -> None:
    """A raised-cosine fade over the last ``FADE_OUT_SECONDS``, so the clip ends cleanly."""
    length = min(audio.shape[1], round(FADE_OUT_SECONDS * SAMPLE_RATE))
    if length:
        audio[:, -length:] *= 0.5 * (1 + np.cos(np.linspace(0, np.pi, length)))


def _gain(audio: npt.NDArray[np.float64]) -> float:
    """Bring a quiet clip up towards ``TARGET_RMS`` (at most ``MAX_GAIN``), cap the peak."""
    peak = float(np.max(np.abs(audio), initial=0.0))
    rms = float(np.sqrt(np.mean(audio**2))) if audio.size else 0.0
    if peak < 1e-6:
        return 1.0
    gain = min(MAX_GAIN, TARGET_RMS / rms) if rms > 0 else 1.0
    return min(max(gain, 1.0), PEAK_CEILING / peak)


def _blocks(audio: npt.NDArray[np.float32]) -> Iterator[Block]:
    step = round(BLOCK_SECONDS * SAMPLE_RATE)
    for start in range(0, audio.shape[1], step):
        yield audio[:, start : start + step]
