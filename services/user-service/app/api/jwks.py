"""``/.well-known/jwks.json``: the public keys other services verify access tokens with."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from app.core.state import StateDep

router = APIRouter(tags=["keys"])


@router.get("/.well-known/jwks.json")
async def jwks(state: StateDep, response: Response) -> dict[str, list[dict[str, Any]]]:
    """Current and previous public keys (internal: not routed by the gateway)."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return state.keys.jwks()
