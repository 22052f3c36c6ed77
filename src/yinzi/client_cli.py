"""Client commands: run orders on a Yinzi server from the command line, through ``yinzi.sdk``.

``yinzi separate``, ``transcribe``, ``compose``, ``analyze``, ``orders``, ``cancel`` and
``login``. The server and key come from flags, the environment or the file ``yinzi login`` writes
(see :mod:`yinzi.client_config`). A failure is one line on stderr and exit status 1; ``--json``
prints one JSON document on stdout for scripts. The SDK (and so httpx) and Rich's progress bar
are imported inside the commands, so ``yinzi --help`` stays fast.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from yinzi.client_config import ConfigError, Connection, config_path, resolve, write_config

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from yinzi.sdk import Client, Order

client_app = typer.Typer()
PANEL = "Client (call a Yinzi server)"

CAPTION_BUSINESSES = {"srt": "caption", "vtt": "vtt", "txt": "text", "json": "segments"}
"""Each transcript format the commands offer, and the business of its file in an order."""
STEMS = ("vocals", "accompaniment", "drums", "bass", "other")
"""The stems ``separate`` offers: vocals and accompaniment, or vocals, drums, bass and other."""

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url", help="Server URL (else YINZI_URL, else `yinzi login`).", show_default=False
    ),
]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--key", help="API key (else YINZI_API_KEY, else `yinzi login`).", show_default=False
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON on stdout, no progress bar.")
]
OutDirOption = Annotated[
    Path, typer.Option("--output", "-o", help="Folder to write the results into.")
]


def register(app: typer.Typer) -> None:
    """Add the client commands to the ``yinzi`` command."""
    app.registered_commands.extend(client_app.registered_commands)


def _fail(message: str) -> typer.Exit:
    """Print ``message`` as one line on stderr; the exit to raise with status 1."""
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    return typer.Exit(1)


def _explain(exc: Exception, url: str) -> str:
    """The one line a failure prints: what went wrong and, where it helps, what to do."""
    from yinzi import sdk

    if isinstance(exc, sdk.OrderFailed):
        order = exc.order
        return f"order {order.order_no} {order.status}: {order.reason or 'no reason given'}"
    message = exc.message if isinstance(exc, sdk.YinziError) else str(exc)
    if isinstance(exc, sdk.ConnectionFailed):
        return f"cannot reach the server at {url}: {message}"
    if isinstance(exc, sdk.AuthenticationError):
        hint = "check --key, YINZI_API_KEY or `yinzi login`"
        return f"{message} (the server at {url} refused the API key; {hint})"
    return message or type(exc).__name__


@contextmanager
def _client(url: str | None, key: str | None) -> Iterator[Client]:
    """An SDK client for the resolved server; any SDK or configuration error becomes one line on
    stderr and exit status 1."""
    try:
        connection = resolve(url, key)
    except ConfigError as exc:
        raise _fail(str(exc)) from exc
    from yinzi import sdk

    try:
        with sdk.Client(connection.url, connection.key) as client:
            yield client
    except (sdk.YinziError, OSError) as exc:
        raise _fail(_explain(exc, connection.url)) from exc


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _order_dict(order: Order) -> dict[str, Any]:
    """An order as plain JSON-ready data."""
    return dataclasses.asdict(order)


def _stage(order: Order) -> str:
    """An order's stage in a few words: the queue position while it waits."""
    if order.status == "pending" and order.queue_position:
        return f"queued (#{order.queue_position})"
    return order.stage or order.status


class _Progress:
    """A Rich progress bar on stderr, when stderr is a terminal, following one order's stage and
    percent; it disappears at the end. Remembers the last order seen, so an interrupted command
    can name it."""

    def __init__(self, enabled: bool, console: Console | None = None) -> None:
        self.enabled = enabled
        self.console = console
        self.order: Order | None = None
        self._bar: Progress | None = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        from rich.console import Console

        console = self.console or Console(stderr=True)
        if self.enabled and console.is_terminal:
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

            columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn())
            self._bar = Progress(*columns, console=console, transient=True)
            self._bar.start()
            self._task = self._bar.add_task("submitting", total=100)
        return self

    def __call__(self, order: Order) -> None:
        self.order = order
        if self._bar is not None:
            description = f"{order.order_no} {_stage(order)}"
            done = order.progress or 0
            self._bar.update(self._task, completed=done, description=description, refresh=True)

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if self._bar is not None:
            self._bar.stop()
        if kind is KeyboardInterrupt and self.order is not None:
            number = self.order.order_no
            typer.echo(
                f"order {number} goes on running; `yinzi cancel {number}` stops it", err=True
            )


