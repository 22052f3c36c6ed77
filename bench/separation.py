"""Benchmark the ``separation.spectral`` engine on the multitrack evaluation clips.

Usage::

    .venv/bin/python bench/separation.py [--data DIR] [--limit N] [--vocals | --stems]

Each clip folder holds ``mixture.flac`` and the stems ``vocals``, ``drums``, ``bass`` and
``other`` (``.flac``, 44.1 kHz stereo); the accompaniment reference is ``mixture - vocals``. The
engine is streamed through ``separate()`` in 1-second blocks, single-threaded, and timed to give
the real-time factor (processing time / audio time). Two parts, both run by default: the vocals /
accompaniment split (``--vocals`` alone), and the four-stem split, vocals, drums, bass and other
requested together, with a table for drums, bass and other (``--stems`` alone).

Quality is scale-invariant SDR (SI-SDR, no mean removal) with both channels flattened into one
vector, reported for the mixture used as the estimate (the floor), for the engine's estimate, and
as the improvement. An oracle ideal ratio mask (magnitude ratio, same STFT size; for the four
stems each stem's magnitude over the sum of all four) is printed as the ceiling.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported: the RTF is measured on one core

import av  # noqa: E402
import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
from scipy import signal  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from yinzi.engines.separation.spectral import INSTRUMENTS, SpectralSeparator  # noqa: E402

Audio = npt.NDArray[np.float32]
BLOCK_SECONDS = 1.0
IRM_FFT = 2048


@dataclass(frozen=True)
class Row:
    clip: str
    floor_voc: float
    est_voc: float
    floor_acc: float
    est_acc: float
    rtf: float

    @property
    def gain_voc(self) -> float:
        return self.est_voc - self.floor_voc

    @property
    def gain_acc(self) -> float:
        return self.est_acc - self.floor_acc


def decode(path: Path) -> Audio:
    """Decode an audio file to float32 ``(channels, samples)`` in [-1, 1] with PyAV."""
    chunks: list[Audio] = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        for frame in container.decode(stream):
            data = frame.to_ndarray()
            if not frame.format.is_planar:
                data = data.reshape(-1, len(frame.layout.channels)).T
            scale = 2.0 ** (8 * data.dtype.itemsize - 1) if data.dtype.kind == "i" else 1.0
            chunks.append((data / scale).astype(np.float32))
    return np.concatenate(chunks, axis=1)


def si_sdr(reference: Audio, estimate: Audio) -> float:
    """Scale-invariant SDR in dB over all channels flattened (no mean removal)."""
    ref = reference.astype(np.float64).ravel()
    est = estimate.astype(np.float64).ravel()
    scale = np.dot(est, ref) / max(np.dot(ref, ref), 1e-12)
    target = scale * ref
    noise = est - target
    return float(
        10 * np.log10(max(np.dot(target, target), 1e-12) / max(np.dot(noise, noise), 1e-12))
    )


def blocks(audio: Audio, size: int) -> Iterator[Audio]:
    for start in range(0, audio.shape[1], size):
        yield audio[:, start : start + size]


def run_engine(mixture: Audio, rate: int, stems: tuple[str, ...]) -> tuple[dict[str, Audio], float]:
    """The engine's estimate of each stem, and the real-time factor."""
    engine = SpectralSeparator()
    out: dict[str, list[Audio]] = {stem: [] for stem in stems}
    start = time.perf_counter()
    for piece in engine.separate(blocks(mixture, int(rate * BLOCK_SECONDS)), stems):
        for stem, block in piece.items():
            out[stem].append(block)
    elapsed = time.perf_counter() - start
    estimates = {stem: np.concatenate(parts, axis=1) for stem, parts in out.items()}
    return estimates, elapsed * rate / mixture.shape[1]


