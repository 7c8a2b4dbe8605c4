"""The error statuses a route can answer, declared once and composed per route.

Every route names what it can answer besides its success in ``responses=``, composed from these sets
(``responses=AUTH | NOT_FOUND``, ``error(400, "…")`` for a rule of the route's own), so each service's
OpenAPI document lists every status a client can get, with its body: ``{"detail": "<message>"}``
(:class:`ErrorOut`), or for a 422 the list FastAPI's ``HTTPValidationError`` describes (chat_shared.errors
renders both). tests/fuzz holds the services to it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

Responses = dict[int | str, dict[str, Any]]


class ErrorOut(BaseModel):
    """An error: what went wrong, in words safe to show to the user."""

    detail: str


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string"}}


RETRY_AFTER = {"Retry-After": _header("Seconds to wait before trying again")}


def error(status: int, description: str, headers: dict[str, Any] | None = None) -> Responses:
    """One error status with the ``{"detail": …}`` body."""
    spec: dict[str, Any] = {"model": ErrorOut, "description": description}
    if headers:
        spec["headers"] = headers
    return {status: spec}


#: Every route behind a bearer token.
AUTH = error(
    401,
    "No valid access token",
    {"WWW-Authenticate": _header("`Bearer`: the scheme the route expects")},
)
FORBIDDEN = error(403, "Authenticated, but not allowed")
NOT_FOUND = error(404, "No such resource")
CONFLICT = error(409, "A duplicate, or a state that forbids the action")
#: A route that takes a body: the gateway refuses one over its size limit.
TOO_LARGE = error(413, "The body is over the size limit")
THROTTLED = error(429, "Throttled", RETRY_AFTER)
UNAVAILABLE = error(503, "A dependency the request needs is down, or the service sheds load", RETRY_AFTER)

#: A route on one room: 404 when the room does not exist, 403 when the caller is not a member.
MEMBER = AUTH | FORBIDDEN | NOT_FOUND
