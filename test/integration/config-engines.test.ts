import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { runCliProcess } from "../support/stack.js";

// A process of its own for each check: in the test workers another file may have loaded RE2 already,
// and what is checked here is that loading the config loads it.
const dir = mkdtempSync(join(tmpdir(), "janitor-config-engines-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configFile(name: string, pattern: string): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    [
      "version: 1",
      "approval: required",
      `approvalNoteRequire: ${JSON.stringify(pattern)}`,
      "rules:",
      "  - id: outside-email",
      "    type: email",
      '    deny: ["*@gmail.com"]',
      "",
    ].join("\n"),
  );
  return path;
}

describe("an approval note's pattern in a config without a notes rule", () => {
  test("is checked by RE2 when the config is loaded: a valid one is described", async () => {
    const result = await runCliProcess(
      ["config", "check", "--config", configFile("good.yaml", "CHG-[0-9]+")],
      {},
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("/CHG-[0-9]+/ (RE2)");
  });

  test("is checked by RE2 when the config is loaded: an invalid one is one line naming the field", async () => {
    const path = configFile("bad.yaml", "CHG-(");
    const result = await runCliProcess(["config", "check", "--config", path], {});
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(path);
    expect(lines[0]).toContain("approvalNoteRequire");
    expect(lines[0]).toContain("is not a valid RE2 pattern");
  });
});
