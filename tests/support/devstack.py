"""Start ``make dev`` (tools/dev/run.py) for a test session: free ports, a fresh data folder, a log file.

One implementation for the suites that drive the whole system (tests/e2e, tests/observability). A suite's
conftest puts this folder on ``sys.path`` and calls :func:`start` in a session fixture::

    stack = devstack.start(tmp_path_factory.mktemp("dev-data"), extra_args=["--raw-logs"])
    try:
        yield stack
    finally:
        stack.stop()

Everything run.py prints (its own lines and every service's log lines, prefixed with the source name)
goes to ``<data>/../run.log``; ``<data>/dev.json`` names the ports once every service answers /health.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chat_shared.testing.processes import stop_process
from chat_shared.testing.waiting import eventually_sync

REPO = Path(__file__).resolve().parents[2]
RUN_PY = REPO / "tools/dev/run.py"
KONG_YML = REPO / "infrastructure/docker/kong/kong.yml"
# The relaxed-rate-limit twin of kong.yml the compose e2e stack uses: a suite sends many requests a minute.
KONG_TEST_YML = REPO / "infrastructure/docker/kong/kong.test.yml"
OFFSETS = (
    0,
    2,
    3,
    4,
    5,
    17,
    19,
    26,
    92,
)  # gateway, chat, friend, notification, user, MongoDB stand-in, S3, SMTP sink, broker
BROKER_OFFSET = 92
BACKENDS = ("MYSQL_URL", "REDIS_URL", "MONGO_URL", "KAFKA_BOOTSTRAP", "S3_ENDPOINT_URL")
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0


class DevStackError(RuntimeError):
    """run.py exited or did not become ready; the message ends with the tail of its log."""


def port_free(port: int) -> bool:
    """True when 127.0.0.1:``port`` can be bound now."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_base() -> int:
    """A base port whose whole block (gateway, services, broker) is free."""
    for _ in range(200):
        base = random.randrange(20000, 60000, 100)
        if all(port_free(base + offset) for offset in OFFSETS):
            return base
    raise DevStackError("no free block of ports for the dev system")


@dataclass
class DevStack:
    """One running ``tools/dev/run.py`` and what it wrote about itself."""

    process: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path
    port_base: int
    state: dict[str, Any]

    @property
    def gateway(self) -> str:
        """The gateway's base URL (``http://127.0.0.1:<base>``)."""
        return str(self.state["gateway"])

    @property
    def services(self) -> dict[str, str]:
        """Service name -> its own base URL (``/metrics``, ``/ready`` live there, not behind the gateway)."""
        return {str(k): str(v) for k, v in self.state["services"].items()}

    @property
    def broker(self) -> str:
        """The embedded broker's bootstrap address (when run.py started one)."""
        return f"127.0.0.1:{self.port_base + BROKER_OFFSET}"

    def log_text(self) -> str:
        """Everything run.py printed so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        """Ctrl-C for run.py (it stops its children); SIGKILL to its whole group if it hangs."""
        stop_process(self.process, sig=signal.SIGINT, grace=STOP_TIMEOUT_S, group=True)


def start(
    data_dir: Path,
    *,
    kong_yml: Path | None = None,
    backends: Mapping[str, str] | None = None,
    extra_args: Sequence[str] = (),
    log_path: Path | None = None,
    timeout: float = START_TIMEOUT_S,
) -> DevStack:
    """Start run.py on a free block of ports with ``data_dir`` and wait until it is ready.

    The store variables (MYSQL_URL, REDIS_URL, MONGO_URL, KAFKA_BOOTSTRAP, S3_ENDPOINT_URL) of the calling
    environment are dropped, so the embedded stores are used unless ``backends`` names real servers. ``kong_yml`` defaults to
    the relaxed test twin of kong.yml when it exists. Raises :class:`DevStackError` (with the log's tail)
    when run.py exits or is not ready in ``timeout`` seconds.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_path or data_dir.parent / "run.log"
    base = free_port_base()
    kong = kong_yml or (KONG_TEST_YML if KONG_TEST_YML.is_file() else KONG_YML)
    env = {k: v for k, v in os.environ.items() if k not in BACKENDS}
    env.update(backends or {})
    env["NO_COLOR"] = "1"
    argv = [
        sys.executable,
        str(RUN_PY),
        "--port-base",
        str(base),
        "--data-dir",
        str(data_dir),
        "--kong-yml",
        str(kong),
        *extra_args,
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            argv,
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    stack = DevStack(process, data_dir, log_path, base, {})
    state_file = data_dir / "dev.json"

    def ready() -> dict[str, Any] | None:
        if process.poll() is not None:
            raise DevStackError(f"tools/dev/run.py exited with {process.returncode}:\n{stack.log_text()[-4000:]}")
        try:  # run.py writes the file in one call; a reader may still catch it half written
            state: dict[str, Any] = json.loads(state_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return state

    try:
        stack.state = eventually_sync(ready, "tools/dev/run.py to be ready", timeout=timeout, interval=0.1)
    except AssertionError as exc:
        stack.stop()
        raise DevStackError(f"{exc}:\n{stack.log_text()[-4000:]}") from None
    return stack


def drop_mysql_databases(server_url: str, prefix: str) -> None:
    """Drop the databases run.py made on ``server_url`` with ``MYSQL_DATABASE_PREFIX=prefix``."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(server_url).set(drivername="mysql+pymysql", database=None)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            names = conn.execute(text("SHOW DATABASES LIKE :pattern"), {"pattern": f"{prefix}\\_%"}).scalars()
            for name in list(names):
                conn.execute(text(f"DROP DATABASE `{name}`"))
    finally:
        engine.dispose()
