"""tools/dev/gateway serving the built web client beside /api (as nginx does in the compose stages)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tools/dev is the checkout's, not installed
from tools.dev.gateway.app import Gateway
from tools.dev.gateway.routing import load_config
from tools.dev.gateway.static import StaticSite

KONG = {
    "_format_version": "3.0",
    "services": [
        {
            "name": "svc",
            "url": "http://127.0.0.1:9/svc",
            "routes": [{"name": "svc", "paths": ["/api/svc"], "strip_path": True}],
        }
    ],
}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    site = tmp_path / "dist"
    (site / "assets").mkdir(parents=True)
    (site / "index.html").write_text("<!doctype html><title>chat</title>")
    (site / "assets" / "index-abc123.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("outside the site")
    kong = tmp_path / "kong.yml"
    kong.write_text(yaml.safe_dump(KONG))
    app = Gateway(load_config(kong), {}, log_requests=False, static=StaticSite(site))
    app.open()
    transport = httpx.ASGITransport(app=cast(Any, app))  # the gateway types ASGI dicts, httpx mappings
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
        yield c
    await app.close()


async def test_index_is_served_and_revalidated(client: httpx.AsyncClient) -> None:
    r = await client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-cache"
    assert "<title>chat</title>" in r.text


async def test_hashed_assets_are_immutable(client: httpx.AsyncClient) -> None:
    r = await client.get("/assets/index-abc123.js")
    assert r.status_code == 200
    assert "immutable" in r.headers["cache-control"]
    again = await client.get("/assets/index-abc123.js", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("path", ["/api/nothing", "/api", "/apix/../api/none"])
async def test_api_paths_stay_kongs(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.status_code == 404
    assert r.json() == {"detail": "no Route matched with those values"}


async def test_only_reads_and_only_inside_the_folder(client: httpx.AsyncClient) -> None:
    assert (await client.post("/", content=b"x")).status_code == 404
    assert (await client.get("/missing.js")).status_code == 404
    escaped = await client.get("/%2e%2e/secret.txt")
    assert escaped.status_code == 404
    assert "outside" not in escaped.text
