import createClient from "openapi-fetch";
import type { paths as ChatPaths } from "./schema/chat";
import type { paths as FriendPaths } from "./schema/friend";
import type { paths as UserPaths } from "./schema/user";
import { ApiError, NetworkError, detailMessage, retryAfterSeconds } from "./errors";
import { Session, type TokenPair } from "../auth/session";

/** Every public route is under /api on the client's own origin (the gateway serves both). */
export const API_BASE = "/api";
/** How many times a throttled (429) request is retried after waiting its Retry-After. */
const MAX_THROTTLE_RETRIES = 2;
/** The longest a throttled request waits on its own before the error reaches the user. */
const MAX_THROTTLE_WAIT_S = 30;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function rawFetch(request: Request): Promise<Response> {
  try {
    return await fetch(request);
  } catch (error) {
    throw new NetworkError(error instanceof Error ? error.message : undefined);
  }
}

/** The refresh call itself: plain fetch, no bearer, no retry on 401 (that would loop). */
async function refreshPair(refreshToken: string): Promise<TokenPair> {
  const response = await rawFetch(
    new Request(new URL(`${API_BASE}/auth/refresh`, location.href), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: refreshToken }),
    }),
  );
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, detailMessage(body, response.statusText));
  return body as TokenPair;
}

export const session = new Session(refreshPair);

/** Listeners told when a request waits out a 429 (the UI shows "slowing down"). */
export const throttleListeners = new Set<(seconds: number) => void>();

/**
 * The fetch every generated client uses. It adds the bearer token; a 401 triggers one refresh and one
 * retry, and a second 401 (or a refused refresh) ends the session, which sends the UI back to the login
 * screen; a 429 waits for its Retry-After and tries again, a bounded number of times.
 */
export async function authedFetch(input: Request): Promise<Response> {
  const body = input.body ? await input.clone().arrayBuffer() : undefined;
  const attempt = (token: string | null) => {
    const headers = new Headers(input.headers);
    if (token) headers.set("Authorization", `Bearer ${token}`);
    return rawFetch(new Request(input.url, { method: input.method, headers, body, signal: input.signal }));
  };
  let token = session.accessToken;
  let response = await attempt(token);
  if (response.status === 401 && session.hasRefreshToken) {
    token = await session.refresh();
    if (token) response = await attempt(token);
    if (response.status === 401 || !token) session.clear();
  }
  for (let retry = 0; response.status === 429 && retry < MAX_THROTTLE_RETRIES; retry++) {
    const wait = retryAfterSeconds(response.headers.get("Retry-After")) ?? 1;
    if (wait > MAX_THROTTLE_WAIT_S) break;
    for (const listener of throttleListeners) listener(wait);
    await sleep(wait * 1000);
    response = await attempt(session.accessToken);
  }
  return response;
}

const options = { baseUrl: API_BASE, fetch: authedFetch };
export const userApi = createClient<UserPaths>(options);
export const friendApi = createClient<FriendPaths>(options);
export const chatApi = createClient<ChatPaths>(options);

interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The body of a successful answer, or an {@link ApiError} carrying the server's `detail`. */
export async function ok<T>(call: Promise<Answer<T>>): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok) return data as T;
  const retry = retryAfterSeconds(response.headers.get("Retry-After"));
  throw new ApiError(response.status, detailMessage(error, `${response.status} ${response.statusText}`), retry);
}
