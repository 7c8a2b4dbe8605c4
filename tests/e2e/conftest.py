"""Black-box end-to-end tests through the public entry point only (the gateway), with httpx.

``E2E_BASE_URL`` (e.g. ``http://localhost`` for the compose stack) selects a running system; without it the
session starts ``tools/dev/run.py`` on free ports with a fresh data folder and stops it at the end.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from e2e_helpers import Api

# The dev-system launcher shared with tests/observability.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import devstack


@pytest.fixture(scope="session")
def dev_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[devstack.DevStack | None]:
    """The dev system started for this session, or None when ``E2E_BASE_URL`` names a running system."""
    if os.environ.get("E2E_BASE_URL"):
        yield None
        return
    # Embedded stores unless asked: E2E_MYSQL_URL=mysql+aiomysql://root@127.0.0.1:3306 E2E_REDIS_URL=... run the
    # same journey on real servers (make test does both).
    backends = {k: os.environ[f"E2E_{k}"] for k in devstack.BACKENDS if os.environ.get(f"E2E_{k}")}
    if "MYSQL_URL" in backends:
        # Databases of this run only: never a developer's make dev data, never another run's schema.
        backends["MYSQL_DATABASE_PREFIX"] = f"e2e_{uuid.uuid4().hex[:10]}"
    try:
        stack = devstack.start(tmp_path_factory.mktemp("dev-data"), backends=backends)
    except devstack.DevStackError as exc:
        pytest.fail(str(exc))
    try:
        yield stack
    finally:
        stack.stop()
        if "MYSQL_URL" in backends:
            devstack.drop_mysql_databases(backends["MYSQL_URL"], backends["MYSQL_DATABASE_PREFIX"])


@pytest.fixture(scope="session")
def base_url(dev_stack: devstack.DevStack | None) -> str:
    """The gateway's URL: ``E2E_BASE_URL``, or the dev system started for this session."""
    return dev_stack.gateway if dev_stack is not None else os.environ["E2E_BASE_URL"].rstrip("/")


@pytest.fixture(scope="session")
async def api(base_url: str) -> AsyncIterator[Api]:
    """One pooled client for the whole session."""
    async with httpx.AsyncClient(base_url=base_url, timeout=15.0, trust_env=False) as client:
        yield Api(client)
