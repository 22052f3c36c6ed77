"""The client commands against a real server: uvicorn on loopback, a worker in a thread, the
spectral and PocketSphinx engines; each command's files are read back."""

from __future__ import annotations

import io
import json
import re
import shlex
import socket
import stat
import string
from pathlib import Path

import pytest
import srt
from rich.console import Console
from sdk import conftest as sdk_servers
from sdk.conftest import Server, ServerFactory
from typer.testing import CliRunner, Result

from yinzi import client_cli, media
from yinzi.cli import app
from yinzi.client_config import ConfigError, Connection, config_path, resolve, write_config
from yinzi.media import testing
from yinzi.sdk import Client, Order

from conftest import FileServer

yinzi_server = sdk_servers.yinzi_server
server = sdk_servers.server
"""The SDK tests' real servers (spectral, PocketSphinx and procedural engines), shared."""

SPEECH = Path(__file__).parent / "fixtures" / "speech" / "call_me_back.wav"


@pytest.fixture(autouse=True)
def no_saved_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no config file and no YINZI_URL or YINZI_API_KEY."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("YINZI_URL", raising=False)
    monkeypatch.delenv("YINZI_API_KEY", raising=False)


@pytest.fixture
def idle_server(yinzi_server: ServerFactory) -> Server:
    """A server whose orders stay pending: no worker runs them."""
    return yinzi_server(worker=False)


