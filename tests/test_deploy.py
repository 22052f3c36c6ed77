"""The deployment files in deploy/: no Docker engine runs here, so they are checked statically.

The compose file is validated against the compose-spec JSON schema (vendored from
github.com/compose-spec/compose-spec, schema/compose-spec.json at commit 170098ba), every
``YINZI_*`` name in the compose file, the env example and the systemd units must be a setting,
every ``yinzi`` command they run must exist in the CLI with the options given, and every extra
the image installs must be declared in pyproject.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer.main
import yaml
from pydantic import BaseModel

from yinzi import cli
from yinzi.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
SCHEMA = Path(__file__).resolve().parent / "fixtures" / "compose-spec.json"
QUEUES = {"cpu", "gpu", "links"}
UNITS = ["yinzi-api.service", "yinzi-worker@.service"]


def _env_names(model: type[BaseModel], prefix: str = "YINZI_") -> set[str]:
    names = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= _env_names(annotation, f"{prefix}{name.upper()}__")
        else:
            names.add(prefix + name.upper())
    return names


def _known_settings() -> set[str]:
    return _env_names(Settings)


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return loaded


def _services() -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in _compose()["services"].items()}


Unit = dict[str, dict[str, list[str]]]
"""A systemd unit: its sections, each key with every value it is given (in order)."""


def _parse_unit(text: str) -> Unit:
    """systemd's unit syntax, as far as these files use it: sections, ``key=value`` lines (a key
    may repeat, as ``ExecStartPre`` does), comments."""
    sections: Unit = {}
    current: dict[str, list[str]] | None = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert current is not None and sep and key.strip() == key, f"not a unit line: {line!r}"
        current.setdefault(key, []).append(value.strip())
    return sections


def _units() -> dict[str, Unit]:
    return {name: _parse_unit((DEPLOY / "systemd" / name).read_text()) for name in UNITS}


def _check_command(argv: list[str]) -> None:
    """``argv`` (after the ``yinzi`` program) names a CLI command and only its options."""
    commands: dict[str, Any] = getattr(typer.main.get_command(cli.app), "commands", {})
    name, *rest = argv
    command = commands.get(name)
    assert command is not None, f"`yinzi {name}` is not a command"
    options = {opt for param in command.params for opt in getattr(param, "opts", [])}
    given = [arg.split("=", 1)[0] for arg in rest if arg.startswith("--")]
    unknown = [opt for opt in given if opt not in options]
    assert not unknown, f"`yinzi {name}` has no option {unknown}"


def test_the_compose_file_follows_the_compose_spec() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(_compose()), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def test_the_validator_catches_a_broken_compose_file() -> None:
    schema = json.loads(SCHEMA.read_text())
    broken = _compose()
    broken["services"]["api-1"]["healthcheck"]["interval"] = ["15s"]
    broken["services"]["redis"]["restart_policy"] = "always"
    assert len(list(jsonschema.Draft7Validator(schema).iter_errors(broken))) >= 2


def test_the_cluster_has_its_services_with_health_checks() -> None:
    services = _services()
    assert {"postgres", "redis", "s3", "migrate", "api-1", "api-2", "proxy"} <= set(services)
    for name in ("postgres", "redis", "s3", "api-1", "api-2", "proxy"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    workers = {
        svc["command"][svc["command"].index("--queues") + 1]: name
        for name, svc in services.items()
        if svc.get("command", [])[:2] == ["yinzi", "worker"]
    }
    assert set(workers) == QUEUES
    gpu = services[workers["gpu"]]["deploy"]["resources"]["reservations"]["devices"]
    assert any("gpu" in device["capabilities"] for device in gpu)
    for name in ("api-1", "api-2"):
        assert "/healthz" in " ".join(services[name]["healthcheck"]["test"])


def test_compose_files_it_names_exist() -> None:
    services = _services()
    assert (DEPLOY / "yinzi.env.example").is_file()
    for svc in services.values():
        for env_file in svc.get("env_file", []):
            assert (DEPLOY / f"{env_file}.example").is_file(), env_file
        for volume in svc.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if source.startswith("./"):
                assert (DEPLOY / source).is_file(), source
        if "build" in svc:
            assert (DEPLOY / svc["build"]["context"] / svc["build"]["dockerfile"]).is_file()


def _env_file_names(path: Path) -> set[str]:
    return {
        line.split("=", 1)[0].strip()
        for line in path.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    }


def test_every_yinzi_name_in_the_deploy_files_is_a_setting() -> None:
    used: dict[str, set[str]] = {}
    for name, svc in _services().items():
        used[f"compose {name}"] = {k for k in svc.get("environment", {}) if k.startswith("YINZI")}
    used["yinzi.env.example"] = {
        n for n in _env_file_names(DEPLOY / "yinzi.env.example") if n.startswith("YINZI")
    }
    for name, unit in _units().items():
        text = " ".join(
            " ".join(unit["Service"].get(key, [])) for key in ("Environment", "ExecStart")
        )
        used[name] = set(re.findall(r"YINZI_[A-Z0-9_]+", text))
    known = _known_settings()
    unknown = {where: sorted(names - known) for where, names in used.items() if names - known}
    assert not unknown, f"not settings (see docs/configuration.md): {unknown}"
    assert used["compose api-1"] and used["yinzi.env.example"]


def test_a_misspelt_setting_is_caught() -> None:
    assert "YINZI_DATABASE_URL" in _known_settings()
    assert "YINZI_DATABSE_URL" not in _known_settings()
    assert "YINZI_WHISPER__DEVICE" in _known_settings()


@pytest.mark.parametrize("unit", UNITS)
def test_systemd_units_run_real_cli_commands(unit: str) -> None:
    parsed = _units()[unit]
    assert {"Unit", "Service", "Install"} <= set(parsed)
    service = parsed["Service"]
    assert service["EnvironmentFile"] == ["/etc/yinzi/yinzi.env"]
    commands = [*service.get("ExecStartPre", []), *service["ExecStart"]]
    ran = 0
    for command in commands:
        program, *argv = shlex.split(command.replace("%i", "cpu"))
        if program.endswith("/yinzi"):
            _check_command(argv)
            ran += 1
        else:
            assert program == "/bin/sh", f"{unit} runs {program}"
    assert ran and service["ExecStart"][0].startswith("/opt/yinzi/venv/bin/yinzi ")


def _metrics_folder() -> str:
    for line in (DEPLOY / "yinzi.env.example").read_text().splitlines():
        if line.startswith("PROMETHEUS_MULTIPROC_DIR="):
            return line.split("=", 1)[1].strip()
    raise AssertionError("yinzi.env.example sets no PROMETHEUS_MULTIPROC_DIR")


def test_the_metrics_folder_is_emptied_when_the_installation_starts() -> None:
    services = _services()
    folder = services["api-1"]["environment"]["PROMETHEUS_MULTIPROC_DIR"]
    assert _compose()["volumes"]["metrics"]["driver_opts"]["type"] == "tmpfs"
    for name, svc in services.items():
        if svc.get("command", [])[:1] == ["yinzi"] and name != "migrate":
            assert f"metrics:{folder}" in svc["volumes"], name
    units = _units()
    folder = _metrics_folder()
    api = units["yinzi-api.service"]
    assert folder == "/run/" + api["Service"]["RuntimeDirectory"][0]
    emptied = [c for c in api["Service"]["ExecStartPre"] if "rm -f" in c and folder in c]
    assert emptied, "yinzi-api.service does not empty the metrics folder at start"
    assert api["Service"]["ExecStartPre"][0] == emptied[0]  # before anything writes to it
    worker = units["yinzi-worker@.service"]["Unit"]
    assert worker["PartOf"] == ["yinzi-api.service"]  # restarted with the API, so none writes on
    assert "yinzi-api.service" in worker["After"][0].split()


def test_only_one_api_container_creates_the_admin_account() -> None:
    services = _services()
    apis = [
        name for name, svc in services.items() if svc.get("command", [])[:2] == ["yinzi", "serve"]
    ]
    first = [name for name in apis if not set(services[name].get("depends_on", {})) & set(apis)]
    assert first == ["api-1"], "exactly one API container may start without waiting for another"
    for name in set(apis) - {"api-1"}:
        waits = services[name]["depends_on"]
        assert waits["api-1"]["condition"] == "service_healthy", name
        assert waits["migrate"]["condition"] == "service_completed_successfully", name


def test_compose_commands_are_real_cli_commands() -> None:
    ran = 0
    for svc in _services().values():
        command = svc.get("command", [])
        if command[:1] == ["yinzi"]:
            _check_command([str(arg) for arg in command[1:]])
            ran += 1
    assert ran >= 6


def test_a_command_the_cli_lacks_is_caught() -> None:
    with pytest.raises(AssertionError, match="not a command"):
        _check_command(["serv"])
    with pytest.raises(AssertionError, match="no option"):
        _check_command(["serve", "--prot", "8000"])


def test_the_image_installs_extras_that_exist() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    match = re.search(r'pip install "\.\[([a-z0-9,]+)\]"', dockerfile)
    assert match, "the Dockerfile does not pip install the project with extras"
    extras = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    )
    assert set(match.group(1).split(",")) <= extras
