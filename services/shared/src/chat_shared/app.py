"""The common part of every service's ``create_app``: logging, middleware, errors, operations."""

from __future__ import annotations

from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from chat_shared.errors import install_error_handlers
from chat_shared.health import Readiness, install_operations
from chat_shared.logging import configure_logging
from chat_shared.middleware import RequestContextMiddleware
from chat_shared.settings import ServiceSettings


def install_common(app: FastAPI, settings: ServiceSettings, readiness: Readiness) -> None:
    """Wire JSON logs, forwarded client addresses, request context + metrics middleware, error rendering and
    ``/health|/ready|/metrics`` (``/ready`` runs the checks the lifespan registers in ``readiness``)."""
    configure_logging(settings.service_name, settings.log_level)
    app.add_middleware(RequestContextMiddleware, service=settings.service_name)
    # Outermost, so every layer and log line sees the client the gateway reports, never one a client made up.
    # Done here rather than by the server, so it holds however the app is served.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips)
    install_error_handlers(app)
    install_operations(app, readiness)
