import { describe, expect, test } from "vitest";
import { parseConfig } from "../../src/config/config.js";
import type { Handshake } from "../../src/domain/handshake.js";
import { sweep } from "../../src/sweep/sweep.js";
import { sweepPorts } from "../../src/sweep/types.js";
import { auditAction, FakeAudit, FakeOrganizations, handshake } from "../support/fakes.js";

const NOW = new Date("2026-11-25T12:00:00Z");
const HOUR = 3_600_000;

function config({ dryRun = false, cap = 25 } = {}) {
  return parseConfig(
    `version: 1
dryRun: ${dryRun}
maxCancellationsPerRun: ${cap}
rules:
  - id: outside-email
    type: email
    deny: ["*@gmail.com"]
    graceHours: 2
`,
    "test.yaml",
  );
}

const gmail = () =>
  handshake({ target: { type: "EMAIL", value: `g${Math.random().toString(36).slice(2, 8)}@gmail.com` } });

/** A store holding a mark of run-0 for each handshake, due an hour before NOW. */
function marked(handshakes: Handshake[]) {
  const audit = new FakeAudit();
  for (const h of handshakes) {
    audit.items.set(`run-0/${h.id}`, {
      ...auditAction({
        runId: "run-0",
        handshakeId: h.id,
        ruleId: "outside-email",
        target: h.target?.value ?? "",
      }),
      outcome: "MARKED",
      cancelAfter: new Date(NOW.getTime() - HOUR).toISOString(),
    });
  }
  const organizations = new FakeOrganizations(handshakes);
  return { audit, organizations, deps: { ...sweepPorts(audit), organizations, now: () => NOW } };
}

const request = (overrides = {}) => ({
  config: config(),
  runId: "run-1",
  trigger: "cli" as const,
  actor: "t",
  ...overrides,
});

describe("sweep with grace periods", () => {
  test("marks without cancelling, with cancelAfter on the item and in the summary", async () => {
    const h = gmail();
    const audit = new FakeAudit();
    const organizations = new FakeOrganizations([h]);
    const summary = await sweep(request(), { ...sweepPorts(audit), organizations, now: () => NOW });
    const due = new Date(NOW.getTime() + 2 * HOUR).toISOString();
    expect(summary.counts).toEqual({ MARKED: 1 });
    expect(summary.actions[0]?.cancelAfter).toBe(due);
    expect(audit.ofRun("run-1")[0]).toMatchObject({ outcome: "MARKED", cancelAfter: due });
    expect(organizations.cancels()).toEqual([]);
    expect(await audit.listOpenMarks()).toHaveLength(1);
  });

  test("cancels a due mark and closes it", async () => {
    const h = gmail();
    const { audit, organizations, deps } = marked([h]);
    const summary = await sweep(request(), deps);
    expect(summary.counts).toEqual({ CANCELED: 1 });
    expect(organizations.cancels()).toEqual([h.id]);
    expect(audit.closedMarks.get(`run-0/${h.id}`)).toBe("run-1");
  });

  test("a cancel that fails leaves the mark open for the next run", async () => {
    const h = gmail();
    const { audit, organizations, deps } = marked([h]);
    organizations.scripted.set(h.id, { outcome: "FAILED", attempts: 1, error: "AccessDeniedException" });
    const summary = await sweep(request(), deps);
    expect(summary.counts).toEqual({ FAILED: 1 });
    expect(audit.closedMarks.size).toBe(0);
  });

  test("a blocked run records BLOCKED for due marks and leaves them open", async () => {
    const handshakes = [gmail(), gmail()];
    const { audit, organizations, deps } = marked(handshakes);
    const summary = await sweep(request({ config: config({ cap: 1 }) }), deps);
    expect(summary.status).toBe("BLOCKED");
    expect(summary.counts).toEqual({ BLOCKED: 2 });
    expect(organizations.cancels()).toEqual([]);
    expect(audit.closedMarks.size).toBe(0);
  });

  test("a dry run makes no mark and closes none", async () => {
    const fresh = gmail();
    const gone = gmail();
    const { audit, organizations, deps } = marked([gone]);
    organizations.handshakes.delete(gone.id);
    organizations.handshakes.set(fresh.id, fresh);
    const summary = await sweep(request({ dryRun: true }), deps);
    expect(summary.actions.map((a) => [a.handshakeId, a.outcome])).toEqual([
      [fresh.id, "DRY_RUN"],
      [gone.id, "DRY_RUN"],
    ]);
    expect(summary.actions[0]?.reason).toMatch(/^would mark, due at /);
    expect(summary.actions[1]?.reason).toMatch(
      /^would record ALREADY_CLOSED: mark of run run-0 closed: .*\(dry run: the mark stays open\)$/,
    );
    expect(audit.closedMarks.size).toBe(0);
    expect((await audit.listOpenMarks()).map((m) => m.handshakeId)).toEqual([gone.id]);
  });

  test("a mark that cannot be closed is logged; the run's outcomes stand", async () => {
    const h = gmail();
    const { audit, deps } = marked([h]);
    audit.closeMark = async () => {
      throw new Error("InternalServerError");
    };
    const warnings: string[] = [];
    const logger = {
      debug() {},
      info() {},
      error() {},
      warn: (message: string) => void warnings.push(message),
    };
    const summary = await sweep(request(), { ...deps, logger });
    expect(summary.status).toBe("COMPLETED");
    expect(summary.counts).toEqual({ CANCELED: 1 });
    expect(warnings).toContain("could not close a mark; the next run closes it");
  });
});
