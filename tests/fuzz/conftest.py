"""The fuzz suite's fixtures: the services running on real stores for the session."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stack as services


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.Stack]:
    with services.running(tmp_path_factory.mktemp("fuzz-services")) as running:
        yield running
