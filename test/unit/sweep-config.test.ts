import { createHash } from "node:crypto";
import { describe, expect, test } from "vitest";
import { parseConfig } from "../../src/config/config.js";
import { type SweepLogger, sweep } from "../../src/sweep/sweep.js";
import { sweepPorts } from "../../src/sweep/types.js";
import { FakeAudit, FakeOrganizations, handshake } from "../support/fakes.js";

const NOW = new Date("2026-11-25T12:00:00Z");

const config = parseConfig(
  `version: 1
dryRun: false
rules:
  - id: outside-email
    type: email
    allow: ["*@example.com"]
exemptions:
  - email: "*@partner.example"
    reason: "onboarding, \\"CHG-1\\" <b>"
`,
  "test.yaml",
);

function logger() {
  const warnings: { message: string; extra?: Record<string, unknown> }[] = [];
  const log: SweepLogger = {
    debug() {},
    info() {},
    warn(message, extra) {
      warnings.push({ message, ...(extra ? { extra } : {}) });
    },
    error() {},
  };
  return { log, warnings };
}

describe("the config a run applies", () => {
  test("is kept once per hash, as JSON that hashes to the run's configHash", async () => {
    const audit = new FakeAudit();
    const organizations = new FakeOrganizations([
      handshake({ target: { type: "EMAIL", value: "x@gmail.com" } }),
    ]);
    const deps = { organizations, ...sweepPorts(audit), now: () => NOW };

    const first = await sweep({ config, runId: "run-1", trigger: "cli", actor: "t" }, deps);
    await sweep({ config, runId: "run-2", trigger: "cli", actor: "t", dryRun: true }, deps);

    expect([...audit.configs.keys()]).toEqual([first.configHash]);
    const json = audit.configs.get(first.configHash) ?? "";
    expect(createHash("sha256").update(json).digest("hex").slice(0, 12)).toBe(first.configHash);
    const stored = JSON.parse(json);
    expect(stored.rules).toEqual([
      // The scope is stored as applied: the default [INVITE] spelled out.
      { id: "outside-email", type: "email", options: { allow: ["*@example.com"], actionTypes: ["INVITE"] } },
    ]);
    expect(stored.exemptions).toEqual([{ email: "*@partner.example", reason: 'onboarding, "CHG-1" <b>' }]);
    expect(stored.dryRun).toBe(false);
  });

  test("a failure to keep it is a warning; the run goes on and cancels as it would", async () => {
    const audit = new FakeAudit();
    audit.failConfigs = true;
    const organizations = new FakeOrganizations([
      handshake({ target: { type: "EMAIL", value: "x@gmail.com" } }),
    ]);
    const { log, warnings } = logger();

    const summary = await sweep(
      { config, runId: "run-1", trigger: "cli", actor: "t" },
      { organizations, ...sweepPorts(audit), now: () => NOW, logger: log },
    );

    expect(summary.status).toBe("COMPLETED");
    expect(summary.counts).toEqual({ CANCELED: 1 });
    expect(organizations.cancels()).toHaveLength(1);
    expect(audit.configs.size).toBe(0);
    expect(warnings).toEqual([
      {
        message: "could not record the config in the audit table",
        extra: { configHash: summary.configHash, error: expect.stringContaining("InternalServerError") },
      },
    ]);
  });
});
