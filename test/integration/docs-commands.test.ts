import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_CONFIG } from "../../devtools/demo.js";
import { sampleOrganization } from "../../devtools/sample-org.js";
import { runCli, type Stack, stackEnv, startStack } from "../support/stack.js";

/**
 * Every `npm run janitor -- …` command the README and docs/ show, run in the order a reader meets
 * them against the local stack (the sample organization, DynamoDB Local, the demo's config), as
 * the second terminal of the README's tour would: each must exit 0. A command whose options
 * change, or whose page shows an option that does not exist, fails here.
 */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PAGES = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((name) => name.endsWith(".md") && name !== "cli.md")
    .sort()
    .map((name) => `docs/${name}`),
];
const PREFIX = "npm run janitor -- ";

/** The words of one shell command line: quotes kept together, a comment and a redirect dropped. */
function words(line: string): string[] {
  const found: string[] = [];
  for (const match of line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) {
    const word = match[1] ?? match[2] ?? match[3] ?? "";
    if (match[3] !== undefined && (word.startsWith("#") || word === ">")) break;
    found.push(word);
  }
  return found;
}

function commandsOf(text: string): string[] {
  const found: string[] = [];
  let fence: string | undefined;
  for (const line of text.split("\n")) {
    const opening = /^```(\w*)/.exec(line);
    if (opening) {
      fence = fence === undefined ? (opening[1] ?? "") : undefined;
      continue;
    }
    if (fence === "sh" && line.startsWith(PREFIX))
      found.push(line.slice(PREFIX.length).replace(/\s+#.*$/, ""));
    if (fence === undefined) {
      for (const span of line.matchAll(/`npm run janitor -- ([^`]+)`/g)) {
        // A span with an ellipsis is a pattern ("--config …"), not a command to copy.
        if (span[1] && !span[1].includes("…")) found.push(span[1]);
      }
    }
  }
  return found;
}

const COMMANDS = [
  ...new Set(
    PAGES.flatMap((page) => commandsOf(readFileSync(join(ROOT, page), "utf8")).map((c) => `${page}: ${c}`)),
  ),
];
const FILE_OPTIONS = new Set(["--config", "--out", "--file"]);

let stack: Stack;
let env: Record<string, string>;
const dir = mkdtempSync(join(tmpdir(), "janitor-docs-"));

beforeAll(async () => {
  stack = await startStack(sampleOrganization(new Date()));
  env = { ...stackEnv(stack.org, stack.db, await stack.newTable()), JANITOR_CONFIG: DEMO_CONFIG };
  // "--config janitor.yaml", as a reader's own copy of the example would be called.
  copyFileSync(DEMO_CONFIG, join(dir, "janitor.yaml"));
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A relative file named after --config, --out or --file: the repository's if it has it, else the scratch dir's. */
function located(path: string): string {
  if (isAbsolute(path)) return path;
  return existsSync(join(ROOT, path)) && !existsSync(join(dir, path)) ? join(ROOT, path) : join(dir, path);
}

describe("the commands the documentation shows", () => {
  it("finds them in the README and in docs/", () => {
    expect(COMMANDS.filter((c) => c.startsWith("README.md:")).length).toBeGreaterThan(5);
    expect(COMMANDS.filter((c) => c.startsWith("docs/")).length).toBeGreaterThan(5);
  });

  it("reads a line as a shell would, without its comment or redirect", () => {
    expect(words(`audit query --format csv > q1.csv   # by rule`)).toEqual([
      "audit",
      "query",
      "--format",
      "csv",
    ]);
    expect(words(`run --actor "alice smith" --dry-run`)).toEqual([
      "run",
      "--actor",
      "alice smith",
      "--dry-run",
    ]);
  });

  it.each(COMMANDS)(
    "%s",
    async (shown) => {
      const args = words(shown.slice(shown.indexOf(": ") + 2));
      const resolved = args.map((word, i) => (FILE_OPTIONS.has(args[i - 1] ?? "") ? located(word) : word));
      const result = await runCli(resolved, env);
      expect(result.code, `${result.stderr}\n${result.stdout}`).toBe(0);
    },
    120_000,
  );
});
