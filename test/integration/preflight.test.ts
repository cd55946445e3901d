import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { APT_LINE, advice, PIP_LINE, preflight } from "../../scripts/preflight.js";

const dir = mkdtempSync(join(tmpdir(), "preflight-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A directory for PATH holding only these programs: shell scripts with the given text. */
function pathWith(programs: Record<string, string>): string {
  const bin = mkdtempSync(join(dir, "bin-"));
  for (const [name, script] of Object.entries(programs)) {
    const file = join(bin, name);
    writeFileSync(file, `#!/bin/sh\n${script}\n`);
    chmodSync(file, 0o755);
  }
  return bin;
}

describe("npm test's preflight", () => {
  it("finds everything on this machine, where the suite runs", async () => {
    expect(await preflight()).toEqual([]);
  });

  it("names each missing program and gives the one apt-get line and the pip line", async () => {
    const bin = pathWith({});
    // ldd itself is part of libc: kept, so that only the programs under test are missing.
    symlinkSync("/usr/bin/ldd", join(bin, "ldd"));

    const problems = await preflight({ PATH: bin });

    expect(problems.map(({ what }) => what.split(" ")[0])).toEqual(["java", "unzip", "aws", "cfn-lint"]);
    const text = advice(problems);
    expect(text).toContain(`  ${APT_LINE}`);
    expect(text).toContain(`  ${PIP_LINE}`);
  });

  it("refuses a Java older than 17 and names Chromium's missing libraries", async () => {
    const bin = pathWith({
      java: `echo 'openjdk version "11.0.2" 2019-01-15' >&2`,
      unzip: "true",
      aws: "true",
      "cfn-lint": "true",
      ldd: `echo '\tlibnss3.so => not found'; echo '\tlibc.so.6 => /lib/libc.so.6 (0x1)'`,
    });

    const problems = await preflight({ PATH: bin });

    expect(problems).toEqual([
      { what: 'java 17 or later (found: openjdk version "11.0.2" 2019-01-15)', fix: "apt" },
      { what: "the libraries Chromium needs (libnss3.so)", fix: "apt" },
    ]);
    expect(advice(problems)).not.toContain(PIP_LINE);
  });
});