def oracle_irm(mixture: Audio, sources: list[Audio]) -> list[Audio]:
    """Each source from the ideal magnitude-ratio mask (the ceiling for any real-valued mask)."""
    kwargs = {"nperseg": IRM_FFT, "noverlap": IRM_FFT * 3 // 4}
    magnitudes = [np.abs(signal.stft(source, **kwargs)[2]) for source in sources]
    total = sum(magnitudes) + 1e-9
    _, _, spec_m = signal.stft(mixture, **kwargs)
    estimates = [signal.istft(mag / total * spec_m, **kwargs)[1] for mag in magnitudes]
    return [np.asarray(e[:, : mixture.shape[1]], dtype=np.float32) for e in estimates]


def evaluate(folder: Path) -> tuple[Row, Row]:
    mixture = decode(folder / "mixture.flac")
    vocals = decode(folder / "vocals.flac")
    accompaniment = mixture - vocals
    rate = SpectralSeparator.sample_rate
    estimates, rtf = run_engine(mixture, rate, ("vocals", "accompaniment"))
    est_v, est_a = estimates["vocals"], estimates["accompaniment"]
    floor_v, floor_a = si_sdr(vocals, mixture), si_sdr(accompaniment, mixture)
    row = Row(
        folder.name, floor_v, si_sdr(vocals, est_v), floor_a, si_sdr(accompaniment, est_a), rtf
    )
    irm_v = oracle_irm(mixture, [vocals, accompaniment])[0]
    irm = Row(
        folder.name,
        floor_v,
        si_sdr(vocals, irm_v),
        floor_a,
        si_sdr(accompaniment, mixture - irm_v),
        0,
    )
    return row, irm


def mean_row(name: str, rows: list[Row]) -> Row:
    def avg(attr: str) -> float:
        return float(np.mean([getattr(r, attr) for r in rows]))

    fields = ("floor_voc", "est_voc", "floor_acc", "est_acc", "rtf")
    return Row(name, *(avg(f) for f in fields))


def print_table(rows: list[Row], irm: Row) -> None:
    header = (
        f"{'clip':<12}{'voc mix':>9}{'voc est':>9}{'voc +dB':>9}"
        f"{'acc mix':>9}{'acc est':>9}{'acc +dB':>9}{'RTF':>8}"
    )
    print("SI-SDR in dB (scale-invariant, no mean removal, channels flattened); RTF on one core")
    print(header)
    print("-" * len(header))
    for row in rows:
        if row is rows[-1]:
            print("-" * len(header))
        rtf = f"{row.rtf:8.4f}" if row.rtf else f"{'-':>8}"
        print(
            f"{row.clip:<12}{row.floor_voc:9.2f}{row.est_voc:9.2f}{row.gain_voc:9.2f}"
            f"{row.floor_acc:9.2f}{row.est_acc:9.2f}{row.gain_acc:9.2f}{rtf}"
        )
    print(
        f"{irm.clip:<12}{irm.floor_voc:9.2f}{irm.est_voc:9.2f}{irm.gain_voc:9.2f}"
        f"{irm.floor_acc:9.2f}{irm.est_acc:9.2f}{irm.gain_acc:9.2f}{'-':>8}"
    )


@dataclass(frozen=True)
class StemRow:
    """SI-SDR of the mixture (floor) and of the estimate for each of `INSTRUMENTS`."""

    clip: str
    floors: tuple[float, ...]
    estimates: tuple[float, ...]
    rtf: float


def evaluate_stems(folder: Path) -> tuple[StemRow, StemRow]:
    mixture = decode(folder / "mixture.flac")
    references = [decode(folder / f"{stem}.flac") for stem in ("vocals", *INSTRUMENTS)]
    rate = SpectralSeparator.sample_rate
    estimates, rtf = run_engine(mixture, rate, ("vocals", *INSTRUMENTS))
    floors = tuple(si_sdr(ref, mixture) for ref in references[1:])
    scores = tuple(
        si_sdr(ref, estimates[s]) for ref, s in zip(references[1:], INSTRUMENTS, strict=True)
    )
    irm = oracle_irm(mixture, references)[1:]
    oracle = tuple(si_sdr(ref, est) for ref, est in zip(references[1:], irm, strict=True))
    return StemRow(folder.name, floors, scores, rtf), StemRow(folder.name, floors, oracle, 0)


def mean_stem_row(name: str, rows: list[StemRow]) -> StemRow:
    floors = tuple(np.mean([r.floors for r in rows], axis=0).tolist())
    estimates = tuple(np.mean([r.estimates for r in rows], axis=0).tolist())
    return StemRow(name, floors, estimates, float(np.mean([r.rtf for r in rows])))


def print_stem_table(rows: list[StemRow], irm: StemRow) -> None:
    columns = "".join(f"{f'{s} {c}':>12}" for s in INSTRUMENTS for c in ("mix", "est", "+dB"))
    header = f"{'clip':<12}{columns}{'RTF':>8}"
    print("Four stems requested together (vocals, drums, bass, other); SI-SDR in dB")
    print(header)
    print("-" * len(header))
    for row in [*rows, irm]:
        if row is rows[-1]:
            print("-" * len(header))
        cells = "".join(
            f"{floor:12.2f}{est:12.2f}{est - floor:12.2f}"
            for floor, est in zip(row.floors, row.estimates, strict=True)
        )
        rtf = f"{row.rtf:8.4f}" if row.rtf else f"{'-':>8}"
        print(f"{row.clip:<12}{cells}{rtf}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / ".." / "shared" / "eval" / "music")
    parser.add_argument("--limit", type=int, default=None, help="evaluate only the first N clips")
    part = parser.add_mutually_exclusive_group()
    part.add_argument("--vocals", action="store_true", help="only the vocals/accompaniment part")
    part.add_argument("--stems", action="store_true", help="only the four-stem part")
    args = parser.parse_args()
    folders = sorted(p for p in args.data.resolve().iterdir() if (p / "mixture.flac").exists())
    folders = folders[: args.limit]
    if not args.stems:
        rows, oracle = zip(*(evaluate(folder) for folder in folders), strict=True)
        print_table([*rows, mean_row("mean", list(rows))], mean_row("oracle IRM", list(oracle)))
    if not args.vocals:
        if not args.stems:
            print()
        stem_rows, stem_oracle = zip(*(evaluate_stems(folder) for folder in folders), strict=True)
        print_stem_table(
            [*stem_rows, mean_stem_row("mean", list(stem_rows))],
            mean_stem_row("oracle IRM", list(stem_oracle)),
        )


if __name__ == "__main__":
    main()