def yinzi(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    """Run ``yinzi ARGS`` in this process."""
    return CliRunner().invoke(app, [str(arg) for arg in args], env=env)


def as_user(server: Server, *args: str | Path) -> Result:
    """Run a client command with the server's URL and the user's key as flags."""
    return yinzi(*args, "--url", server.url, "--key", server.user.key)


def one_line_error(result: Result) -> str:
    """The error a failed command printed: exit status 1, one line on stderr, nothing on stdout."""
    assert result.exit_code == 1, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert result.stdout == ""
    return lines[0]


def test_the_url_and_key_come_from_flags_then_the_environment_then_the_file(
    tmp_path: Path,
) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    with pytest.raises(ConfigError, match=r"no server URL: pass --url, set YINZI_URL"):
        resolve(None, None, env)
    write_config(config_path(env), Connection("http://saved:8000", 'k"ey\\1'))
    assert resolve(None, None, env) == Connection("http://saved:8000", 'k"ey\\1')
    env |= {"YINZI_URL": "http://env:1/", "YINZI_API_KEY": "env-key"}
    assert resolve(None, None, env) == Connection("http://env:1", "env-key")
    assert resolve("http://flag:2", None, env) == Connection("http://flag:2", "env-key")
    assert resolve(None, "flag-key", env) == Connection("http://env:1", "flag-key")
    del env["YINZI_API_KEY"]
    assert resolve(None, None, env) == Connection("http://env:1", 'k"ey\\1')


def test_the_config_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "yinzi" / "client.toml"
    path.parent.mkdir()
    path.write_text("old")
    path.chmod(0o644)
    write_config(path, Connection("http://h", "secret"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_damaged_config_file_is_one_line_saying_to_log_in_again() -> None:
    path = config_path()
    path.parent.mkdir(parents=True)
    path.write_text("url = http://unquoted\n")
    line = one_line_error(yinzi("orders"))
    assert line.startswith(f"error: {path} is not valid TOML") and "`yinzi login`" in line


def test_without_a_server_a_command_says_where_to_give_one() -> None:
    line = one_line_error(yinzi("orders"))
    assert line == ("error: no server URL: pass --url, set YINZI_URL or run `yinzi login URL KEY`")
    line = one_line_error(yinzi("orders", "--url", "http://127.0.0.1:9"))
    assert "no API key: pass --key, set YINZI_API_KEY" in line


def test_login_checks_and_saves_the_key_without_printing_it(server: Server) -> None:
    done = yinzi("login", server.url, server.user.key)
    assert done.exit_code == 0, done.output
    assert server.user.key not in done.output
    assert "1000 credits" in done.stdout
    path = config_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert resolve(None, None) == Connection(server.url, server.user.key)
    listed = yinzi("orders", "--json")
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout)["total"] == 0
    # a flag beats the saved key, and the environment beats it too
    assert "API key" in one_line_error(yinzi("orders", "--key", "yz_wrong"))
    assert "API key" in one_line_error(yinzi("orders", env={"YINZI_API_KEY": "yz_wrong"}))


def test_login_with_a_bad_key_saves_nothing(server: Server) -> None:
    line = one_line_error(yinzi("login", server.url, "yz_wrong"))
    assert "refused the API key" in line and "yz_wrong" not in line
    assert not config_path().exists()


def test_an_unreachable_server_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    line = one_line_error(yinzi("orders", "--url", url, "--key", "yz_any"))
    assert line.startswith(f"error: cannot reach the server at {url}")


def test_separate_downloads_the_stems_asked_for(server: Server, tmp_path: Path) -> None:
    song = testing.song(tmp_path / "song.wav", seconds=3.0)
    out = tmp_path / "stems"
    done = as_user(server, "separate", song, "--format", "wav", "-o", out)
    assert done.exit_code == 0, done.output
    written = [Path(line) for line in done.stdout.splitlines()]
    assert sorted(p.name for p in written) == ["accompaniment.wav", "vocals.wav"]
    assert sorted(out.iterdir()) == sorted(written)
    for path in written:
        assert media.probe(path).duration == pytest.approx(3.0, abs=0.1)


def test_separate_into_four_stems_with_json(server: Server, tmp_path: Path) -> None:
    song = testing.song(tmp_path / "song.mp3", seconds=3.0)
    out = tmp_path / "four"
    done = as_user(server, "separate", song, "--stems", "drums,bass", "-o", out, "--json")
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    order = result["order"]
    assert (order["status"], order["progress"], order["stage"]) == ("finish", 100, "done")
    assert sorted(Path(p).name for p in result["files"]) == ["bass.mp3", "drums.mp3"]
    assert sorted(p.name for p in out.iterdir()) == ["bass.mp3", "drums.mp3"]
    assert media.probe(out / "drums.mp3").duration == pytest.approx(3.0, abs=0.1)


def test_transcribe_writes_the_captions_asked_for(server: Server, tmp_path: Path) -> None:
    out = tmp_path / "captions"
    done = as_user(
        server, "transcribe", SPEECH, "--language", "en", "--format", "srt,txt", "-o", out
    )
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in out.iterdir()) == ["transcript.srt", "transcript.txt"]
    cues = list(srt.parse((out / "transcript.srt").read_text()))
    assert cues and cues[-1].end.total_seconds() <= media.probe(SPEECH).duration + 0.05
    assert "call" in (out / "transcript.txt").read_text().lower()


def test_transcribe_refuses_an_unknown_format_before_calling(server: Server) -> None:
    line = one_line_error(as_user(server, "transcribe", SPEECH, "--format", "srt,doc"))
    assert line == "error: --format: unknown doc; choose from srt, vtt, txt, json"


@pytest.mark.parametrize(
    ("stems", "error"),
    [
        ("vocals,guitar", "--stems: unknown guitar; choose from vocals, accompaniment, drums"),
        ("drums,accompaniment", "--stems: accompaniment goes with vocals only"),
        ("vocals,,bass", "--stems: empty name in 'vocals,,bass'"),
    ],
)
def test_separate_refuses_stems_it_cannot_make_before_ordering(
    server: Server, tmp_path: Path, stems: str, error: str
) -> None:
    song = testing.song(tmp_path / "song.wav", seconds=1.0)
    assert error in one_line_error(as_user(server, "separate", song, "--stems", stems))
    assert one_line_error(as_user(server, "separate", "nowhere.mp3")) == (
        "error: FILE_OR_URL: no such file: nowhere.mp3"
    )
    with Client(server.url, server.user.key) as client:
        assert client.balance() == 1000


def test_login_asks_for_the_key_when_it_is_left_out(server: Server) -> None:
    done = CliRunner().invoke(app, ["login", server.url], input=server.user.key + "\n")
    assert done.exit_code == 0, done.output
    assert server.user.key not in done.output
    assert resolve(None, None) == Connection(server.url, server.user.key)


def test_an_interrupted_wait_says_how_to_cancel_the_order(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(KeyboardInterrupt), client_cli._Progress(enabled=False) as progress:
        progress(Order("abc", "track-separation", "processing"))
        raise KeyboardInterrupt
    assert capsys.readouterr().err == "order abc goes on running; `yinzi cancel abc` stops it\n"


def test_compose_writes_one_file_where_asked(server: Server, tmp_path: Path) -> None:
    target = tmp_path / "music" / "waltz.mp3"
    done = as_user(server, "compose", "a calm waltz in D minor", "--bars", "4", "-o", target)
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == str(target)
    assert media.probe(target).duration > 1.0
    assert [p.name for p in target.parent.iterdir()] == ["waltz.mp3"]


def test_analyze_prints_the_video_and_music(server: Server, file_server: FileServer) -> None:
    page = (
        '<html><head><meta property="og:title" content="Harbour">'
        f'<meta property="og:video" content="{file_server.url("clip.mp4")}"></head></html>'
    )
    (file_server.root / "watch.html").write_text(page)
    testing.video_with_audio(file_server.root / "clip.mp4", seconds=1.0)
    done = as_user(server, "analyze", f"look {file_server.url('watch.html')} copy this", "--json")
    assert done.exit_code == 0, done.output
    info = json.loads(done.stdout)
    assert info["title"] == "Harbour" and info["video_url"] == file_server.url("clip.mp4")
    plain = as_user(server, "analyze", file_server.url("watch.html"))
    assert "title: Harbour" in plain.stdout.splitlines()


def test_the_progress_bar_shows_the_stage_and_percent() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=80)
    with client_cli._Progress(enabled=True, console=console) as progress:
        progress(Order("abc", "track-separation", "pending", queue_position=2))
        progress(Order("abc", "track-separation", "processing", progress=40, stage="separating"))
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert "abc queued (#2)" in shown and "abc separating" in shown and "40%" in shown


def test_orders_lists_newest_first_and_cancel_stops_one(idle_server: Server, song: str) -> None:
    server = idle_server
    with Client(server.url, server.user.key) as client:
        first = client.create("track-separation", song)
        second = client.create("extract-text", song)
    listed = json.loads(as_user(server, "orders", "--json").stdout)
    assert [o["order_no"] for o in listed["items"]] == [second.order_no, first.order_no]
    assert listed["total"] == 2 and listed["next_page"] is None
    table = as_user(server, "orders", "--type", "extract-text")
    assert second.order_no in table.stdout and first.order_no not in table.stdout
    assert "queued (#2)" in table.stdout
    cancelled = as_user(server, "cancel", first.order_no)
    assert cancelled.exit_code == 0, cancelled.output
    assert cancelled.stdout.strip() == f"order {first.order_no} failed: cancelled by the user"
    failed = json.loads(as_user(server, "orders", "--status", "failed", "--json").stdout)
    assert [o["order_no"] for o in failed["items"]] == [first.order_no]
    again = one_line_error(as_user(server, "cancel", first.order_no))
    assert "already ended" in again


def test_a_failed_order_is_one_line_naming_it(server: Server, file_server: FileServer) -> None:
    line = one_line_error(as_user(server, "separate", file_server.url("missing.mp3")))
    assert line.startswith("error: order ") and " failed: " in line


DOCS = Path(__file__).resolve().parents[1] / "docs" / "sdk.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def doc_blocks(language: str) -> list[str]:
    """The fenced blocks of docs/sdk.md in one language, in order."""
    return [body for lang, body in FENCE.findall(DOCS.read_text()) if lang == language]


@pytest.fixture
def doc_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current folder of the docs' examples, holding ``song.mp3`` and ``talk.wav``."""
    folder = tmp_path / "examples"
    folder.mkdir()
    testing.song(folder / "song.mp3", seconds=3.0)
    (folder / "talk.wav").write_bytes(SPEECH.read_bytes())
    monkeypatch.chdir(folder)
    return folder


def test_the_shell_examples_in_the_sdk_docs_run(server: Server, doc_folder: Path) -> None:
    """Every line of the ``sh`` blocks is a comment or a ``yinzi`` command that succeeds."""
    variables = {"URL": server.url, "KEY": server.user.key}
    commands = [
        line
        for block in doc_blocks("sh")
        for line in block.splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert commands and all(line.startswith("yinzi ") for line in commands), commands
    for line in commands:
        args = [string.Template(word).substitute(variables) for word in shlex.split(line)[1:]]
        done = yinzi(*args)
        assert done.exit_code == 0, (line, done.output)
    assert sorted(p.name for p in (doc_folder / "stems").iterdir()) == [
        "bass.wav",
        "drums.wav",
        "other.wav",
        "vocals.wav",
    ]
    assert (doc_folder / "vocals.mp3").is_file() and (doc_folder / "waltz.mp3").is_file()
    assert list(srt.parse((doc_folder / "captions" / "transcript.srt").read_text()))
