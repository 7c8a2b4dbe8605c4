"""The embedded S3-compatible store of ``make dev`` and the tests: moto's server, holding presigned URLs
to what a real store enforces.

moto serves S3's API faithfully but accepts a presigned URL without checking it. In front of it sits
:class:`PresignedCheck`, a small WSGI layer that does what S3, MinIO and every other real store do with a
query-signed request: refuse it once ``X-Amz-Date + X-Amz-Expires`` has passed (``AccessDenied``, "Request
has expired") and refuse it when its signature — over the method, path, query and the signed headers
(``Content-Type`` and ``Content-Length`` for an upload) — does not match (``SignatureDoesNotMatch``).
Requests the services make with an ``Authorization`` header go through unchecked. moto keeps objects in
memory only: a restart of the store empties the bucket.

As a pytest plugin (``pytest_plugins = ["chat_shared.testing.s3"]``) it gives a session-wide store,
:func:`s3_server`; as a program (``python -m chat_shared.testing.s3 --port 8019 --bucket NAME``) it runs
the store of ``make dev``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

import pytest
from werkzeug.serving import BaseWSGIServer, make_server

ACCESS_KEY = "embedded-access-key"
SECRET_KEY = "embedded-secret-key"
REGION = "us-east-1"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _error(start_response: Callable[..., Any], code: str, message: str) -> list[bytes]:
    body = f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
    start_response("403 Forbidden", [("Content-Type", "application/xml")])
    return [body.encode()]


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


@dataclass
class PresignedCheck:
    """WSGI middleware refusing expired or tampered presigned requests (see the module's docstring)."""

    app: WsgiApp
    secrets: dict[str, str]
    #: Seconds since the epoch; a test moves it to expire URLs without waiting.
    clock: Callable[[], float] = time.time

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        raw_query = str(environ.get("QUERY_STRING", ""))
        if "X-Amz-Signature=" not in raw_query:
            return self.app(environ, start_response)
        params: dict[str, str] = {}
        for part in raw_query.split("&"):
            name, _, value = part.partition("=")
            params[unquote(name)] = unquote(value)
        try:
            signed_at = datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            expires = int(params["X-Amz-Expires"])
            access_key, scope = params["X-Amz-Credential"].split("/", 1)
            signed_headers = params["X-Amz-SignedHeaders"]
            signature = params["X-Amz-Signature"]
        except (KeyError, ValueError):
            return _error(start_response, "AuthorizationQueryParametersError", "Malformed presigned request")
        if self.clock() > signed_at.timestamp() + expires:
            return _error(start_response, "AccessDenied", "Request has expired")
        secret = self.secrets.get(access_key)
        if secret is None:
            return _error(start_response, "InvalidAccessKeyId", "The access key does not exist")
        if not hmac.compare_digest(signature, self._signature(environ, params, scope, signed_headers, secret)):
            return _error(start_response, "SignatureDoesNotMatch", "The request signature does not match")
        return self.app(environ, start_response)

    @staticmethod
    def _signature(environ: dict[str, Any], params: dict[str, str], scope: str, signed: str, secret: str) -> str:
        query = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(params.items()) if k != "X-Amz-Signature")
        headers = []
        for name in signed.split(";"):
            match name:
                case "host":
                    value = environ.get("HTTP_HOST", "")
                case "content-type":
                    value = environ.get("CONTENT_TYPE", "")
                case "content-length":
                    value = environ.get("CONTENT_LENGTH", "")
                case _:
                    value = environ.get("HTTP_" + name.upper().replace("-", "_"), "")
            headers.append(f"{name}:{' '.join(str(value).split())}\n")
        path = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")).split("?")[0]
        canonical = "\n".join([environ["REQUEST_METHOD"], path, query, "".join(headers), signed, "UNSIGNED-PAYLOAD"])
        date = params["X-Amz-Date"]
        to_sign = "\n".join(["AWS4-HMAC-SHA256", date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        key = ("AWS4" + secret).encode()
        for part in scope.split("/"):  # date, region, service, "aws4_request"
            key = _hmac(key, part)
        return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


@dataclass
class S3Server:
    """moto's S3 behind :class:`PresignedCheck`, served from a thread of this process."""

    host: str = "127.0.0.1"
    port: int = 0
    clock: Callable[[], float] = time.time
    _server: BaseWSGIServer | None = field(default=None, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    check: PresignedCheck | None = field(default=None, init=False)

    def start(self) -> S3Server:
        from moto.server import DomainDispatcherApplication, create_backend_app

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request drowns the test output

        moto = DomainDispatcherApplication(create_backend_app)
        self.check = PresignedCheck(moto, {ACCESS_KEY: SECRET_KEY}, self.clock)
        self._server = make_server(self.host, self.port, self.check, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="s3-server", daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://{self.host}:{self._server.server_port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


@dataclass
class SettableClock:
    """Wall-clock time plus an offset a test sets (the store's idea of now)."""

    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture(scope="session")
def s3_clock() -> SettableClock:
    """The embedded store's clock: ``s3_clock.offset = 3600`` makes every URL an hour older."""
    return SettableClock()


@pytest.fixture(scope="session")
def s3_server(s3_clock: SettableClock) -> Iterator[S3Server]:
    """One embedded store for the test session."""
    server = S3Server(clock=s3_clock).start()
    try:
        yield server
    finally:
        server.stop()


def store_settings(server: S3Server, bucket: str) -> dict[str, Any]:
    """The settings that point a service at the embedded store, with its own bucket created at start-up."""
    return {
        "s3_endpoint_url": server.url,
        "s3_bucket": bucket,
        "s3_access_key_id": ACCESS_KEY,
        "s3_secret_access_key": SECRET_KEY,
        "s3_region": REGION,
        "s3_addressing_style": "path",
        "s3_create_bucket": True,
    }


def main() -> None:
    """Run the embedded store until interrupted (``make dev``), creating the bucket first."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8019)
    parser.add_argument("--bucket", action="append", default=[])
    args = parser.parse_args()
    server = S3Server(args.host, args.port).start()
    import botocore.session

    client = botocore.session.get_session().create_client(
        "s3",
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    for bucket in args.bucket:
        client.create_bucket(Bucket=bucket)
    print(f"s3 ready on {server.url} buckets={','.join(args.bucket)}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
