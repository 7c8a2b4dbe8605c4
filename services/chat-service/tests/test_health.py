"""CONTRACT §1: /health, /ready (mysql, redis, mongo required; kafka degradable), /metrics."""

from __future__ import annotations

import httpx


async def test_health_is_static(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "healthy", "service": "chat-service"}


async def test_ready_reports_every_dependency(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"mysql": "ok", "redis": "ok", "mongo": "ok", "kafka": "ok", "stream": "ok"}


async def test_metrics_expose_chat_series(client: httpx.AsyncClient) -> None:
    text = (await client.get("/metrics")).text
    for name in (
        "chat_sse_streams_open",
        "chat_sse_streams_opened_total",
        "chat_message_delivery_latency_seconds",
        "chat_sse_replayed_events_total",
        "chat_sse_resets_total",
    ):
        assert name in text
