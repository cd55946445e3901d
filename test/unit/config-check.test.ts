import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { main } from "../../src/cli/main.js";

const dir = mkdtempSync(join(tmpdir(), "janitor-config-check-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("config check shows the control characters of a reason escaped, never raw", async () => {
  const path = join(dir, "hostile.yaml");
  writeFileSync(
    path,
    [
      "version: 1",
      "rules:",
      "  - id: stale-invitations",
      "    type: stale",
      "    olderThanDays: 7",
      "exemptions:",
      "  - handshakeId: h-0123456789abcdef",
      '    reason: "ok \\e]0;window title\\a \\e[2J"',
      "",
    ].join("\n"),
  );
  const printed: string[] = [];

  const code = await main(["config", "check", "--config", path], {
    out: (text) => printed.push(text),
    err: (text) => printed.push(text),
  });

  const output = printed.join("\n");
  expect(code).toBe(0);
  const controls = [...output].filter(
    (c) => c !== "\n" && (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f),
  );
  expect(controls).toEqual([]);
  expect(output).toContain("ok \\x1b]0;window title\\x07 \\x1b[2J");
});
