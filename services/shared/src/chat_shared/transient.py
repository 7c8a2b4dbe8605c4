"""Which failures are the store's and pass by themselves: the one place that tells "retry" from "give up".

A *transient* failure says nothing about the work being done — the database, Redis, MongoDB or the broker is
away, busy, failing over or full — so the same work succeeds later: a consumer retries it without end
(never dead-letters it) and a request answers 503 with ``Retry-After`` rather than 500. Anything else (a
bug, an event that breaks a rule, a constraint violation) is *permanent*: retrying cannot help.

The store libraries do not share a base class for this: redis-py's ``ConnectionError``/``TimeoutError`` are
not Python's built-ins, pymongo's ``AutoReconnect`` is a ``PyMongoError``, aiokafka marks its retriable errors
with a flag and SQLAlchemy wraps the driver's error. A Redis ``OutOfMemoryError`` counts as transient: the
store is full (an alert fires well before), not the event wrong, and memory comes back as keys expire.
"""

from __future__ import annotations

from aiokafka.errors import KafkaError, KafkaTimeoutError
from botocore import exceptions as s3_errors
from redis import exceptions as redis_errors
from sqlalchemy import exc as sql_errors

_SQL = (sql_errors.OperationalError, sql_errors.InterfaceError, sql_errors.TimeoutError)
_REDIS = (
    redis_errors.ConnectionError,  # BusyLoadingError and MaxConnectionsError are ConnectionErrors
    redis_errors.TimeoutError,
    redis_errors.OutOfMemoryError,
    redis_errors.ReadOnlyError,
    redis_errors.TryAgainError,
    redis_errors.ClusterDownError,  # MasterDownError too
)
#: The object store unreachable or slow (botocore's own classes, not OSErrors).
_S3 = (s3_errors.ConnectionError, s3_errors.HTTPClientError)
#: ``ConnectionError``, ``TimeoutError``, ``BrokenPipeError`` …: sockets that failed below any driver.
_BUILTIN = (OSError,)
#: Labels MongoDB puts on an error whose operation may simply be run again.
_MONGO_LABELS = ("RetryableWriteError", "TransientTransactionError", "ResumableChangeStreamError")


def _mongo_errors() -> tuple[tuple[type[Exception], ...], tuple[type[Exception], ...]]:
    """pymongo's base error and its transient ones; none where pymongo is not installed (no documents kept)."""
    try:
        from pymongo import errors
    except ImportError:  # pragma: no cover - the workspace installs pymongo with chat-service's motor
        return (), ()
    # AutoReconnect covers NetworkTimeout, ServerSelectionTimeoutError and NotPrimaryError.
    transient = (errors.AutoReconnect, errors.ExecutionTimeout, errors.WTimeoutError, errors.WaitQueueTimeoutError)
    return (errors.PyMongoError,), transient


_MONGO_BASE, _MONGO = _mongo_errors()
_TRANSIENT = (*_SQL, *_REDIS, *_S3, *_BUILTIN, *_MONGO)
#: The base classes of every store library's errors: what may be transient, for code that dispatches on the
#: class (the HTTP error handlers) before asking :func:`is_transient`.
STORE_ERRORS: tuple[type[Exception], ...] = (
    sql_errors.SQLAlchemyError,
    redis_errors.RedisError,
    KafkaError,
    s3_errors.BotoCoreError,
    OSError,
    *_MONGO_BASE,
)


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` (or the error it wraps) is a store being away, slow or full rather than the work failing."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _is_transient_here(current):
            return True
        current = current.__cause__
    return False


def _is_transient_here(exc: BaseException) -> bool:
    if isinstance(exc, sql_errors.DBAPIError) and exc.connection_invalidated:
        return True  # the pool saw the connection die under the statement (a disconnect of any kind)
    if isinstance(exc, _TRANSIENT):
        return True
    if isinstance(exc, KafkaError):
        # KafkaConnectionError, NodeNotReadyError, RequestTimedOutError, NotLeaderForPartitionError …; a
        # KafkaTimeoutError is the client giving up waiting for the broker.
        return bool(exc.retriable) or isinstance(exc, KafkaTimeoutError)
    has_label = getattr(exc, "has_error_label", None)
    return callable(has_label) and any(has_label(label) for label in _MONGO_LABELS)
