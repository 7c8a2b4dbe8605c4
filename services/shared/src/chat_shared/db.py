"""Async SQLAlchemy: one declarative base, the engine factory and the request-scoped session.

MySQL (aiomysql) in every deployed environment; SQLite (aiosqlite) only for the no-Docker mode, its
differences kept in :mod:`chat_shared.dialect`.
The request-scoped session is the single owner of the commit: services and repositories flush, the
dependency commits once when the route returns and rolls back on any error.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import BigInteger, DateTime, Integer, MetaData, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from chat_shared import metrics
from chat_shared.dialect import create_sqlite_engine, is_sqlite
from chat_shared.errors import AppError
from chat_shared.state import core_state

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every service's tables (each service only imports its own models)."""

    metadata = MetaData(naming_convention=NAMING)


# Every id column: a signed BIGINT on MySQL; on SQLite an INTEGER, the only type its rowid
# auto-increment works with.
BigId = BigInteger().with_variant(Integer, "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A DATETIME(6) that always goes in and comes out as an aware UTC datetime.

    MySQL and SQLite both drop the zone; storing naive UTC and re-attaching it on the way out keeps
    comparisons and RFC 3339 rendering correct everywhere.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "mysql":
            from sqlalchemy.dialects.mysql import DATETIME

            return dialect.type_descriptor(DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    """Now, as an aware UTC datetime."""
    return datetime.now(UTC)


def _instrument(engine: Engine, service: str) -> None:
    store = "mysql" if engine.dialect.name == "mysql" else engine.dialect.name

    @event.listens_for(engine, "before_cursor_execute")
    def _start(conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        conn.info.setdefault("query_start", []).append(time.perf_counter())

    @event.listens_for(engine, "after_cursor_execute")
    def _stop(conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        started = conn.info["query_start"].pop()
        operation = statement.lstrip().split(" ", 1)[0].lower()[:10]
        metrics.STORE_DURATION.labels(service, store, operation).observe(time.perf_counter() - started)


def create_engine(url: str, service: str, pool_size: int = 10, max_overflow: int = 20) -> AsyncEngine:
    """An engine tuned per backend: READ COMMITTED on MySQL (no gap locks); SQLite's in :mod:`chat_shared.dialect`."""
    if is_sqlite(url):
        engine = create_sqlite_engine(url)
    else:
        engine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=True,
            pool_recycle=1800,
            isolation_level="READ COMMITTED",
            connect_args={"connect_timeout": 5},
            hide_parameters=True,  # an error never prints its bound values (message text, emails)
        )
    _instrument(engine.sync_engine, service)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit (responses are rendered after the commit)."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def ping(engine: AsyncEngine) -> None:
    """Raise if the database does not answer a trivial query."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


AfterCommit = Callable[[], Awaitable[None] | None]


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run ``callback`` once the request's transaction has committed (e.g. wake the outbox relay), and only
    then: a store written outside the transaction (Redis) is written by a callback, so a failed commit
    leaves it as it was. ``callback`` may be a coroutine function; it is awaited."""
    session.info.setdefault("after_commit", []).append(callback)


async def commit(session: AsyncSession) -> None:
    """Commit and then run the callbacks registered with :func:`after_commit`, in order."""
    try:
        await session.commit()
    except BaseException:
        session.info.pop("after_commit", None)  # never run for a transaction that did not commit
        raise
    callbacks: list[AfterCommit] = session.info.pop("after_commit", [])
    for callback in callbacks:
        result = callback()
        if inspect.isawaitable(result):
            await result


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: commit on success, roll back on any error."""
    async with core_state(request).sessionmaker() as session:
        try:
            yield session
            await commit(session)
        except AppError as exc:
            # Some refusals must still persist what they did (e.g. revoking a token family on reuse).
            await (commit(session) if exc.keep_changes else session.rollback())
            raise
        except BaseException:
            await session.rollback()
            raise


# scope="function": the commit happens before the response is sent, so a 2xx is never returned for a
# transaction that then fails to commit.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
