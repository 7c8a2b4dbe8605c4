"""JSON logs: one object per line on stdout with ``service``, ``level``, ``request_id``, ``user_id``.

structlog renders both our own log calls and the standard library's (uvicorn, aiokafka, SQLAlchemy),
so every line a service prints has the same shape and Promtail can parse all of them.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import sys
import traceback
from functools import cache
from typing import Any

import structlog
from pymysql.err import MySQLError
from sqlalchemy.exc import StatementError
from structlog.types import EventDict, ExcInfo, Processor

# Keys whose values must never reach a log line, whatever a caller passes by mistake.
_REDACTED_KEYS = frozenset(
    {
        "password",
        "new_password",
        "current_password",
        "token",
        "access_token",
        "refresh_token",
        "authorization",
        "ticket",
        "content",
        "password_hash",
        "secret",
    }
)


def _redact(_: Any, __: str, event_dict: EventDict) -> EventDict:
    for key in _REDACTED_KEYS.intersection(event_dict):
        event_dict[key] = "[redacted]"
    return event_dict


# Query parameters that carry a credential: a stream ticket (CONTRACT §6), or a token a client put in a URL
# against the rules. Their values never reach a log line, whoever logs the URL.
_QUERY_SECRET = re.compile(r"(?i)\b(ticket|access_token|refresh_token|token)=[^&\s\"'#]*")


def scrub_query_secrets(text: str) -> str:
    """``text`` with the values of credential query parameters replaced by ``***``."""
    return _QUERY_SECRET.sub(r"\1=***", text) if "=" in text else text


def _scrub_urls(_: Any, __: str, event_dict: EventDict) -> EventDict:
    for key, value in event_dict.items():
        if isinstance(value, str) and "=" in value:
            event_dict[key] = scrub_query_secrets(value)
    return event_dict


class QuerySecretFilter(logging.Filter):
    """Scrubs credential query parameters from uvicorn's access records, whose arguments hold the request's
    full path and query (``client, method, full_path, http_version, status``): installed on the
    ``uvicorn.access`` logger, it holds whatever handler or formatter a server attaches there."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(scrub_query_secrets(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = scrub_query_secrets(record.msg)
        return True


_DRIVER_ERRORS = (MySQLError, sqlite3.Error)
_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and those it was raised from or while handling, outermost first (as ``traceback``)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        if current.__cause__ is not None:
            current = current.__cause__
        elif not current.__suppress_context__:
            current = current.__context__
        else:
            current = None
    return chain


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _code(driver_error: BaseException | None) -> str:
    if driver_error is None:
        return ""
    code = driver_error.args[0] if driver_error.args else None
    code = getattr(driver_error, "sqlite_errorname", code)
    return f" {code}" if isinstance(code, int | str) else ""


def _database_error_text(exc: BaseException) -> str | None:
    """What a log may say about a database error: the classes, the driver's error code and the statement.

    Never the bound parameters, nor the driver's message, which quotes values ("Duplicate entry
    'alice@example.com' for key ...", "Incorrect string value: '...'"). None for any other exception.
    """
    if isinstance(exc, StatementError):
        statement = " ".join((exc.statement or "").split())[:1000]
        return f"({_name(type(exc.orig))}{_code(exc.orig)}) [SQL: {statement}] (message and parameters withheld)"
    if isinstance(exc, _DRIVER_ERRORS):
        return f"{_code(exc).strip()} (message withheld)"
    return None


@cache
def _stand_in(module: str, qualname: str) -> type[Exception]:
    """An exception class that prints as ``module.qualname`` does, to carry a withheld message."""
    return type(qualname.rsplit(".", 1)[-1], (Exception,), {"__module__": module, "__qualname__": qualname})


def _holds_database_error(exc: BaseException) -> bool:
    for current in _chain(exc):
        if _database_error_text(current) is not None:
            return True
        if isinstance(current, BaseExceptionGroup) and any(_holds_database_error(e) for e in current.exceptions):
            return True
    return False


def format_exception(exc_info: ExcInfo) -> str:
    """A traceback as Python prints it, except that database errors in the chain show no values."""
    exc = exc_info[1]
    if exc is None or not _holds_database_error(exc):
        return "".join(traceback.format_exception(*exc_info)).rstrip("\n")
    parts: list[str] = []
    inner: BaseException | None = None
    for current in reversed(_chain(exc)):
        if inner is not None:
            parts.append(_CAUSE if current.__cause__ is inner else _CONTEXT)
        inner = current
        cls = type(current)
        text = _database_error_text(current)
        if isinstance(current, BaseExceptionGroup):  # its members are rendered one by one, below it
            text = f"{current.message} ({len(current.exceptions)} sub-exceptions)"
        shown = current if text is None else _stand_in(cls.__module__, cls.__qualname__)(text)
        parts.extend(traceback.format_exception(type(shown), shown, current.__traceback__, chain=False))
        if isinstance(current, BaseExceptionGroup):
            for number, member in enumerate(current.exceptions, 1):
                rendered = format_exception((type(member), member, member.__traceback__))
                parts.append(f"  +---- {number} ----\n" + "".join(f"  | {line}\n" for line in rendered.splitlines()))
    return "".join(parts).rstrip("\n")


def _service_adder(service: str) -> Processor:
    def add_service(_: Any, __: str, event_dict: EventDict) -> EventDict:
        event_dict.setdefault("service", service)
        return event_dict

    return add_service


def _shared_processors(service: str) -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        _service_adder(service),
        _redact,
        _scrub_urls,
    ]


def json_formatter(service: str) -> logging.Formatter:
    """The formatter of every log line: stdlib records and structlog's alike become one JSON object."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(service),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.ExceptionRenderer(format_exception),
            structlog.processors.JSONRenderer(),
        ],
    )


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route structlog and stdlib logging to JSON lines on stdout; idempotent."""
    structlog.configure(
        processors=[*_shared_processors(service), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = json_formatter(service)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # uvicorn's own access log would duplicate ours, without request ids; should a server turn it back on,
    # its lines carry no stream ticket.
    access = logging.getLogger("uvicorn.access")
    access.handlers = []
    access.propagate = False
    if not any(isinstance(f, QuerySecretFilter) for f in access.filters):
        access.addFilter(QuerySecretFilter())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    for noisy in ("aiokafka", "kafka"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
