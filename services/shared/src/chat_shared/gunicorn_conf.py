"""Gunicorn settings shared by every service image.

Used as ``gunicorn main:app -c python:chat_shared.gunicorn_conf``. Gunicorn reads the module-level names
below that match its setting names; everything is driven by environment variables so the same image runs
in compose (one host, several workers) and in Kubernetes (few workers per pod, many pods).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # gunicorn ships no type hints; the names are only for readers and mypy.
    from gunicorn.arbiter import Arbiter
    from gunicorn.workers.base import Worker

_MAX_DEFAULT_WORKERS = 8


def _cpu_limit() -> int:
    """CPUs this container may use: the cgroup v2 quota if one is set, else the CPUs we are pinned to.

    ``os.cpu_count()`` reports the host's CPUs, which in a pod limited to one CPU would start a dozen
    workers that then fight over a single core.
    """
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            return max(1, -(-int(quota) // int(period)))  # ceil: 1.5 CPUs still gets 2
    except (OSError, ValueError):
        pass
    return len(os.sched_getaffinity(0)) or 1


def _default_workers() -> int:
    """The classic ``2 * cpu + 1``, capped: async workers each hold many connections, more only cost RAM."""
    return min(2 * _cpu_limit() + 1, _MAX_DEFAULT_WORKERS)


bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WORKERS") or _default_workers())
# The maintained home of the worker (``uvicorn.workers`` is deprecated since uvicorn 0.30).
worker_class = "uvicorn_worker.UvicornWorker"

# SSE streams are closed by the app when a worker is told to stop, so clients reconnect elsewhere with
# Last-Event-ID; 30 s is enough for in-flight requests to finish. Kubernetes' terminationGracePeriodSeconds
# (and compose's stop_grace_period) must exceed preStop sleep + this value.
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "30"))
# Worker heartbeat timeout, not a request timeout: uvicorn workers heartbeat from their event loop, so
# long-lived streams are unaffected; only a worker whose loop is blocked this long gets restarted.
timeout = int(os.environ.get("TIMEOUT", "60"))
# Longer than the gateway's upstream idle timeout (Kong: 60 s), so the proxy always closes an idle
# keep-alive connection first and never sends a request into a socket we are closing (a 502).
keepalive = int(os.environ.get("KEEPALIVE", "75"))
# No max_requests: recycling workers would cut every open SSE stream for nothing.

# Heartbeat files in RAM: works with a read-only root filesystem and avoids disk-backed /tmp stalls.
# Only gunicorn's own per-worker files live there, created with mkstemp, so S108 does not apply.
worker_tmp_dir = os.environ.get("WORKER_TMP_DIR", "/dev/shm")  # noqa: S108
# gunicorn >= 25.1 opens a control socket under $HOME, which is read-only in our containers.
control_socket_disable = True

# The app itself believes X-Forwarded-For from FORWARDED_ALLOW_IPS only (chat_shared.app): the server
# hands it the peer address untouched, so the rule lives in one place.
forwarded_allow_ips = ""

accesslog = None  # the app writes one JSON line per request itself, with the request id
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
capture_output = False


def on_starting(server: Arbiter) -> None:
    """Start with an empty Prometheus multiprocess directory: stale files from a previous run would be
    summed into the new process's metrics."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    path = Path(directory)
    if path.is_dir():
        for entry in path.iterdir():
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
    path.mkdir(parents=True, exist_ok=True)
    server.log.info("prometheus multiprocess dir %s cleared", path)


def child_exit(server: Arbiter, worker: Worker) -> None:
    """Drop a dead worker's live gauges, so the pod does not report connections nobody holds any more."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    from prometheus_client import multiprocess  # imported late: only needed when metrics are multiprocess

    multiprocess.mark_process_dead(worker.pid)
