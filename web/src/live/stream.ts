/**
 * The live stream (`GET /api/stream`) through the browser's EventSource, which cannot send an
 * Authorization header: each connection opens with a ticket from `POST /api/stream/tickets`.
 *
 * - While a connection is up, the browser's own reconnect (same URL, `Last-Event-ID` header) resumes it; a
 *   ticket stays good for 5 minutes for exactly that.
 * - When the browser gives up (the ticket expired, the session was revoked, the server refused), a new
 *   ticket is minted and a new EventSource opens with `?last_event_id=` — the id of the last event that
 *   carried one — after a backoff, so nothing between the two connections is lost or repeated.
 * - `reset` means the id is too old to replay: the client re-reads the REST routes ({@link StreamHandlers.onReset}).
 * - Ephemeral events (`typing`, `presence.updated`) carry no id and never move the resume position.
 */

/** Every named event the stream sends (CONTRACT §6, §8); unknown names are ignored. */
export const STREAM_EVENTS = [
  "message.created",
  "message.updated",
  "message.deleted",
  "reaction.updated",
  "read.updated",
  "room.created",
  "room.updated",
  "room.member_joined",
  "room.member_left",
  "room.member_role_changed",
  "typing",
  "presence.updated",
] as const;
export type StreamEventName = (typeof STREAM_EVENTS)[number];

export type StreamStatus = "idle" | "connecting" | "live" | "waiting" | "stopped";

/** The part of EventSource the stream uses (a fake in the unit tests). */
export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((this: never, ev: Event) => unknown) | null;
  onerror: ((this: never, ev: Event) => unknown) | null;
  addEventListener(type: string, listener: (event: MessageEvent<string>) => void): void;
  close(): void;
}
export type EventSourceFactory = (url: string) => EventSourceLike;

export interface StreamHandlers {
  onEvent(name: StreamEventName, data: unknown): void;
  /** The resume position was too old: re-read every REST list this client shows. */
  onReset(): void;
  /** A connection is live (the first one or after a gap): queued sends may go out now. */
  onLive(resumed: boolean): void;
  onStatus?(status: StreamStatus): void;
}

export interface StreamOptions {
  /** Mint a ticket (`POST /stream/tickets`); rejects when the session is gone or the network is down. */
  mintTicket(): Promise<string>;
  open: EventSourceFactory;
  handlers: StreamHandlers;
  baseUrl?: string;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (handle: unknown) => void;
  /** Jitter in [0, 1); fixed in tests. */
  random?: () => number;
}

const CLOSED = 2;
const BACKOFF_MS = [500, 1000, 2000, 5000, 10000, 15000];

export class LiveStream {
  private source: EventSourceLike | null = null;
  private lastEventId: string | null = null;
  private failures = 0;
  private timer: unknown = null;
  private running = false;
  private generation = 0;
  private hadConnection = false;
  status: StreamStatus = "idle";

  constructor(private readonly options: StreamOptions) {}

  /** The id replay would start after; null before the first event. */
  get position(): string | null {
    return this.lastEventId;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.connect();
  }

  /** Close the connection and stop reconnecting (offline, log out); {@link start} resumes from the position. */
  stop(): void {
    this.running = false;
    this.generation++;
    this.clearTimer();
    this.closeSource();
    this.setStatus("stopped");
  }

  /** Reconnect now (the browser came back online): skips the backoff wait. */
  reconnectNow(): void {
    if (!this.running) return this.start();
    if (this.status === "live") return;
    this.clearTimer();
    this.failures = 0;
    void this.connect();
  }

  private async connect(): Promise<void> {
    const generation = ++this.generation;
    this.closeSource();
    this.setStatus("connecting");
    let ticket: string;
    try {
      ticket = await this.options.mintTicket();
    } catch {
      if (generation === this.generation) this.retryLater();
      return;
    }
    if (generation !== this.generation || !this.running) return;
    const source = this.options.open(this.url(ticket));
    this.source = source;
    source.onopen = () => {
      if (generation !== this.generation) return;
      this.failures = 0;
      const resumed = this.hadConnection;
      this.hadConnection = true;
      this.setStatus("live");
      this.options.handlers.onLive(resumed);
    };
    source.onerror = () => {
      if (generation !== this.generation) return;
      if (source.readyState === CLOSED) {
        // The browser will not retry (a refused ticket, a non-200): a new ticket, after a backoff.
        this.retryLater();
      } else {
        // The browser retries by itself with the same URL and Last-Event-ID.
        this.setStatus("connecting");
      }
    };
    for (const name of STREAM_EVENTS) {
      source.addEventListener(name, (event) => this.deliver(generation, name, event));
    }
    source.addEventListener("reset", (event) => {
      if (generation !== this.generation) return;
      if (event.lastEventId) this.lastEventId = event.lastEventId;
      this.options.handlers.onReset();
    });
  }

  private deliver(generation: number, name: StreamEventName, event: MessageEvent<string>): void {
    if (generation !== this.generation) return;
    let data: unknown;
    try {
      data = JSON.parse(event.data);
    } catch {
      return;
    }
    // An event without an id line keeps the previous lastEventId in the browser; ephemeral events are
    // excluded by name as well, so a server that ever gave them ids would still not move the position.
    if (name !== "typing" && name !== "presence.updated" && event.lastEventId) {
      this.lastEventId = event.lastEventId;
    }
    this.options.handlers.onEvent(name, data);
  }

  private url(ticket: string): string {
    const query = new URLSearchParams({ ticket });
    if (this.lastEventId) query.set("last_event_id", this.lastEventId);
    return `${this.options.baseUrl ?? "/api"}/stream?${query.toString()}`;
  }

  private retryLater(): void {
    this.closeSource();
    if (!this.running) return;
    const base = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)];
    this.failures++;
    const jitter = 0.5 + (this.options.random ?? Math.random)() / 2;
    this.setStatus("waiting");
    const set = this.options.setTimeout ?? ((fn, ms) => setTimeout(fn, ms));
    this.timer = set(() => {
      this.timer = null;
      if (this.running) void this.connect();
    }, Math.round(base * jitter));
  }

  private clearTimer(): void {
    if (this.timer !== null) (this.options.clearTimeout ?? ((h) => clearTimeout(h as number)))(this.timer);
    this.timer = null;
  }

  private closeSource(): void {
    if (this.source) {
      this.source.onopen = null;
      this.source.onerror = null;
      this.source.close();
      this.source = null;
    }
  }

  private setStatus(status: StreamStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.options.handlers.onStatus?.(status);
  }
}
