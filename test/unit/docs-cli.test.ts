import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CLI_PAGE, reference, withReference } from "../../scripts/docs-cli.js";
import { commandHelp } from "../../src/cli/args.js";
import { COMMANDS } from "../../src/cli/main.js";

describe("docs/cli.md", () => {
  it("holds exactly what --help prints for every command (npm run docs:cli rewrites it)", () => {
    const page = readFileSync(CLI_PAGE, "utf8");
    expect(withReference(page, reference())).toBe(page);
  });

  it("shows each command's help whole, under a heading of its name", () => {
    const block = reference();
    for (const { spec } of COMMANDS) {
      expect(block).toContain(`### ${spec.name}\n\n\`\`\`text\n${commandHelp(spec)}\n\`\`\``);
    }
  });

  it("refuses a page without its markers rather than writing somewhere else", () => {
    expect(() => withReference("# Command line\n", "x")).toThrow(/needs the markers/);
  });
});
