import { describe, expect, it } from "vitest";
import { detailMessage, retryAfterSeconds } from "../src/api/errors";

describe("detailMessage", () => {
  it("takes a string detail as it is", () => {
    expect(detailMessage({ detail: "Invalid credentials" }, "401")).toBe("Invalid credentials");
  });

  it("turns FastAPI's field errors into field: message lines", () => {
    const body = {
      detail: [
        { loc: ["body", "password"], msg: "String should have at least 8 characters", type: "string_too_short" },
        { loc: ["body", "email"], msg: "value is not a valid email address", type: "value_error" },
      ],
    };
    expect(detailMessage(body, "422")).toBe(
      "password: String should have at least 8 characters\nemail: value is not a valid email address",
    );
  });

  it("falls back when the body is not ours (a proxy's HTML page)", () => {
    expect(detailMessage(null, "502 Bad Gateway")).toBe("502 Bad Gateway");
    expect(detailMessage({ message: "no Route" }, "404 Not Found")).toBe("404 Not Found");
  });
});

describe("retryAfterSeconds", () => {
  it("reads seconds and HTTP dates", () => {
    expect(retryAfterSeconds("7")).toBe(7);
    expect(retryAfterSeconds("Wed, 21 Oct 2015 07:28:05 GMT", Date.parse("Wed, 21 Oct 2015 07:28:00 GMT"))).toBe(5);
    expect(retryAfterSeconds(null)).toBeNull();
    expect(retryAfterSeconds("soon")).toBeNull();
  });
});
