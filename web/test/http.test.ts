import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

/**
 * The one fetch wrapper every API call goes through, against a scripted server standing in for the
 * network (the browser's fetch is the only thing replaced): refresh on 401, sign-out when refused, and
 * Retry-After on 429.
 */

type Handler = (request: Request) => Response | Promise<Response>;
let handler: Handler;
const seen: { path: string; auth: string | null }[] = [];

const memory = new Map<string, string>();
vi.stubGlobal("location", { href: "http://client.test/" });
vi.stubGlobal("sessionStorage", {
  getItem: (k: string) => memory.get(k) ?? null,
  setItem: (k: string, v: string) => void memory.set(k, v),
  removeItem: (k: string) => void memory.delete(k),
});
vi.stubGlobal("fetch", async (request: Request) => {
  seen.push({ path: new URL(request.url).pathname, auth: request.headers.get("Authorization") });
  return handler(request);
});

let http: typeof import("../src/api/http");
beforeAll(async () => {
  http = await import("../src/api/http");
});

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
const pair = (n: number) => ({ access_token: `a${n}`, refresh_token: `r${n}`, token_type: "bearer" as const, expires_in: 900 });

beforeEach(() => {
  seen.length = 0;
  memory.clear();
  http.session.clear();
});

describe("authedFetch", () => {
  it("refreshes once on a 401 and retries with the new token; concurrent calls share the refresh", async () => {
    http.session.accept(pair(1));
    let refreshes = 0;
    handler = async (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/api/auth/refresh") {
        refreshes++;
        expect(await request.json()).toEqual({ refresh_token: "r1" });
        return json(200, pair(2));
      }
      return request.headers.get("Authorization") === "Bearer a2" ? json(200, { ok: true }) : json(401, { detail: "expired" });
    };
    const [a, b] = await Promise.all([
      http.authedFetch(new Request("http://client.test/api/rooms")),
      http.authedFetch(new Request("http://client.test/api/friends")),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(refreshes).toBe(1);
    expect(http.session.accessToken).toBe("a2");
    expect(memory.get("bigtech-chat.refresh")).toBe("r2");
  });

  it("signs out when the refresh token is refused, and hands back the 401", async () => {
    http.session.accept(pair(1));
    const signedOut = vi.fn();
    const stop = http.session.onChange((signedIn) => !signedIn && signedOut());
    handler = (request) =>
      new URL(request.url).pathname === "/api/auth/refresh" ? json(401, { detail: "revoked" }) : json(401, { detail: "expired" });
    const response = await http.authedFetch(new Request("http://client.test/api/rooms"));
    expect(response.status).toBe(401);
    expect(signedOut).toHaveBeenCalledOnce();
    expect(http.session.accessToken).toBeNull();
    expect(memory.has("bigtech-chat.refresh")).toBe(false);
    stop();
  });

  it("waits out a 429's Retry-After and tries again, telling the UI", async () => {
    http.session.accept(pair(1));
    const told: number[] = [];
    http.throttleListeners.add((s) => told.push(s));
    let calls = 0;
    handler = () => (++calls === 1 ? json(429, { detail: "API rate limit exceeded" }, { "Retry-After": "0" }) : json(201, { id: 1 }));
    const response = await http.authedFetch(
      new Request("http://client.test/api/rooms", { method: "POST", body: JSON.stringify({ type: "direct" }) }),
    );
    expect(response.status).toBe(201);
    expect(told).toEqual([0]);
    expect(seen.map((s) => s.auth)).toEqual(["Bearer a1", "Bearer a1"]);
  });

  it("turns an error body into the server's words", async () => {
    handler = () => json(409, { detail: "username already taken" });
    await expect(http.ok(http.userApi.GET("/profile/me", { baseUrl: "http://client.test/api" }))).rejects.toMatchObject({
      status: 409,
      message: "username already taken",
    });
  });
});
