"""Black-box end-to-end tests through the public entry point only (the gateway), with httpx.

``E2E_BASE_URL`` (e.g. ``http://localhost`` for the compose stack) selects a running system; without it the
session starts ``tools/dev/run.py`` on free ports with a fresh data folder and stops it at the end.
Tests that need friend-service or chat-service skip, saying so, while that service has no ``main.py``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from e2e_helpers import Api

REPO = Path(__file__).resolve().parents[2]
RUN_PY = REPO / "tools/dev/run.py"
# The relaxed-rate-limit twin of kong.yml the compose e2e stack uses: a suite sends many requests a minute.
KONG_TEST_YML = REPO / "infrastructure/docker/kong/kong.test.yml"
OFFSETS = (0, 2, 3, 5, 92)  # gateway, chat, friend, user, broker (tools/dev/run.py)
START_TIMEOUT_S = 90.0


def service_present(name: str) -> bool:
    directory = REPO / "services" / name
    return (directory / "main.py").is_file() and (directory / "app" / "factory.py").is_file()


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port_base() -> int:
    for _ in range(200):
        base = random.randrange(20000, 60000, 100)
        if all(_free(base + offset) for offset in OFFSETS):
            return base
    raise RuntimeError("no free block of ports for the dev system")


@pytest.fixture(scope="session")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The gateway's URL: ``E2E_BASE_URL``, or a dev system started for this session."""
    if given := os.environ.get("E2E_BASE_URL"):
        yield given.rstrip("/")
        return
    data = tmp_path_factory.mktemp("dev-data")
    log_path = data.parent / "run.log"
    base = _free_port_base()
    kong = KONG_TEST_YML if KONG_TEST_YML.is_file() else REPO / "infrastructure/docker/kong/kong.yml"
    backends = ("MYSQL_URL", "REDIS_URL", "MONGO_URL", "KAFKA_BOOTSTRAP")
    env = {k: v for k, v in os.environ.items() if k not in backends}
    # Embedded stores unless asked: E2E_MYSQL_URL=mysql+aiomysql://root@127.0.0.1:3306 E2E_REDIS_URL=... run the
    # same journey on real servers (make test does both).
    env.update({k: os.environ[f"E2E_{k}"] for k in backends if os.environ.get(f"E2E_{k}")})
    env["NO_COLOR"] = "1"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, str(RUN_PY), "--port-base", str(base), "--data-dir", str(data), "--kong-yml", str(kong)],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (data / "dev.json").is_file():
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text()[-4000:]
                pytest.fail(f"tools/dev/run.py did not become ready (exit {process.poll()}):\n{tail}")
            time.sleep(0.1)
        yield json.loads((data / "dev.json").read_text())["gateway"]
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture(scope="session")
async def api(base_url: str) -> AsyncIterator[Api]:
    """One pooled client for the whole session."""
    async with httpx.AsyncClient(base_url=base_url, timeout=15.0, trust_env=False) as client:
        yield Api(client)


@pytest.fixture
def needs_friends() -> None:
    if not service_present("friend-service"):
        pytest.skip("friend-service has no main.py / app/factory.py yet")


@pytest.fixture
def needs_chat(needs_friends: None) -> None:
    if not service_present("chat-service"):
        pytest.skip("chat-service has no main.py / app/factory.py yet")
