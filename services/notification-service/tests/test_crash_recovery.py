"""``kill -9`` of the service in the middle of a burst of pushes: after a restart no push is missing, and a
push sent more than once can only be one that was in flight at the kill (or timed out and was retried) —
the same payload under the same Topic, which the push service or the browser replaces instead of showing
twice.

The service runs as a real process here (its own database, broker and Redis db, so the suite's in-process
app does not share its consumer groups)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from app.models.delivery import Push
from app.models.replica import Member
from app.services.webpush import generate_vapid_pem
from chat_shared.events.chat import MessageSent, RoomCreated
from chat_shared.events.user import UserOffline, UserRegistered
from chat_shared.testing import databases
from chat_shared.testing.broker import Broker
from chat_shared.testing.processes import free_port, stop_process, wait_for_http
from chat_shared.testing.tokens import TestKeys
from chat_shared.testing.waiting import eventually
from tests.fakes.push_receiver import PushReceiver
from tests.helpers import next_id, publish, snapshot

SERVICE_DIR = Path(__file__).resolve().parent.parent
ROOMS = 300


@pytest.fixture
async def crash_env(keys: TestKeys, redis_url: str, tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    url = await databases.create_database("test_notif_crash")
    await asyncio.to_thread(databases.migrate, SERVICE_DIR, url)
    broker = Broker().start()
    vapid = tmp_path / "vapid.pem"
    vapid.write_bytes(generate_vapid_pem())
    try:
        yield {
            **os.environ,
            "ENVIRONMENT": "test",
            "LOG_LEVEL": "WARNING",
            "DATABASE_URL": url,
            "REDIS_URL": urlsplit(redis_url)._replace(path="/14").geturl(),
            "KAFKA_BOOTSTRAP": broker.bootstrap,
            "KAFKA_ENABLE_IDEMPOTENCE": "false",
            "JWT_PUBLIC_KEY": keys.public_pem,
            "JWT_PUBLIC_KEY_ID": keys.kid,
            "PUSH_ALLOW_LOOPBACK": "true",
            "VAPID_PRIVATE_KEY_FILE": str(vapid),
            "DISPATCH_CLAIM_TIMEOUT_S": "3",
            "DISPATCH_POLL_S": "0.05",
        }
    finally:
        broker.stop()
        await databases.drop_database(url)


def start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=SERVICE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.timeout(600)
async def test_kill_9_mid_burst_loses_nothing(
    crash_env: dict[str, str], keys: TestKeys, receiver: PushReceiver
) -> None:
    env = crash_env
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="notification-crash-", suffix=".log")[1])
    process = start(env, port, log)
    base = f"http://127.0.0.1:{port}"
    engine = create_async_engine(env["DATABASE_URL"])
    try:
        await wait_for_http(f"{base}/health", process, what="notification-service", log=log, timeout=240)
        now = datetime.now(UTC)
        pairs = [(next_id(), next_id(), next_id()) for _ in range(ROOMS)]  # (room, sender, recipient)
        events: list = []
        for _, sender, recipient in pairs:
            for user in (sender, recipient):
                events.append(
                    UserRegistered(user_id=user, username=f"c{user}", display_name=f"C {user}", created_at=now)
                )
                events.append(UserOffline(user_id=user, at=now))
        events += [RoomCreated(room_id=r, type="direct", member_ids=[s, t], created_by=s, at=now) for r, s, t in pairs]
        await publish(env["KAFKA_BOOTSTRAP"], *events)

        async def members() -> bool:
            async with engine.connect() as conn:
                return await conn.scalar(select(func.count()).select_from(Member)) == 2 * ROOMS

        await eventually(members, "the rooms to be replicated", timeout=120)
        async with httpx.AsyncClient(base_url=base) as client:
            for room, _, recipient in pairs:
                r = await client.post(
                    "/notifications/subscriptions",
                    json=receiver.subscription(f"crash-{room}"),
                    headers=keys.headers(recipient, f"c{recipient}"),
                )
                assert r.status_code == 201, r.text

        messages = {room: snapshot(room, 1, sender, f"burst {room}") for room, sender, _ in pairs}
        await publish(env["KAFKA_BOOTSTRAP"], *(MessageSent.of(m) for m in messages.values()))

        await eventually(lambda: len(receiver.received) >= ROOMS // 4, "a quarter of the burst", timeout=120)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        received_at_kill = len(receiver.received)

        process = start(env, port, log)
        await wait_for_http(f"{base}/health", process, what="notification-service (restarted)", log=log, timeout=240)

        def every_room() -> bool:
            return {r.name for r in receiver.received} >= {f"crash-{room}" for room in messages}

        await eventually(every_room, "a push for every room after the restart", timeout=180)

        async def settled() -> bool:
            async with engine.connect() as conn:
                return await conn.scalar(select(func.count()).select_from(Push)) == 0

        await eventually(settled, "the queue to drain", timeout=60)
    finally:
        stop_process(process)
        await engine.dispose()

    per_browser = Counter(r.name for r in receiver.received)
    twice = {name for name, n in per_browser.items() if n > 1}
    print(f"kill -9 after {received_at_kill}/{ROOMS} pushes: {len(per_browser)} rooms pushed, {len(twice)} twice")
    assert set(per_browser) == {f"crash-{room}" for room in messages}  # none missing
    for name in twice:  # a push in flight at the kill (or timed out), re-sent whole: same payload, same Topic
        copies = [r for r in receiver.received if r.name == name]
        assert all(c.payload == copies[0].payload for c in copies)
        assert all(c.headers["topic"] == copies[0].headers["topic"] for c in copies)
    for room, message in messages.items():
        [payload, *_] = [r.payload for r in receiver.received if r.name == f"crash-{room}"]
        assert payload["message_id"] == message.id and payload["count"] == 1
