"""The three services as real uvicorn processes on real stores, for the fuzz suite.

Each service gets a fresh MariaDB database of its own (migrated on start), a Redis database (:func:`redis`),
one broker (``KAFKA_BOOTSTRAP``, else a Tansu started here) and chat-service MongoDB at ``MONGO_URL`` or
mongomock. The services talk to each other as deployed: friend-service and chat-service verify tokens with
user-service's JWKS and learn users and friendships from its events.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from chat_shared.testing import databases
from chat_shared.testing.broker import Broker, free_port
from chat_shared.testing.fixtures import DEFAULT_REDIS, flush_redis
from chat_shared.testing.s3 import S3Server, store_settings

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("user-service", "friend-service", "chat-service", "notification-service")
START_TIMEOUT_S = 90.0


@dataclass
class Service:
    """One running service: its base URL and where its log goes."""

    name: str
    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def log_tail(self, chars: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


@dataclass
class Stack:
    """The running services by name."""

    services: dict[str, Service]

    def url(self, name: str) -> str:
        return self.services[name].url


def _wait_healthy(service: Service, timeout: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            break
        try:
            if httpx.get(f"{service.url}/ready", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{service.name} did not become ready:\n{service.log_tail()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def redis() -> str:
    """``FUZZ_REDIS_URL``, else logical db 8 of ``TEST_REDIS_URL``'s server (one no other suite uses)."""
    if given := os.environ.get("FUZZ_REDIS_URL"):
        return given
    return urlsplit(os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS))._replace(path="/8").geturl()


@contextmanager
def _database(prefix: str) -> Iterator[str]:
    url = asyncio.run(databases.create_database(prefix))
    try:
        yield url
    finally:
        asyncio.run(databases.drop_database(url))


@contextmanager
def _broker() -> Iterator[str]:
    if env := os.environ.get("KAFKA_BOOTSTRAP"):
        yield env
        return
    broker = Broker().start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@contextmanager
def running(workdir: Path) -> Iterator[Stack]:
    """Start every service, wait until each is ready, stop them all at the end."""
    redis_url = redis()
    asyncio.run(flush_redis(redis_url))
    ports = {name: free_port() for name in SERVICES}
    user_url = f"http://127.0.0.1:{ports['user-service']}"
    uvicorn = Path(sys.executable).with_name("uvicorn")
    with ExitStack() as stack:
        bootstrap = stack.enter_context(_broker())
        store = S3Server().start()
        stack.callback(store.stop)
        store_env = {k.upper(): str(v) for k, v in store_settings(store, "fuzz").items()}
        started: dict[str, Service] = {}
        for name in SERVICES:
            database = stack.enter_context(_database(f"fuzz_{name.split('-')[0]}"))
            env = {
                **os.environ,
                "ENVIRONMENT": "test",
                "LOG_LEVEL": "WARNING",
                "RUN_MIGRATIONS_ON_START": "true",
                "DATABASE_URL": database,
                "REDIS_URL": redis_url,
                "MONGO_URL": os.environ.get("MONGO_URL") or "mongomock://",
                "KAFKA_BOOTSTRAP": bootstrap,
                "KAFKA_ENABLE_IDEMPOTENCE": "false" if "KAFKA_BOOTSTRAP" not in os.environ else "true",
                "KAFKA_FETCH_MAX_WAIT_MS": os.environ.get("KAFKA_FETCH_MAX_WAIT_MS", "5"),
                "JWKS_URL": f"{user_url}/.well-known/jwks.json",
                "USER_SERVICE_URL": user_url,
                "DEV_KEY_FILE": str(workdir / "user-service-jwt.pem"),
                **store_env,
            }
            log = workdir / f"{name}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [str(uvicorn), "main:app", "--host", "127.0.0.1", "--port", str(ports[name]), "--no-access-log"],
                    cwd=REPO / "services" / name,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            stack.callback(_stop, process)
            service = Service(name, f"http://127.0.0.1:{ports[name]}", log, process)
            started[name] = service
            if name == "user-service":  # the others fetch its JWKS and call it for unknown users
                _wait_healthy(service)
        for service in started.values():
            _wait_healthy(service)
        yield Stack(started)
