"""docs/contract.md's route and body tables are what the services' OpenAPI documents say.

The tables are written by tools/docs/api_tables.py; a route, a parameter or a body field added, removed or
changed in a service without re-running it fails here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_generator() -> ModuleType:
    """tools/docs/api_tables.py, imported by path (tools/docs is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("api_tables", REPO / "tools/docs/api_tables.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("api_tables", module)
    spec.loader.exec_module(module)
    return module


api_tables = load_generator()


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    return api_tables.build_openapi()


def test_committed_tables_match_the_openapi_documents(documents: dict[str, dict[str, Any]]) -> None:
    committed = api_tables.CONTRACT.read_text()
    assert committed == api_tables.fill(committed, documents), (
        "docs/contract.md is stale: run uv run python tools/docs/api_tables.py"
    )


def test_every_public_route_has_a_row(documents: dict[str, dict[str, Any]]) -> None:
    text = api_tables.CONTRACT.read_text()
    for service, document in documents.items():
        for method, path, _ in api_tables.operations(document):
            assert f"`{method.upper()} /api{path}`" in text, f"{service}: {method.upper()} {path} has no row"


def test_a_missing_block_is_an_error(documents: dict[str, dict[str, Any]]) -> None:
    with pytest.raises(ValueError, match="generated:routes:user-service"):
        api_tables.fill("no tables here", {"user-service": documents["user-service"]})
