"""Typed errors that carry their HTTP status, and the one handler that renders ``{"detail": ...}``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from chat_shared.transient import STORE_ERRORS, is_transient

log = structlog.get_logger("chat_shared.errors")


class AppError(Exception):
    """Base of every business error: a status and a message safe to show to the client."""

    status_code = 400
    default_detail = "Bad request"
    #: Commit the request's transaction even though the request fails (see ``chat_shared.db.get_session``).
    keep_changes = False

    def __init__(self, detail: str | None = None, headers: Mapping[str, str] | None = None) -> None:
        self.detail = detail or self.default_detail
        self.headers = dict(headers or {})
        super().__init__(self.detail)

    def body(self) -> dict[str, Any]:
        """The JSON body of the error response."""
        return {"detail": self.detail}


class BadRequest(AppError):
    """A rule of the contract is broken (400)."""


class Unauthorized(AppError):
    """No, invalid or expired credentials (401)."""

    status_code = 401
    default_detail = "Not authenticated"

    def __init__(self, detail: str | None = None, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail, {"WWW-Authenticate": "Bearer", **(headers or {})})


class Forbidden(AppError):
    """Authenticated but not allowed (403)."""

    status_code = 403
    default_detail = "Not allowed"


class NotFound(AppError):
    """The resource does not exist (404)."""

    status_code = 404
    default_detail = "Not found"


class Conflict(AppError):
    """Duplicate or a state that forbids the action (409)."""

    status_code = 409
    default_detail = "Conflict"


class PayloadTooLarge(AppError):
    """Body over the route's limit (413)."""

    status_code = 413
    default_detail = "Request body too large"


class Unprocessable(AppError):
    """Input that parses but is not acceptable, e.g. a common password (422).

    Rendered like a failed validation, as a one-item list naming where the input was refused, so every 422
    has the one shape the OpenAPI documents declare (FastAPI's ``HTTPValidationError``).
    """

    status_code = 422
    default_detail = "Unprocessable input"

    def __init__(self, detail: str | None = None, loc: Sequence[str | int] = ("body",)) -> None:
        super().__init__(detail)
        self.loc = list(loc)

    def body(self) -> dict[str, Any]:
        return {"detail": [{"loc": self.loc, "msg": self.detail, "type": "value_error"}]}


class TooManyRequests(AppError):
    """Throttled (429); always carries ``Retry-After``."""

    status_code = 429
    default_detail = "Too many requests"

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail, {"Retry-After": str(max(1, retry_after))})


class ServiceUnavailable(AppError):
    """A dependency the request needs is down (503)."""

    status_code = 503
    default_detail = "Service temporarily unavailable"

    def __init__(self, detail: str | None = None, retry_after: int = 1) -> None:
        super().__init__(detail, {"Retry-After": str(retry_after)})


def _validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Pydantic errors may embed the rejected input (a password) and non-JSON ctx values: keep only
    # where and why, never the value.
    return [
        {"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))}
        for err in exc.errors()
    ]


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # The framework's only 400: a body it cannot parse at all (not UTF-8, a broken form). That is
        # malformed input, a 422 like every other (CONTRACT §2); 400 is kept for broken rules.
        unparsable = [{"loc": ["body"], "msg": "The body cannot be parsed", "type": "body_unparsable"}]
        return JSONResponse({"detail": unparsable}, status_code=422)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": _validation_detail(exc)}, status_code=422)


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    if not is_transient(exc):
        raise exc  # a bug, not the store being away: the 500 below
    # A store away, busy or full: the same request succeeds later, so say when to retry.
    log.warning("store_unavailable", route=request.scope.get("route_path"), error=type(exc).__name__)
    unavailable = ServiceUnavailable()
    return JSONResponse({"detail": unavailable.detail}, status_code=503, headers=unavailable.headers)


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", route=request.scope.get("route_path"), error=type(exc).__name__)
    return JSONResponse({"detail": "Internal server error"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Render every error as ``{"detail": ...}``; a store's transient failure becomes a 503 with ``Retry-After``,
    any other unknown error a bare 500 with no stack trace."""
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for store_error in STORE_ERRORS:
        app.add_exception_handler(store_error, _store_error)
    app.add_exception_handler(Exception, _unhandled)
