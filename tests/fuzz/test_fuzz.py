"""schemathesis against each service's own OpenAPI document: no 5xx, no status, content type or body the
document does not declare, every invalid request refused, no route that ignores a missing token.

Each service runs as a real process on real stores (tests/fuzz/stack.py) and the fuzzer acts as a signed-in
user with friends, requests, a block and two rooms of messages (tests/fuzz/world.py), so it reaches real
rows. The run is bounded by the number of examples per operation and seeded, so a failure replays.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from stack import SERVICES, Stack
from world import World

HERE = Path(__file__).resolve().parent
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "ignored_auth",
)
#: Examples per operation of the generated phases; FUZZ_MAX_EXAMPLES raises it for a longer hunt.
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "50"))
SEED = int(os.environ.get("FUZZ_SEED", "20260127"))


@pytest.mark.timeout(600)
@pytest.mark.parametrize("service", SERVICES)
def test_the_service_answers_as_its_openapi_document_says(
    service: str, stack: Stack, world: dict[str, World], tmp_path: Path
) -> None:
    cast = world[service]
    values = tmp_path / "world.json"
    values.write_text(json.dumps(cast.values))
    schemathesis = Path(sys.executable).with_name("schemathesis")
    command = [
        str(schemathesis),
        "run",
        f"{stack.url(service)}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--header",
        f"Authorization: Bearer {cast.token}",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--request-timeout",
        "10",
        "--no-color",
        "--output-truncate",
        "false",
    ]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": str(HERE / "hooks.py"),
        "FUZZ_WORLD": str(values),
        "FUZZ_SERVICE": service,
    }
    started = time.monotonic()
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=540, check=False)
    elapsed = time.monotonic() - started
    print(f"{service}: schemathesis ran {elapsed:.0f} s")
    print(result.stdout[-20000:])
    assert result.returncode == 0, (
        f"schemathesis found problems in {service} (exit {result.returncode}):\n{result.stdout[-20000:]}\n"
        f"{result.stderr[-3000:]}\n--- {service} log ---\n{stack.services[service].log_tail()}"
    )
