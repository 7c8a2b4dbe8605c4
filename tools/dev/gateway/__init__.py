"""The no-Docker gateway: routes ``/api/*`` the way Kong does, by reading Kong's own declarative file.

``infrastructure/docker/kong/kong.yml`` is the single source of the routing table: :mod:`.routing` reads its
``services[].url`` and ``routes[].paths`` / ``strip_path`` and the plugins the gateway mirrors
(:mod:`.plugins`: correlation-id, cors, request-size-limiting, rate-limiting), so the compose stack and
``make dev`` cannot disagree. :mod:`.proxy` forwards a request and streams the answer back (SSE included);
:mod:`.app` is the ASGI application applying them in Kong's order.

    python -m tools.dev.gateway --port 8000 --upstream user-service=127.0.0.1:8005 ...

Kong semantics reproduced (Kong 3.x, ``path_handling: v0``, plain prefix paths):
- the request path is normalised first (percent-escapes of unreserved characters decoded, dot segments
  resolved, repeated slashes merged), then the longest matching route prefix wins (a plain string prefix,
  as in Kong: ``/api/streamx`` matches ``/api/stream``);
- ``strip_path`` removes the matched prefix and joins the rest to the service path exactly as
  ``kong/router/utils.lua:get_upstream_uri_v0`` does;
- plugins on a route replace the global plugin of the same name (route > service > global);
- no route → 404 and no plugin runs, so ``/api/health`` and ``/.well-known/jwks.json`` are never proxied.
Differences: error bodies are ``{"detail": ...}`` (CONTRACT §2) where Kong says ``{"message": ...}``;
no prometheus plugin (each service serves its own ``/metrics``).

Importing this package starts nothing: ``tests/config`` and ``tests/gateway`` use :mod:`.routing` as the
one reading of kong.yml.
"""
