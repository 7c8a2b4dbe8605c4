"""The observability suite runs against ``make dev`` (tools/dev/run.py) started for the session.

``stack`` starts the whole system on free ports with a fresh data folder and ``--raw-logs`` (the services'
JSON lines exactly as printed, each prefixed by run.py with its source name) into a log file;
``startup`` scrapes every service's ``/metrics`` before any traffic; ``journey`` drives the traffic once
(tests/observability/obs_support.py) and the tests read what it left in metrics and logs.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from obs_support import Journey, run_journey

from chat_shared.testing.metrics import Scrape, scrape

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))  # the launcher shared with tests/e2e
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "config"))  # the metric catalogue
import devstack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[devstack.DevStack]:
    try:
        running = devstack.start(tmp_path_factory.mktemp("obs-dev-data"), extra_args=["--raw-logs"])
    except devstack.DevStackError as exc:
        pytest.fail(str(exc))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=15.0, trust_env=False) as client:
        yield client


@pytest.fixture(scope="session")
async def startup(stack: devstack.DevStack, http: httpx.AsyncClient) -> dict[str, Scrape]:
    """Every service's ``/metrics`` right after start-up, before any request but these scrapes."""
    return {name: await scrape(http, f"{url}/metrics") for name, url in stack.services.items()}


@pytest.fixture(scope="session")
async def journey(stack: devstack.DevStack, startup: dict[str, Scrape]) -> Journey:
    async with httpx.AsyncClient(base_url=stack.gateway, timeout=15.0, trust_env=False) as client:
        return await run_journey(client)
