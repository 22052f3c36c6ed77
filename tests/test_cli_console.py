"""Console passwords from the command line, beyond test_cli.py: a mistyped confirmation, a link
that works once, an unknown email, and the admin's set-password link on start-up (printed while
the admin has no password, and working). Errors are printed as one line by ``main`` (tested in
test_cli.py); here the command's own error is checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from yinzi import cli
from yinzi.cli import app
from yinzi.context import Context
from yinzi.errors import NotFound
from yinzi.services import accounts, passwords
from yinzi.settings import Settings

runner = CliRunner()
PASSWORD = "a long console password"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("YINZI_DATA_DIR", str(tmp_path / "data"))
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    return tmp_path / "data"


def _password_works(email: str, password: str) -> bool:
    ctx = Context.build(Settings())
    try:
        with ctx.db.read() as session:
            stored = accounts.find(session, email).password_hash
        return passwords.verify(stored, password)
    finally:
        ctx.close()


def _token(link: str) -> str:
    prefix = f"{Settings().base_url}/console/set-password/"
    assert link.startswith(prefix), link
    return link.removeprefix(prefix)


def _use(token: str, password: str) -> None:
    ctx = Context.build(Settings())
    try:
        passwords.use_link(ctx.db, token, password)
    finally:
        ctx.close()


def test_create_with_two_different_passwords_asks_again() -> None:
    typed = f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n"
    result = runner.invoke(
        app, ["accounts", "create", "ada@example.com", "--password"], input=typed
    )
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert _password_works("ada@example.com", PASSWORD)


def test_create_with_link_prints_the_key_then_a_link_that_works_once() -> None:
    result = runner.invoke(app, ["accounts", "create", "dee@example.com", "--link"])
    assert result.exit_code == 0, result.output
    key, link = result.stdout.strip().splitlines()
    assert key.startswith("yz_")
    token = _token(link)
    _use(token, PASSWORD)
    assert _password_works("dee@example.com", PASSWORD)
    with pytest.raises(passwords.LinkInvalid):
        _use(token, "another long password")


def test_set_password_asks_twice_by_default() -> None:
    runner.invoke(app, ["accounts", "create", "fay@example.com"])
    result = runner.invoke(
        app, ["accounts", "set-password", "fay@example.com"], input=f"{PASSWORD}\n" * 2
    )
    assert result.exit_code == 0, result.output
    assert _password_works("fay@example.com", PASSWORD)


def test_set_password_of_an_unknown_email_fails_clearly() -> None:
    result = runner.invoke(
        app,
        ["accounts", "set-password", "nobody@example.com", "--password-stdin"],
        input=f"{PASSWORD}\n",
    )
    assert isinstance(result.exception, NotFound)
    assert "nobody@example.com" in result.exception.message


def test_first_start_prints_the_console_and_a_link_for_the_admin(
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings()
    cli._bootstrap_admin(settings)
    first = capsys.readouterr().out
    assert f"{settings.base_url}/console/\n" in first
    link = next(line.strip() for line in first.splitlines() if "/set-password/" in line)
    _use(_token(link), PASSWORD)
    assert _password_works(cli.ADMIN_EMAIL, PASSWORD)


def test_later_starts_print_a_new_link_only_while_the_admin_has_no_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings()
    cli._bootstrap_admin(settings)
    capsys.readouterr()
    cli._bootstrap_admin(settings)
    second = capsys.readouterr().out
    assert "no console password yet" in second
    link = next(line.strip() for line in second.splitlines() if "/set-password/" in line)
    _use(_token(link), PASSWORD)
    cli._bootstrap_admin(settings)
    assert "/set-password/" not in capsys.readouterr().out
