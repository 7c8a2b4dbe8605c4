"""What the chaos drill requires of a run, and the numbers it reports.

- every acknowledged ``client_msg_id`` is in its room's history exactly once, with the seq it was
  acknowledged with; the history is in strictly increasing seq without gaps and holds nothing that was
  never acknowledged;
- every member's stream delivered each acknowledged message of its rooms exactly once, with strictly
  increasing event ids and no ``reset``;
- no send was refused for good;
- the only 5xx are 503s during a break (a window, plus a short grace for clients and pools to notice the
  repair), and the gateway's 502 for a request in flight to a process at the moment it was killed
  (CONTRACT: the gateway answers 502 when the service it forwarded to fails to answer);
- no process died other than those the controller killed.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from clients import Answer
from drill import CONVERGE_TIMEOUT_S, Run
from stack import Stack

GRACE_S = 3.0
MAX_LISTED = 30


@dataclass
class Verdict:
    """The problems found (none: passed) and the run's numbers."""

    problems: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.problems

    def fail(self, what: str, items: list[str]) -> None:
        if items:
            more = f" (+{len(items) - MAX_LISTED} more)" if len(items) > MAX_LISTED else ""
            self.problems.append(f"{what}: {len(items)}: {'; '.join(items[:MAX_LISTED])}{more}")


def _id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def judge(run: Run, stack: Stack) -> Verdict:
    verdict = Verdict()
    _histories(run, verdict)
    _streams(run, verdict)
    _answers(run, verdict)
    verdict.fail("sends refused for good", [f for m in run.members for f in m.failed])
    for phase, stalled in run.stalled.items():
        verdict.fail(
            f"{phase}: messages not on the stream after {CONVERGE_TIMEOUT_S:.0f}s (user: missing, in the log)",
            [f"{user}: {len(ids)} ({', '.join(ids[:3])}…), {logged}" for user, (ids, logged) in stalled.items()]
            + [f"chat outbox rows unpublished: {run.unpublished.get(phase)}"]
            + [f"fan-out group behind on {run.fanout_lag.get(phase)}"]
            + [f"user {user}: {where}" for user, where in run.positions.get(phase, {}).items()],
        )
    dead = [c.name for c in stack.system.children if c.process.returncode is not None and not c.expected_exit]
    verdict.fail("processes that died on their own", dead)
    chaos = run.chaos
    if chaos.store_breaks_done_at is None or chaos.store_breaks_done_at > run.sends_ended:
        verdict.problems.append("the sends ended before every store break had happened (raise CHAOS_INTERVAL_S)")
    statuses = Counter(a.status for a in run.recorder.answers)
    verdict.numbers = {
        "sends_acknowledged": sum(len(m.acks) for m in run.members),
        "send_attempts": sum(1 for a in run.recorder.answers if a.kind == "send"),
        "kills": len(chaos.kills),
        "restarts_failed": stack.start_failures,
        "broker_cuts": chaos.count("broker"),
        "redis_restarts": chaos.count("redis"),
        "statuses": dict(sorted(statuses.items())),
        "stream_connects": sum(m.connects for m in run.members),
        **{k: round(v, 1) for k, v in run.timings.items()},
    }
    return verdict


def _histories(run: Run, verdict: Verdict) -> None:
    acked = {(a.room_id, a.client_msg_id): a for m in run.members for a in m.acks}
    missing, doubled, unacked, wrong_seq, order = [], [], [], [], []
    for room_id, items in run.histories.items():
        seqs = [item["seq"] for item in items]
        if seqs != list(range(1, len(seqs) + 1)):
            order.append(f"room {room_id}: seqs {seqs[:5]}…{seqs[-5:]} (n={len(seqs)})")
        ids = Counter(item.get("client_msg_id") for item in items)
        doubled += [f"{room_id}/{cid}" for cid, n in ids.items() if n > 1]
        for item in items:
            ack = acked.get((room_id, item.get("client_msg_id")))
            if ack is None:
                unacked.append(f"{room_id}/{item.get('client_msg_id')}")
            elif ack.seq != item["seq"] or ack.message_id != item["id"]:
                wrong_seq.append(f"{room_id}/{ack.client_msg_id}: acked {ack.seq}, history {item['seq']}")
        missing += [f"{r}/{cid}" for (r, cid) in acked if r == room_id and ids[cid] == 0]
    verdict.fail("acknowledged but not in history", missing)
    verdict.fail("in history more than once", doubled)
    verdict.fail("in history but never acknowledged", unacked)
    verdict.fail("history differs from the acknowledgement", wrong_seq)
    verdict.fail("history not in seq order 1..n", order)


def _streams(run: Run, verdict: Verdict) -> None:
    by_room: dict[int, list[str]] = {}
    for member in run.members:
        for ack in member.acks:
            by_room.setdefault(ack.room_id, []).append(ack.client_msg_id)
    lost, doubled, disorder, resets = [], [], [], []
    for member in run.members:
        for room_id in member.rooms:
            for cid in by_room.get(room_id, []):
                times = member.delivered[cid]
                if times == 0:
                    lost.append(f"user {member.user_id}: {cid}")
                elif times > 1:
                    doubled.append(f"user {member.user_id}: {cid} ×{times}")
        ids = [_id(i) for i in member.entry_ids]
        if any(b <= a for a, b in pairwise(ids)):
            disorder.append(f"user {member.user_id}")
        if member.resets:
            resets.append(f"user {member.user_id}: {member.resets}")
    verdict.fail("acknowledged but never on a member's stream", lost)
    verdict.fail("on a member's stream more than once", doubled)
    verdict.fail("stream event ids not increasing", disorder)
    verdict.fail("streams told to reset", resets)


def _answers(run: Run, verdict: Verdict) -> None:
    windows = run.chaos.windows
    kills = run.chaos.kills

    def in_window(a: Answer) -> bool:
        return any(a.started <= w.end + GRACE_S and a.ended >= w.start for w in windows)

    def in_flight_at_kill(a: Answer) -> bool:
        return any(a.started <= gone and a.ended >= before for before, gone in kills)

    def nearest_kill(a: Answer) -> str:
        if not kills:
            return ""
        delta = min((a.started - gone for _, gone in kills), key=abs)
        return f", {delta:+.2f}s after the nearest kill"

    bad = []
    for a in run.recorder.answers:
        if a.status in (503, 0) and in_window(a):
            continue
        if a.status == 502 and in_flight_at_kill(a):
            continue
        if a.status >= 500 or a.status == 0:
            at = datetime.fromtimestamp(time.time() - (time.monotonic() - a.started), UTC).strftime("%H:%M:%S.%f")[:-3]
            bad.append(f"{a.kind} {a.status or 'no answer'} at {at} UTC, {a.ended - a.started:.2f}s{nearest_kill(a)}")
    verdict.fail("5xx (or no answer) outside the breaks", bad)
