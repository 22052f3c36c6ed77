"""MP3 encoders and settings side by side: speed on one core, quality, and GIL release.

Usage::

    .venv/bin/python bench/mp3.py [--seconds 20] [--real ../shared/eval/real/music] [--block 8192]

Every row encodes the same audio at 192 kbit/s CBR (ABR where it says so), stereo 44.1 kHz, in
``--block``-sample blocks as a separation engine hands them over (float32, planar), and decodes
the result with ffmpeg:

- ``x real time``: seconds of stereo audio encoded per second of CPU time, one thread;
- ``exact length``: the file decodes to exactly the samples written (a LAME or Xing tag tells
  the decoder the encoder delay and padding), which stems and gapless playback need;
- ``GIL stall``: the longest the main thread waited for the GIL while another thread encoded
  10 s in one call, as a share of that call's time: near 100% if the encoder held the GIL, a
  few per cent (scheduling noise) when it releases it, so stems can encode in parallel;
- quality on a synthetic song (:mod:`yinzi.media.testing`) and on the real clips
  (``mixture.flac`` under ``--real``, when there): ``SNR`` of the decoded audio against the
  source, and ``over mask``, the share of (STFT frame, critical band) cells whose coding noise
  is louder than a simple masking estimate (the band's energy spread over its neighbours,
  -25 dB per band below and -10 dB above, less 12 dB). SNR alone rewards LAME's ``-q 7``, which
  drops noise shaping; the masking proxy does not.

The encoders: PyAV's ``libmp3lame`` (the LAME built into PyAV's wheel; Yinzi's encoder before),
``lameenc``'s Python API (plain stereo, no tag), and LAME's C API through ctypes
(:mod:`yinzi.media._lame`, what Yinzi uses now) on each LAME found here.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import ctypes  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from fractions import Fraction  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402

import av  # noqa: E402
import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
from scipy import signal  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from yinzi.media import _lame, read_all  # noqa: E402
from yinzi.media import testing as fx  # noqa: E402

Audio = npt.NDArray[np.float32]
Encode = Callable[[Audio, Path, int], None]
RATE = 44100
LAME_DELAY = 576 + 529  # encoder + decoder delay, trimmed by hand for files without a tag
BAND_EDGES = [0, 100, 200, 300, 400, 510, 630, 770, 920, 1080, 1270, 1480, 1720, 2000, 2320]
BAND_EDGES += [2700, 3150, 3700, 4400, 5300, 6400, 7700, 9500, 12000, 15500, 20000]


def pyav(
    audio: Audio, path: Path, block: int, *, q: int = 3, fmt: str = "fltp", abr: bool = False
) -> None:
    options = {"compression_level": str(q), **({"abr": "1"} if abr else {})}
    with av.open(str(path), "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=RATE, options=options)
        stream.layout, stream.format, stream.bit_rate = "stereo", fmt, 192_000
        for start in range(0, audio.shape[1], block):
            samples = audio[:, start : start + block]
            if fmt == "s16p":
                samples = np.clip(np.round(samples * 32768), -32768, 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples), format=fmt, layout="stereo"
            )
            frame.sample_rate, frame.time_base, frame.pts = RATE, Fraction(1, RATE), start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def lameenc_api(audio: Audio, path: Path, block: int, *, q: int) -> None:
    import lameenc  # type: ignore[import-not-found]  # untyped

    encoder = lameenc.Encoder()
    encoder.set_bit_rate(192)
    encoder.set_in_sample_rate(RATE)
    encoder.set_channels(2)
    encoder.set_quality(q)
    encoder.silence()
    out = bytearray()
    for start in range(0, audio.shape[1], block):
        pcm = np.clip(np.round(audio[:, start : start + block] * 32768), -32768, 32767).astype(
            "<i2"
        )
        out += encoder.encode(pcm.T.tobytes())
    path.write_bytes(bytes(out + encoder.flush()))


def lame_c_api(audio: Audio, path: Path, block: int, *, q: int, library: str) -> None:
    """What :class:`~yinzi.media.AudioWriter` does for MP3, with a chosen LAME and quality."""
    encoder = _lame.Encoder(
        sample_rate=RATE, channels=2, bitrate=192_000, quality=q, lib=_lame.load(library)
    )
    with path.open("wb") as file:
        for start in range(0, audio.shape[1], block):
            file.write(encoder.encode(audio[:, start : start + block]))
        file.write(encoder.flush())
        file.seek(0)
        file.write(encoder.tag())
    encoder.close()


def pyav_overhead(audio: Audio, path: Path, block: int) -> None:
    """The same frames through PyAV into a PCM encoder: what PyAV itself costs."""
    with av.open(str(path.with_suffix(".wav")), "w", format="wav") as container:
        stream = container.add_stream("pcm_f32le", rate=RATE)
        stream.layout, stream.format = "stereo", "flt"
        for start in range(0, audio.shape[1], block):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(audio[:, start : start + block]),
                format="fltp",
                layout="stereo",
            )
            frame.sample_rate, frame.time_base, frame.pts = RATE, Fraction(1, RATE), start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def over_mask(source: Audio, decoded: Audio) -> float:
    """Per cent of (frame, band) cells where the coding noise exceeds the masking estimate."""
    freqs, _, ref = signal.stft(source, RATE, nperseg=2048)
    _, _, dec = signal.stft(decoded, RATE, nperseg=2048)
    band = np.digitize(freqs, BAND_EDGES) - 1
    bands = range(len(BAND_EDGES) - 1)
    energy = np.stack([(np.abs(ref[:, band == b]) ** 2).sum(1) for b in bands], 1)
    noise = np.stack(
        [(np.abs(dec[:, band == b] - ref[:, band == b]) ** 2).sum(1) for b in bands], 1
    )
    distance = np.subtract.outer(np.arange(len(bands)), np.arange(len(bands)))  # maskee - masker
    spread = 10 ** (np.where(distance >= 0, -10.0 * distance, 25.0 * distance) / 10)
    mask = np.einsum("ij,cjt->cit", spread, energy) * 10 ** (-12 / 10) + 1e-12
    loud = energy.sum(1) > 1e-6 * energy.sum(1).max()  # frames with sound, per channel
    cells = (noise / mask).transpose(0, 2, 1)[loud]
    return float(100 * (cells > 1).mean())


def quality(run: Encode, source: Audio, folder: Path, block: int) -> tuple[bool, float, float]:
    """(exact length, SNR in dB, per cent over the mask) of ``source`` through ``run``."""
    path = folder / "q.mp3"
    run(source, path, block)
    decoded = read_all(path)
    exact = decoded.shape == source.shape
    if not exact:  # no tag: trim LAME's delay by hand to compare
        decoded = decoded[:, LAME_DELAY : LAME_DELAY + source.shape[1]]
    snr = 10 * np.log10(np.sum(source**2) / np.sum((decoded - source) ** 2))
    return exact, float(snr), over_mask(source, decoded)


def speed(run: Encode, source: Audio, folder: Path, block: int, repeat: int) -> float:
    """Seconds of audio per CPU second, best of ``repeat``."""
    best = float("inf")
    for _ in range(repeat):
        start = time.thread_time()
        run(source, folder / "s.mp3", block)
        best = min(best, time.thread_time() - start)
    return float(source.shape[1] / RATE / best)


def stall(run: Encode, folder: Path) -> float:
    """This thread's longest wait for the GIL while another encodes 10 s in one call, as a
    share of that call's time: near 1 when the encoder holds the GIL throughout."""
    audio = fx.sine(10.0)
    done = threading.Event()

    def encode() -> None:
        run(audio, folder / "g.mp3", audio.shape[1])
        done.set()

    worker = threading.Thread(target=encode)
    started = last = time.perf_counter()
    worker.start()
    longest = 0.0
    while not done.is_set():
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    worker.join()
    return longest / (time.perf_counter() - started)


