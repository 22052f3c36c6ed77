"""A property-based fuzzing run over every endpoint: no server error, every answer as documented.

Schemathesis reads ``/openapi.json`` and sends the app, in process, the schema's examples, boundary
cases of every parameter, random valid and invalid requests and stateful sequences (an upload,
then an order that uses it...), all with a valid key unless a case tests the key itself. Each
answer is checked: no 5xx; its status, media type, headers and body as the document says; and a
request without credentials is refused.

It runs on SQLite and, when a server answers, on PostgreSQL: the same requests, taken by each
database. The run is deterministic: a fixed seed, derandomized generation, no example database
and no Schemathesis cache, so CI sees the same requests every time. The app runs with no workers
(dispatch is a no-op) and no rate limit, and the key has credits enough never to run short.
Generated URLs go nowhere: the app's fetcher resolves no host name and reaches only loopback.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import schemathesis
from schemathesis.engine import events, from_schema
from schemathesis.engine.recorder import ScenarioRecorder

from yinzi.app import create_app
from yinzi.context import Context
from yinzi.fetcher import FetchPolicy, GuardedFetcher
from yinzi.settings import Settings

from helpers import make_settings, new_user

SEED = 20260611
MAX_EXAMPLES = 200  # per operation and phase
MIN_CASES = 2000
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "ignored_auth",
)


@pytest.fixture
def settings(tmp_path: Path, backend_url: str) -> Settings:
    return make_settings(tmp_path, database_url=backend_url, rate_limit_per_minute=0)


def offline_fetcher(settings: Settings) -> GuardedFetcher:
    """A fetcher whose requests stay on this machine: no DNS lookups, loopback addresses only."""

    def no_dns(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        try:
            return [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            raise OSError(f"{host}: no name lookups in the fuzz run") from None

    return GuardedFetcher(
        FetchPolicy.from_settings(settings.fetch),
        resolver=no_dns,
        address_allowed=lambda address: address.is_loopback,
    )


def fuzz_config(key: str) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "workers": 1,
            # A slow machine must not fail the run: its length is fixed by the examples asked.
            "suppress-health-check": ["too_slow"],
            "cache": {"enabled": False},
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "auth": {
                "openapi": {
                    "bearerAuth": {"bearer": key},
                    "apiKeyQuery": {"api_key": key},
                    "keyHeader": {"api_key": key},
                }
            },
        }
    )


@dataclass
class Report:
    """What a run sent and what it found: each problem once, with an example request."""

    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    problems: dict[tuple[str, str, str, str], str] = field(default_factory=dict)

    def add(self, recorder: ScenarioRecorder) -> None:
        generated = [node for node in recorder.cases.values() if node.parent_id is None]
        self.cases[recorder.label] += len(generated)
        for case_id, checks in recorder.checks.items():
            interaction = recorder.interactions.get(case_id)
            request, status = "", ""
            if interaction is not None:
                request = f"{interaction.request.method} {interaction.request.uri}"
                if interaction.response is not None:
                    status = str(interaction.response.status_code)
            for check in checks:
                if check.failure_info is not None:
                    failure = check.failure_info.failure
                    detail = " ".join(failure.message.split())[:300]
                    key = (recorder.label, check.name, failure.title, status)
                    self.problems.setdefault(key, f"{request} -> {status} {detail}".rstrip())
        for interaction in recorder.interactions.values():
            if interaction.response is not None:
                self.statuses[interaction.response.status_code] += 1

    def render(self) -> str:
        lines = [f"{sum(self.cases.values())} cases; answers by status: {dict(self.statuses)}"]
        for (label, check, title, status), example in sorted(self.problems.items()):
            lines.append(f"- {label} [{check}] {title} ({status}): {example}")
        return "\n".join(lines)


def run(schema: schemathesis.BaseSchema) -> Report:
    report = Report()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            report.add(event.recorder)
        elif isinstance(event, events.NonFatalError):
            key = (event.label, "error", type(event.value).__name__, "")
            report.problems[key] = str(event.value)
        elif isinstance(event, events.FatalError):
            raise event.exception
        elif isinstance(event, events.EngineFinished):
            assert event.stop_reason == "completed", event.stop_reason
    return report


def test_generated_requests_get_no_server_error_and_documented_answers(
    settings: Settings, ctx: Context
) -> None:
    user = new_user(ctx, credits=10**9)
    ctx.fetcher = offline_fetcher(settings)
    app = create_app(settings, ctx=ctx)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=fuzz_config(user.key))
    report = run(schema)
    if report.problems:
        pytest.fail(f"the fuzz run found problems:\n{report.render()}", pytrace=False)
    assert sum(report.cases.values()) >= MIN_CASES, report.render()
    documented = {
        f"{method.upper()} {path}"
        for path, item in schema.raw_schema["paths"].items()
        for method in item
    }
    assert {label for label in report.cases if label != "Stateful tests"} == documented
