"""``Database.read_async``: SQLite reads in the calling thread, never waiting there for a lock."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError

from yinzi.db import Database


def _counter(url: str) -> Database:
    db = Database(url)
    with db.write() as session:
        session.execute(text("CREATE TABLE counter (n INTEGER)"))
        session.execute(text("INSERT INTO counter VALUES (1)"))
    return db


def _read(connection: Connection) -> tuple[int, int]:
    n = connection.execute(text("SELECT n FROM counter")).scalar_one()
    return int(n), threading.get_ident()


def test_a_sqlite_read_runs_in_the_calling_thread_and_sees_every_commit(tmp_path: Path) -> None:
    db = _counter(f"sqlite:///{tmp_path / 'y.db'}")
    try:
        assert asyncio.run(db.read_async(_read)) == (1, threading.get_ident())
        with db.write() as session:
            session.execute(text("UPDATE counter SET n = 2"))
        assert asyncio.run(db.read_async(_read))[0] == 2
    finally:
        db.dispose()


def test_the_connection_of_reads_in_the_calling_thread_cannot_write(tmp_path: Path) -> None:
    db = _counter(f"sqlite:///{tmp_path / 'y.db'}")

    def write(connection: Connection) -> None:
        connection.execute(text("UPDATE counter SET n = 3"))

    try:
        with pytest.raises(OperationalError, match="readonly"):
            asyncio.run(db.read_async(write))
    finally:
        db.dispose()


def test_a_locked_sqlite_database_is_waited_for_in_the_thread_pool(tmp_path: Path) -> None:
    path = tmp_path / "y.db"
    db = _counter(f"sqlite:///{path}")
    db.dispose()  # its connections go, so that another may lock the file for itself
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("PRAGMA locking_mode=EXCLUSIVE")
    locker.execute("BEGIN EXCLUSIVE")
    locker.execute("UPDATE counter SET n = 5")

    async def main() -> tuple[int, int]:
        read = asyncio.create_task(db.read_async(_read))
        for _ in range(5):  # the event loop goes on while the read waits
            await asyncio.sleep(0.05)
            assert not read.done()
        locker.execute("COMMIT")
        locker.close()
        return await read

    try:
        n, thread = asyncio.run(main())
        assert n == 5 and thread != threading.get_ident()
    finally:
        db.dispose()


@pytest.mark.postgres
def test_a_postgresql_read_runs_in_the_thread_pool(tmp_path: Path) -> None:
    from conftest import _postgres_database

    for url in _postgres_database():
        db = _counter(url)
        try:
            n, thread = asyncio.run(db.read_async(_read))
            assert n == 1 and thread != threading.get_ident()
        finally:
            db.dispose()