def encoders(libraries: list[str]) -> list[tuple[str, str, Encode]]:
    rows: list[tuple[str, str, Encode]] = [
        ("PyAV libmp3lame", "-q 3, fltp (before)", partial(pyav, q=3)),
        *[("PyAV libmp3lame", f"-q {q}, fltp", partial(pyav, q=q)) for q in (2, 5, 7)],
        ("PyAV libmp3lame", "-q 3, s16p", partial(pyav, q=3, fmt="s16p")),
        ("PyAV libmp3lame", "-q 3, ABR", partial(pyav, q=3, abr=True)),
        *[("lameenc API", f"-q {q}, L/R stereo", partial(lameenc_api, q=q)) for q in (2, 3, 7)],
    ]
    for library in libraries:
        lib = _lame.load(library)
        lib.get_lame_version.restype = ctypes.c_char_p
        origin = (
            "lameenc's" if "lameenc" in library else "PyAV's" if "av.libs" in library else "system"
        )
        name = f"LAME C API, {origin} LAME {lib.get_lame_version().decode()}"
        chosen = library == _lame.library()._name
        for q in (2, 3, 5, 7) if chosen else (3,):
            note = " (chosen)" if chosen and q == 3 else ""
            rows.append(
                (name, f"-q {q}, joint stereo{note}", partial(lame_c_api, q=q, library=library))
            )
    return rows


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the synthetic song")
    parser.add_argument("--real", type=Path, default=REPO.parent / "shared/eval/real/music")
    parser.add_argument("--block", type=int, default=8192, help="samples per block written")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per row (best kept)")
    args = parser.parse_args()

    vocals, accompaniment = fx.song_stems(seconds=args.seconds)
    synthetic = vocals + accompaniment
    clips = sorted(args.real.glob("*/mixture.flac"))
    real = np.concatenate([read_all(c) for c in clips], axis=1) if clips else None
    libraries = []
    for library in _lame.candidates():
        try:
            _lame.load(library)
            libraries.append(library)
        except (OSError, AttributeError):
            pass

    title = f"MP3 at 192 kbit/s, {args.block}-sample blocks, one core (best of {args.repeat})"
    table = Table(title=title)
    for column in ("encoder", "settings", "x real time", "exact length", "GIL stall"):
        table.add_column(column, justify="left" if column in ("encoder", "settings") else "right")
    table.add_column("synthetic: SNR / over mask", justify="right")
    table.add_column(f"real ({len(clips)} clips): SNR / over mask", justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, settings, run in encoders(libraries):
            exact, snr, masked = quality(run, synthetic, folder, args.block)
            real_q = "-"
            if real is not None:
                real_q = "{1:.1f} dB / {2:.1f}%".format(*quality(run, real, folder, args.block))
            table.add_row(
                name,
                settings,
                f"{speed(run, synthetic, folder, args.block, args.repeat):.0f}x",
                "yes" if exact else "no",
                f"{100 * stall(run, folder):.0f}%",
                f"{snr:.1f} dB / {masked:.1f}%",
                real_q,
            )
        overhead = speed(
            lambda a, p, b: pyav_overhead(a, p, b), synthetic, folder, args.block, args.repeat
        )
    Console(width=200).print(table)
    print(f"PyAV alone (the same frames into a PCM encoder): {overhead:.0f}x real time")
    print("goal: keep 192 kbit/s quality (SNR and over-mask of the 'before' row) at the best speed")
    print(
        "16-bit input (s16p, lameenc's API) adds rounding noise the near-silent synthetic passages"
    )
    print("show as 'over mask'; real music hides it")


if __name__ == "__main__":
    main()
