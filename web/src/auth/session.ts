import type { components } from "../api/schema/user";

export type TokenPair = components["schemas"]["TokenPair"];

const REFRESH_KEY = "bigtech-chat.refresh";
/** Refresh this long before the access token expires, so a request never carries an expired one. */
const REFRESH_EARLY_S = 60;

export interface SessionStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

type Refresher = (refreshToken: string) => Promise<TokenPair>;

/**
 * The signed-in session. The access token lives only in memory (a script injected into the page cannot
 * find it in storage); the refresh token lives in `sessionStorage`, so a reload of the tab stays signed in
 * and closing the tab ends it. A timer refreshes the pair a minute before the access token expires;
 * concurrent callers of {@link refresh} share one request, because the server rotates refresh tokens and a
 * second use of the old one would revoke the whole family.
 */
export class Session {
  private access: string | null = null;
  private timer: unknown = null;
  private inFlight: Promise<string | null> | null = null;
  private readonly listeners = new Set<(signedIn: boolean) => void>();

  constructor(
    private readonly refresher: Refresher,
    private readonly storage: SessionStorageLike = sessionStorage,
    private readonly timers: Timers = { setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (h) => clearTimeout(h as number) },
  ) {}

  get accessToken(): string | null {
    return this.access;
  }

  get hasRefreshToken(): boolean {
    return this.storage.getItem(REFRESH_KEY) !== null;
  }

  get refreshToken(): string | null {
    return this.storage.getItem(REFRESH_KEY);
  }

  onChange(listener: (signedIn: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Keep a fresh pair (after log in or refresh) and schedule the next silent refresh. */
  accept(pair: TokenPair): void {
    const wasSignedIn = this.access !== null;
    this.access = pair.access_token;
    this.storage.setItem(REFRESH_KEY, pair.refresh_token);
    this.timers.clearTimeout(this.timer);
    const inMs = Math.max(5, pair.expires_in - REFRESH_EARLY_S) * 1000;
    this.timer = this.timers.setTimeout(() => void this.refresh(), inMs);
    if (!wasSignedIn) this.emit(true);
  }

  /** One refresh at a time; null (and signed out) when the refresh token is refused. */
  refresh(): Promise<string | null> {
    if (this.inFlight) return this.inFlight;
    const token = this.storage.getItem(REFRESH_KEY);
    if (!token) return Promise.resolve(null);
    this.inFlight = this.refresher(token)
      .then((pair) => {
        this.accept(pair);
        return pair.access_token;
      })
      .catch((error: unknown) => {
        // A refused refresh token ends the session; a network failure keeps it for the next try.
        if (isRefused(error)) this.clear();
        return null;
      })
      .finally(() => {
        this.inFlight = null;
      });
    return this.inFlight;
  }

  /** Forget every token (log out, or a refresh the server refused). */
  clear(): void {
    const wasSignedIn = this.access !== null;
    this.access = null;
    this.storage.removeItem(REFRESH_KEY);
    this.timers.clearTimeout(this.timer);
    this.timer = null;
    if (wasSignedIn) this.emit(false);
  }

  private emit(signedIn: boolean): void {
    for (const listener of this.listeners) listener(signedIn);
  }
}

function isRefused(error: unknown): boolean {
  return typeof error === "object" && error !== null && "status" in error && typeof error.status === "number";
}
