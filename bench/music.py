"""Benchmark the music engines with an independent audio analyser.

Usage::

    .venv/bin/python bench/music.py [--lengths 8] [--seed 1] [--no-write]
        [--engines procedural,musicgen] [--musicgen-prompts 3]

Every engine in ``--engines`` that ``registry.check`` passes (with the options a worker gives it)
composes each prompt; ``music.musicgen``, far slower, only the first ``--musicgen-prompts``.
Each piece is timed on one core (every math library, torch included, on one thread): the
real-time factor is generation time over clip duration. The audio is analysed without looking
at how it was made:

- key and mode: a chromagram (8192-point Hann STFT, bins 60 Hz-2.1 kHz folded onto pitch classes
  with a cosine weight around each semitone, each frame normalised) summed over the clip, then
  Pearson-correlated with the 24 rotations of the Krumhansl-Kessler major and minor profiles;
- tempo: an onset-strength envelope (positive log-spectral flux, 10 ms hop, local mean removed)
  whose autocorrelation is scored for every tempo from 40 to 240 bpm as the sum over the first
  four multiples of the beat period, times a log-normal prior around 110 bpm;
- duration: the number of samples, against ``bars * 4 * 60 / tempo``.

"asked" is what the prompt named, completed by what the composer reports it chose (its tempo, the
mode where only a tonic was named). A key counts as detected when tonic and mode both match;
tempo is counted strictly (within 5 %) and allowing the usual octave errors (x2, /2). MusicGen
has no key and only a nominal tempo, so its key and tempo columns only describe what it made.
Clips are written to ``bench/out/music/`` for listening (MusicGen's named ``musicgen_...``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported: the RTF is measured on one core

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from yinzi.engines import registry  # noqa: E402
from yinzi.engines.music.base import Composer, MusicRequest  # noqa: E402
from yinzi.media.encode import write_audio  # noqa: E402
from yinzi.settings import Settings  # noqa: E402

F64 = npt.NDArray[np.float64]
RATE = 44100
OUT = REPO / "bench" / "out" / "music"
NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

PROMPTS = (
    "guitar solo bossa nova C minor",
    "jazz sax in A flat major",
    "happy pop song in G major",
    "sad piano ballad in E minor",
    "energetic edm one hundred twenty eight bpm",
    "slow lofi hip hop in D minor",
    "classical strings in F major",
    "folk guitar and flute in A major",
    "funk bass and drums in E minor",
    "reggae organ in B flat major",
    "waltz piano in D major",
    "fast rock electric guitar in A minor",
    "dark cinematic strings in C sharp minor",
    "flute solo in F sharp minor",
    "piano solo in E flat major",
    "sunny bossa nova with flute in G",
    "calm ambient bells",
    "upbeat pop",
    "fast jazz piano trio",
    "",
)


@dataclass(frozen=True)
class Row:
    prompt: str
    bars: int
    asked_key: str | None
    detected_key: str
    tempo: float
    detected_tempo: float
    duration_error_ms: float
    rtf: float

    @property
    def key_ok(self) -> bool:
        return self.asked_key == self.detected_key

    @property
    def tempo_strict(self) -> bool:
        return abs(self.detected_tempo / self.tempo - 1) <= 0.05

    @property
    def tempo_octave(self) -> bool:
        return any(abs(self.detected_tempo * f / self.tempo - 1) <= 0.05 for f in (0.5, 1, 2))


def stft_magnitude(mono: F64, size: int, hop: int) -> F64:
    frames = 1 + max(0, len(mono) - size) // hop
    index = np.arange(size)[None, :] + hop * np.arange(frames)[:, None]
    padded = np.pad(mono, (0, max(0, size - len(mono))))
    return np.abs(np.fft.rfft(padded[index] * np.hanning(size), axis=1))


def detect_key(mono: F64) -> str:
    magnitude = stft_magnitude(mono, 8192, 4096)
    freqs = np.fft.rfftfreq(8192, 1 / RATE)
    band = (freqs > 60) & (freqs < 2100)
    pitch = 69 + 12 * np.log2(freqs[band] / 440)
    nearest = np.round(pitch)
    weight = np.cos(np.pi * (pitch - nearest)) ** 2
    fold = np.zeros((band.sum(), 12))
    fold[np.arange(band.sum()), nearest.astype(int) % 12] = weight
    chroma = magnitude[:, band] @ fold
    chroma /= np.maximum(chroma.max(axis=1, keepdims=True), 1e-9)
    profile = chroma.sum(axis=0)
    best = max(
        (np.corrcoef(profile, np.roll(template, tonic))[0, 1], f"{NAMES[tonic]} {mode}")
        for tonic in range(12)
        for mode, template in (("major", MAJOR), ("minor", MINOR))
    )
    return best[1]


def detect_tempo(mono: F64) -> float:
    hop = 441
    spectrum = np.log1p(1000 * stft_magnitude(mono, 2048, hop))
    flux = np.maximum(np.diff(spectrum, axis=0), 0).sum(axis=1)
    local = np.convolve(flux, np.ones(31) / 31, mode="same")
    onset = np.maximum(flux - local, 0)
    n = len(onset)
    acf = np.fft.irfft(np.abs(np.fft.rfft(onset - onset.mean(), 2 * n)) ** 2)[:n]
    acf /= np.arange(n, 0, -1)  # unbiased: long lags are not penalised for having fewer terms
    frame_rate = RATE / hop
    best_score, best_bpm = -np.inf, 120.0
    for bpm in np.arange(40, 240.05, 0.1):
        period = 60 / bpm * frame_rate
        lags = period * np.arange(1, 5)
        lags = lags[lags < n - 1]
        if len(lags) == 0:
            continue
        score = np.interp(lags, np.arange(n), acf).mean()
        score *= np.exp(-0.5 * (np.log2(bpm / 110) / 0.9) ** 2)
        if score > best_score:
            best_score, best_bpm = score, float(bpm)
    return best_bpm


def asked_key(prompt: str, reported: str | None) -> str | None:
    """The key the prompt names: its tonic, and its mode (the reported one where not named)."""
    words = [*prompt.lower().split(), ""]
    letters = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
    for i, word in enumerate(words[:-1]):
        if word not in letters:
            continue
        shift = {"sharp": 1, "flat": -1}.get(words[i + 1], 0)
        mode = words[i + 1 + (shift != 0)]
        if mode in ("major", "minor") or (i > 0 and words[i - 1] == "in"):
            if mode not in ("major", "minor"):
                mode = (reported or " major").split()[1]
            return f"{NAMES[(letters[word] + shift) % 12]} {mode}"
    return None


def measure(composer: Composer, prompt: str, bars: int, seed: int, write: bool) -> Row:
    started = time.perf_counter()
    composition = composer.compose(MusicRequest(prompt, bars, seed))
    audio = np.concatenate(list(composition.blocks), axis=1)
    elapsed = time.perf_counter() - started
    duration = audio.shape[1] / RATE
    expected = bars * 4 * 60 / composition.tempo
    if write:
        OUT.mkdir(parents=True, exist_ok=True)
        name = "_".join(prompt.split()) or "empty"
        if composer.name != "music.procedural":
            name = f"{composer.name.removeprefix('music.')}_{name}"
        write_audio(OUT / f"{name}_{bars}bars.mp3", audio, format="mp3")
    mono = audio.mean(axis=0).astype(np.float64)
    return Row(
        prompt=prompt,
        bars=bars,
        asked_key=asked_key(prompt, composition.key),
        detected_key=detect_key(mono),
        tempo=composition.tempo,
        detected_tempo=detect_tempo(mono),
        duration_error_ms=1000 * (duration - expected),
        rtf=elapsed / duration,
    )


def report(engine: str, rows: list[Row]) -> None:
    print(f"\n{engine}\n")
    print(
        f"| {'prompt':42} | bars | {'asked key':9} | {'detected':12} | tempo | detected "
        "| dur err ms | RTF 1 core |"
    )
    print(
        f"|{'-' * 44}|------|-----------|--------------|-------|----------|------------|{'-' * 12}|"
    )
    for r in rows:
        asked = r.asked_key or "-"
        mark = "" if r.asked_key is None else (" ok" if r.key_ok else " X")
        tmark = "ok" if r.tempo_strict else ("x2" if r.tempo_octave else "X")
        print(
            f"| {r.prompt or '(empty)':42} | {r.bars:4} | {asked:9} | {r.detected_key + mark:12} "
            f"| {r.tempo:5.0f} | {r.detected_tempo:5.1f} {tmark:2} | {r.duration_error_ms:10.3f} "
            f"| {r.rtf:10.3f} |"
        )
    keyed = [r for r in rows if r.asked_key is not None]
    key_rate = 100 * sum(r.key_ok for r in keyed) / max(1, len(keyed))
    strict = 100 * sum(r.tempo_strict for r in rows) / len(rows)
    octave = 100 * sum(r.tempo_octave for r in rows) / len(rows)
    print()
    print(f"key and mode as asked:    {key_rate:5.1f} % of {len(keyed)} clips naming a key")
    print(f"tempo within 5 %:         {strict:5.1f} % strict, {octave:5.1f} % allowing x2 / /2")
    print(f"max duration error:       {max(abs(r.duration_error_ms) for r in rows):.3f} ms")
    rtfs = [r.rtf for r in rows]
    print(f"RTF on one core:          mean {np.mean(rtfs):.3f}, max {max(rtfs):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", default="8", help="comma-separated lengths in bars")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-write", action="store_true", help="do not write the clips")
    parser.add_argument("--engines", default="procedural,musicgen")
    parser.add_argument("--musicgen-prompts", type=int, default=3, help="prompts MusicGen takes")
    args = parser.parse_args()
    for short in args.engines.split(","):
        composer = load(short if "." in short else f"music.{short}")
        if composer is None:
            continue
        prompts = PROMPTS[: args.musicgen_prompts] if composer.name == "music.musicgen" else PROMPTS
        rows = [
            measure(composer, prompt, int(bars), args.seed, not args.no_write)
            for bars in args.lengths.split(",")
            for prompt in prompts
        ]
        report(composer.name, rows)


def load(name: str) -> Composer | None:
    """The engine ``name`` with a worker's options, loaded; None (saying why) if it cannot run."""
    options: dict[str, Any] = Settings().engine_options(name)
    problem = registry.check(name, options)
    if problem is not None:
        print(f"skipping {name}: {problem}")
        return None
    composer: Composer = registry.load(name, "music", **options)
    warm = getattr(composer, "load", None)  # MusicGen loads its model: not part of the timing
    if warm is not None:
        warm()
    return composer


if __name__ == "__main__":
    main()
