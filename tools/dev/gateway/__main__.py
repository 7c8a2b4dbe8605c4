"""``python -m tools.dev.gateway``: run the gateway with uvicorn (uvloop + httptools)."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path

from . import __doc__ as package_doc
from .app import Gateway
from .routing import KONG_YML, load_config
from .static import StaticSite


def parse_hosts(items: Iterable[str]) -> dict[str, str]:
    """``["user-service=127.0.0.1:8005"]`` → ``{"user-service": "127.0.0.1:8005"}``."""
    hosts = {}
    for item in items:
        name, sep, target = item.partition("=")
        if not sep or not name or not target:
            raise argparse.ArgumentTypeError(f"--upstream expects NAME=HOST:PORT, got {item!r}")
        hosts[name] = target
    return hosts


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.dev.gateway", description=package_doc.split("\n\n")[0] if package_doc else None
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--kong-yml", type=Path, default=KONG_YML)
    parser.add_argument(
        "--upstream",
        action="append",
        default=[],
        metavar="NAME=HOST:PORT[,HOST:PORT...]",
        help="rewrite a kong.yml upstream host (e.g. user-service=127.0.0.1:8005); several targets are "
        "balanced round robin (chat-service=127.0.0.1:8002,127.0.0.1:8012); repeatable",
    )
    parser.add_argument("--no-rate-limit", action="store_true", help="skip kong.yml's rate-limiting plugins")
    parser.add_argument("--quiet", action="store_true", help="no access log line per request")
    parser.add_argument(
        "--static",
        type=Path,
        metavar="DIR",
        help="serve the built web client (web/dist) at / for GET/HEAD requests outside /api",
    )
    args = parser.parse_args(argv)

    import uvicorn

    app = Gateway(
        load_config(args.kong_yml),
        parse_hosts(args.upstream),
        rate_limit=not args.no_rate_limit,
        log_requests=not args.quiet,
        static=StaticSite(args.static) if args.static else None,
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        server_header=False,
        date_header=False,
        proxy_headers=False,
        log_level="warning",
        timeout_graceful_shutdown=3,
    )


if __name__ == "__main__":
    main()
