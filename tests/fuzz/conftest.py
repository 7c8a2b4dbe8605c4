"""The fuzz suite's fixtures: the services running on real stores for the session."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stack as services
import world as worlds


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.Stack]:
    with services.running(tmp_path_factory.mktemp("fuzz-services")) as running:
        yield running


@pytest.fixture(scope="session")
def world(stack: services.Stack) -> dict[str, worlds.World]:
    """A world of its own per service, all built before any fuzzing: the fuzzer's failed logins would
    otherwise get the next world's sign-ins throttled."""
    return {name: worlds.build(stack) for name in services.SERVICES}
