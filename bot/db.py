"""The database: one engine per process, SQLite by default, PostgreSQL by one URL.

`DATABASE_URL` chooses it (e.g. `postgresql+psycopg2://127.0.0.1:5432/test`); without it the
embedded SQLite file `var/community.db` is used.
"""
import sqlite3
from functools import lru_cache
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.pool import QueuePool

from bot.settings import database_url

# What an outage of the database looks like to its callers: it cannot be reached, or the
# connection broke. A message met by one is held and answered later, not dropped.
OUTAGES = (OperationalError, InterfaceError)


def make_engine(url: str | None = None) -> Engine:
    """An engine for `url`; SQLite gets write-locking transactions so that two processes
    filing or escalating at once serialise instead of both reading the same state, a
    write-ahead log and kept connections (a commit then costs no wait for the disk, and the
    Rasa server's tracker store reads while the action server writes)."""
    url = url or database_url()
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        in_file = bool(path) and path != ":memory:"
        if in_file:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, future=True, connect_args={"timeout": 30, "check_same_thread": False},
                               **({"poolclass": QueuePool} if in_file else {}))
        _use_immediate_transactions(engine)
        if not event.contains(Engine, "connect", _sync_at_checkpoints):
            event.listen(Engine, "connect", _sync_at_checkpoints)
        return engine
    # No ping before each use (a round trip for every transaction, paid on the hot path under
    # load): after a database restart the first use of a dead connection fails, the
    # pool drops all its connections, and the callers try again (bot/worker.py, the group-chat
    # core's outage handling, which also retries a turn whose action failed).
    return create_engine(url, future=True)


def _use_immediate_transactions(engine: Engine) -> None:
    # pysqlite's own transaction handling starts transactions lazily; take the write lock at
    # BEGIN instead (SQLAlchemy's documented recipe), so read-then-write is atomic.
    @event.listens_for(engine, "connect")
    def _no_pysqlite_begin(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys=ON")
        dbapi_connection.execute("PRAGMA journal_mode=WAL")  # kept in the file: Rasa's connections use it too

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sync_at_checkpoints(dbapi_connection, _record) -> None:
    """Every SQLite connection of the process, the Rasa tracker store's too, syncs the
    write-ahead log at checkpoints only: a commit does not wait for the disk. A power cut may
    lose the last commits, never corrupt the file."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")


@lru_cache(maxsize=None)
def shared_engine() -> Engine:
    """The process's one engine on `DATABASE_URL`, for long-running servers (the action server)."""
    return make_engine()
