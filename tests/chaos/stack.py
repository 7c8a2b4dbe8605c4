"""The system the chaos drill breaks: ``make dev``'s processes with two chat-service processes, on stores the
drill can cut.

- MariaDB (``CHAOS_MYSQL_URL``, default 127.0.0.1:3306): databases of the run's own (a name prefix), dropped
  at the end;
- a redis-server of its own on a free port, with an append-only file synced on every write, so a restart
  keeps what was acknowledged, as a production Redis with AOF does;
- the MongoDB stand-in (tools/dev/mongo_standin.py), which run.py starts: both chat processes share it;
- Tansu, which keeps topics in memory only: restarting it would lose them, so the broker is cut the way a
  network cut does it, by a TCP proxy in front of it (``chat_shared.testing.proxy``) that drops every
  connection and refuses new ones.

The processes are tools/dev/run.py's own (:class:`DevSystem`), so the drill runs what ``make dev`` runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tools/dev is the checkout's, not installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import devstack  # the dev-system helpers tests/e2e uses

from chat_shared.testing.broker import Broker, free_port, wait_for_port
from chat_shared.testing.proxy import TcpProxy
from tools.dev.run import SERVICES, Backends, Console, DevSystem, Ports, ServiceSpec

REPO = Path(__file__).resolve().parents[2]
CHAT = "chat-service"
CHAT_PROCESSES = 2
CHAT_NAMES = (CHAT, f"{CHAT}-2")
MYSQL_URL = os.environ.get("CHAOS_MYSQL_URL", "mysql+aiomysql://root@127.0.0.1:3306")
READY_TIMEOUT_S = 90.0


@dataclass
class RedisServer:
    """A redis-server process of the drill's own, restartable on its port with its data."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        persistence = ["--save", "", "--appendonly", "yes", "--appendfsync", "always"]
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory), *persistence],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port("127.0.0.1", self.port)

    def kill(self) -> None:
        """SIGKILL: no shutdown save; what was acknowledged is in the append-only file already."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def _free_base() -> int:
    """A port base whose gateway, service, second chat process and stand-in ports are all free."""
    offsets = (*devstack.OFFSETS, 12)
    for _ in range(200):
        base = devstack.free_port_base()
        if all(devstack.port_free(base + offset) for offset in offsets):
            return base
    raise RuntimeError("no free block of ports")


@dataclass
class Stack:
    """The running system: the dev processes, the Redis and the broker behind its proxy."""

    work: Path
    log: IO[str]
    redis: RedisServer
    broker: Broker
    proxy: TcpProxy
    system: DevSystem
    start_failures: int = 0  # restarts that exited before they were healthy (and were started again)

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.system.ports.gateway}"

    @property
    def chat_spec(self) -> ServiceSpec:
        return next(s for s in SERVICES if s.name == CHAT)

    def chat_port(self, name: str) -> int:
        return self.system.ports.service(self.chat_spec, CHAT_NAMES.index(name))

    async def kill_chat(self, name: str) -> None:
        """``kill -9`` one chat-service process (its whole process group) and wait for it to be gone."""
        child = self.system.child(name)
        child.expected_exit = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.process.pid, signal.SIGKILL)
        await child.process.wait()

    async def restart_chat(self, name: str) -> None:
        """Start the killed process again and wait until it answers /health; started again each time it
        exits first (as a supervisor does: it may start while a store is away)."""
        url = f"http://127.0.0.1:{self.chat_port(name)}/health"
        deadline = time.monotonic() + READY_TIMEOUT_S
        child = await self.system.respawn(self.system.child(name))
        async with httpx.AsyncClient(trust_env=False, timeout=2.0) as client:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(url)).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} not healthy {READY_TIMEOUT_S:.0f}s after its restart")
                if child.process.returncode is not None:
                    self.start_failures += 1
                    child.expected_exit = True
                    await asyncio.sleep(1.0)
                    child = await self.system.respawn(child)
                await asyncio.sleep(0.1)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time of each running process so far (a restarted one's since its restart), from /proc."""
        ticks = os.sysconf("SC_CLK_TCK")
        pids = {c.name: c.process.pid for c in self.system.children if c.process.returncode is None}
        if self.redis.process is not None:
            pids["redis"] = self.redis.process.pid
        out: dict[str, float] = {}
        for name, pid in pids.items():
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                out[name] = round((int(fields[11]) + int(fields[12])) / ticks, 1)
        return out

    def cut_broker(self) -> None:
        self.proxy.cut()

    def restore_broker(self) -> None:
        self.proxy.restore()


async def start(work: Path) -> Stack:
    """Start everything and wait until every process answers."""
    log = (work / "processes.log").open("w")
    redis = RedisServer(work / "redis")
    redis.directory.mkdir()
    redis.start()
    proxy_port = free_port()
    broker = Broker(advertised_port=proxy_port).start()
    proxy = TcpProxy(proxy_port, broker.port).start()
    # Tansu has no idempotent producer and does not long-poll (as run.py sets for its own broker).
    os.environ.update(
        KAFKA_ENABLE_IDEMPOTENCE="false", KAFKA_FETCH_MAX_WAIT_MS="5", KAFKA_REPLICA_FETCH_MAX_WAIT_MS="50"
    )
    prefix = f"chaos_{uuid.uuid4().hex[:8]}"
    backends = Backends(
        work / "data",
        mysql_url=MYSQL_URL,
        redis_url=redis.url,
        mongo_url=None,
        kafka_bootstrap=broker.bootstrap,
        mysql_prefix=prefix,
    )
    system = DevSystem(
        Ports(_free_base()),
        backends,
        Console(raw=True, stream=log),
        kong_yml=devstack.KONG_TEST_YML,
        chat_processes=CHAT_PROCESSES,
    )
    stack = Stack(work, log, redis, broker, proxy, system)
    try:
        await system.start()
        await system.wait_ready(time.monotonic() + READY_TIMEOUT_S)
    except BaseException:
        await stop(stack)
        raise
    return stack


async def stop(stack: Stack, keep_log: Path | None = None) -> None:
    """Stop every process and drop the run's databases; the processes' log is copied to ``keep_log``."""
    await stack.system.stop()
    stack.proxy.close()
    stack.broker.stop()
    stack.redis.kill()
    stack.log.close()
    if keep_log is not None:
        keep_log.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(stack.work / "processes.log", keep_log)
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(MYSQL_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for spec in SERVICES:
                await conn.execute(text(f"DROP DATABASE IF EXISTS `{stack.system.backends.mysql_database(spec)}`"))
    finally:
        await engine.dispose()
