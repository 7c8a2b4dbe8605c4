"""A ``redis-server`` process of a test's own, for what the shared test Redis cannot be put through: stopped
and restarted under a running consumer, or given a small ``maxmemory`` and filled."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from types import TracebackType

import redis

from chat_shared.testing.broker import free_port, wait_for_port


class RedisServer:
    """``redis-server`` on a free port; ``stop``/``start`` keep the port, so clients holding its URL reconnect
    to the restarted server. Without ``data_dir`` it keeps nothing across a restart; with it, an append-only
    file synced on every write there (a restart keeps every acknowledged write, as a production Redis with
    AOF does)."""

    def __init__(self, maxmemory: str | None = None, data_dir: Path | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.port = free_port()
        self._args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        if data_dir is not None:
            self._args[-1:] = ["yes", "--appendfsync", "always", "--dir", str(data_dir)]
        if maxmemory is not None:
            self._args += ["--maxmemory", maxmemory, "--maxmemory-policy", "noeviction"]
        self._process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        """The server's URL (logical db ``db``)."""
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> RedisServer:
        """Start the server and wait until it accepts connections."""
        self._process = subprocess.Popen(self._args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        wait_for_port("127.0.0.1", self.port)
        return self

    def stop(self) -> None:
        """Stop the server (its data is gone: it keeps none on disk)."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
            self._process = None

    def fill(self, beyond_bytes: int = 2 * 1024 * 1024) -> int:
        """Write filler keys until the server refuses writes, then lower its ``maxmemory`` ``beyond_bytes``
        under what it holds: it stays full even after a little is freed (a client disconnecting, a few keys
        deleted). Returns how many keys were written."""
        client = redis.Redis(port=self.port)
        written = 0
        try:
            for size in (32 * 1024, 1024, 16):
                try:
                    while True:
                        client.set(f"test:filler:{written}", b"x" * size)
                        written += 1
                except redis.exceptions.OutOfMemoryError:
                    continue
            used = int(client.info("memory")["used_memory"])
            client.config_set("maxmemory", max(1, used - beyond_bytes))
            return written
        finally:
            client.close()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
