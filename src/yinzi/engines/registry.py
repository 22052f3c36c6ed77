"""Every engine the platform knows, in one explicit table of lazy factories.

Built-in engines register here exactly as a plugin would: a name (``family.engine``) and a
factory that imports its module only when called, so optional heavy libraries are never imported
unless that engine is chosen. ``check()`` reports whether an engine can run here and, if not, why,
without importing the engine or its libraries.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from yinzi.errors import ConfigurationError


@dataclass(frozen=True)
class EngineSpec:
    name: str
    family: str
    target: str
    """``module:attribute`` of the engine class; imported lazily."""
    summary: str
    requires: tuple[str, ...] = ()
    """Importable modules the engine needs (checked by ``yinzi engines``)."""
    extra: str | None = None
    """The optional extra that installs those modules."""
    availability: str | None = None
    """``module:function`` that says why the engine cannot run with given options, or None when
    it can (see ``engines/availability.py``); imported instead of the engine, so checking stays
    cheap. None: nothing beyond the packages in ``requires`` is checked."""


ENGINES: dict[str, EngineSpec] = {}


def register(spec: EngineSpec) -> None:
    if spec.name in ENGINES:
        raise ConfigurationError(f"engine {spec.name!r} is registered twice")
    if not spec.name.startswith(spec.family + "."):
        raise ConfigurationError(f"engine {spec.name!r} must be named '{spec.family}.<engine>'")
    ENGINES[spec.name] = spec


register(
    EngineSpec(
        name="separation.spectral",
        family="separation",
        target="yinzi.engines.separation.spectral:SpectralSeparator",
        summary="Weight-free spectral DSP: vocals and accompaniment",
        requires=("numpy", "scipy"),
    )
)

register(
    EngineSpec(
        name="separation.spleeter",
        family="separation",
        target="yinzi.engines.separation.spleeter:SpleeterSeparator",
        summary="Deezer Spleeter 2-stem U-Nets in numpy (MIT weights): vocals, accompaniment; "
        "drums, bass, other split from it",
        requires=("numpy", "scipy"),
        availability="yinzi.engines.availability:spleeter",
    )
)
register(
    EngineSpec(
        name="separation.demucs",
        family="separation",
        target="yinzi.engines.separation.demucs:DemucsSeparator",
        summary="Demucs (Hybrid Transformer): drums, bass, other, vocals (+ guitar, piano); "
        "research-only weights",
        requires=("torch", "demucs"),
        extra="demucs",
        availability="yinzi.engines.availability:demucs",
    )
)
register(
    EngineSpec(
        name="transcription.pocketsphinx",
        family="transcription",
        target="yinzi.engines.transcription.pocketsphinx:PocketSphinxTranscriber",
        summary="Offline English speech recognition (the model ships in the wheel)",
        requires=("pocketsphinx",),
    )
)
register(
    EngineSpec(
        name="transcription.faster_whisper",
        family="transcription",
        target="yinzi.engines.transcription.faster_whisper:FasterWhisperTranscriber",
        summary="Whisper via CTranslate2: accurate, ~100 languages (installed or local weights)",
        requires=("faster_whisper",),
        availability="yinzi.engines.availability:faster_whisper",
    )
)

register(
    EngineSpec(
        name="music.procedural",
        family="music",
        target="yinzi.engines.music.procedural:ProceduralComposer",
        summary="Weight-free composer and synthesizer: style, key, tempo and mood from the prompt",
        requires=("numpy", "scipy"),
    )
)
register(
    EngineSpec(
        name="music.musicgen",
        family="music",
        target="yinzi.engines.music.musicgen:MusicGenComposer",
        summary="MusicGen (transformers); non-commercial weights",
        requires=("torch", "transformers"),
        extra="musicgen",
        availability="yinzi.engines.availability:musicgen",
    )
)
register(
    EngineSpec(
        name="links.ytdlp",
        family="links",
        target="yinzi.engines.links.ytdlp:YtDlpAnalyzer",
        summary="Short-video pages via yt-dlp, plus extractors it lacks (Kuaishou)",
        requires=("yt_dlp",),
    )
)


AUTO: dict[str, tuple[str, ...]] = {
    "separation": ("separation.spleeter", "separation.spectral"),
    "transcription": ("transcription.faster_whisper", "transcription.pocketsphinx"),
}
"""What ``auto`` means for each family: the first of these engines that can run here."""


def choose(
    family: str, configured: str, options: Callable[[str], Mapping[str, Any]]
) -> tuple[str, str]:
    """The engine to use for ``configured`` (a name, or ``auto``) and why, in a few words."""
    if configured != "auto":
        return configured, "configured"
    passed: list[str] = []
    for name in AUTO.get(family, ()):
        if name not in ENGINES:
            continue
        problem = check(name, options(name))
        if problem is None:
            why = "; ".join([*passed, f"{name} can run"])
            return name, f"auto: {why}"
        passed.append(f"not {name}: {problem}")
    raise ConfigurationError(
        f"no {family} engine can run here for 'auto': " + "; ".join(passed or ["none is known"])
    )


def check(name: str, options: Mapping[str, Any] | None = None) -> str | None:
    """None when the engine can run here, otherwise the reason it cannot.

    Its Python packages are looked for without importing them (importing torch alone takes
    seconds); with ``options``, the spec's ``availability`` function says whether the engine can
    run with them, e.g. a model that is neither on disk nor downloadable.
    """
    spec = ENGINES.get(name)
    if spec is None:
        return f"unknown engine {name!r}; known: {', '.join(sorted(ENGINES))}"
    for module in spec.requires:
        if not _importable(module):
            hint = f" (pip install 'yinzi[{spec.extra}]')" if spec.extra else ""
            return f"needs the Python package {module!r}{hint}"
    if spec.availability is None or options is None:
        return None
    try:
        availability = _resolve(spec.availability, spec.name)
    except ConfigurationError as exc:
        return exc.message
    problem: str | None = availability(**options)
    return problem


def _importable(module: str) -> bool:
    """Whether ``module`` is installed, found without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package is missing, or a broken ``__spec__``
        return False


def stems(name: str, options: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The stems the separation engine ``name`` makes with ``options``, known without loading
    it: its class's ``known_stems(**options)`` when it has one, else its ``stems`` tuple; None
    when only loading the engine would tell."""
    factory = _factory(ENGINES[name])
    known = getattr(factory, "known_stems", None)
    if known is not None:
        found: tuple[str, ...] | None = known(**options)
        return found
    declared = getattr(factory, "stems", None)
    return declared if isinstance(declared, tuple) else None


def _factory(spec: EngineSpec) -> Callable[..., Any]:
    return _resolve(spec.target, spec.name)


def _resolve(target: str, engine: str) -> Callable[..., Any]:
    """The object a ``module:attribute`` target names, imported now."""
    module_name, _, attr = target.partition(":")
    try:
        found: Callable[..., Any] = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"engine {engine!r} cannot be loaded: {exc}") from exc
    return found


def load(name: str, family: str, **options: Any) -> Any:
    """Instantiate the engine ``name`` of ``family``, failing with a clear message."""
    problem = check(name)
    if problem is not None:
        raise ConfigurationError(f"engine {name!r}: {problem}")
    spec = ENGINES[name]
    if spec.family != family:
        raise ConfigurationError(f"engine {name!r} is a {spec.family} engine, not {family}")
    return _factory(spec)(**options)
