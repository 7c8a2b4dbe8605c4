"""The common part of every service's ``create_app``: logging, middleware, errors, operations."""

from __future__ import annotations

from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from chat_shared.errors import install_error_handlers
from chat_shared.health import Readiness, install_operations
from chat_shared.logging import configure_logging
from chat_shared.middleware import BodyLimitMiddleware, RequestContextMiddleware
from chat_shared.settings import ServiceSettings

#: The largest request body a service reads, the gateway's limit too: a larger one is a 413 before any route
#: runs, so the limit holds on a service's own port as well.
MAX_BODY_BYTES = 1024 * 1024


def install_common(app: FastAPI, settings: ServiceSettings, readiness: Readiness) -> None:
    """Wire JSON logs, forwarded client addresses, request context + metrics middleware, the body size limit,
    error rendering and ``/health|/ready|/metrics`` (``/ready`` runs the checks the lifespan registers in
    ``readiness``)."""
    configure_logging(settings.service_name, settings.log_level)
    app.add_middleware(BodyLimitMiddleware, limit=MAX_BODY_BYTES)
    app.add_middleware(RequestContextMiddleware, service=settings.service_name)
    # Outermost, so every layer and log line sees the client the gateway reports, never one a client made up.
    # Done here rather than by the server, so it holds however the app is served.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips)
    install_error_handlers(app)
    install_operations(app, readiness)