def _run_order(as_json: bool, start: Callable[[Callable[[Order], None]], object]) -> Order:
    """Run ``start(on_progress)``, an SDK call that waits for its order to end and (given no
    ``dest``) returns it, following the order with a progress bar."""
    from yinzi.sdk import Order

    with _Progress(enabled=not as_json) as progress:
        order = start(progress)
    assert isinstance(order, Order), "called without dest, the SDK returns the order"
    return order


def _source(value: str) -> str | Path:
    """FILE_OR_URL as the SDK takes it: a local file (uploaded first) or an ``http(s)`` URL."""
    if value.lower().startswith(("http://", "https://")):
        return value
    if not Path(value).is_file():
        raise _fail(f"FILE_OR_URL: no such file: {value}")
    return Path(value)


def _download(client: Client, order: Order, folder: Path, businesses: list[str]) -> list[Path]:
    """Download the order's files of these businesses into ``folder``; an error when the order
    made none of one of them."""
    made = [item.business for item in order.files]
    missing = [name for name in businesses if name not in made]
    if missing:
        raise _fail(
            f"order {order.order_no} made no {', '.join(missing)} (it made {', '.join(made)})"
        )
    return client.download(order, folder, businesses=businesses)


def _report(order: Order, files: Iterable[Path], as_json: bool) -> None:
    """Print a finished order's files (one path a line), or the order and files as JSON."""
    paths = [str(path) for path in files]
    if as_json:
        _print_json({"order": _order_dict(order), "files": paths})
        return
    typer.echo(f"order {order.order_no} finished, {order.cost} credits", err=True)
    for path in paths:
        typer.echo(path)


def _split(value: str, option: str, allowed: Iterable[str] | None = None) -> list[str]:
    """A comma-separated option as a list, refusing empty items and names not in ``allowed``."""
    items = [item.strip() for item in value.split(",")]
    if not all(items):
        raise _fail(f"{option}: empty name in {value!r}")
    if allowed is not None:
        unknown = [item for item in items if item not in allowed]
        if unknown:
            raise _fail(f"{option}: unknown {', '.join(unknown)}; choose from {', '.join(allowed)}")
    return items


