"""Estimates each service image's size as `docker images` reports it (uncompressed), without Docker.

The runtime stage of the Dockerfile is the base image plus /opt/venv plus the service's code. This tool
builds the venv the way the builder stage does (``uv sync --frozen --no-dev --no-editable --package SVC``
into a temporary directory, from uv.lock), prunes it with the same script the Dockerfile runs
(``tools/images/prune_venv.sh``: bytecode, type stubs, C sources, debug symbols), measures it on disk and
adds the base image's published size. tests/infra/test_image_size.py gates the result; the `images`
workflow measures the real images and fails above the same limit.

    python tools/images/estimate_size.py            # a table, MB = 10^6 bytes as docker prints them
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("user-service", "friend-service", "chat-service")
PRUNE = ROOT / "tools/images/prune_venv.sh"
# The runtime base of the Dockerfile and its size as `docker images` shows it (uncompressed, linux/amd64),
# from the image's published manifest: gcr.io/distroless/python3-debian12 (Debian 12's Python 3.11).
BASE_IMAGE = "gcr.io/distroless/python3-debian12:nonroot"
BASE_IMAGE_MB = 53.0
LIMIT_MB = 100.0
CODE_PATHS = ("pyproject.toml", "main.py", "app", "alembic.ini", "alembic")


@dataclass(frozen=True)
class Estimate:
    service: str
    venv_mb: float
    code_mb: float

    @property
    def total_mb(self) -> float:
        return BASE_IMAGE_MB + self.venv_mb + self.code_mb


def _disk_usage(path: Path) -> int:
    total = 0
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            file = Path(dirpath) / name
            if not file.is_symlink():
                total += file.stat().st_size
    return total


def _python311() -> str:
    for candidate in ("/usr/bin/python3.11", shutil.which("python3.11") or ""):
        if candidate and Path(candidate).exists():
            return candidate
    raise SystemExit("a CPython 3.11 is needed (the images' Python), e.g. Debian's python3.11")


def _uv() -> str:
    found = shutil.which("uv") or str(Path.home() / ".local/bin/uv")
    if not Path(found).exists():
        raise SystemExit("uv not found")
    return found


def estimate(service: str) -> Estimate:
    with tempfile.TemporaryDirectory(prefix=f"venv-{service}-") as tmp:
        venv = Path(tmp) / "venv"
        # Copies, never hard links into uv's cache: the prune step strips the .so files in place, and a
        # stripped hard link would rewrite the cached file under every other venv and running process.
        env = {
            **os.environ,
            "UV_PROJECT_ENVIRONMENT": str(venv),
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_LINK_MODE": "copy",
        }
        subprocess.run(  # noqa: S603 - a fixed argument list, no shell
            [
                _uv(),
                "sync",
                "--frozen",
                "--no-dev",
                "--no-editable",
                "--package",
                service,
                "--quiet",
                "--python",
                _python311(),
            ],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=600,
        )
        subprocess.run(["/bin/sh", str(PRUNE), str(venv)], check=True, timeout=300)  # noqa: S603
        venv_bytes = _disk_usage(venv)
    # What .dockerignore lets into /app: these paths of the service, without bytecode or tests.
    code = ROOT / "services" / service
    code_bytes = 0
    for name in CODE_PATHS:
        path = code / name
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        code_bytes += sum(f.stat().st_size for f in files if "__pycache__" not in f.parts and "tests" not in f.parts)
    return Estimate(service, venv_bytes / 1e6, code_bytes / 1e6)


def main() -> int:
    print(f"{'service':16} {'base':>6} {'venv':>6} {'code':>6} {'total':>6}  (MB, limit {LIMIT_MB:.0f})")
    worst = 0.0
    for service in SERVICES:
        e = estimate(service)
        worst = max(worst, e.total_mb)
        print(f"{service:16} {BASE_IMAGE_MB:6.1f} {e.venv_mb:6.1f} {e.code_mb:6.1f} {e.total_mb:6.1f}")
    return 0 if worst <= LIMIT_MB else 1


if __name__ == "__main__":
    sys.exit(main())
