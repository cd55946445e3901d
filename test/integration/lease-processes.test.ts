import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { EmulatorFaults } from "../../devtools/org-emulator/index.js";
import { sampleOrganization } from "../../devtools/sample-org.js";
import { createAuditStore } from "../../src/aws/audit/index.js";
import type { Outcome } from "../../src/domain/outcomes.js";
import type { AuditAction } from "../../src/ports/records.js";
import type { RunSummary } from "../../src/sweep/sweep.js";
import {
  type CliResult,
  localDynamoDbClient,
  runCli,
  runCliProcess,
  type Stack,
  stackEnv,
  startStack,
} from "../support/stack.js";
import { newlyCanceled, selectedBy, uncappedDemoConfig } from "../support/sweep-checks.js";

// Two `run` processes on one table, as a CLI run beside the scheduled Lambda. CancelHandshake is
// held to 6 calls a second, so the first run is still cancelling when the second one starts.
const SLOW_CANCELS: EmulatorFaults = { throttle: { CancelHandshake: { ratePerSecond: 6, burst: 1 } } };

let stack: Stack;
const dir = mkdtempSync(join(tmpdir(), "janitor-lease-"));
let configPath: string;

beforeAll(async () => {
  stack = await startStack(sampleOrganization(new Date()), SLOW_CANCELS);
  configPath = uncappedDemoConfig(dir);
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

// Two processes each starting tsx on a shared machine take a while before either does anything.
const SLOW = 240_000;

/** Every run of the table and every action item of those runs, read back with a fault-free client. */
async function everyItem(env: Record<string, string>): Promise<{ runIds: string[]; items: AuditAction[] }> {
  const client = localDynamoDbClient(stack.db.endpoint);
  try {
    const store = createAuditStore({ client, tableName: env.AUDIT_TABLE_NAME ?? "" });
    const runIds: string[] = [];
    const items: AuditAction[] = [];
    for await (const run of store.listRuns()) runIds.push(run.runId);
    for (const runId of runIds) items.push(...(await store.getRunActions(runId)));
    return { runIds, items };
  } finally {
    client.destroy();
  }
}

function outcomesByHandshake(items: AuditAction[]): Map<string, (Outcome | "pending")[]> {
  const byId = new Map<string, (Outcome | "pending")[]>();
  for (const item of items) {
    byId.set(item.handshakeId, [...(byId.get(item.handshakeId) ?? []), item.outcome ?? "pending"]);
  }
  return byId;
}

/** The emulator's own count: what it canceled, and how often it answered "already canceled". */
function cancelStats() {
  const stats = stack.org.stats().CancelHandshake;
  return { successes: stats?.successes ?? 0, alreadyInState: stats?.errors.HandshakeAlreadyInState ?? 0 };
}

async function expectOneCanceledRecordEach(env: Record<string, string>, canceled: string[]) {
  const { items } = await everyItem(env);
  const byId = outcomesByHandshake(items);
  const canceledRecords = Object.fromEntries(
    [...byId].filter(([, outcomes]) => outcomes.includes("CANCELED")).sort(([a], [b]) => a.localeCompare(b)),
  );
  expect(canceledRecords).toEqual(Object.fromEntries(canceled.map((id) => [id, ["CANCELED"]])));
  expect(items.filter((item) => item.outcome === undefined)).toEqual([]);
}

async function expectVerified(env: Record<string, string>, since: Date) {
  const verify = await runCli(["audit", "verify", "--since", since.toISOString()], env);
  expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  expect(verify.stdout).toMatch(/^intact: /m);
}

describe("two live runs started together", () => {
  test(
    "one does the work and the other does nothing, exits 6 and names the holder",
    async () => {
      const org = await stack.reseed(sampleOrganization(new Date()), SLOW_CANCELS);
      const env = stackEnv(org, stack.db, await stack.newTable());
      const before = org.handshakes();
      const selected = await selectedBy(before, configPath);
      const started = new Date();

      const results = await Promise.all([
        runCliProcess(["run", "--config", configPath, "--json"], env),
        runCliProcess(["run", "--config", configPath, "--json"], env),
      ]);

      const codes = results.map((r) => r.code).sort();
      expect(codes, results.map((r) => r.stderr).join("\n")).toEqual([0, 6]);
      const winner = results.find((r) => r.code === 0) as CliResult;
      const loser = results.find((r) => r.code === 6) as CliResult;
      const summary = JSON.parse(winner.stdout) as RunSummary;
      expect(loser.stdout).toBe("");
      expect(loser.stderr).toMatch(
        new RegExp(
          `^another live run holds the organization's lease: run ${summary.runId} since \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z \\(expires in \\d+ s\\); nothing done\\n$`,
        ),
      );
      const canceled = newlyCanceled(before, org.handshakes());
      expect(canceled).toEqual(selected);
      expect(cancelStats()).toEqual({ successes: selected.length, alreadyInState: 0 });
      await expectOneCanceledRecordEach(env, canceled);
      // The refused run left no run item behind.
      expect((await everyItem(env)).runIds).toEqual([summary.runId]);
      await expectVerified(env, started);
    },
    SLOW,
  );

  test(
    "with --wait, the second runs after the first and finds nothing left to cancel",
    async () => {
      const org = await stack.reseed(sampleOrganization(new Date()), SLOW_CANCELS);
      const env = stackEnv(org, stack.db, await stack.newTable());
      const before = org.handshakes();
      const selected = await selectedBy(before, configPath);
      const started = new Date();

      const results = await Promise.all([
        runCliProcess(["run", "--config", configPath, "--json", "--wait", "60", "--verbose"], env),
        runCliProcess(["run", "--config", configPath, "--json", "--wait", "60", "--verbose"], env),
      ]);

      expect(
        results.map((r) => r.code),
        results.map((r) => r.stderr).join("\n"),
      ).toEqual([0, 0]);
      // The runs truly overlapped: one of them was refused the lease and waited for it.
      expect(results.filter((r) => r.stderr.includes('"message":"waiting for the lease"'))).toHaveLength(1);
      const summaries = results.map((r) => JSON.parse(r.stdout) as RunSummary);
      const [first, second] = [...summaries].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
      expect(first?.counts.CANCELED).toBe(selected.length);
      expect(second?.counts.CANCELED).toBeUndefined();
      expect(second?.matched).toBe((first?.matched ?? 0) - selected.length);
      // The second started only after the first had ended.
      expect(Date.parse(second?.startedAt ?? "")).toBeGreaterThanOrEqual(Date.parse(first?.endedAt ?? ""));
      const canceled = newlyCanceled(before, org.handshakes());
      expect(canceled).toEqual(selected);
      expect(cancelStats()).toEqual({ successes: selected.length, alreadyInState: 0 });
      await expectOneCanceledRecordEach(env, canceled);
      await expectVerified(env, started);
    },
    SLOW,
  );

  test(
    "--wait gives up after its time when the lease stays held: exit 6, nothing called; a bad --wait is exit 2",
    async () => {
      const org = await stack.reseed(sampleOrganization(new Date()), SLOW_CANCELS);
      const table = await stack.newTable();
      const env = stackEnv(org, stack.db, table);
      const client = localDynamoDbClient(stack.db.endpoint);
      try {
        const claim = await createAuditStore({ client, tableName: table }).acquireLease("lambda-holder");
        expect(claim.acquired).toBe(true);
      } finally {
        client.destroy();
      }

      const waited = await runCli(["run", "--config", configPath, "--wait", "2", "--verbose"], env);
      const bad = await runCli(["run", "--config", configPath, "--wait", "soon"], env);

      expect(waited.code, waited.stderr).toBe(6);
      const lines = waited.stderr.trim().split("\n");
      expect(lines.at(-1)).toMatch(
        /^another live run holds the organization's lease: run lambda-holder since /,
      );
      // Looked again at most a second apart over two seconds: refused, and waiting, at least twice.
      expect(
        lines.filter((line) => line.includes('"message":"waiting for the lease"')).length,
      ).toBeGreaterThanOrEqual(2);
      expect(Object.keys(org.stats())).toEqual([]);
      expect({ code: bad.code, stderr: bad.stderr }).toEqual({
        code: 2,
        stderr: "--wait: 'soon' is not a number of seconds (0 or more)\n",
      });
      expect((await everyItem(env)).runIds).toEqual([]);
    },
    SLOW,
  );
});
