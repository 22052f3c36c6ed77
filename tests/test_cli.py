"""The administration commands, run as a user would run them."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from yinzi.cli import app
from yinzi.settings import Settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("YINZI_DATA_DIR", str(tmp_path / "data"))
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    return tmp_path / "data"


def _run(*args: str, input_: str | None = None) -> str:
    result = runner.invoke(app, list(args), input=input_)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_accounts_create_prints_the_key_alone_on_stdout() -> None:
    out = _run("accounts", "create", "ada@example.com", "--credits", "50")
    key = out.strip()
    assert key.startswith("yz_") and "\n" not in key and len(key) > 30
    assert _run("credits", "show", "ada@example.com").strip() == (
        "ada@example.com: available 50, held 0"
    )


def test_credits_grant_adds_to_the_balance() -> None:
    _run("accounts", "create", "bob@example.com")
    assert "available 25" in _run("credits", "grant", "bob@example.com", "25")
    assert "available 35" in _run("credits", "grant", "BOB@example.com", "10")


def test_keys_create_list_and_revoke(data_dir: Path) -> None:
    from yinzi.context import Context
    from yinzi.errors import Unauthorized
    from yinzi.services import accounts

    first = _run("accounts", "create", "cy@example.com").strip()
    second = _run("keys", "create", "cy@example.com", "--name", "ci").strip()
    assert first != second
    listing = _run("keys", "list", "cy@example.com")
    assert "ci" in listing and second[:10] in listing
    assert first not in listing and second not in listing  # never the whole key
    ctx = Context.build(Settings())
    with ctx.db.read() as s:
        account = accounts.find(s, "cy@example.com")
        ids = [k.id for k in accounts.list_keys(s, account)]
    runner.invoke(app, ["keys", "revoke", str(ids[1])])
    with ctx.db.read() as s:
        assert accounts.authenticate(s, first).email == "cy@example.com"
        with pytest.raises(Unauthorized):
            accounts.authenticate(s, second)
    ctx.close()


def test_keys_are_stored_hashed(data_dir: Path) -> None:
    key = _run("accounts", "create", "dee@example.com").strip()
    database = (data_dir / "yinzi.db").read_bytes()
    assert key.encode() not in database


def test_engines_lists_every_engine_and_the_jobs_that_use_it() -> None:
    listing = _run("engines")
    for name in ("separation.spectral", "transcription.pocketsphinx"):
        assert name in listing
    assert "extract-text" in listing and "track-separation" in listing
    # auto picks one separation engine (Spleeter where its weights are installed) for every job
    blocks = [_block(listing, name) for name in ("separation.spectral", "separation.spleeter")]
    used = [block for block in blocks if "used for" in block]
    assert len(used) == 1
    assert "split_stem_advanced" in used[0] and "separate_vocal" in used[0]  # several jobs
    assert "text-to-music" in listing and "short-video analyze" in listing


def _block(listing: str, name: str) -> str:
    """The indented lines under ``name:`` in the ``yinzi engines`` listing."""
    lines = listing.split(f"{name}:")[1].splitlines()[1:]
    return "\n".join(itertools.takewhile(lambda line: line.startswith("  "), lines))


def test_errors_are_one_clear_line_without_a_traceback(data_dir: Path) -> None:
    env = {**os.environ, "YINZI_DATA_DIR": str(data_dir)}
    cmd = [sys.executable, "-c", "from yinzi.cli import main; main()"]
    subprocess.run([*cmd, "accounts", "create", "eve@example.com"], env=env, check=True)
    again = subprocess.run(
        [*cmd, "accounts", "create", "eve@example.com"], env=env, capture_output=True, text=True
    )
    assert again.returncode == 1
    assert "already exists" in again.stderr and "Traceback" not in again.stderr
    assert again.stdout == ""


def test_webhook_secret_is_printed_once_and_can_be_cleared(data_dir: Path) -> None:
    from yinzi.context import Context
    from yinzi.services import accounts

    _run("accounts", "create", "hook@example.com")
    secret = _run("accounts", "webhook-secret", "hook@example.com").strip()
    assert secret.startswith("whsec_") and len(secret) > 40
    ctx = Context.build(Settings())
    with ctx.db.read() as s:
        assert accounts.find(s, "hook@example.com").webhook_secret == secret
    runner.invoke(app, ["accounts", "webhook-secret", "hook@example.com", "--clear"])
    with ctx.db.read() as s:
        assert accounts.find(s, "hook@example.com").webhook_secret is None
    ctx.close()


def _cli_elsewhere(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m yinzi ARGS`` run from an empty folder, as a user with a fresh home would."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("YINZI_")}
    env.update(HOME=str(home), XDG_DATA_HOME=str(tmp_path / "xdg-data"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "yinzi", *args],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "command", [["accounts", "list"], ["credits", "show", "a@b.c"], ["keys", "list", "a@b.c"]]
)
def test_admin_commands_refuse_without_a_database_and_create_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    result = _cli_elsewhere(tmp_path, *command)
    assert result.returncode == 1
    database = tmp_path / "xdg-data" / "yinzi" / "yinzi.db"
    assert result.stderr.strip().splitlines() == [
        f"error: no database at {database}: run `yinzi migrate` first, or set YINZI_DATA_DIR"
    ]
    assert not (tmp_path / "xdg-data").exists()
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_the_data_folder_is_the_same_from_any_working_folder(tmp_path: Path) -> None:
    assert _cli_elsewhere(tmp_path, "migrate").returncode == 0
    assert (tmp_path / "xdg-data" / "yinzi" / "yinzi.db").is_file()
    created = _cli_elsewhere(tmp_path, "accounts", "create", "far@example.com")
    assert created.returncode == 0, created.stderr
    listing = _cli_elsewhere(tmp_path, "accounts", "list")
    assert listing.returncode == 0 and "far@example.com" in listing.stdout
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_without_xdg_data_home_the_data_folder_is_under_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("YINZI_DATA_DIR")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert Settings().data_dir == tmp_path / "home" / ".local" / "share" / "yinzi"


def test_an_empty_database_file_is_refused_as_no_database(data_dir: Path) -> None:
    (data_dir / "yinzi.db").unlink()
    (data_dir / "yinzi.db").touch()
    result = runner.invoke(app, ["accounts", "list"])
    assert result.exit_code == 1
    assert "no database at" in str(result.exception)


def test_a_database_is_missing_until_migrated(backend_url: str) -> None:
    from yinzi.db import describe, missing
    from yinzi.db.migrate import upgrade

    assert missing(backend_url) == describe(backend_url)
    upgrade(backend_url)
    assert missing(backend_url) is None


def test_admin_commands_refuse_a_database_url_without_the_schema(
    backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YINZI_DATABASE_URL", backend_url)
    result = runner.invoke(app, ["credits", "show", "a@b.c"])
    assert result.exit_code == 1
    assert "run `yinzi migrate` first, or set YINZI_DATABASE_URL" in str(result.exception)


@pytest.mark.parametrize("amount", ["-5", "0"])
def test_credits_grant_refuses_amounts_that_are_not_positive(amount: str) -> None:
    _run("accounts", "create", "neg@example.com", "--credits", "7")
    result = runner.invoke(app, ["credits", "grant", "neg@example.com", amount])
    assert result.exit_code == 1
    assert f"positive number of credits to grant, not {amount}" in str(result.exception)
    assert "credits revoke" in str(result.exception)
    assert "available 7" in _run("credits", "show", "neg@example.com")


def test_credits_revoke_takes_credits_back_but_never_below_zero() -> None:
    _run("accounts", "create", "rev@example.com", "--credits", "30")
    assert "available 18, held 0" in _run("credits", "revoke", "rev@example.com", "12")
    too_much = runner.invoke(app, ["credits", "revoke", "rev@example.com", "19"])
    assert too_much.exit_code == 1
    assert "the available balance is 18" in str(too_much.exception)
    negative = runner.invoke(app, ["credits", "revoke", "rev@example.com", "-3"])
    assert negative.exit_code == 1 and "not -3" in str(negative.exception)
    assert "available 18" in _run("credits", "show", "rev@example.com")


def test_credits_ledger_shows_each_entry_with_the_running_balance() -> None:
    _run("accounts", "create", "led@example.com", "--credits", "40")
    _run("credits", "grant", "led@example.com", "5")
    _run("credits", "revoke", "led@example.com", "15")
    rows = [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in _run("credits", "ledger", "led@example.com").splitlines()
        if line.startswith("│")
    ]
    # oldest first: kind, amount, and the available balance after each entry
    assert [(row[1], row[2], row[5]) for row in rows] == [
        ("grant", "+40", "40"),
        ("grant", "+5", "45"),
        ("revoke", "-15", "30"),
    ]


def test_the_command_path_is_absolute_whichever_way_yinzi_was_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from yinzi.cli import _command_path

    script = tmp_path / "venv" / "bin" / "yinzi"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    monkeypatch.chdir(tmp_path / "venv")
    monkeypatch.setattr(sys, "argv", ["bin/yinzi", "serve"])
    assert _command_path() == str(script)
    monkeypatch.setattr(sys, "argv", ["-c", "serve"])
    monkeypatch.setattr(sys, "executable", str(tmp_path / "elsewhere" / "python"))
    assert _command_path() == f"{tmp_path / 'elsewhere' / 'python'} -m yinzi"
    monkeypatch.setattr(sys, "executable", str(script.with_name("python3")))
    assert _command_path() == str(script)


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"YINZI_STEM_ENGINE": "separation.demucs", "YINZI_DEMUCS__MODEL": "no_bag"}, "demucs"),
        (
            {
                "YINZI_TRANSCRIPTION_ENGINE": "transcription.faster_whisper",
                "YINZI_WHISPER__MODEL": "large-v3",
                "YINZI_WHISPER__DOWNLOAD_DIR": "/nonexistent/hub-cache",
            },
            "large-v3",
        ),
        ({"YINZI_TRANSCRIPTION_ENGINE": "music.procedural"}, "is a music engine"),
    ],
)
def test_serve_refuses_to_start_with_a_configured_engine_that_cannot_run(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], reason: str
) -> None:
    from yinzi.engines import registry

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    configured = next(v for k, v in env.items() if k.endswith("_ENGINE"))
    result = runner.invoke(app, ["serve", "--port", "1"])
    assert result.exit_code == 1
    message = str(result.exception)
    assert f"the configured engine {configured} cannot run here" in message
    assert reason in message.lower() or reason in message
    problem = registry.check(configured, Settings().engine_options(configured))
    assert problem is None or problem in message  # the reason `yinzi engines` gives


def test_serve_warns_when_auto_falls_back_for_lack_of_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from yinzi.cli import _check_engines

    monkeypatch.setenv("YINZI_MODELS_DIR", str(tmp_path / "no-models"))
    warnings = _check_engines(Settings())
    assert len(warnings) == 2
    separation, transcription = warnings
    assert "split_stem" in separation and "'auto' falls back to separation.spectral" in separation
    assert "yinzi models install spleeter-2stems" in separation
    assert "'auto' falls back to transcription.pocketsphinx" in transcription
    assert "yinzi models install whisper-base" in transcription
    spectral = Settings(separation_engine="separation.spectral", stem_engine="separation.spectral")
    assert _check_engines(spectral) == [transcription]


HEAVY = (
    *("torch", "numpy", "scipy", "ctranslate2", "faster_whisper", "demucs", "transformers"),
    *("yt_dlp", "pocketsphinx", "fastapi", "uvicorn"),
)
"""Libraries that take from a tenth of a second to seconds to import; no listing needs them."""


def _imported_by(code: str, data_dir: Path) -> list[str]:
    """Which of HEAVY (and the database libraries) a fresh interpreter has imported after
    running ``code``."""
    names = (*HEAVY, "sqlalchemy", "alembic")
    check = f"{code}\nimport sys\nprint('imported:', *sorted(set({names!r}) & set(sys.modules)))"
    env = {**os.environ, "YINZI_DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [sys.executable, "-c", check], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.splitlines()[-1].split()[1:]


def test_importing_the_command_line_imports_no_heavy_library(data_dir: Path) -> None:
    assert _imported_by("import yinzi.cli", data_dir) == []


@pytest.mark.parametrize("command", [["engines"], ["models", "list"], ["accounts", "list"]])
def test_listing_commands_import_no_engine_library(data_dir: Path, command: list[str]) -> None:
    code = f"from yinzi.cli import app\napp({command!r}, standalone_mode=False)"
    imported = _imported_by(code, data_dir)
    assert [name for name in imported if name in HEAVY] == []


def test_migrate_warns_about_a_database_left_under_the_old_default(tmp_path: Path) -> None:
    old = tmp_path / "elsewhere" / "yinzi-data"
    old.mkdir(parents=True)
    (old / "yinzi.db").touch()
    result = _cli_elsewhere(tmp_path, "migrate")
    assert result.returncode == 0
    assert f"{old / 'yinzi.db'} is not used" in result.stderr
    assert f"YINZI_DATA_DIR={old}" in result.stderr
    assert "WARNING" not in _cli_elsewhere(tmp_path, "accounts", "list").stderr


def _signs_in(email: str, password: str) -> bool:
    from yinzi.context import Context
    from yinzi.errors import SignInRefused
    from yinzi.services import passwords

    ctx = Context.build(Settings())
    try:
        passwords.sign_in(ctx.db, email, password, "127.0.0.1", ctx.settings)
        return True
    except SignInRefused:
        return False
    finally:
        ctx.close()


def test_accounts_create_with_a_prompted_password() -> None:
    result = runner.invoke(
        app, ["accounts", "create", "pat@example.com", "--password"], input="s3cret-pass\n" * 2
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().startswith("yz_")
    assert "s3cret-pass" not in result.output  # the prompt hides it
    assert _signs_in("pat@example.com", "s3cret-pass")


def test_accounts_create_reads_the_password_from_stdin_and_checks_it_first() -> None:
    short = runner.invoke(
        app, ["accounts", "create", "sid@example.com", "--password-stdin"], input="short\n"
    )
    assert short.exit_code == 1
    assert "at least 8 characters" in str(short.exception or short.output)
    _run("accounts", "create", "sid@example.com", "--password-stdin", input_="from a script\n")
    assert _signs_in("sid@example.com", "from a script")


def test_a_set_password_link_is_printed_and_works_once() -> None:
    from yinzi.context import Context
    from yinzi.services import passwords

    out = _run("accounts", "create", "lin@example.com", "--link")
    key, url = out.strip().splitlines()
    assert key.startswith("yz_")
    assert url.startswith(f"{Settings().base_url}/console/set-password/")
    token = url.rsplit("/", 1)[1]
    ctx = Context.build(Settings())
    passwords.use_link(ctx.db, token, "chosen by link")
    ctx.close()
    assert _signs_in("lin@example.com", "chosen by link")
    again = _run("accounts", "set-password", "lin@example.com", "--link").strip()
    assert again != url and again.startswith(url.rsplit("/", 1)[0])


def test_set_password_changes_it_and_refuses_two_sources() -> None:
    _run("accounts", "create", "mo@example.com")
    _run("accounts", "set-password", "mo@example.com", "--password-stdin", input_="new one here\n")
    assert _signs_in("mo@example.com", "new one here")
    both = runner.invoke(
        app, ["accounts", "set-password", "mo@example.com", "--password-stdin", "--link"]
    )
    assert both.exit_code == 1
