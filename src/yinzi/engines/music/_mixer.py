"""Mixing an :class:`~._arranger.Arrangement` down to the finished stereo clip.

Each part is rendered note by note into a mono bus (notes start at ``round(beat * 60 / tempo *
rate)``, so timing is sample-exact and nothing drifts), scaled by its role's level, panned with
the constant-power law and sent to one shared reverb: a 1.6 s stereo impulse response of decaying,
gently low-passed noise (independent per channel for width), applied by overlap-add convolution.
Drum sounds are panned like a kit seen from the audience.

Master. The clip is cut to exactly ``round(bars * 4 * 60 / tempo * rate)`` samples, faded in
over 3 ms and out over the last half second (at most a quarter of the clip) with a half cosine,
so it ends on the final chord without a click; then it is brought to -14 LUFS integrated
(BS.1770) and peak-limited at 0.95, twice, so the limiter's small loss is made up.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import signal

from yinzi.engines.music._arranger import Arrangement, Part
from yinzi.engines.music._loudness import integrated_loudness, limit
from yinzi.engines.music._voices import Voices

F64 = npt.NDArray[np.float64]
TARGET_LUFS = -14.0
ROLE_LEVEL = {"lead": 0.55, "comp": 0.3, "pad": 0.2, "bass": 0.55}
ROLE_PAN = {"lead": 0.05, "comp": -0.3, "pad": 0.35, "bass": 0.0}
ROLE_SEND = {"lead": 0.22, "comp": 0.18, "pad": 0.3, "bass": 0.02}
INSTRUMENT_TRIM = {"pad": 0.7, "strings": 0.8, "organ": 0.75, "synth": 0.8, "sax": 0.9}
DRUM_LEVEL = {"kick": 0.8, "snare": 0.45, "hat": 0.18, "open": 0.16, "ride": 0.2,
              "crash": 0.25, "rim": 0.3, "shaker": 0.16, "clap": 0.4}  # fmt: skip
DRUM_PAN = {"hat": 0.3, "open": 0.3, "ride": -0.35, "crash": -0.25, "rim": 0.2, "shaker": 0.4}


def clip_samples(bars: int, tempo: float, rate: int) -> int:
    """The exact length of a ``bars``-bar clip at ``tempo``."""
    return round(bars * 4 * 60 / tempo * rate)


def render(arrangement: Arrangement, rate: int, seed: int) -> npt.NDArray[np.float32]:
    """The finished ``(2, n)`` float32 clip."""
    seconds_per_beat = 60.0 / arrangement.plan.tempo
    total = clip_samples(arrangement.bars, arrangement.plan.tempo, rate)
    voices = Voices(rate, np.random.default_rng(seed))
    dry = np.zeros((2, total))
    send = np.zeros(total)
    solo = arrangement.plan.solo
    for part in arrangement.parts:
        bus = _part_bus(part, voices, total, seconds_per_beat, rate)
        level = ROLE_LEVEL[part.role] * INSTRUMENT_TRIM.get(part.instrument, 1.0)
        if solo and part.role == "lead":
            level *= 1.25
        dry += _pan(ROLE_PAN[part.role] if not solo else 0.0)[:, None] * bus * level
        send += bus * level * ROLE_SEND[part.role]
    for hit in arrangement.drums:
        start = round(hit.start * seconds_per_beat * rate)
        sound = voices.drum(hit.sound)[: max(0, total - start)] * hit.velocity
        level = DRUM_LEVEL[hit.sound]
        dry[:, start : start + len(sound)] += _pan(DRUM_PAN.get(hit.sound, 0.0))[:, None] * (
            sound * level
        )
        send[start : start + len(sound)] += sound * level * 0.05
    mix = dry + _reverb(send, rate, np.random.default_rng(seed + 1))
    return master(mix, rate)


def _part_bus(part: Part, voices: Voices, total: int, seconds_per_beat: float, rate: int) -> F64:
    bus = np.zeros(total)
    for note in part.notes:
        start = round(note.start * seconds_per_beat * rate)
        if start >= total:
            continue
        samples = voices.note(part.instrument, note.pitch, note.length * seconds_per_beat)
        end = min(total, start + len(samples))
        bus[start:end] += note.velocity * samples[: end - start]
    return bus


def _pan(position: float) -> F64:
    """Constant-power gains (left, right) for ``position`` in [-1, 1]."""
    angle = (position + 1) * np.pi / 4
    gains: F64 = np.array([np.cos(angle), np.sin(angle)], dtype=np.float64) * np.sqrt(2.0)
    return gains


def _reverb(send: F64, rate: int, rng: np.random.Generator, seconds: float = 1.6) -> F64:
    n = round(seconds * rate)
    t = np.arange(n) / rate
    decay = np.exp(-t * 6.91 / 1.3) * np.minimum(1.0, t / 0.015)
    sos = signal.butter(1, 6000, "lowpass", fs=rate, output="sos")
    impulse = signal.sosfilt(sos, rng.standard_normal((2, n)), axis=-1) * decay
    impulse /= np.sqrt(np.sum(impulse**2, axis=-1, keepdims=True))
    wet = signal.oaconvolve(send[None, :], impulse, axes=-1)[:, : len(send)]
    return np.asarray(wet, dtype=np.float64) * 0.7


def master(mix: F64, rate: int) -> npt.NDArray[np.float32]:
    """Fades, -14 LUFS, peak limit: the clip as delivered."""
    total = mix.shape[1]
    fade_in = min(total, round(0.003 * rate))
    mix[:, :fade_in] *= np.linspace(0.0, 1.0, fade_in)
    fade_out = min(round(0.5 * rate), total // 4)
    if fade_out > 0:
        mix[:, total - fade_out :] *= 0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, fade_out))
    for _ in range(2):
        loudness = integrated_loudness(mix, rate)
        if not np.isfinite(loudness):
            break
        mix = limit(mix * 10 ** ((TARGET_LUFS - loudness) / 20), rate)
    return np.asarray(mix, dtype=np.float32)
