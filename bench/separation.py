"""Benchmark every separation engine that can run here on the evaluation clips.

Usage::

    .venv/bin/python bench/separation.py [--real DIR] [--data DIR] [--limit N]
        [--engines NAME,...] [--variants] [--vocals | --stems] [--per-clip]
    .venv/bin/python bench/separation.py --long MINUTES [--engines NAME,...] [--stems]

Two sets of clips, each clip a folder with ``mixture.flac`` and its stems (44.1 kHz stereo):

- ``--real`` (default ``../shared/eval/real/music``): real recordings, ``vocals`` and
  ``accompaniment``;
- ``--data`` (default ``../shared/eval/music``): synthetic mixes of ``vocals``, ``drums``,
  ``bass`` and ``other``; the accompaniment reference is ``mixture - vocals``.

Every engine in ``--engines`` (default: spectral, spleeter and demucs) that ``registry.check``
passes is loaded once (the load time is reported) and streamed through ``separate()`` in
1-second blocks, on one core (BLAS limited to one thread, ``threads=1``). On the real set it is
asked for vocals and accompaniment; on the synthetic set for all five stems at once (only
vocals and accompaniment with ``--vocals``; only the synthetic set with ``--stems``). The
real-time factor is processing time over audio time. ``--variants`` adds stock Spleeter and
each of this engine's changes to it, one at a time, to show what each is worth.

Quality is the SI-SDR improvement in dB (estimate minus mixture-as-estimate), computed as the
development set's scorer does: each channel made zero-mean, both channels scored together under
one scale factor. An oracle ideal ratio mask (magnitude ratio, 2048-point STFT) is printed as a
ceiling for mask-based engines.

``--long MINUTES`` instead streams that many minutes of stereo noise (1-second blocks) through
each engine, for vocals and accompaniment (all five stems with ``--stems``), and prints the
real-time factor, whether exactly as many samples came out as went in, and the process's peak
resident memory (run one engine per process for a clean peak).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported: the RTF is measured on one core

import av  # noqa: E402
import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
from scipy import signal  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from yinzi.engines import registry  # noqa: E402
from yinzi.settings import Settings  # noqa: E402

Audio = npt.NDArray[np.float32]
BLOCK_SECONDS = 1.0
RATE = 44100
IRM_FFT = 2048
PAIR = ("vocals", "accompaniment")
FIVE = ("vocals", "accompaniment", "drums", "bass", "other")
SPLEETER_VARIANTS: dict[str, dict[str, Any]] = {
    "spleeter stock": {"extension": "zeros", "filter": "ratio"},
    "spleeter +band": {"extension": "top", "filter": "ratio"},
    "spleeter +Wiener": {"extension": "zeros", "filter": "wiener"},
}
"""Stock Spleeter (masks as the networks give them, nothing above 11 kHz) and each change alone."""


@dataclass(frozen=True)
class Contender:
    label: str
    engine: str
    options: dict[str, Any]


@dataclass(frozen=True)
class Result:
    gains: dict[str, float]
    rtf: float


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
    """SI-SDR in dB: zero-mean channels, one scale factor for both (the devset scorer's)."""
    ref = reference.astype(np.float64)
    est = estimate.astype(np.float64)
    ref = ref - ref.mean(axis=-1, keepdims=True)
    est = est - est.mean(axis=-1, keepdims=True)
    scale = np.sum(est * ref) / max(np.sum(ref * ref), 1e-12)
    target = scale * ref
    noise = est - target
    return float(10 * np.log10(max(np.sum(target**2), 1e-12) / max(np.sum(noise**2), 1e-12)))


def blocks(audio: Audio, size: int) -> Iterator[Audio]:
    for start in range(0, audio.shape[1], size):
        yield audio[:, start : start + size]


def references(folder: Path, stems: tuple[str, ...]) -> tuple[Audio, dict[str, Audio]]:
    mixture = decode(folder / "mixture.flac")
    refs = {}
    for stem in stems:
        path = folder / f"{stem}.flac"
        refs[stem] = decode(path) if path.exists() else mixture - refs["vocals"]
    return mixture, refs


def separate(engine: Any, mixture: Audio, stems: tuple[str, ...]) -> tuple[dict[str, Audio], float]:
    """The engine's estimate of each stem, and the real-time factor."""
    out: dict[str, list[Audio]] = {stem: [] for stem in stems}
    start = time.perf_counter()
    for piece in engine.separate(blocks(mixture, int(RATE * BLOCK_SECONDS)), stems):
        for stem, block in piece.items():
            out[stem].append(block)
    elapsed = time.perf_counter() - start
    estimates = {stem: np.concatenate(parts, axis=1) for stem, parts in out.items()}
    return estimates, elapsed * RATE / mixture.shape[1]


def oracle_irm(mixture: Audio, sources: list[Audio]) -> list[Audio]:
    """Each source from the ideal magnitude-ratio mask (the ceiling for any real-valued mask)."""
    kwargs = {"nperseg": IRM_FFT, "noverlap": IRM_FFT * 3 // 4}
    magnitudes = [np.abs(signal.stft(source, **kwargs)[2]) for source in sources]
    total = sum(magnitudes) + 1e-9
    _, _, spec_m = signal.stft(mixture, **kwargs)
    estimates = [signal.istft(mag / total * spec_m, **kwargs)[1] for mag in magnitudes]
    return [np.asarray(e[:, : mixture.shape[1]], dtype=np.float32) for e in estimates]


def score(mixture: Audio, refs: dict[str, Audio], estimates: dict[str, Audio]) -> dict[str, float]:
    return {
        stem: si_sdr(ref, estimates[stem]) - si_sdr(ref, mixture)
        for stem, ref in refs.items()
        if stem in estimates
    }


def oracle(folder: Path, stems: tuple[str, ...]) -> Result:
    mixture, refs = references(folder, stems)
    pair = oracle_irm(mixture, [refs["vocals"], refs["accompaniment"]])
    masked = dict(zip(PAIR, pair, strict=True))
    if len(stems) > 2:
        four = oracle_irm(mixture, [refs[stem] for stem in ("vocals", "drums", "bass", "other")])
        masked.update(zip(("drums", "bass", "other"), four[1:], strict=True))
    return Result(score(mixture, refs, masked), 0.0)


def contenders(names: list[str], variants: bool) -> list[Contender]:
    settings = Settings()
    chosen: list[Contender] = []
    for short in names:
        name = short if "." in short else f"separation.{short}"
        options = dict(settings.engine_options(name))
        if "threads" in options:
            options["threads"] = 1
        if "cpu_threads" in options:
            options["cpu_threads"] = 1
        problem = registry.check(name, options)
        if problem is not None:
            print(f"skipping {name}: {problem}")
            continue
        if name == "separation.spleeter" and variants:
            for label, extra in SPLEETER_VARIANTS.items():
                chosen.append(Contender(label, name, {**options, **extra}))
        chosen.append(Contender(name.removeprefix("separation."), name, options))
    return chosen


def run_set(
    contender: Contender, folders: list[Path], stems: tuple[str, ...]
) -> tuple[float, list[tuple[str, Result]]]:
    start = time.perf_counter()
    engine = registry.load(contender.engine, "separation", **contender.options)
    load: Callable[[], object] | None = getattr(engine, "load", None)
    if load is not None:
        load()
    load_seconds = time.perf_counter() - start
    rows = []
    for folder in folders:
        mixture, refs = references(folder, stems)
        wanted = tuple(stem for stem in stems if stem in engine.stems)
        estimates, rtf = separate(engine, mixture, wanted)
        rows.append((folder.name, Result(score(mixture, refs, estimates), rtf)))
    return load_seconds, rows


def mean(results: list[Result]) -> Result:
    stems = results[0].gains.keys()
    gains = {stem: float(np.mean([r.gains.get(stem, np.nan) for r in results])) for stem in stems}
    return Result(gains, float(np.mean([r.rtf for r in results])))


def print_table(title: str, stems: tuple[str, ...], rows: list[tuple[str, str, Result]]) -> None:
    print(title)
    header = f"{'engine':<20}{'load s':>8}{'RTF 1 core':>12}" + "".join(
        f"{s[:6]:>9}" for s in stems
    )
    print(header)
    print("-" * len(header))
    for label, load, result in rows:
        rtf = f"{result.rtf:12.3f}" if result.rtf else f"{'-':>12}"
        cells = "".join(
            f"{result.gains[s]:+9.2f}" if s in result.gains else f"{'-':>9}" for s in stems
        )
        print(f"{label:<20}{load:>8}{rtf}{cells}")
    print()


def bench_set(
    title: str, folders: list[Path], stems: tuple[str, ...], chosen: list[Contender], per_clip: bool
) -> None:
    rows: list[tuple[str, str, Result]] = []
    for contender in chosen:
        load_seconds, results = run_set(contender, folders, stems)
        if per_clip:
            rows += [(f"  {contender.label[:9]} {clip}", "", r) for clip, r in results]
        rows.append((contender.label, f"{load_seconds:.2f}", mean([r for _, r in results])))
    rows.append(("oracle IRM", "", mean([oracle(folder, stems) for folder in folders])))
    print_table(title, stems, rows)


def long_run(contender: Contender, minutes: float, stems: tuple[str, ...]) -> None:
    engine = registry.load(contender.engine, "separation", **contender.options)
    noise = (np.random.default_rng(0).standard_normal((2, RATE * 10)) * 0.1).astype(np.float32)
    count = round(minutes * 60)
    second = [noise[:, (i % 10) * RATE : (i % 10 + 1) * RATE] for i in range(10)]
    wanted = tuple(stem for stem in stems if stem in engine.stems)
    start = time.perf_counter()
    produced = 0
    for piece in engine.separate((second[i % 10] for i in range(count)), wanted):
        produced += next(iter(piece.values())).shape[1]
    rtf = (time.perf_counter() - start) / (count * BLOCK_SECONDS)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    exact = "exact" if produced == count * RATE else f"{produced} of {count * RATE} samples"
    print(
        f"{contender.label}: {minutes:g} min of {'/'.join(wanted)}: RTF 1 core {rtf:.3f}, {exact}, "
        f"peak RSS {peak_mb:.0f} MB (this process so far)"
    )


def clips(folder: Path, limit: int | None) -> list[Path]:
    found = sorted(p for p in folder.resolve().iterdir() if (p / "mixture.flac").exists())
    return found[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = REPO / ".." / "shared" / "eval"
    parser.add_argument("--real", type=Path, default=shared / "real" / "music")
    parser.add_argument("--data", type=Path, default=shared / "music")
    parser.add_argument("--limit", type=int, default=None, help="evaluate only the first N clips")
    parser.add_argument("--engines", default="spectral,spleeter,demucs")
    parser.add_argument("--variants", action="store_true", help="stock Spleeter and each change")
    parser.add_argument("--per-clip", action="store_true", help="a row per clip too")
    part = parser.add_mutually_exclusive_group()
    part.add_argument("--vocals", action="store_true", help="vocals and accompaniment only")
    part.add_argument("--stems", action="store_true", help="only the synthetic five-stem part")
    parser.add_argument("--long", type=float, default=None, metavar="MINUTES")
    args = parser.parse_args()
    chosen = contenders(args.engines.split(","), args.variants)
    if args.long is not None:
        for contender in chosen:
            long_run(contender, args.long, FIVE if args.stems else PAIR)
        return
    print("SI-SDR improvement in dB (zero-mean channels, one scale); RTF on one core\n")
    if not args.stems and args.real.exists():
        real = clips(args.real, args.limit)
        bench_set(f"Real recordings ({len(real)} clips)", real, PAIR, chosen, args.per_clip)
    synthetic = clips(args.data, args.limit)
    stems = PAIR if args.vocals else FIVE
    bench_set(f"Synthetic mixes ({len(synthetic)} clips)", synthetic, stems, chosen, args.per_clip)


if __name__ == "__main__":
    main()
