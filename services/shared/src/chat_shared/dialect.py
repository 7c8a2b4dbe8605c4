"""What differs between MySQL/MariaDB (every deployed environment) and SQLite (``make dev``'s stand-in).

Services write their SQL once and never ask which database they talk to: what SQLite does differently
lives here. The rest needs no help: SQLAlchemy renders ``with_for_update()`` as nothing on SQLite, where a
write transaction holds the whole database file anyway (WAL, ``busy_timeout``), so a row lock taken for
MySQL costs nothing there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, event, func
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.dml import Insert

from chat_shared.standins import StandIn, stand_in

#: The row an upsert proposes (MySQL's ``VALUES(col)``, SQLite's ``excluded.col``), by column name.
Proposed = ReadOnlyColumnCollection[str, Any]


def is_sqlite(url: str) -> bool:
    """Whether ``url`` selects the SQLite stand-in."""
    return stand_in(url) is StandIn.SQLITE


def create_sqlite_engine(url: str) -> AsyncEngine:
    """An engine on a SQLite file: WAL, foreign keys on, writers queueing up to 30 s for the file lock
    instead of failing at once, and transactions that behave as they do on MySQL.

    The sqlite3 driver on its own opens a transaction only before the first write and treats a SAVEPOINT
    outside one as the start of a transaction that its RELEASE commits: a send's savepoint would then commit
    the message apart from its outbox row. So the driver's own transaction handling is off and every
    transaction starts with ``BEGIN IMMEDIATE`` (SQLAlchemy's documented recipe): it takes the write lock up
    front, which is what MySQL's ``FOR UPDATE`` gives the services and what a stand-in serving one developer
    can afford."""
    # hide_parameters: an error never prints its bound values (message text, emails), wherever it is logged.
    engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin_immediate(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def prepare_database_file(url: str) -> None:
    """Create the folder of a SQLite database file (a server database needs nothing)."""
    if is_sqlite(url) and (database := make_url(url).database):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def batch_alter(url: str) -> bool:
    """Alembic's ``render_as_batch``: SQLite alters most of a table only by copying it to a new one."""
    return is_sqlite(url)


def upsert(
    session: AsyncSession,
    model: type[Any],
    values: Mapping[str, Any],
    *,
    key: Sequence[Any],
    update: Callable[[Proposed], Mapping[str, Any]],
    when: Callable[[Proposed], ColumnElement[bool]] | None = None,
) -> Insert:
    """``INSERT`` ``values``, or on a clash of ``key`` (the row's unique columns) ``UPDATE`` the existing row:
    ``update(proposed)`` gives its new column values, applied only where ``when(proposed)`` holds.

    One statement, so it is atomic and takes the row's exclusive lock whether the row is new or not. MySQL
    assigns the columns left to right, each seeing the ones before: list the columns ``when`` reads last.
    """
    if session.get_bind().dialect.name == "sqlite":
        lite = sqlite.insert(model).values(**values)
        return lite.on_conflict_do_update(
            index_elements=list(key),
            set_=dict(update(lite.excluded)),
            where=when(lite.excluded) if when is not None else None,
        )
    ins = mysql.insert(model).values(**values)
    assignments = list(update(ins.inserted).items())  # a list: MySQL runs them in this order, not the table's
    if when is not None:
        condition = when(ins.inserted)
        assignments = [(name, func.if_(condition, value, getattr(model, name))) for name, value in assignments]
    return ins.on_duplicate_key_update(assignments)
