import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { parseCommandArgs } from "../../src/cli/args.js";
import { COMMANDS, main } from "../../src/cli/main.js";
import { ConfigError } from "../../src/domain/errors.js";

let stderr = "";

beforeEach(() => {
  stderr = "";
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

async function invoke(argv: string[]): Promise<{ code: number; stdout: string }> {
  let stdout = "";
  const code = await main(argv, {
    out: (text) => {
      stdout += `${text}\n`;
    },
    err: (text) => {
      stderr += text;
    },
    // Help needs no table and no config.
    env: {},
  });
  return { code, stdout };
}

const names = COMMANDS.map(({ spec }) => spec.name);

describe("help", () => {
  test("covers the commands the brief lists", () => {
    expect(names).toEqual(
      expect.arrayContaining([
        "run",
        "config check",
        "audit init",
        "audit query",
        "audit runs",
        "audit report",
        "audit verify",
        "audit export",
        "demo",
        "help",
      ]),
    );
  });

  test.each(names.flatMap((name) => [[name, "--help"] as const, [name, "-h"] as const]))(
    "%s %s prints its usage on stdout and exits 0",
    async (name, flag) => {
      const result = await invoke([...name.split(" "), flag]);

      expect(result.code, stderr).toBe(0);
      expect(result.stdout.startsWith(`usage: handshake-janitor ${name} `)).toBe(true);
      expect(result.stdout).toContain("options:");
      expect(result.stdout).toContain("exit codes:");
      expect(stderr).toBe("");
    },
  );

  test("help wins over bad arguments, and `help COMMAND` prints the same text", async () => {
    const direct = await invoke(["audit", "query", "--no-such", "--help"]);
    const viaHelp = await invoke(["help", "audit", "query"]);

    expect(direct.code).toBe(0);
    expect(viaHelp).toEqual(direct);
  });

  test("-h as the value of an option is a value, not a request for help", async () => {
    // parseArgs refuses a value that looks like an option unless written --config=-h.
    await expect(invoke(["config", "check", "--config", "-h"])).rejects.toThrow(
      /^--config: argument is ambiguous\. Did you forget/,
    );
  });

  test.each([["config"], ["audit"]])(
    "%s --help lists every subcommand; bare, it is an argument error",
    async (group) => {
      const help = await invoke([group, "--help"]);
      const members = names.filter((name) => name.startsWith(`${group} `));
      expect(help.code).toBe(0);
      for (const name of members) expect(help.stdout).toContain(`handshake-janitor ${name} `);

      const bare = await invoke([group]);
      expect(bare.code).toBe(2);
      expect(bare.stdout).toBe("");
      for (const name of members) expect(stderr).toContain(`handshake-janitor ${name} `);
    },
  );

  test("a bare invocation prints the overview on stderr and exits 2", async () => {
    const result = await invoke([]);

    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    for (const name of names) expect(stderr).toContain(`  ${name} `);
  });

  test("--help alone prints the overview on stdout", async () => {
    const result = await invoke(["--help"]);
    expect(result.code).toBe(0);
    for (const name of names) expect(result.stdout).toContain(`  ${name} `);
  });
});

describe("options and help agree", () => {
  const helpOf = new Map<string, string>();
  beforeEach(async () => {
    for (const name of names) helpOf.set(name, (await invoke([...name.split(" "), "--help"])).stdout);
  });

  /** Every option name any command knows or any help mentions, and a few that none should. */
  function universe(): string[] {
    const all = new Set(["verbose", "config", "json", "out", "wide", "wait", "table", "file", "limit"]);
    for (const { spec } of COMMANDS) for (const name of Object.keys(spec.options)) all.add(name);
    for (const text of helpOf.values())
      for (const match of text.matchAll(/--([a-z][a-z-]*)/g)) all.add(match[1] ?? "");
    return [...all];
  }

  function accepts(name: string, option: string): boolean {
    const spec = COMMANDS.find((command) => command.spec.name === name)?.spec;
    if (!spec) throw new Error(name);
    try {
      parseCommandArgs(spec, [`--${option}=1`]);
      return true;
    } catch (error) {
      if (error instanceof ConfigError && error.issues.some((issue) => issue.includes("unknown option")))
        return false;
      // A boolean given a value is known, only misused.
      return true;
    }
  }

  test.each(names)("'%s': the parser accepts exactly the options its help lists", (name) => {
    const help = helpOf.get(name) ?? "";
    const mentioned = (option: string) => new RegExp(`--${option}(?![a-z-])`).test(help);

    for (const option of universe()) {
      expect({ option, accepted: accepts(name, option) }).toEqual({ option, accepted: mentioned(option) });
    }
  });
});
