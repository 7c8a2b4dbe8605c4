"""S5 — idle SSE streams on one chat-service worker: RSS per stream and heartbeat CPU.

    uv run --frozen python tests/load/chat_s5_idle_streams.py [--streams 2000] [--heartbeat 15] [--hold 30]

Starts a scratch MariaDB database (migrated), and chat-service under uvicorn (1 worker, uvloop + httptools,
Redis db 12, no broker needed: idle streams touch neither Kafka nor Mongo). Opens N authenticated streams
(one user each, raw asyncio sockets so the client costs little), waits for each ``: connected``, then reads
the server's RSS growth per stream and its CPU time over ``--hold`` seconds of heartbeats.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHAT_DIR = ROOT / "services" / "chat-service"
sys.path.insert(0, str(ROOT / "services" / "shared" / "src"))
sys.path.insert(0, str(CHAT_DIR))  # alembic env imports the service package

from chat_shared.testing import databases  # noqa: E402
from chat_shared.testing.broker import free_port, wait_for_port  # noqa: E402
from chat_shared.testing.tokens import TestKeys  # noqa: E402


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def open_stream(port: int, token: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /stream HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    await asyncio.wait_for(reader.readuntil(b": connected\n\n"), 30)
    return reader, writer


async def drain(reader: asyncio.StreamReader, pings: list[int]) -> None:
    while chunk := await reader.read(4096):
        pings[0] += chunk.count(b": ping")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--heartbeat", type=float, default=15.0)
    parser.add_argument("--hold", type=float, default=30.0)
    args = parser.parse_args()

    keys = TestKeys()
    url = await databases.create_database("bench_chat")
    await asyncio.to_thread(databases.migrate, CHAT_DIR, url)
    port = free_port()
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": url,
        "REDIS_URL": "redis://127.0.0.1:6379/12",
        "KAFKA_BOOTSTRAP": "127.0.0.1:1",
        "MONGO_URL": "mongomock://",
        "JWT_PUBLIC_KEY": keys.public_pem,
        "JWT_PUBLIC_KEY_ID": keys.kid,
        "SSE_HEARTBEAT_S": str(args.heartbeat),
        "LOG_LEVEL": "ERROR",
    }
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/uvicorn"),
            "main:app",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=CHAT_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await asyncio.to_thread(wait_for_port, "127.0.0.1", port, 120)
        tokens = [keys.token(10_000_000 + i) for i in range(args.streams + 50)]
        warm = [await open_stream(port, t) for t in tokens[:50]]  # warm-up: imports, pools, first allocations
        time.sleep(1)
        base = rss_kib(server.pid)
        streams = []
        for i in range(0, args.streams, 100):
            streams += await asyncio.gather(
                *(open_stream(port, t) for t in tokens[50 + i : 50 + min(i + 100, args.streams)])
            )
        await asyncio.sleep(2)
        after = rss_kib(server.pid)
        pings = [0]
        readers = [asyncio.create_task(drain(r, pings)) for r, _ in [*warm, *streams]]
        cpu0, t0 = cpu_s(server.pid), time.monotonic()
        await asyncio.sleep(args.hold)
        cpu1, t1 = cpu_s(server.pid), time.monotonic()
        per_stream = (after - base) / args.streams
        print(
            f"S5 streams={args.streams} base_rss={base} KiB rss={after} KiB per_stream={per_stream:.1f} KiB "
            f"heartbeat={args.heartbeat}s hold={args.hold}s cpu={100 * (cpu1 - cpu0) / (t1 - t0):.2f}% of a core "
            f"pings_received={pings[0]} (target: <= 20 KiB/stream, heartbeat CPU <= 5 %)"
        )
        for task in readers:
            task.cancel()
        for _, writer in [*warm, *streams]:
            writer.close()
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        await databases.drop_database(url)


if __name__ == "__main__":
    asyncio.run(main())
