"""Database access: one :class:`Database` per process, SQLite by default, PostgreSQL to scale.

``read()`` opens a session for queries (``connect()`` a connection, for Core queries); on SQLite
their statements run in autocommit (no writes may happen in them). ``write()`` opens a
transaction that commits on success; on SQLite it starts with ``BEGIN IMMEDIATE`` so concurrent
writers queue on the lock instead of failing when a read transaction tries to upgrade.
``read_async()`` runs one short read for async code (see there for where it runs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import create_engine, event, inspect, make_url
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import SingletonThreadPool

T = TypeVar("T")


def utcnow() -> datetime:
    """Naive UTC: the one time representation stored in the database."""
    return datetime.now(UTC).replace(tzinfo=None)


def describe(url: str) -> str:
    """The database as a user would look for it: its file, or its URL without the password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    return parsed.render_as_string(hide_password=True)


def missing(url: str) -> str | None:
    """Where the database is, when ``url`` has no Yinzi schema yet (None when it has one).

    Never creates anything: a SQLite file that does not exist is not opened, since opening it
    would create it.
    """
    where = describe(url)
    if make_url(url).get_backend_name() == "sqlite" and where != ":memory:":
        if not Path(where).is_file():
            return where
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    return None if {"alembic_version", "accounts"} <= tables else where


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.engine: Engine = self._create_engine(url, echo)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        in_memory = describe(url) == ":memory:"  # a new connection would see another database
        self._reader = _sqlite_reader(url) if self.is_sqlite and not in_memory else None

    def _create_engine(self, url: str, echo: bool) -> Engine:
        if not self.is_sqlite:
            return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30, "isolation_level": None},
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for Core queries on a hot read path, where building ORM objects would
        cost more than the query; like ``read()``, it never commits."""
        with self.engine.connect() as connection:
            yield connection

    async def read_async(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)``, one short read, for async code: on SQLite in the calling
        thread, elsewhere in the thread pool.

        A read of SQLite in WAL mode never waits for a writer, and a short one costs less than
        the hop to a thread and back, and than the GIL handoffs around each SQLite call there,
        which cost the API more than the read itself while requests keep its event loop busy.
        It runs on a connection of the calling thread's own, so it never waits for the pool
        either; that connection cannot write, and finds a locked database locked at once
        instead of waiting (a crashed writer's recovery holds a lock): the read then goes to
        the thread pool, where waiting holds up no one else. PostgreSQL's reads are network
        round trips, always made in the thread pool."""
        if self._reader is not None:
            try:
                with self._reader.connect() as connection:
                    return work(connection)
            except OperationalError as exc:
                if not _is_locked(exc):
                    raise
        return await anyio.to_thread.run_sync(self._read_with, work)

    def _read_with(self, work: Callable[[Connection], T]) -> T:
        with self.connect() as connection:
            return work(connection)

    @contextmanager
    def write(self) -> Iterator[Session]:
        with self._sessions() as session:
            session.connection(execution_options={"yinzi_immediate": True})
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()
        if self._reader is not None:
            self._reader.dispose()


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # first, so that switching to WAL waits for a connection opening at the same moment
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_on_begin(conn: Any) -> None:
    # Reads run in autocommit (each statement its own snapshot; nothing to commit or roll back),
    # writes take the write lock up front.
    if conn.get_execution_options().get("yinzi_immediate", False):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_reader(url: str) -> Engine:
    """The engine of :meth:`Database.read_async` on SQLite: a connection per thread, which
    cannot write and never waits for a lock (``timeout`` 0: a locked database answers busy)."""
    engine = create_engine(
        url,
        poolclass=SingletonThreadPool,
        connect_args={"check_same_thread": False, "timeout": 0, "isolation_level": None},
    )
    event.listen(engine, "connect", _sqlite_reader_on_connect)
    return engine


def _sqlite_reader_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def _is_locked(exc: OperationalError) -> bool:
    """Whether SQLite refused ``exc``'s statement for a lock (SQLITE_BUSY or SQLITE_LOCKED)."""
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (5, 6)
