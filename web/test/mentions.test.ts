import { describe, expect, it } from "vitest";
import { mentionAt } from "../src/ui/mentions";

describe("mentionAt", () => {
  it("finds the @name being typed at the caret", () => {
    expect(mentionAt("hi @bo", 6)).toEqual({ start: 3, prefix: "bo" });
    expect(mentionAt("@", 1)).toEqual({ start: 0, prefix: "" });
    expect(mentionAt("hi @bob and", 7)).toEqual({ start: 3, prefix: "bob" });
  });

  it("ignores an address and a finished word", () => {
    expect(mentionAt("mail kim@example", 16)).toBeNull();
    expect(mentionAt("hi @bob ", 8)).toBeNull();
  });
});
