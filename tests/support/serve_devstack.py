"""Run ``make dev`` for a test runner that is not pytest (the web client's Playwright suite).

    .venv/bin/python tests/support/serve_devstack.py DATA_DIR

Starts tools/dev/run.py through :mod:`devstack` (free ports, a fresh data folder, the relaxed-rate-limit
kong.yml twin), prints one JSON line with the gateway's URL once every service answers, and stops the system
when its standard input closes or it gets SIGTERM/SIGINT, so a runner that dies cannot leave it behind.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import devstack


def main(argv: list[str]) -> int:
    """Start, announce, wait for the end of stdin or a signal, stop."""
    if len(argv) != 1:
        print("usage: serve_devstack.py DATA_DIR", file=sys.stderr)
        return 2
    data_dir = Path(argv[0]).resolve()
    try:
        stack = devstack.start(data_dir)
    except devstack.DevStackError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())

    def until_stdin_closes() -> None:
        sys.stdin.read()
        done.set()

    threading.Thread(target=until_stdin_closes, daemon=True).start()
    try:
        print(json.dumps({"gateway": stack.gateway, "log": str(stack.log_path)}), flush=True)
        done.wait()
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
