"""The image size, estimated without Docker (tools/images/estimate_size.py): the venv the Dockerfile's builder
makes from uv.lock, pruned by the same script, measured on disk, plus the runtime base's published size.

The target is 100 MB per image as `docker images` reports it; the images workflow enforces it on the real
builds. The estimate is held here under CEILING_MB, the size of today's dependency set, so no change
grows the images unnoticed; docs/deploy.md ("Images") gives the numbers and what is left to reach 100 MB.
"""

from __future__ import annotations

import functools
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools/images"))

import estimate_size  # noqa: E402

CEILING_MB = 135.0


@functools.cache
def _estimate(service: str) -> estimate_size.Estimate:
    if shutil.which("strip") is None:
        pytest.fail("strip not found (binutils): the estimate strips the extensions as the Dockerfile does")
    return estimate_size.estimate(service)


@pytest.mark.parametrize("service", estimate_size.SERVICES)
def test_image_size_estimate(service: str) -> None:
    estimate = _estimate(service)
    print(f"{service}: {estimate.total_mb:.1f} MB (base {estimate_size.BASE_IMAGE_MB}, venv {estimate.venv_mb:.1f})")
    assert estimate.venv_mb > 20, "the venv looks incomplete"
    assert estimate.total_mb <= CEILING_MB, f"{service}: {estimate.total_mb:.1f} MB"


def test_estimate_uses_the_dockerfile_base_and_prune_script() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    (runtime_base,) = re.findall(r"^FROM (\S+) AS runtime$", dockerfile, re.MULTILINE)
    assert runtime_base == estimate_size.BASE_IMAGE
    assert "sh /tmp/prune_venv.sh /opt/venv" in dockerfile
    dockerignore = (ROOT / ".dockerignore").read_text()
    assert "!tools/images/prune_venv.sh" in dockerignore
    for service in estimate_size.SERVICES:
        allowed = {
            line.split(f"services/{service}/", 1)[1]
            for line in dockerignore.splitlines()
            if f"!services/{service}/" in line
        }
        assert allowed == set(estimate_size.CODE_PATHS), service


def test_unused_server_extras_are_not_installed() -> None:
    """uvicorn without [standard]: reload (watchfiles), websockets, dotenv and YAML loaders are not used."""
    lock = (ROOT / "uv.lock").read_text()
    shared = lock.split('name = "chat-shared"', 1)[1].split("\n[[package]]", 1)[0]
    assert 'name = "uvicorn", extra = ["standard"]' not in shared
    for package in ("watchfiles", "websockets"):
        assert f'name = "{package}"' not in lock, package
