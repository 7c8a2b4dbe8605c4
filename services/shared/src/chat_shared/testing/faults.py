"""Faults injected into the real database: a commit that fails, as a MySQL connection lost at ``COMMIT`` does."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

_ARMED = "fault.failing_commit"


class FailingCommit:
    """While active, the commit of a transaction that wrote an outbox row for ``event_type`` fails (``times``
    times), before anything is committed; any other transaction commits as usual.

    ``fired`` counts the commits it failed, so a test can tell that the fault happened.
    """

    def __init__(self, engine: AsyncEngine, event_type: str, times: int = 1) -> None:
        self._engine = engine.sync_engine
        self._event_type = event_type
        self._times = times
        self.fired = 0

    def _statement(self, conn: Connection, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.lstrip().lower().startswith("insert into outbox") and self._event_type in _values(parameters):
            conn.info[_ARMED] = True

    def _commit(self, conn: Connection) -> None:
        if conn.info.pop(_ARMED, False) and self.fired < self._times:
            self.fired += 1
            raise OperationalError("COMMIT", None, ConnectionError("injected: connection lost at commit"))

    @staticmethod
    def _rollback(conn: Connection) -> None:
        conn.info.pop(_ARMED, None)

    def __enter__(self) -> FailingCommit:
        event.listen(self._engine, "before_cursor_execute", self._statement)
        event.listen(self._engine, "commit", self._commit)
        event.listen(self._engine, "rollback", self._rollback)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        event.remove(self._engine, "before_cursor_execute", self._statement)
        event.remove(self._engine, "commit", self._commit)
        event.remove(self._engine, "rollback", self._rollback)


def _values(parameters: Any) -> list[Any]:
    """The bound values of one statement, flat (one row, several rows, or named)."""
    if isinstance(parameters, dict):
        return list(parameters.values())
    if isinstance(parameters, list | tuple):
        return [v for p in parameters for v in (_values(p) if isinstance(p, list | tuple | dict) else [p])]
    return [parameters]