@client_app.command(rich_help_panel=PANEL)
def separate(
    source: Annotated[
        str, typer.Argument(metavar="FILE_OR_URL", help="Audio or video file, or URL.")
    ],
    stems: Annotated[
        str,
        typer.Option(
            help="Stems to keep, comma-separated: vocals, accompaniment, drums, bass, other."
        ),
    ] = "vocals,accompaniment",
    format: Annotated[str, typer.Option("--format", help="mp3, wav or flac.")] = "mp3",
    output: OutDirOption = Path("."),
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Split a song into stems and download them."""
    wanted, where = _split(stems, "--stems", STEMS), _source(source)
    if "accompaniment" in wanted and not set(wanted) <= {"vocals", "accompaniment"}:
        raise _fail("--stems: accompaniment goes with vocals only (drums, bass and other split it)")
    with _client(url, key) as client:
        order = _run_order(
            as_json,
            lambda on_progress: client.separate(
                where, stems=wanted, format=format, on_progress=on_progress
            ),
        )
        files = _download(client, order, output, wanted)
    _report(order, files, as_json)


@client_app.command(rich_help_panel=PANEL)
def transcribe(
    source: Annotated[
        str, typer.Argument(metavar="FILE_OR_URL", help="Audio or video file, or URL.")
    ],
    language: Annotated[
        str, typer.Option(help="Language code such as en or zh, or auto.")
    ] = "auto",
    formats: Annotated[
        str, typer.Option("--format", help="Files to keep, comma-separated: srt, vtt, txt, json.")
    ] = "srt,vtt,txt,json",
    output: OutDirOption = Path("."),
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Transcribe speech into captions and text, and download them."""
    wanted, where = _split(formats, "--format", CAPTION_BUSINESSES), _source(source)
    with _client(url, key) as client:
        order = _run_order(
            as_json,
            lambda on_progress: client.transcribe(
                where, language=language, formats=wanted, on_progress=on_progress
            ),
        )
        files = _download(client, order, output, [CAPTION_BUSINESSES[f] for f in wanted])
    _report(order, files, as_json)


@client_app.command(rich_help_panel=PANEL)
def compose(
    prompt: Annotated[str, typer.Argument(help="Style, key, tempo and mood, in words.")],
    bars: Annotated[int, typer.Option(help="Length in bars (1 to 12).")] = 8,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write (default: the server's name, here)."),
    ] = None,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compose music from a text prompt and download it."""
    with _client(url, key) as client:
        order = _run_order(
            as_json, lambda on_progress: client.compose(prompt, bars, on_progress=on_progress)
        )
        files = _download_as(client, order, output)
    _report(order, files, as_json)


def _download_as(client: Client, order: Order, target: Path | None) -> list[Path]:
    """Download an order's files into the current folder, or its one file to ``target``."""
    if target is None:
        return client.download(order, Path("."))
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".yinzi-") as folder:
        files = client.download(order, Path(folder))
        if len(files) != 1:
            raise _fail(f"order {order.order_no} has {len(files)} files; -o names one file")
        os.replace(files[0], target)
    return [target]


@client_app.command(rich_help_panel=PANEL)
def analyze(
    link: Annotated[str, typer.Argument(help="A short-video share link, or the whole share text.")],
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Title, author, cover, video and music of a short-video link."""
    with _client(url, key) as client:
        info = client.analyze(link)
    fields = dataclasses.asdict(info)
    if as_json:
        _print_json(fields)
        return
    for name, value in fields.items():
        typer.echo(f"{name}: {'' if value is None else value}")


@client_app.command(rich_help_panel=PANEL)
def orders(
    status: Annotated[
        str | None, typer.Option(help="pending, processing, finish, failed or timeout.")
    ] = None,
    order_type: Annotated[
        str | None, typer.Option("--type", help="Only this order type, e.g. track-separation.")
    ] = None,
    page: Annotated[int, typer.Option(help="Page to show, from 1.")] = 1,
    per_page: Annotated[int, typer.Option(help="Orders a page (1 to 100).")] = 20,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Your orders, newest first."""
    with _client(url, key) as client:
        listing = client.list(page=page, per_page=per_page, status=status, order_type=order_type)
    if as_json:
        items = [_order_dict(order) for order in listing.items]
        _print_json({**dataclasses.asdict(listing), "items": items})
        return
    _print_orders(listing.items)
    more = f"; next: --page {listing.next_page}" if listing.next_page else ""
    typer.echo(f"page {page}, {listing.total} orders in all{more}", err=True)


def _print_orders(items: list[Order]) -> None:
    """A table of orders on stdout; only the reason wraps, so order numbers stay whole."""
    from rich.console import Console
    from rich.table import Column, Table

    names = ("order", "type", "status", "stage", "progress", "cost")
    table = Table(*(Column(name, no_wrap=True) for name in names), Column("reason", min_width=20))
    for order in items:
        progress = "" if order.progress is None else f"{order.progress}%"
        row = (order.order_no, order.order_type, order.status, _stage(order), progress)
        table.add_row(*row, str(order.cost), order.reason or "")
    Console(width=max(Console().width, 120)).print(table)


@client_app.command(rich_help_panel=PANEL)
def cancel(
    order_no: Annotated[str, typer.Argument(metavar="ORDER_NO", help="The order to stop.")],
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Stop an order that has not ended; its credits are released."""
    with _client(url, key) as client:
        order = client.cancel(order_no)
    if as_json:
        _print_json(_order_dict(order))
        return
    typer.echo(f"order {order.order_no} {order.status}: {order.reason or ''}".rstrip(": "))


@client_app.command(rich_help_panel=PANEL)
def login(
    url: Annotated[str, typer.Argument(metavar="URL", help="The server's base URL.")],
    key: Annotated[
        str | None, typer.Argument(metavar="KEY", help="Your API key (asked for when left out).")
    ] = None,
) -> None:
    """Check a server URL and API key, and save them for the client commands."""
    if key is None:
        key = typer.prompt("API key", hide_input=True)
    connection = Connection(url.rstrip("/"), key)
    with _client(connection.url, connection.key) as client:
        balance = client.balance()
    path = config_path()
    write_config(path, connection)
    typer.echo(f"logged in to {connection.url} ({balance} credits available); saved in {path}")
