/** An API answer that was not a success, with the readable message the server put in `detail`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterS: number | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** The network itself failed (offline, DNS, connection refused): the request may be retried later. */
export class NetworkError extends Error {
  constructor(message = "network unreachable") {
    super(message);
    this.name = "NetworkError";
  }
}

interface ValidationItem {
  loc?: (string | number)[];
  msg?: string;
}

/**
 * The message of an error body. `detail` is a string for every rule the services enforce, or FastAPI's list
 * of field errors for a malformed request (422): those become "field: message" lines. Never a stack trace.
 */
export function detailMessage(body: unknown, fallback: string): string {
  if (body && typeof body === "object" && "detail" in body) {
    const detail = (body as { detail: unknown }).detail;
    if (typeof detail === "string" && detail.trim()) return detail;
    if (Array.isArray(detail)) {
      const lines = (detail as ValidationItem[])
        .map((item) => {
          const field = (item.loc ?? []).filter((part) => part !== "body").join(".");
          return field ? `${field}: ${item.msg ?? ""}` : (item.msg ?? "");
        })
        .filter(Boolean);
      if (lines.length) return lines.join("\n");
    }
  }
  return fallback;
}

/** Seconds from a Retry-After header (delta-seconds or an HTTP date), or null when absent or unreadable. */
export function retryAfterSeconds(value: string | null, now: number = Date.now()): number | null {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}

/** Whatever was thrown, as one line a person can read. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError || error instanceof NetworkError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
