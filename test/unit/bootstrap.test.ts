import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { keptConfig, settingsKey } from "../../src/handlers/bootstrap.js";
import { parseSettings } from "../../src/settings.js";

const dir = mkdtempSync(join(tmpdir(), "janitor-bootstrap-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RULES = (days: number) =>
  `version: 1\nrules:\n  - id: stale-invitations\n    type: stale\n    olderThanDays: ${days}\n`;

describe("the Lambda bootstrap", () => {
  it("keys an environment's application on its settings without the secret", () => {
    const env = {
      AUDIT_TABLE_NAME: "t",
      AWS_ACCESS_KEY_ID: "AKIAEXAMPLE",
      AWS_SECRET_ACCESS_KEY: "s3cr3t-value",
    };
    const key = settingsKey(parseSettings(env).settings);
    const rotated = settingsKey(parseSettings({ ...env, AWS_SECRET_ACCESS_KEY: "other-secret" }).settings);
    const otherTable = settingsKey(parseSettings({ ...env, AUDIT_TABLE_NAME: "audit-b" }).settings);

    expect(key).not.toContain("s3cr3t-value");
    expect(key).not.toContain("AKIAEXAMPLE");
    expect(rotated).toBe(key);
    expect(otherTable).not.toBe(key);
  });

  it("reads the config once and keeps it until the file changes", async () => {
    const path = join(dir, "janitor.yaml");
    writeFileSync(path, RULES(7));
    const config = keptConfig();

    const first = await config(path);
    const again = await config(path);
    writeFileSync(path, RULES(9));
    utimesSync(path, new Date(), new Date(Date.now() + 5_000));
    const changed = await config(path);

    expect(again).toBe(first);
    expect(first.rules[0]?.options).toMatchObject({ olderThanDays: 7 });
    expect(changed.rules[0]?.options).toMatchObject({ olderThanDays: 9 });
  });
});
