"""The one classifier of store failures (chat_shared.transient) and what a request answers on one."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import errors as kafka
from pymongo import errors as mongo
from redis import exceptions as redis_errors
from sqlalchemy import exc as sql

from app.core.state import State
from app.factory import create_app
from chat_shared.testing.fixtures import asgi_client, started_app
from chat_shared.testing.redis_server import RedisServer
from chat_shared.transient import is_transient

from .conftest import auth_headers

TRANSIENT = [
    sql.OperationalError("SELECT 1", {}, Exception("(2013, 'Lost connection to MySQL server during query')")),
    sql.OperationalError("UPDATE t", {}, Exception("(1213, 'Deadlock found when trying to get lock')")),
    sql.DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True),
    sql.TimeoutError("QueuePool limit reached"),
    redis_errors.ConnectionError("Error 111 connecting"),
    redis_errors.TimeoutError("Timeout reading from socket"),
    redis_errors.BusyLoadingError("Redis is loading the dataset in memory"),
    redis_errors.OutOfMemoryError("command not allowed when used memory > 'maxmemory'"),
    mongo.AutoReconnect("connection closed"),
    mongo.NetworkTimeout("timed out"),
    mongo.ServerSelectionTimeoutError("no servers"),
    kafka.KafkaConnectionError("no broker"),
    kafka.KafkaTimeoutError(),
    kafka.RequestTimedOutError(),
    ConnectionResetError("reset by peer"),
]
PERMANENT = [
    ValueError("cannot apply this one"),
    sql.IntegrityError("INSERT", {}, Exception("(1062, 'Duplicate entry')")),
    sql.DBAPIError("SELECT 1", {}, Exception("bad"), connection_invalidated=False),
    redis_errors.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
    mongo.DuplicateKeyError("E11000"),
    kafka.KafkaError("unknown"),
]


@pytest.mark.parametrize("exc", TRANSIENT, ids=lambda e: type(e).__name__)
def test_store_away_busy_or_full_is_transient(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize("exc", PERMANENT, ids=lambda e: type(e).__name__)
def test_everything_else_is_permanent(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_a_wrapped_store_error_is_transient() -> None:
    outer = RuntimeError("fan-out failed")
    outer.__cause__ = redis_errors.ConnectionError("refused")
    assert is_transient(outer)


async def test_a_request_whose_store_is_away_answers_503_with_retry_after(make_settings: Any) -> None:
    with RedisServer() as server:
        async for app in started_app(create_app(make_settings(redis_url=server.url())), State):
            async with asgi_client(app) as client:
                _, headers = await auth_headers(client)
                assert (await client.post("/presence/heartbeat", headers=headers)).status_code == 200
                server.stop()
                response = await client.post("/presence/heartbeat", headers=headers)
                assert response.status_code == 503, response.text
                assert response.headers["retry-after"] == "1"
                server.start()
                assert (await client.post("/presence/heartbeat", headers=headers)).status_code == 200
