"""Instrument voices: one note (or drum hit) as a mono float64 array, from numpy and scipy only.

Pitched voices are additive: ``sum_k a_k e_k(t) sin(k phi(t))``. The harmonics come from the
Chebyshev recurrence ``sin((k+1)x) = 2 cos(x) sin(kx) - sin((k-1)x)``, exact for any per-sample
phase (so vibrato costs nothing extra), which needs one ``sin`` and one ``cos`` per note instead
of one per partial. Plucked and struck sounds give partial ``k`` the envelope
``exp(-(d0 + k d1) t)``, built by repeated multiplication, so upper partials die first as on a
string:

- guitar: pluck-position spectrum ``|sin(pi k p)| / k`` plus a short filtered-noise pick;
- piano: ``1/k^1.4`` partials, pitch-dependent decay, a soft hammer thump;
- electric piano and bells: two-operator FM (ratio 1 and 3.5) with a decaying index;
- strings, pad, synth, organ, flute, sax: sustained spectra (saw-like, drawbars, mostly
  fundamental plus breath noise, a formant-shaped reed) with attack, release and vibrato or
  tremolo; strings, pad and synth layer two detuned copies for width;
- bass: a round plucked spectrum, duller as it decays.

Partials above 16 kHz are dropped (no aliasing). Drums are synthesised once per piece: a kick with
a falling pitch, snare (tone + band-passed noise), hats, ride, crash, rim, shaker and clap.
Every note is cached by (instrument, pitch, length in samples): chords and riffs repeat, so a
piece renders only its distinct notes. Noise comes from the generator passed in, so a piece is
reproducible from its seed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
from scipy import signal

F64 = npt.NDArray[np.float64]
NYQUIST_GUARD = 16_000.0
MAX_TAIL = 3.0
"""Seconds a decaying note may ring past its written end."""


def midi_hz(pitch: float) -> float:
    return float(440.0 * 2.0 ** ((pitch - 69) / 12))


class Voices:
    """Renders the notes of one piece at ``sample_rate``, caching repeated notes."""

    def __init__(self, sample_rate: int, rng: np.random.Generator) -> None:
        self.rate = sample_rate
        self.rng = rng
        self._cache: dict[tuple[str, int, int], F64] = {}
        self._drums: dict[str, F64] = {}
        self._voices: dict[str, Callable[[float, int], F64]] = {
            "guitar": self._guitar, "piano": self._piano, "epiano": self._epiano,
            "bells": self._bells, "strings": self._strings, "pad": self._pad,
            "synth": self._synth, "organ": self._organ, "flute": self._flute,
            "sax": self._sax, "bass": self._bass,
        }  # fmt: skip

    def note(self, instrument: str, pitch: int, seconds: float) -> F64:
        """The note's samples, tail included; peak about 1 at full velocity."""
        held = max(1, round(seconds * self.rate))
        key = (instrument, pitch, held)
        if key not in self._cache:
            self._cache[key] = self._voices[instrument](midi_hz(pitch), held)
        return self._cache[key]

    def drum(self, sound: str) -> F64:
        if sound not in self._drums:
            self._drums[sound] = _normalised(getattr(self, f"_{sound}")())
        return self._drums[sound]

    # -- building blocks -------------------------------------------------------------------

    def _time(self, n: int) -> F64:
        return np.arange(n, dtype=np.float64) / self.rate

    def _phase(self, freq: float, n: int, vibrato: float = 0.0, delay: float = 0.2) -> F64:
        t = self._time(n)
        if vibrato == 0.0:
            return 2 * np.pi * freq * t
        depth = vibrato * np.clip((t - delay) / 0.3, 0.0, 1.0)
        inst = freq * (1.0 + depth * np.sin(2 * np.pi * 5.2 * t))
        return 2 * np.pi * np.cumsum(inst) / self.rate

    def _additive(
        self, freq: float, phase: F64, amps: Sequence[float], d0: float = 0.0, d1: float = 0.0
    ) -> F64:
        count = min(len(amps), int(NYQUIST_GUARD // freq))
        previous, current = np.zeros_like(phase), np.sin(phase)
        twice_cos = 2.0 * np.cos(phase)
        t = self._time(len(phase))
        env = np.exp(-(d0 + d1) * t) if d0 or d1 else None
        step = np.exp(-d1 * t) if d1 else None
        out = np.zeros_like(phase)
        for k in range(count):
            if amps[k]:
                out += amps[k] * (current if env is None else current * env)
            previous, current = current, twice_cos * current - previous
            if env is not None and step is not None:
                env *= step
        return out / max(1e-9, sum(abs(a) for a in amps[:count]))

    def _envelope(self, n: int, held: int, attack: float, release: float) -> F64:
        t = self._time(n)
        env = np.minimum(1.0, t / max(attack, 1e-3))
        tail = np.clip(1.0 - (t - held / self.rate) / release, 0.0, 1.0)
        return env * tail**2

    def _length(self, held: int, tail: float) -> int:
        return held + round(tail * self.rate)

    def _noise(self, n: int, low: float, high: float) -> F64:
        sos = signal.butter(2, [low, min(high, 0.45 * self.rate)], "bandpass", fs=self.rate,
                            output="sos")  # fmt: skip
        return np.asarray(signal.sosfilt(sos, self.rng.standard_normal(n)), dtype=np.float64)

    # -- pitched voices --------------------------------------------------------------------

    def _guitar(self, freq: float, held: int) -> F64:
        n = self._length(held, min(MAX_TAIL, 0.25))
        amps = [abs(np.sin(np.pi * k * 0.18)) / k for k in range(1, 15)]
        d0 = 1.2 + freq / 400
        tone = self._additive(freq, self._phase(freq, n), amps, d0, 0.9)
        pick = self._noise(min(n, 400), 1500, 6000) * np.exp(-self._time(min(n, 400)) * 300)
        tone[: len(pick)] += 0.08 * pick
        return tone * self._envelope(n, held, 0.002, 0.2)

    def _piano(self, freq: float, held: int) -> F64:
        n = self._length(held, 0.3)
        amps = [1.0 / k**1.4 for k in range(1, 15)]
        d0 = 0.5 + freq / 500
        tone = self._additive(freq, self._phase(freq, n), amps, d0, 0.35)
        tone += 0.3 * self._additive(freq * 1.0015, self._phase(freq * 1.0015, n), amps[:4], d0)
        return tone * self._envelope(n, held, 0.003, 0.25) / 1.3

    def _fm(self, freq: float, held: int, ratio: float, index: float, decay: float) -> F64:
        n = self._length(held, 0.4)
        t = self._time(n)
        modulator = index * np.exp(-t * 3.0) * np.sin(2 * np.pi * freq * ratio * t)
        tone = np.sin(2 * np.pi * freq * t + modulator) * np.exp(-t * decay)
        return tone * self._envelope(n, held, 0.003, 0.35)

    def _epiano(self, freq: float, held: int) -> F64:
        return self._fm(freq, held, 1.0, 1.2, 0.9)

    def _bells(self, freq: float, held: int) -> F64:
        return self._fm(freq, held, 3.5, 1.5, 1.6)

    def _detuned(self, freq: float, n: int, amps: Sequence[float], cents: float, vib: float) -> F64:
        out = np.zeros(n)
        for sign in (-1.0, 1.0):
            f = freq * 2 ** (sign * cents / 1200)
            out += self._additive(f, self._phase(f, n, vib), amps) / 2
        return out

    def _strings(self, freq: float, held: int) -> F64:
        n = self._length(held, 0.35)
        amps = [1.0 / k**1.3 for k in range(1, 11)]
        return self._detuned(freq, n, amps, 5, 0.004) * self._envelope(n, held, 0.12, 0.3)

    def _pad(self, freq: float, held: int) -> F64:
        n = self._length(held, 0.6)
        amps = [1.0 / k**1.6 for k in range(1, 7)]
        return self._detuned(freq, n, amps, 8, 0.0) * self._envelope(n, held, 0.35, 0.5)

    def _synth(self, freq: float, held: int) -> F64:
        n = self._length(held, 0.2)
        amps = [1.0 / k for k in range(1, 13)]
        tone = self._detuned(freq, n, amps, 7, 0.003)
        return tone * self._envelope(n, held, 0.01, 0.15)

    def _organ(self, freq: float, held: int) -> F64:
        n = self._length(held, 0.08)
        amps = [0.6, 1.0, 0.0, 0.7, 0.0, 0.4, 0.0, 0.35, 0.0, 0.0, 0.0, 0.2]
        t = self._time(n)
        tone = self._additive(freq / 2, self._phase(freq / 2, n), amps)
        tremolo = 1.0 + 0.12 * np.sin(2 * np.pi * 6.0 * t)
        return tone * tremolo * self._envelope(n, held, 0.008, 0.06)

    def _flute(self, freq: float, held: int) -> F64:
        n = self._length(held, 0.12)
        tone = self._additive(freq, self._phase(freq, n, 0.006), [1.0, 0.35, 0.12, 0.05])
        breath = self._noise(n, freq, min(4 * freq, 12000)) * 0.06
        return (tone + breath) * self._envelope(n, held, 0.06, 0.1)

    def _sax(self, freq: float, held: int) -> F64:
        n = self._length(held, 0.1)
        amps = [np.sqrt(k) * np.exp(-k / 3.0) for k in range(1, 13)]
        tone = self._additive(freq, self._phase(freq, n, 0.005), amps, 0.0, 0.15)
        return tone * self._envelope(n, held, 0.035, 0.08)

    def _bass(self, freq: float, held: int) -> F64:
        n = self._length(held, 0.12)
        tone = self._additive(freq, self._phase(freq, n), [1.0, 0.55, 0.3, 0.15, 0.08], 0.8, 1.2)
        return tone * self._envelope(n, held, 0.004, 0.1)

    # -- drums -----------------------------------------------------------------------------

    def _kick(self) -> F64:
        t = self._time(round(0.45 * self.rate))
        freq = 45 + 95 * np.exp(-t * 28)
        body = np.sin(2 * np.pi * np.cumsum(freq) / self.rate) * np.exp(-t * 7)
        return body + 0.3 * np.exp(-t * 400) * self.rng.standard_normal(len(t)) * 0.3

    def _snare(self) -> F64:
        t = self._time(round(0.3 * self.rate))
        tone = 0.5 * np.sin(2 * np.pi * 185 * t) * np.exp(-t * 22)
        return tone + self._noise(len(t), 1200, 9000) * np.exp(-t * 16) * 1.4

    def _hat(self) -> F64:
        t = self._time(round(0.09 * self.rate))
        return self._noise(len(t), 7000, 16000) * np.exp(-t * 55)

    def _open(self) -> F64:
        t = self._time(round(0.4 * self.rate))
        return self._noise(len(t), 6000, 16000) * np.exp(-t * 9)

    def _ride(self) -> F64:
        t = self._time(round(1.2 * self.rate))
        partials = sum(np.sin(2 * np.pi * f * t) for f in (3120, 4730, 5910)) / 3
        return (0.5 * self._noise(len(t), 3000, 12000) + 0.4 * partials) * np.exp(-t * 3.5)

    def _crash(self) -> F64:
        t = self._time(round(1.8 * self.rate))
        return self._noise(len(t), 2500, 15000) * np.exp(-t * 2.2)

    def _rim(self) -> F64:
        t = self._time(round(0.06 * self.rate))
        tone = np.sin(2 * np.pi * 1700 * t) + 0.6 * np.sin(2 * np.pi * 820 * t)
        return tone * np.exp(-t * 90)

    def _shaker(self) -> F64:
        t = self._time(round(0.09 * self.rate))
        return self._noise(len(t), 4000, 10000) * np.minimum(1.0, t / 0.012) * np.exp(-t * 45)

    def _clap(self) -> F64:
        t = self._time(round(0.3 * self.rate))
        bursts = 0.4 * np.exp(-t * 14)
        for delay in (0, 0.011, 0.022):
            bursts += np.exp(-np.maximum(t - delay, 0) * 200) * (t >= delay)
        return self._noise(len(t), 900, 3500) * bursts


def _normalised(x: F64) -> F64:
    return x / max(1e-9, float(np.max(np.abs(x))))
