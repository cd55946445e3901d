import { describe, expect, test } from "vitest";
import { exclusively } from "../support/stack.js";

/** Resolves when `release` is called: a holder that stays inside the lock until told to leave. */
function gate(): { promise: Promise<void>; release: () => void } {
  let release = () => {};
  const promise = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { promise, release };
}

describe("exclusively, the run-wide lock of test files in parallel workers", () => {
  test("lets holders of one name in one at a time, in order, and holders of another name at once", async () => {
    const events: string[] = [];
    const first = gate();
    const firstIn = gate();

    const a = exclusively("shared-thing", async () => {
      events.push("a in");
      firstIn.release();
      await first.promise;
      events.push("a out");
    });
    await firstIn.promise;
    const b = exclusively("shared-thing", async () => {
      events.push("b in");
    });
    await exclusively("another-thing", async () => {
      events.push("other");
    });
    first.release();
    await Promise.all([a, b]);

    expect(events).toEqual(["a in", "other", "a out", "b in"]);
  });

  test("releases the lock when the holder throws, and passes the error on", async () => {
    await expect(
      exclusively("thrown-in", async () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");

    await expect(exclusively("thrown-in", async () => "next")).resolves.toBe("next");
  });
});
