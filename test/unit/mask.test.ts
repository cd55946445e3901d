import { describe, expect, test } from "vitest";
import { maskEmail, maskEmails } from "../../src/domain/mask.js";

describe("maskEmails", () => {
  test.each([
    [
      "CancelHandshake failed for bob@example.com: throttled",
      "CancelHandshake failed for b***@example.com: throttled",
    ],
    [
      'target "alice@corp.example", again alice@corp.example.',
      'target "a***@corp.example", again a***@corp.example.',
    ],
    ["(x@y.z) <p@q.r>; s@t.u", "(x***@y.z) <p***@q.r>; s***@t.u"],
    ["no address here, @handle and trailing@ stay", "no address here, @handle and trailing@ stay"],
    ["a@b@c.example", "a***@c.example"],
  ])("masks %j as %j", (text, expected) => {
    expect(maskEmails(text)).toBe(expected);
  });

  test("masks the same way as maskEmail for a bare address", () => {
    expect(maskEmails("someone@gmail.com")).toBe(maskEmail("someone@gmail.com"));
  });

  test("finishes on a long word without an @ (the one-pattern search retried from every position)", () => {
    const long = "a".repeat(400_000);

    const masked = maskEmails(`${long} x@y.example`);

    expect(masked).toBe(`${long} x***@y.example`);
  });
});
