import { describe, expect, test } from "vitest";
import { ConfigError } from "../../src/domain/errors.js";
import { eventDepthProblem, MAX_EVENT_DEPTH } from "../../src/handlers/event-depth.js";
import { parseEvent } from "../../src/handlers/events.js";

/** `levels` handshake resources, each inside the one before, as a hostile event would carry them. */
function nestedResources(levels: number): unknown {
  let nested: unknown[] = [];
  for (let i = 0; i < levels; i++) nested = [{ type: "NOTES", value: "v", resources: nested }];
  return nested;
}

function issuesOf(parse: () => unknown): readonly string[] {
  try {
    parse();
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  return [];
}

describe("an event nested deeper than any the janitor reads", () => {
  test("is one line in the sweep's manual invoke too", () => {
    const issues = issuesOf(() => parseEvent({ reason: nestedResources(1_000) }, "req-1", "sweep"));

    expect(issues).toEqual([
      expect.stringMatching(/^event\.reason\.0\.resources\.0\..*: nested more than 64 levels deep/),
    ]);
  });

  test("leaves events of a reasonable depth to the schema", () => {
    expect(eventDepthProblem({ detail: { resources: nestedResources(10) } })).toBeUndefined();
  });

  test("counts levels exactly: the limit passes, one more does not", () => {
    let atLimit: unknown = "leaf";
    for (let i = 0; i < MAX_EVENT_DEPTH; i++) atLimit = { a: atLimit };
    expect(eventDepthProblem(atLimit)).toBeUndefined();
    expect(eventDepthProblem({ a: atLimit })).toMatch(/nested more than 64 levels deep/);
  });

  test("walks a very deep value without exhausting the stack", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(eventDepthProblem(deep)).toMatch(/^event\.0\.0\.0\.0\.0\.0\.0\.0\.…: nested/);
  });
});
