"""What ``yinzi models list`` shows: each known model and the state of its install here."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from yinzi.models import hub, store
from yinzi.models.catalog import MODELS


@dataclass(frozen=True)
class Row:
    name: str
    engine: str
    licence: str
    size: str
    source: str
    state: str
    style: str


def rows(models_dir: Path) -> Iterator[Row]:
    for spec in MODELS.values():
        if spec.hub is not None:
            found = hub.installed(spec, models_dir)
            if isinstance(found, Path):
                state, style = f"installed in {found}", "green"
            elif found:
                state, style = "installed in its library's cache", "green"
            else:
                state, style = "not installed", "yellow"
        else:
            where = store.folder(models_dir, spec.name)
            problem = store.problem(spec, where)
            if problem is None:
                state, style = f"installed in {where}", "green"
            elif problem == "not installed":
                state, style = "not installed", "yellow"
            else:
                state, style = f"damaged: {problem}", "red"
        approx = "~" if spec.hub is not None else ""
        yield Row(
            spec.name,
            spec.engine,
            spec.licence,
            f"{approx}{spec.size / 1e6:.0f} MB",
            spec.source,
            state,
            style,
        )
