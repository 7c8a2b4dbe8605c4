"""A database error reaches the logs as its classes, error code and statement, never with the values it was
about (message text, emails): neither SQLAlchemy's bound parameters nor the driver's message quoting them."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.core.state import State
from chat_shared.logging import json_formatter
from chat_shared.testing.fixtures import StartedApp

from .conftest import auth_headers


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the service prints, as it prints it (the formatter of configure_logging)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter("user-service"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


@pytest.fixture
async def unique_display_names(app: StartedApp[State]) -> AsyncIterator[None]:
    """A constraint the schema does not have, so a plain profile update fails inside the database."""
    async with app.state.engine.begin() as conn:
        await conn.execute(text("CREATE UNIQUE INDEX uq_test_display_name ON users (display_name)"))
    try:
        yield
    finally:
        async with app.state.engine.begin() as conn:
            await conn.execute(text("DROP INDEX uq_test_display_name ON users"))


@pytest.mark.usefixtures("unique_display_names")
async def test_a_failed_statement_is_logged_without_its_values(
    client: httpx.AsyncClient, app: StartedApp[State], log_lines: io.StringIO
) -> None:
    secret = f"Secret {uuid.uuid4().hex[:12]}"
    _, first = await auth_headers(client)
    _, second = await auth_headers(client)
    assert (await client.patch("/profile/me", headers=first, json={"display_name": secret})).status_code == 200
    transport = httpx.ASGITransport(app=app)  # raises what the app re-raises to its server after the 500
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as raw:
        with pytest.raises(IntegrityError) as raised:
            await raw.patch("/profile/me", headers=second, json={"display_name": secret})
    # What uvicorn does with an exception that leaves the app: a stdlib log record with the traceback.
    logging.getLogger("uvicorn.error").error("Exception in ASGI application", exc_info=raised.value)
    printed = log_lines.getvalue()
    assert '"event": "unhandled_error"' in printed and "Exception in ASGI application" in printed
    assert printed.count("sqlalchemy.exc.IntegrityError: (pymysql.err.IntegrityError 1062) [SQL: UPDATE users") == 2
    assert secret not in printed and secret.split()[1] not in printed
