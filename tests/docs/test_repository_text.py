"""What the repository says stands on its own: no doc, comment or config points at a folder of one
development machine or at files outside the checkout."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEXT_SUFFIXES = {".md", ".py", ".yml", ".yaml", ".sh", ".json", ".toml", ".cfg", ".ini", ".conf", ".txt", ".j2"}
TEXT_NAMES = {"Makefile", "Dockerfile", ".dockerignore", ".env.example"}
# Absolute home or work folders, and the planning files that live beside the checkout, not in it.
OUTSIDE = re.compile(
    r"(?<![\w.])/(?:work|home/\w+|Users/\w+)/|\.\./shared/|\b(?:BENCHMARKS|CONTRACT|CONVENTIONS)\.md\b"
)


def tracked_text_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    paths = [REPO / p for p in listed.decode().split("\0") if p]
    return [p for p in paths if p.is_file() and (p.suffix in TEXT_SUFFIXES or p.name in TEXT_NAMES)]


def test_no_file_points_outside_the_checkout() -> None:
    found = []
    for path in tracked_text_files():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()[:120]}")
    assert not found, "describe the rule instead of pointing at a machine's files:\n" + "\n".join(found)
