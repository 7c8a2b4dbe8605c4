"""``/metrics`` under gunicorn with two workers (``PROMETHEUS_MULTIPROC_DIR``), as the images run it.

friend-service runs exactly like its container: ``gunicorn main:app -c python:chat_shared.gunicorn_conf``
with ``WORKERS=2``, a private broker, SQLite migrated once beforehand and fakeredis. Each scrape is answered
by whichever worker accepts it, so each must report the container's totals:

- counters are summed over the workers (and a dead worker's counts are kept: they happened);
- ``http_requests_in_progress`` is ``livesum``: a request held open in a worker counts 1, and when that
  worker is killed (SIGKILL, as the OOM killer would) gunicorn's ``child_exit`` hook drops its file, so
  the gauge returns to 0 instead of reporting a request nobody serves until the container restarts.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from devstack import BACKENDS, REPO
from prometheus_client.mmap_dict import MmapedDict

from chat_shared.testing.broker import Broker, free_port
from chat_shared.testing.metrics import Scrape
from chat_shared.testing.processes import ensure_running, stop_process
from chat_shared.testing.tokens import TestKeys as Keys
from chat_shared.testing.waiting import eventually_sync

T = TypeVar("T")

SERVICE_DIR = REPO / "services/friend-service"
GUNICORN = Path(sys.executable).with_name("gunicorn")
ROUTE = "/friends"


@dataclass
class Gunicorn:
    process: subprocess.Popen[bytes]
    url: str
    multiproc_dir: Path
    log_path: Path
    keys: Keys

    def workers(self) -> set[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return {int(pid) for pid in path.read_text().split()} if path.exists() else set()

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def requests_per_worker(self) -> dict[int, float]:
        """``http_requests_total{route="/friends"}`` in each worker's own file (pid -> count)."""
        counts: dict[int, float] = {}
        for path in self.multiproc_dir.glob("counter_*.db"):
            pid = int(path.stem.split("_")[-1])
            for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path)):
                _, name, labels, _ = json.loads(key)
                if name == "http_requests_total" and labels.get("route") == ROUTE:
                    counts[pid] = counts.get(pid, 0.0) + value
        return counts

    def wait_until(self, condition: Callable[[], T | None], what: str) -> T:
        """Poll ``condition`` until it holds; fail at once (with gunicorn's log) if gunicorn exits."""

        def probe() -> T | None:
            ensure_running(self.process, "gunicorn", self.log_path)
            return condition()

        return eventually_sync(probe, what)

    def scrape(self) -> Scrape:
        # A new connection per scrape, so successive scrapes may land on different workers.
        r = httpx.get(f"{self.url}/metrics", headers={"Connection": "close"}, timeout=5, trust_env=False)
        assert r.status_code == 200, r.text
        return Scrape.parse(r.text)


