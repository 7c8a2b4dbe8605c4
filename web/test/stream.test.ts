import { describe, expect, it } from "vitest";
import { LiveStream, type EventSourceLike, type StreamEventName } from "../src/live/stream";

/** An EventSource the test drives: it records its URL and fires what the test tells it to. */
class FakeSource implements EventSourceLike {
  readyState = 0;
  onopen: EventSourceLike["onopen"] = null;
  onerror: EventSourceLike["onerror"] = null;
  closed = false;
  private listeners = new Map<string, ((event: MessageEvent<string>) => void)[]>();
  constructor(readonly url: string) {}

  addEventListener(type: string, listener: (event: MessageEvent<string>) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  close(): void {
    this.closed = true;
    this.readyState = 2;
  }
  open(): void {
    this.readyState = 1;
    (this.onopen as ((ev: Event) => void) | null)?.(new Event("open"));
  }
  /** An event as the browser delivers it: without an `id:` line, lastEventId keeps the previous value. */
  emit(type: string, data: unknown, id: string): void {
    const event = { data: JSON.stringify(data), lastEventId: id } as MessageEvent<string>;
    for (const listener of this.listeners.get(type) ?? []) listener(event);
  }
  fail(closed: boolean): void {
    this.readyState = closed ? 2 : 0;
    (this.onerror as ((ev: Event) => void) | null)?.(new Event("error"));
  }
}

function harness(options: { ticketFails?: () => boolean } = {}) {
  const sources: FakeSource[] = [];
  const events: [StreamEventName, unknown][] = [];
  const lives: boolean[] = [];
  const timers: (() => void)[] = [];
  let resets = 0;
  let tickets = 0;
  const stream = new LiveStream({
    mintTicket: async () => {
      if (options.ticketFails?.()) throw new Error("offline");
      tickets++;
      return `t${tickets}`;
    },
    open: (url) => {
      const source = new FakeSource(url);
      sources.push(source);
      return source;
    },
    handlers: {
      onEvent: (name, data) => events.push([name, data]),
      onReset: () => resets++,
      onLive: (resumed) => lives.push(resumed),
    },
    setTimeout: (fn) => timers.push(fn),
    clearTimeout: () => undefined,
    random: () => 0,
  });
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
  const fireTimers = async () => {
    const due = timers.splice(0);
    for (const fn of due) fn();
    await settle();
  };
  return { stream, sources, events, lives, timers, settle, fireTimers, resets: () => resets, tickets: () => tickets };
}

const params = (url: string) => new URL(url, "http://client").searchParams;

describe("LiveStream", () => {
  it("opens with a ticket and no resume position the first time", async () => {
    const h = harness();
    h.stream.start();
    await h.settle();
    expect(h.sources).toHaveLength(1);
    expect(params(h.sources[0].url).get("ticket")).toBe("t1");
    expect(params(h.sources[0].url).has("last_event_id")).toBe(false);
    h.sources[0].open();
    expect(h.lives).toEqual([false]);
    expect(h.stream.status).toBe("live");
  });

  it("resumes after the last event with an id when the browser gives up, with a new ticket", async () => {
    const h = harness();
    h.stream.start();
    await h.settle();
    const first = h.sources[0];
    first.open();
    first.emit("message.created", { room_id: 1, message: { id: "a" } }, "1700-0");
    first.emit("message.created", { room_id: 1, message: { id: "b" } }, "1700-1");
    // Ephemeral events arrive with the previous id still set; they never move the position.
    first.emit("typing", { room_id: 1, user_id: 2 }, "1700-1");
    first.fail(true); // e.g. the ticket expired: the browser's own retry was refused
    expect(first.closed).toBe(true);
    expect(h.stream.status).toBe("waiting");
    await h.fireTimers();
    expect(h.sources).toHaveLength(2);
    const url = params(h.sources[1].url);
    expect(url.get("ticket")).toBe("t2");
    expect(url.get("last_event_id")).toBe("1700-1");
    h.sources[1].open();
    expect(h.lives).toEqual([false, true]);
    expect(h.events.map(([name]) => name)).toEqual(["message.created", "message.created", "typing"]);
  });

  it("leaves a transient error to the browser's own reconnect (same URL, Last-Event-ID header)", async () => {
    const h = harness();
    h.stream.start();
    await h.settle();
    h.sources[0].open();
    h.sources[0].fail(false);
    expect(h.stream.status).toBe("connecting");
    expect(h.timers).toHaveLength(0);
    expect(h.sources).toHaveLength(1);
    h.sources[0].open();
    expect(h.stream.status).toBe("live");
  });

  it("hands reset to the client and resumes from the reset's id afterwards", async () => {
    const h = harness();
    h.stream.start();
    await h.settle();
    h.sources[0].open();
    h.sources[0].emit("reset", { detail: "too old" }, "1800-5");
    expect(h.resets()).toBe(1);
    expect(h.stream.position).toBe("1800-5");
  });

  it("keeps trying with a backoff while no ticket can be had, and ignores a stopped stream's events", async () => {
    let offline = true;
    const h = harness({ ticketFails: () => offline });
    h.stream.start();
    await h.settle();
    expect(h.sources).toHaveLength(0);
    expect(h.timers).toHaveLength(1);
    await h.fireTimers();
    expect(h.timers).toHaveLength(1);
    offline = false;
    await h.fireTimers();
    expect(h.sources).toHaveLength(1);
    h.sources[0].open();
    h.stream.stop();
    h.sources[0].emit("message.created", { room_id: 1 }, "1-0");
    expect(h.events).toHaveLength(0);
    expect(h.sources[0].closed).toBe(true);
  });

  it("reconnects at once when asked (back online) and resumes from the position", async () => {
    const h = harness();
    h.stream.start();
    await h.settle();
    h.sources[0].open();
    h.sources[0].emit("message.updated", { room_id: 3, message: { id: "x" } }, "42-0");
    h.stream.stop();
    h.stream.start();
    await h.settle();
    expect(h.sources).toHaveLength(2);
    expect(params(h.sources[1].url).get("last_event_id")).toBe("42-0");
  });

  it("drops an event whose data is not JSON instead of failing", async () => {
    const h = harness();
    h.stream.start();
    await h.settle();
    h.sources[0].open();
    const bad = { data: "not json", lastEventId: "9-0" } as MessageEvent<string>;
    (h.sources[0] as unknown as { listeners: Map<string, ((e: MessageEvent<string>) => void)[]> }).listeners
      .get("message.created")!
      .forEach((listener) => listener(bad));
    expect(h.events).toHaveLength(0);
    expect(h.stream.position).toBeNull();
  });
});
