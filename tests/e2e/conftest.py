"""Black-box end-to-end tests through the public entry point only (the gateway), with httpx.

``E2E_BASE_URL`` (e.g. ``http://localhost`` for the compose stack) selects a running system; without it the
session starts ``tools/dev/run.py`` on free ports with a fresh data folder and stops it at the end.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from e2e_helpers import Api

# The dev-system launcher shared with tests/observability.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import devstack


@pytest.fixture(scope="session")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The gateway's URL: ``E2E_BASE_URL``, or a dev system started for this session."""
    if given := os.environ.get("E2E_BASE_URL"):
        yield given.rstrip("/")
        return
    # Embedded stores unless asked: E2E_MYSQL_URL=mysql+aiomysql://root@127.0.0.1:3306 E2E_REDIS_URL=... run the
    # same journey on real servers (make test does both).
    backends = {k: os.environ[f"E2E_{k}"] for k in devstack.BACKENDS if os.environ.get(f"E2E_{k}")}
    try:
        stack = devstack.start(tmp_path_factory.mktemp("dev-data"), backends=backends)
    except devstack.DevStackError as exc:
        pytest.fail(str(exc))
    try:
        yield stack.gateway
    finally:
        stack.stop()


@pytest.fixture(scope="session")
async def api(base_url: str) -> AsyncIterator[Api]:
    """One pooled client for the whole session."""
    async with httpx.AsyncClient(base_url=base_url, timeout=15.0, trust_env=False) as client:
        yield Api(client)
