"""CONTRACT §1–2: /health, /ready, /metrics and X-Request-ID."""

from __future__ import annotations

import httpx

from app.core.config import Settings
from app.factory import create_app
from chat_shared.testing.fixtures import asgi_client


async def test_health_is_static(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "healthy", "service": "user-service"}


async def test_ready_reports_every_dependency(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"mysql": "ok", "redis": "ok", "kafka": "ok"}


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = await client.get("/health")
    assert len(generated.headers["x-request-id"]) == 32
    unsafe = await client.get("/health", headers={"X-Request-ID": "bad id\nwith newline"})
    assert unsafe.headers["x-request-id"] != "bad id\nwith newline"


async def test_metrics_label_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/users/12345")  # 401, but counted under its template
    text = (await client.get("/metrics")).text
    assert 'http_requests_total{method="GET",route="/users/{user_id}",service="user-service",status="401"}' in text
    assert "/users/12345" not in text
    assert 'route="/health"' not in text


async def test_errors_are_detail_objects(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/route")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


async def test_probes_answer_before_the_lifespan_has_run(settings: Settings) -> None:
    """Operational routes need no state: /ready runs the checks registered so far (none yet)."""
    async with asgi_client(create_app(settings)) as client:
        assert (await client.get("/health")).status_code == 200
        ready = await client.get("/ready")
        assert ready.status_code == 200 and ready.json()["checks"] == {}
        assert (await client.get("/metrics")).status_code == 200