@pytest.fixture(scope="module")
def silent_user_service() -> Iterator[str]:
    """A port that accepts connections and never answers: friend-service's user lookups hang on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory: pytest.TempPathFactory, silent_user_service: str) -> Iterator[Gunicorn]:
    folder = tmp_path_factory.mktemp("gunicorn")
    url = f"sqlite+aiosqlite:///{folder / 'friend.db'}"
    # Migrate once before the workers start (in a container the migration job does it).
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; "
            "from chat_shared.migrations import upgrade_head; upgrade_head(Path('.'), sys.argv[1])",
            url,
        ],
        cwd=SERVICE_DIR,
        check=True,
        capture_output=True,
        timeout=60,
    )
    multiproc = folder / "prometheus"
    multiproc.mkdir()
    keys = Keys()
    broker = Broker().start()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in BACKENDS and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        {
            "WORKERS": "2",
            "PORT": str(port),
            "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
            "WORKER_TMP_DIR": str(folder),
            "GRACEFUL_TIMEOUT": "3",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            "ENVIRONMENT": "development",
            "DATABASE_URL": url,
            "RUN_MIGRATIONS_ON_START": "false",
            "REDIS_URL": "fakeredis://",
            "KAFKA_BOOTSTRAP": broker.bootstrap,
            "KAFKA_ENABLE_IDEMPOTENCE": "false",
            "JWT_PUBLIC_KEY": keys.public_pem,
            "JWT_PUBLIC_KEY_ID": keys.kid,
            "USER_SERVICE_URL": silent_user_service,
            "USER_LOOKUP_TIMEOUT_S": "60",
        }
    )
    log_path = folder / "gunicorn.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(GUNICORN), "main:app", "-c", "python:chat_shared.gunicorn_conf", "--bind", f"127.0.0.1:{port}"],
            cwd=SERVICE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = Gunicorn(process, f"http://127.0.0.1:{port}", multiproc, log_path, keys)

    def ready() -> bool:
        try:
            return httpx.get(f"{server.url}/ready", timeout=2, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        server.wait_until(lambda: len(server.workers()) == 2 and ready(), "two workers and /ready")
        yield server
    finally:
        # SIGINT is gunicorn's quick shutdown: the graceful one is not tested here.
        stop_process(process, sig=signal.SIGINT, grace=4, group=True)
        broker.stop()


def test_counters_are_summed_over_the_workers(gunicorn: Gunicorn) -> None:
    """Requests spread over both workers; every scrape, whichever worker answers it, reports them all."""
    sent = 0
    with httpx.Client(
        base_url=gunicorn.url, trust_env=False, timeout=10, limits=httpx.Limits(max_keepalive_connections=0)
    ) as client:
        while sent < 40 or len([n for n in gunicorn.requests_per_worker().values() if n > 0]) < 2:
            assert sent < 2000, f"requests never reached both workers: {gunicorn.requests_per_worker()}"
            r = client.get(ROUTE)  # unauthenticated: 401, counted under the route template
            assert r.status_code == 401, r.text
            sent += 1
    # The middleware counts a request after its response is sent, so the last one may still be counting.
    gunicorn.wait_until(lambda: sum(gunicorn.requests_per_worker().values()) >= sent, "every request counted")
    per_worker = gunicorn.requests_per_worker()
    assert sum(per_worker.values()) == sent and len(per_worker) >= 2, per_worker
    for _ in range(8):
        m = gunicorn.scrape()
        assert m.value("http_requests_total", route=ROUTE, status="401", service="friend-service") == sent
        assert m.value("http_request_duration_seconds_count", route=ROUTE) == sent


def test_catalogue_metrics_appear_in_multiprocess_mode(gunicorn: Gunicorn) -> None:
    """In multiprocess mode a metric shows only once a worker wrote a sample: after start-up and a first
    request, the request, the relay's gauges, the SQL timings and readiness are there, with their values
    (the rest appears with its first event, see docs/observability.md)."""
    httpx.get(f"{gunicorn.url}{ROUTE}", timeout=5, trust_env=False)
    httpx.get(f"{gunicorn.url}/ready", timeout=5, trust_env=False)

    def settled() -> Scrape | None:
        m = gunicorn.scrape()
        return m if m.series("outbox_pending_events") and m.series("service_dependency_up") else None

    m = gunicorn.wait_until(settled, "the relay's and readiness' gauges")
    assert m.value("http_requests_total", route=ROUTE, status="401") >= 1
    assert m.value("http_request_duration_seconds_count", route=ROUTE) >= 1
    assert m.only("http_requests_in_progress") == 0
    assert m.only("outbox_pending_events") == m.only("outbox_oldest_pending_age_seconds") == 0
    assert m.value("store_call_duration_seconds_count", store="sqlite", operation="select") >= 1
    up = {s.labels["dependency"]: s.value for s in m.series("service_dependency_up")}
    assert up.get("mysql") == 1 and up.get("redis") == 1, up


def test_a_killed_workers_requests_in_flight_do_not_linger(gunicorn: Gunicorn) -> None:
    """livesum: a request held open counts 1; SIGKILL its worker and the gauge returns to 0."""
    m = gunicorn.scrape()
    assert m.value("http_requests_in_progress") == 0
    before = m.value("http_requests_total", route=ROUTE)
    # A friend request to a user the replica does not know: the lookup hangs on the silent user-service.
    held = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, httpx; httpx.post(sys.argv[1], json={'user_id': 424242}, "
            "headers={'Authorization': sys.argv[2]}, timeout=30, trust_env=False)",
            f"{gunicorn.url}/friends/requests",
            f"Bearer {gunicorn.keys.token(1)}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        gunicorn.wait_until(lambda: gunicorn.scrape().value("http_requests_in_progress") == 1, "the held request")
        holder = [
            pid
            for pid in gunicorn.workers()
            if _live_gauge(gunicorn.multiproc_dir, pid, "http_requests_in_progress") == 1
        ]
        assert len(holder) == 1, "exactly one worker holds the request"
        os.kill(holder[0], signal.SIGKILL)
        gunicorn.wait_until(
            lambda: holder[0] not in gunicorn.workers() and len(gunicorn.workers()) == 2,
            "gunicorn to replace the killed worker",
        )
        gunicorn.wait_until(
            lambda: not list(gunicorn.multiproc_dir.glob(f"gauge_live*_{holder[0]}.db")),
            "child_exit to drop the dead worker's live gauges",
        )
        m = gunicorn.scrape()
        assert m.value("http_requests_in_progress") == 0, "a dead worker's request must not linger"
        assert m.value("http_requests_total", route=ROUTE) == before, "a dead worker's counts are kept"
    finally:
        held.kill()
        held.wait()


def _live_gauge(folder: Path, pid: int, name: str) -> float:
    total = 0.0
    for path in folder.glob(f"gauge_live*_{pid}.db"):
        for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path)):
            if json.loads(key)[1] == name:
                total += value
    return total
