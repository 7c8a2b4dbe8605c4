"""``/health`` (liveness), ``/ready`` (readiness, CONTRACT §1) and ``/metrics``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from chat_shared import metrics
from chat_shared.responses import RETRY_AFTER

Check = Callable[[], Awaitable[Any]]

#: Dependencies whose absence is reported but does not take the service out of rotation: the outbox
#: keeps accepting writes while the broker is away.
DEGRADABLE = frozenset({"kafka"})


class Readiness:
    """Named checks run by ``/ready``; each raises (or times out) when its dependency is down."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.checks: dict[str, Check] = {}

    def add(self, name: str, check: Check) -> None:
        """Register a check under a dependency name (``mysql``, ``redis``, ``mongo``, ``kafka``)."""
        self.checks[name] = check

    async def run(self) -> tuple[bool, dict[str, str]]:
        """(ready, {dependency: "ok" | "unavailable" | "degraded"})."""

        async def one(name: str, check: Check) -> tuple[str, bool]:
            try:
                ok = await asyncio.wait_for(check(), timeout=2.0)
                return name, ok is not False
            except Exception:
                return name, False

        results = await asyncio.gather(*(one(n, c) for n, c in self.checks.items()))
        report: dict[str, str] = {}
        ready = True
        for name, ok in results:
            metrics.DEPENDENCY_UP.labels(self.service, name).set(1 if ok else 0)
            if ok:
                report[name] = "ok"
            elif name in DEGRADABLE:
                report[name] = "degraded"
            else:
                report[name] = "unavailable"
                ready = False
        return ready, report


class HealthOut(BaseModel):
    """``/health``: the process runs."""

    status: Literal["healthy"]
    service: str


class ReadyOut(BaseModel):
    """``/ready``: each dependency's state (``ok``, ``degraded`` or ``unavailable``)."""

    status: Literal["ready"]
    service: str
    checks: dict[str, str]


class NotReadyOut(BaseModel):
    """``/ready`` while a dependency the service cannot work without is down."""

    detail: str
    status: Literal["not_ready"]
    service: str
    checks: dict[str, str]


def health_router(readiness: Readiness) -> APIRouter:
    """The three operational routes; not routed by the gateway.

    ``/ready`` runs the checks registered so far, so it answers before the lifespan has registered any.
    """
    service = readiness.service
    router = APIRouter(tags=["operations"])

    @router.get("/health", summary="Liveness (no dependency checks)")
    async def health() -> HealthOut:
        return HealthOut(status="healthy", service=service)

    @router.get(
        "/ready",
        summary="Readiness: 503 naming the dependency that is down",
        response_model=ReadyOut,
        responses={503: {"model": NotReadyOut, "description": "A dependency is down", "headers": RETRY_AFTER}},
    )
    async def ready() -> JSONResponse:
        ok, report = await readiness.run()
        if ok:
            return JSONResponse({"status": "ready", "service": service, "checks": report})
        down = ", ".join(n for n, v in report.items() if v == "unavailable")
        return JSONResponse(
            {"detail": f"not ready: {down} unavailable", "status": "not_ready", "service": service, "checks": report},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        body, content_type = metrics.render_metrics()
        return Response(body, media_type=content_type)

    return router


def install_operations(app: FastAPI, readiness: Readiness) -> None:
    """Mount the operational routes; the lifespan fills ``readiness`` (see :class:`chat_shared.runtime.Runtime`)."""
    app.include_router(health_router(readiness))
