import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startOrganizationsEmulator } from "../../devtools/org-emulator/index.js";
import { sampleOrganization } from "../../devtools/sample-org.js";
import { loadConfig } from "../../src/config/config.js";
import { createSweepHandler, SAFETY_MARGIN_MS } from "../../src/handlers/sweep.js";
import type { RunSummary } from "../../src/sweep/sweep.js";
import { lambdaContext } from "../support/lambda-context.js";
import { runCli, type Stack, stackEnv, startStack } from "../support/stack.js";
import {
  auditItems,
  expectOneFinalRecordEach,
  newlyCanceled,
  selectedIds,
  uncappedDemoConfig,
} from "../support/sweep-checks.js";

// The handler builds its SDK clients once per module, on first use, so every handler call of this
// file talks to this one emulator; each test reopens what the previous one canceled.
let stack: Stack;
let table: string;
const dir = mkdtempSync(join(tmpdir(), "janitor-deadline-"));
const configPath = uncappedDemoConfig(dir);
/** The handler's safety margin: no cancel starts closer to the timeout. */
const MARGIN_MS = SAFETY_MARGIN_MS;
/**
 * Two calls a second: the sample's selection takes longer than the budgets below to cancel (the
 * test checks it), which still leave a loaded machine time for the run's first cancels.
 */
const SLOW = { throttle: { CancelHandshake: { ratePerSecond: 2, burst: 1 } }, latencyMs: 20 };

beforeAll(async () => {
  stack = await startStack(sampleOrganization(new Date(), { seed: 61, count: 70 }), SLOW);
  table = await stack.newTable();
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const context = lambdaContext;

function env() {
  return {
    ...stackEnv(stack.org, stack.db, table),
    JANITOR_CONFIG: configPath,
    POWERTOOLS_LOG_LEVEL: "ERROR",
  };
}

async function invoke(remainingMs: number): Promise<RunSummary> {
  return createSweepHandler(env())({ reason: "CHG-1" }, context(remainingMs));
}

/** Every handshake open again and a full token bucket: each test starts from the same organization. */
function reopen(ids: readonly string[]): void {
  for (const id of ids) stack.org.mutate(id, "OPEN");
  stack.org.setFaults(SLOW);
  stack.org.resetStats();
}

function outcomesOf(summary: RunSummary, outcome: string): string[] {
  return summary.actions
    .filter((a) => a.outcome === outcome)
    .map((a) => a.handshakeId)
    .sort();
}

describe("the Lambda handler near its timeout", () => {
  test("with less time left than the safety margin it cancels nothing and defers every match", async () => {
    const before = stack.org.handshakes();
    const selected = selectedIds(before, await loadConfig(configPath));
    reopen([]);

    const summary = await invoke(MARGIN_MS - 5_000);

    expect(summary.status).toBe("PARTIAL");
    expect(stack.org.stats().CancelHandshake).toBeUndefined();
    expect(outcomesOf(summary, "DEFERRED")).toEqual(selected);
    expect(newlyCanceled(before, stack.org.handshakes())).toEqual([]);
  });

  test("stops starting cancels at the deadline, records the rest DEFERRED, and the next run finishes", async () => {
    const before = stack.org.handshakes();
    const selected = selectedIds(before, await loadConfig(configPath));
    reopen([]);
    const budgetMs = 3_000;
    expect(selected.length / SLOW.throttle.CancelHandshake.ratePerSecond).toBeGreaterThan(budgetMs / 1000);

    const first = await invoke(MARGIN_MS + budgetMs);

    expect(first.status).toBe("PARTIAL");
    const canceled = outcomesOf(first, "CANCELED");
    const deferred = outcomesOf(first, "DEFERRED");
    expect(canceled.length).toBeGreaterThan(0);
    expect(deferred.length).toBeGreaterThan(0);
    expect([...canceled, ...deferred].sort()).toEqual(selected);
    expect(newlyCanceled(before, stack.org.handshakes())).toEqual(canceled);
    // Outcome writes of calls in flight at the deadline, nothing more: well inside the margin.
    expect(first.durationMs).toBeLessThan(budgetMs + 3_000);

    // The service recovers for the next run, which is not the one under test for its speed.
    stack.org.setFaults({});
    const second = await invoke(300_000).finally(() => stack.org.setFaults(SLOW));

    expect(second.status).toBe("COMPLETED");
    expect(outcomesOf(second, "CANCELED")).toEqual(deferred);
    expect(newlyCanceled(before, stack.org.handshakes())).toEqual(selected);
    const items = await auditItems(env(), [first.runId, second.runId]);
    expectOneFinalRecordEach(items, selected);
    reopen(selected);
  });
});

describe("the CLI's --time-budget", () => {
  test("a tiny budget against a slow service exits 3 with the rest deferred; a rerun cancels them", async () => {
    const org = await startOrganizationsEmulator({
      handshakes: sampleOrganization(new Date(), { seed: 62, count: 70 }),
      faults: SLOW,
    });
    try {
      const cliTable = await stack.newTable();
      const cliEnv = stackEnv(org, stack.db, cliTable);
      const before = org.handshakes();
      const selected = selectedIds(before, await loadConfig(configPath));

      const first = await runCli(
        ["run", "--config", configPath, "--json", "--run-id", "budget-1", "--time-budget", "1"],
        cliEnv,
      );

      expect(first.code, first.stderr).toBe(3);
      const partial = JSON.parse(first.stdout) as RunSummary;
      const deferred = outcomesOf(partial, "DEFERRED");
      expect(deferred.length).toBeGreaterThan(0);
      expect(newlyCanceled(before, org.handshakes())).toEqual(outcomesOf(partial, "CANCELED"));

      // The service recovers: the rerun is not the one under test for its speed.
      org.setFaults({});
      const second = await runCli(["run", "--config", configPath, "--json", "--run-id", "budget-2"], cliEnv);

      expect(second.code, second.stderr).toBe(0);
      expect(outcomesOf(JSON.parse(second.stdout) as RunSummary, "CANCELED")).toEqual(deferred);
      expect(newlyCanceled(before, org.handshakes())).toEqual(selected);
      expectOneFinalRecordEach(await auditItems(cliEnv, ["budget-1", "budget-2"]), selected);
    } finally {
      await org.stop();
    }
  });
});
