/**
 * Messages the user has sent that the server has not confirmed yet.
 *
 * Each gets a `client_msg_id` when it is typed. It shows as pending until its 201 (or 200: the server
 * already had it) or its `message.created` event arrives, whichever comes first. A send that fails on the
 * network stays queued and is sent again — with the same `client_msg_id`, so the server returns the original
 * message instead of storing a second one — when the connection comes back. Sends go out one at a time in
 * the order they were typed, so a queue flushed after an outage keeps its order. A send the server refuses
 * (4xx) is marked failed with the server's message; the user can retry or discard it.
 */

export interface PendingMessage {
  clientMsgId: string;
  roomId: number;
  content: string;
  replyTo: string | null;
  createdAt: number;
  state: "queued" | "sending" | "failed";
  error: string | null;
}

/** What the server answered for a send: the stored message (its `client_msg_id` is ours). */
export interface Confirmed {
  id: string;
  client_msg_id?: string | null;
  room_id: number;
}

export type SendResult<M extends Confirmed> =
  | { kind: "sent"; message: M }
  | { kind: "offline" }
  | { kind: "refused"; error: string };

export interface OutboxOptions<M extends Confirmed> {
  send(pending: PendingMessage): Promise<SendResult<M>>;
  onConfirmed(message: M): void;
  onChange(pending: readonly PendingMessage[]): void;
  newId?: () => string;
  now?: () => number;
}

export class Outbox<M extends Confirmed> {
  private items: PendingMessage[] = [];
  private flushing: Promise<void> | null = null;
  private blocked = false;

  constructor(private readonly options: OutboxOptions<M>) {}

  get pending(): readonly PendingMessage[] {
    return this.items;
  }

  forRoom(roomId: number): PendingMessage[] {
    return this.items.filter((item) => item.roomId === roomId);
  }

  /** Queue a message and try to send it (and anything queued before it) now. */
  add(roomId: number, content: string, replyTo: string | null = null): PendingMessage {
    const item: PendingMessage = {
      clientMsgId: (this.options.newId ?? (() => crypto.randomUUID()))(),
      roomId,
      content,
      replyTo,
      createdAt: (this.options.now ?? Date.now)(),
      state: "queued",
      error: null,
    };
    this.items = [...this.items, item];
    this.changed();
    void this.flush();
    return item;
  }

  /**
   * The server has the message (a stream event or an answer): drop its pending copy. True when it was one
   * of ours, so the caller shows the stored message in its place.
   */
  confirm(message: M): boolean {
    const id = message.client_msg_id;
    if (!id) return false;
    const before = this.items.length;
    this.items = this.items.filter((item) => item.clientMsgId !== id);
    if (this.items.length === before) return false;
    this.changed();
    return true;
  }

  /** Send every queued message again, in order (the connection is back). */
  resume(): Promise<void> {
    this.blocked = false;
    return this.flush();
  }

  /** Stop sending (offline): what is queued waits for {@link resume}. */
  pause(): void {
    this.blocked = true;
  }

  retry(clientMsgId: string): void {
    this.items = this.items.map((item) =>
      item.clientMsgId === clientMsgId ? { ...item, state: "queued", error: null } : item,
    );
    this.changed();
    void this.resume();
  }

  /** Forget everything queued (the user signed out: nothing may be sent under the next session). */
  clear(): void {
    this.items = [];
    this.blocked = false;
    this.changed();
  }

  discard(clientMsgId: string): void {
    this.items = this.items.filter((item) => item.clientMsgId !== clientMsgId);
    this.changed();
  }

  /** Send queued messages one by one, oldest first; stops at the first network failure. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => (this.hasQueued() ? this.flush() : undefined));
    this.flushing = this.drain().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private hasQueued(): boolean {
    return !this.blocked && this.items.some((item) => item.state === "queued");
  }

  private async drain(): Promise<void> {
    while (!this.blocked) {
      const next = this.items.find((item) => item.state === "queued");
      if (!next) return;
      this.update(next.clientMsgId, { state: "sending" });
      let result: SendResult<M>;
      try {
        result = await this.options.send(next);
      } catch (error) {
        result = { kind: "refused", error: error instanceof Error ? error.message : String(error) };
      }
      if (result.kind === "sent") {
        // The stream may have confirmed it already; confirming twice is harmless.
        this.confirm(result.message);
        this.options.onConfirmed(result.message);
      } else if (result.kind === "offline") {
        this.update(next.clientMsgId, { state: "queued" });
        this.blocked = true;
        return;
      } else {
        this.update(next.clientMsgId, { state: "failed", error: result.error });
      }
    }
  }

  private update(clientMsgId: string, patch: Partial<PendingMessage>): void {
    let found = false;
    this.items = this.items.map((item) => {
      if (item.clientMsgId !== clientMsgId) return item;
      found = true;
      return { ...item, ...patch };
    });
    if (found) this.changed();
  }

  private changed(): void {
    this.options.onChange(this.items);
  }
}
