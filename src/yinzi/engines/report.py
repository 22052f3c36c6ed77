"""What ``yinzi engines`` reports: every registered engine, whether it can run here, and which
jobs the configuration sends to it (and why, when ``auto`` chose it).

Computed from the registry and the disk only (no engine is imported), so the command and the
console's engines page stay fast and always agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from yinzi.settings import Settings


@dataclass(frozen=True)
class EngineRow:
    name: str
    family: str
    summary: str
    problem: str | None
    """Why the engine cannot run here, or None when it can."""
    used_for: tuple[str, ...] = ()
    """The jobs the configuration sends to this engine."""
    chosen_by: str | None = None
    """Why ``auto`` picked it (None when configured by name or unused)."""

    @property
    def usable(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class Report:
    engines: list[EngineRow]
    unassigned: list[tuple[str, str]] = field(default_factory=list)
    """Jobs no engine can run here: (jobs, the reason)."""


def engine_uses(settings: Settings) -> list[tuple[str, str, str]]:
    """Each configured engine: its family, the setting's value, and the jobs that use it."""
    return [
        (
            "separation",
            settings.separation_engine,
            "track-separation, extract-voice, extract-music",
        ),
        ("separation", settings.separation_engine, "separate_vocal"),
        ("separation", settings.stem_engine, "split_stem, split_stem_advanced"),
        ("transcription", settings.transcription_engine, "extract-text"),
        ("music", settings.music_engine, "text-to-music"),
        ("links", settings.links.engine, "short-video analyze"),
    ]


def report(settings: Settings) -> Report:
    """Every registered engine (sorted by name), its state here and the jobs it runs."""
    from yinzi.engines import registry
    from yinzi.errors import YinziError

    chosen: dict[str, list[str]] = {}
    reasons: dict[str, str] = {}
    unassigned: list[tuple[str, str]] = []
    for family, configured, jobs in engine_uses(settings):
        try:
            name, why = registry.choose(family, configured, settings.engine_options)
        except YinziError as exc:
            unassigned.append((jobs, exc.message))
            continue
        chosen.setdefault(name, []).append(jobs)
        if why != "configured":
            reasons[name] = why
    rows = [
        EngineRow(
            name=name,
            family=spec.family,
            summary=spec.summary,
            problem=registry.check(name, settings.engine_options(name)),
            used_for=tuple(chosen.get(name, ())),
            chosen_by=reasons.get(name),
        )
        for name, spec in sorted(registry.ENGINES.items())
    ]
    return Report(rows, unassigned)
