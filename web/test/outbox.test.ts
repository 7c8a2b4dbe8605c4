import { describe, expect, it } from "vitest";
import { Outbox, type PendingMessage, type SendResult } from "../src/live/outbox";
import { mergeMessages, sortRooms, withNewMessage, type Message, type Room } from "../src/state/messages";

interface Stored {
  id: string;
  room_id: number;
  client_msg_id: string | null;
  content: string;
}

/**
 * A server that behaves as chat-service does for sends: the same client_msg_id returns the stored
 * message, and it can be switched off (the network is down).
 */
class Server {
  up = true;
  stored: Stored[] = [];
  calls = 0;
  refuse: string | null = null;
  async send(p: PendingMessage): Promise<SendResult<Stored>> {
    this.calls++;
    if (!this.up) return { kind: "offline" };
    if (this.refuse) return { kind: "refused", error: this.refuse };
    const known = this.stored.find((m) => m.client_msg_id === p.clientMsgId);
    if (known) return { kind: "sent", message: known };
    const message = { id: `m${this.stored.length + 1}`, room_id: p.roomId, client_msg_id: p.clientMsgId, content: p.content };
    this.stored.push(message);
    return { kind: "sent", message };
  }
}

function harness(server: Server) {
  let n = 0;
  const confirmed: Stored[] = [];
  const outbox = new Outbox<Stored>({
    send: (p) => server.send(p),
    onConfirmed: (m) => confirmed.push(m),
    onChange: () => undefined,
    newId: () => `c${++n}`,
    now: () => 0,
  });
  return { outbox, confirmed };
}

describe("Outbox", () => {
  it("shows a message as pending until the server answers", async () => {
    const server = new Server();
    const { outbox, confirmed } = harness(server);
    outbox.add(1, "hello");
    expect(outbox.pending.map((p) => [p.content, p.state])).toEqual([["hello", "sending"]]);
    await outbox.flush();
    expect(outbox.pending).toHaveLength(0);
    expect(confirmed.map((m) => m.content)).toEqual(["hello"]);
  });

  it("queues while offline and sends in order when the connection is back", async () => {
    const server = new Server();
    server.up = false;
    const { outbox } = harness(server);
    outbox.add(1, "one");
    await outbox.flush();
    outbox.add(1, "two");
    outbox.add(2, "three");
    await outbox.flush();
    expect(outbox.pending.map((p) => p.state)).toEqual(["queued", "queued", "queued"]);
    server.up = true;
    await outbox.resume();
    expect(server.stored.map((m) => m.content)).toEqual(["one", "two", "three"]);
    expect(outbox.pending).toHaveLength(0);
  });

  it("never stores a message twice when a send is retried after its answer was lost", async () => {
    const server = new Server();
    const { outbox } = harness(server);
    // The server stores the message but the answer never arrives (the connection drops on the way back).
    const lost = server.send.bind(server);
    server.send = async (p) => {
      await lost(p);
      server.send = lost;
      return { kind: "offline" };
    };
    outbox.add(1, "once");
    await outbox.flush();
    expect(outbox.pending).toHaveLength(1);
    await outbox.resume();
    expect(server.stored).toHaveLength(1);
    expect(outbox.pending).toHaveLength(0);
  });

  it("lets the stream's event confirm a message before its answer", async () => {
    const server = new Server();
    server.up = false;
    const { outbox } = harness(server);
    const pending = outbox.add(1, "fast");
    await outbox.flush();
    expect(outbox.confirm({ id: "m9", room_id: 1, client_msg_id: pending.clientMsgId, content: "fast" })).toBe(true);
    expect(outbox.pending).toHaveLength(0);
    expect(outbox.confirm({ id: "m9", room_id: 1, client_msg_id: pending.clientMsgId, content: "fast" })).toBe(false);
    expect(outbox.confirm({ id: "m1", room_id: 1, client_msg_id: null, content: "someone else's" })).toBe(false);
  });

  it("marks a refused send failed with the server's words, and retries it on request", async () => {
    const server = new Server();
    server.refuse = "content must not be empty";
    const { outbox } = harness(server);
    const p = outbox.add(1, "x");
    await outbox.flush();
    expect(outbox.pending[0]).toMatchObject({ state: "failed", error: "content must not be empty" });
    server.refuse = null;
    outbox.retry(p.clientMsgId);
    await outbox.flush();
    expect(outbox.pending).toHaveLength(0);
    expect(server.stored).toHaveLength(1);
  });

  it("stays paused until resumed", async () => {
    const server = new Server();
    const { outbox } = harness(server);
    outbox.pause();
    outbox.add(1, "later");
    await outbox.flush();
    expect(server.calls).toBe(0);
    await outbox.resume();
    expect(server.stored).toHaveLength(1);
  });
});

const message = (id: string, seq: number, version = 1, extra: Partial<Message> = {}): Message => ({
  id,
  room_id: 1,
  seq,
  sender_id: 2,
  content: `m${seq}`,
  message_type: "text",
  client_msg_id: null,
  created_at: new Date(1_700_000_000_000 + seq * 1000).toISOString(),
  edited_at: null,
  deleted: false,
  reactions: {},
  version,
  ...extra,
});

describe("history merging", () => {
  it("orders by seq and keeps one copy of each message", () => {
    const merged = mergeMessages([message("b", 2)], [message("c", 3), message("a", 1), message("b", 2)]);
    expect(merged.map((m) => m.id)).toEqual(["a", "b", "c"]);
  });

  it("keeps the highest version: a late, older change never undoes a newer one", () => {
    const edited = message("a", 1, 3, { content: "new" });
    const stale = message("a", 1, 2, { content: "old" });
    expect(mergeMessages([edited], [stale])[0].content).toBe("new");
    expect(mergeMessages([stale], [edited])[0].content).toBe("new");
  });

  it("counts a new message as unread unless it is mine or the room is in view; rooms sort by activity", () => {
    const room = (id: number, last: Message | null): Room => ({
      id,
      type: "direct",
      name: null,
      member_ids: [1, 2],
      members: [],
      settings: { muted_until: null, notify: "all" },
      last_message: last,
      last_seq: last?.seq ?? 0,
      last_read_seq: 0,
      unread_count: 0,
      mention_count: 0,
    });
    const r = room(1, null);
    expect(withNewMessage(r, message("a", 1), 1, false).unread_count).toBe(1);
    expect(withNewMessage(r, message("a", 1, 1, { sender_id: 1 }), 1, false).unread_count).toBe(0);
    expect(withNewMessage(r, message("a", 1), 1, true).unread_count).toBe(0);
    const once = withNewMessage(r, message("a", 1), 1, false);
    expect(withNewMessage(once, message("a", 1), 1, false).unread_count).toBe(1);
    const older = room(2, message("x", 1));
    const newer = room(3, message("y", 5));
    expect(sortRooms([older, room(4, null), newer], [4, 2, 3]).map((x) => x.id)).toEqual([3, 2, 4]);
  });
});
