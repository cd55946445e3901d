import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OrganizationsClient, type Handshake as SdkHandshake } from "@aws-sdk/client-organizations";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import type { DynamoDbLocal } from "../../devtools/dynamodb-local.js";
import {
  dynamoDbServerError,
  dynamoDbThrottle,
  type FaultProxy,
  type FaultRule,
  startFaultProxy,
} from "../../devtools/fault-proxy.js";
import {
  type EmulatorExchange,
  type EmulatorFaults,
  type OrganizationsEmulator,
  startOrganizationsEmulator,
} from "../../devtools/org-emulator/index.js";
import { sampleOrganization } from "../../devtools/sample-org.js";
import { ensureLocalAuditTable, localDynamoDbClient, localStackEnv } from "../../devtools/stack-env.js";
import { wire } from "../../src/app.js";
import { chainedActions, createAuditStore, LEASE_DURATION_MS } from "../../src/aws/audit/index.js";
import { createClients } from "../../src/aws/clients.js";
import { createOrganizationsAdapter, toHandshake } from "../../src/aws/organizations.js";
import { type JanitorConfig, loadConfig } from "../../src/config/config.js";
import { verifyChain } from "../../src/evidence/integrity.js";
import { DEFAULT_FENCING } from "../../src/fencing-settings.js";
import { plan } from "../../src/policy/plan.js";
import type { OrganizationsPort } from "../../src/ports/organizations.js";
import { createPacer } from "../../src/resilience/pacer.js";
import { loadSettings } from "../../src/settings.js";
import { type RunSummary, sweep } from "../../src/sweep/sweep.js";
import { sweepPorts } from "../../src/sweep/types.js";
import { cliNodeArgs, runCli, sharedDynamoDbLocal } from "../support/stack.js";
import {
  auditItems,
  expectOneFinalRecordEach,
  newlyCanceled,
  selectedIds,
  uncappedDemoConfig,
} from "../support/sweep-checks.js";

// The run's DynamoDB Local, always reached through a fault proxy of this file whose rules each
// test sets; one emulator per test, stopped after it.
let db: DynamoDbLocal;
let dbProxy: FaultProxy;
let config: JanitorConfig;
let configPath: string;
const dir = mkdtempSync(join(tmpdir(), "janitor-faults-"));
const cleanups: (() => Promise<unknown> | unknown)[] = [];

beforeAll(async () => {
  db = await sharedDynamoDbLocal();
  dbProxy = await startFaultProxy({ target: db.endpoint });
  configPath = uncappedDemoConfig(dir);
  config = await loadConfig(configPath);
});
afterEach(async () => {
  dbProxy.setRules([]);
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await Promise.all([dbProxy?.stop(), db?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

const ACTION_PUT = "DynamoDB_20120810.PutItem";
const UPDATE = "DynamoDB_20120810.UpdateItem";
const TRANSACT = "DynamoDB_20120810.TransactWriteItems";

interface Scene {
  org: OrganizationsEmulator;
  env: Record<string, string>;
  /** CancelHandshake calls the emulator answered 200, per handshake id. */
  cancelsById: Map<string, number>;
  /** Called after each successful CancelHandshake answer, with the number so far. */
  onCanceled?: (count: number) => void;
}

/**
 * An emulator with `count` sample handshakes (forty unless a test needs more calls for its faults
 * to land; each test asserts that they did), a fresh audit table, and the environment the CLI reads.
 */
async function scene(seed: number, faults: EmulatorFaults = {}, count = 40): Promise<Scene> {
  const cancelsById = new Map<string, number>();
  let canceled = 0;
  const onResponse = (exchange: EmulatorExchange) => {
    if (exchange.operation !== "CancelHandshake" || exchange.status !== 200) return;
    const id = (exchange.body as { Handshake?: { Id?: string } }).Handshake?.Id ?? "";
    cancelsById.set(id, (cancelsById.get(id) ?? 0) + 1);
    canceled += 1;
    current.onCanceled?.(canceled);
  };
  const org = await startOrganizationsEmulator({
    seed,
    handshakes: sampleOrganization(new Date(), { seed, count }),
    faults,
    onResponse,
  });
  cleanups.push(() => org.stop());
  const table = `faults-${seed}-${Math.floor(Math.random() * 1e9)}`;
  const direct = localStackEnv({ organizations: org.endpoint, dynamodb: db.endpoint }, table);
  await ensureLocalAuditTable(db.endpoint, table);
  const current: Scene = {
    org,
    env: { ...direct, AWS_ENDPOINT_URL_DYNAMODB: dbProxy.endpoint },
    cancelsById,
  };
  return current;
}

interface SweepOptions {
  /** The Organizations client to use instead of the composition root's (a shorter timeout). */
  organizationsClient?: OrganizationsClient;
  /** Wraps the Organizations port, to act as someone else between list and cancel. */
  around?: (port: OrganizationsPort) => OrganizationsPort;
  dryRun?: boolean;
  /**
   * The run's clock (the sweep's and its audit store's) this far ahead of the real one: the run an
   * operator starts that much later. The store's conditions on the lease and the claims read it.
   */
  aheadMs?: number;
  /** Hold each handshake's claim around its cancel, as the CLI's runs do. */
  claims?: boolean;
  /** The cancels' pacer starts at this rate (calls a second) instead of its default. */
  cancelRate?: number;
  /** Enter what the run sees and cancels in the handshake ledger, as the CLI's runs do. */
  ledger?: boolean;
}

/** One sweep in-process with the composition root's clients, as the CLI runs it. */
async function runSweep(env: Record<string, string>, runId: string, options: SweepOptions = {}) {
  const settings = loadSettings(env);
  const clients = createClients(settings);
  try {
    const wired = wire(settings, { clients });
    const now = () => new Date(Date.now() + (options.aheadMs ?? 0));
    const audit =
      options.aheadMs === undefined
        ? wired.audit
        : createAuditStore({ client: clients.dynamodb, tableName: wired.tableName, now });
    const { organizationsClient, cancelRate } = options;
    const port =
      organizationsClient === undefined && cancelRate === undefined
        ? wired.organizations
        : createOrganizationsAdapter({
            client: organizationsClient ?? clients.organizations,
            ...(cancelRate === undefined ? {} : { pacer: createPacer({ initialRate: cancelRate }) }),
          });
    return await sweep(
      {
        config,
        runId,
        trigger: "cli",
        actor: "faults-test",
        concurrency: 4,
        ...(options.dryRun ? { dryRun: true } : {}),
      },
      {
        organizations: options.around?.(port) ?? port,
        ...sweepPorts(audit),
        ...(options.claims ? { claims: audit } : {}),
        ...(options.ledger ? { ledger: audit } : {}),
        now,
      },
    );
  } finally {
    clients.organizations.destroy();
    clients.dynamodb.destroy();
  }
}

/** The status, with the unfinished actions as the message when it differs. */
function expectStatus(summary: RunSummary, status: RunSummary["status"]): void {
  const unfinished = summary.actions.filter((a) => a.outcome === "DEFERRED" || a.outcome === "FAILED");
  expect(summary.status, JSON.stringify({ error: summary.error, unfinished })).toBe(status);
}

/** A run's hash chain as `audit verify` checks it, read with a fault-free client. */
async function chainOf(env: Record<string, string>, runId: string) {
  const client = localDynamoDbClient(db.endpoint);
  try {
    const store = createAuditStore({ client, tableName: env.AUDIT_TABLE_NAME ?? "" });
    const { head, actions } = await store.readChain(runId);
    return { head, problems: verifyChain({ runId, head }, chainedActions(actions).items) };
  } finally {
    client.destroy();
  }
}

function expectNoneCanceledTwice(scene: Scene): void {
  expect([...scene.cancelsById].filter(([, n]) => n > 1)).toEqual([]);
}

describe("the Organizations service misbehaves", () => {
  test("a throttling storm on every operation slows the run down but cancels exactly the selection", async () => {
    const s = await scene(
      101,
      {
        throttle: {
          CancelHandshake: { ratePerSecond: 8, burst: 1 },
          ListHandshakesForOrganization: { ratePerSecond: 4, burst: 1 },
          DescribeHandshake: { ratePerSecond: 4, burst: 1 },
        },
      },
      40,
    );
    const before = s.org.handshakes();
    const selected = selectedIds(before, config);

    // Starting far above the limit, the cancels meet the storm however slowly this machine runs.
    const summary = await runSweep(s.env, "storm", { cancelRate: 100 });

    expectStatus(summary, "COMPLETED");
    const errors = s.org.stats().CancelHandshake?.errors ?? {};
    expect(errors.TooManyRequestsException ?? 0).toBeGreaterThan(0);
    expect(newlyCanceled(before, s.org.handshakes())).toEqual(selected);
    expectOneFinalRecordEach(await auditItems(s.env, ["storm"]), selected);
    expectNoneCanceledTwice(s);
  });

  test("conflicts, HTTP 500s, resets and empty pages: every call retried until the selection is canceled", async () => {
    const s = await scene(
      102,
      {
        // About one call in four fails: frequent, yet eight failures in a row for one call (all the
        // adapter's attempts) stay rare, about 2e-5 per call.
        concurrentModificationRate: 0.1,
        serviceExceptionRate: 0.1,
        resetConnectionRate: 0.08,
        emptyPageEvery: 2,
        shortPages: true,
        pageSize: 4,
      },
      70,
    );
    const before = s.org.handshakes();
    const selected = selectedIds(before, config);

    const summary = await runSweep(s.env, "flaky");

    expectStatus(summary, "COMPLETED");
    const cancel = s.org.stats().CancelHandshake;
    expect(cancel?.errors.ConcurrentModificationException ?? 0).toBeGreaterThan(0);
    expect(cancel?.errors.ServiceException ?? 0).toBeGreaterThan(0);
    expect(cancel?.resets ?? 0).toBeGreaterThan(0);
    expect(newlyCanceled(before, s.org.handshakes())).toEqual(selected);
    expectOneFinalRecordEach(await auditItems(s.env, ["flaky"]), selected);
    expectNoneCanceledTwice(s);
  });

  test("timeouts and lost answers of CancelHandshake: the cancel took effect, it is recorded CANCELED once", async () => {
    const s = await scene(103);
    const orgProxy = await startFaultProxy({
      target: s.org.endpoint,
      rules: [
        // Longer than the client's request timeout: the call arrives after the client gave up.
        {
          targets: ["AWSOrganizationsV20161128.CancelHandshake"],
          fault: { kind: "delay", ms: 700 },
          times: 3,
        },
        { targets: ["AWSOrganizationsV20161128.CancelHandshake"], fault: { kind: "lose-answer" }, times: 3 },
      ],
    });
    cleanups.push(() => orgProxy.stop());
    const client = new OrganizationsClient({
      region: "us-east-1",
      endpoint: orgProxy.endpoint,
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
      maxAttempts: 1,
      requestHandler: { requestTimeout: 300, throwOnRequestTimeout: true },
    });
    cleanups.push(() => client.destroy());
    const before = s.org.handshakes();
    const selected = selectedIds(before, config);

    const summary = await runSweep(s.env, "timeouts", { organizationsClient: client });

    expectStatus(summary, "COMPLETED");
    expect(orgProxy.stats().faults["AWSOrganizationsV20161128.CancelHandshake"]).toEqual({
      delay: 3,
      "lose-answer": 3,
    });
    // Each timed-out or unanswered call was sent again: the client gave up on it, not waited.
    const attempts = summary.actions.reduce((sum, a) => sum + a.attempts, 0);
    expect(attempts).toBe(selected.length + 6);
    expect(newlyCanceled(before, s.org.handshakes())).toEqual(selected);
    expectOneFinalRecordEach(await auditItems(s.env, ["timeouts"]), selected);
    expectNoneCanceledTwice(s);
  });

  test("handshakes accepted, declined or canceled by someone else after the listing get their own outcome", async () => {
    const s = await scene(104);
    const before = s.org.handshakes();
    const selected = selectedIds(before, config);
    const [accepted, declined, closed, ...rest] = selected;
    if (accepted === undefined || declined === undefined || closed === undefined) {
      throw new Error("the test organization selects fewer than three handshakes");
    }
    s.org.setFaults({ acceptBeforeCancel: [accepted] });
    const someoneElse = (port: OrganizationsPort): OrganizationsPort => ({
      ...port,
      async *listHandshakes() {
        yield* port.listHandshakes();
        // After the last page, before any cancel: the sweep plans as the pages come.
        s.org.mutate(declined, "DECLINED");
        s.org.mutate(closed, "CANCELED");
      },
    });

    const summary = await runSweep(s.env, "raced", { around: someoneElse });

    expectStatus(summary, "COMPLETED");
    expect(newlyCanceled(before, s.org.handshakes())).toEqual([closed, ...rest].sort());
    expect(s.cancelsById.has(closed)).toBe(false);
    expectOneFinalRecordEach(await auditItems(s.env, ["raced"]), selected, {
      [accepted]: "STATE_CHANGED",
      [declined]: "STATE_CHANGED",
      [closed]: "ALREADY_CLOSED",
    });
  });
});

describe("the audit table misbehaves", () => {
  test("throttled, failing, reset and unanswered audit writes are retried and the run completes", async () => {
    const s = await scene(105);
    // Spread over the run by the rates, and fewer per operation than the store's six attempts,
    // so that the retries always win: what is checked is that they happen and leave no trace.
    const rules: FaultRule[] = [
      { targets: [ACTION_PUT], bodyIncludes: '"ACTION#', fault: dynamoDbThrottle(), rate: 0.3, times: 3 },
      {
        targets: [ACTION_PUT],
        bodyIncludes: '"ACTION#',
        fault: { kind: "lose-answer" },
        rate: 0.3,
        times: 2,
      },
      { targets: [UPDATE], fault: dynamoDbServerError(), rate: 0.5, times: 3 },
      { targets: [UPDATE], fault: { kind: "reset" }, rate: 0.5, times: 2 },
    ];
    dbProxy.setRules(rules);
    const before = s.org.handshakes();
    const selected = selectedIds(before, config);

    const summary = await runSweep(s.env, "audit-faults");

    expectStatus(summary, "COMPLETED");
    const faults = dbProxy.stats().faults;
    expect(faults[ACTION_PUT]).toEqual({ error: 3, "lose-answer": 2 });
    expect(faults[UPDATE]).toEqual({ error: 3, reset: 2 });
    expect(newlyCanceled(before, s.org.handshakes())).toEqual(selected);
    expectOneFinalRecordEach(await auditItems(s.env, ["audit-faults"]), selected);
    expectNoneCanceledTwice(s);
  });

  test("faults on the batched writes of a dry run: retried, one final record each, the chain intact", async () => {
    // Enough handshakes for more decisions than one transaction holds.
    const s = await scene(107, {}, 600);
    // Every fault on the first transaction's attempts, one after another: the answer of the second
    // attempt is lost after DynamoDB applied it, so the fifth repeats a transaction that happened.
    dbProxy.setRules([
      { targets: [TRANSACT], fault: dynamoDbThrottle(), times: 1 },
      { targets: [TRANSACT], fault: { kind: "lose-answer" }, times: 1 },
      { targets: [TRANSACT], fault: dynamoDbServerError(), times: 1 },
      { targets: [TRANSACT], fault: { kind: "reset" }, times: 1 },
    ]);
    const before = s.org.handshakes();
    const decided = plan({
      handshakes: before.map((h) => toHandshake(h as SdkHandshake)),
      config,
      now: new Date(),
    });

    const summary = await runSweep(s.env, "batch-faults", { dryRun: true });

    expectStatus(summary, "COMPLETED");
    expect(dbProxy.stats().faults[TRANSACT]).toEqual({ error: 2, "lose-answer": 1, reset: 1 });
    expect(decided.decisions.length).toBeGreaterThan(99);
    expect(newlyCanceled(before, s.org.handshakes())).toEqual([]);
    const items = await auditItems(s.env, ["batch-faults"]);
    expect(items.map((i) => i.handshakeId).sort()).toEqual(
      decided.decisions.map((d) => d.handshake.id).sort(),
    );
    expect(new Set(items.map((i) => i.outcome))).toEqual(new Set(summary.actions.map((a) => a.outcome)));
    expect(items.every((i) => i.outcome === "DRY_RUN" || i.outcome === "EXEMPTED")).toBe(true);
    const chain = await chainOf(s.env, "batch-faults");
    expect(chain.problems).toEqual([]);
    expect(chain.head?.length).toBe(decided.decisions.length);
  });

  test("an intent that cannot be written means no cancellation; the next run cancels it", async () => {
    const s = await scene(106);
    const before = s.org.handshakes();
    const selected = selectedIds(before, config);
    const [blocked] = selected;
    if (blocked === undefined) throw new Error("nothing selected");
    dbProxy.setRules([{ targets: [ACTION_PUT], bodyIncludes: `"${blocked}"`, fault: dynamoDbThrottle() }]);

    const first = await runSweep(s.env, "no-intent-1");

    expectStatus(first, "PARTIAL");
    expect(first.actions.find((a) => a.handshakeId === blocked)?.outcome).toBe("FAILED");
    expect(s.org.stats().CancelHandshake?.requests).toBe(selected.length - 1);
    expect(s.org.handshakes().find((h) => h.Id === blocked)?.State).not.toBe("CANCELED");

    dbProxy.setRules([]);
    const second = await runSweep(s.env, "no-intent-2");

    expectStatus(second, "COMPLETED");
    expect(newlyCanceled(before, s.org.handshakes())).toEqual(selected);
    expectOneFinalRecordEach(await auditItems(s.env, ["no-intent-1", "no-intent-2"]), selected);
    expectNoneCanceledTwice(s);
  });

  test("an outcome that cannot be written leaves the run partial; the next run reconciles it without a second cancel", async () => {
    const s = await scene(107);
    const before = s.org.handshakes();
    const selected = selectedIds(before, config);
    const [unrecorded] = selected;
    if (unrecorded === undefined) throw new Error("nothing selected");
    dbProxy.setRules([
      { targets: [UPDATE], bodyIncludes: `"ACTION#${unrecorded}"`, fault: dynamoDbServerError() },
    ]);

    const first = await runSweep(s.env, "no-outcome-1");

    expectStatus(first, "PARTIAL");
    expect(first.actions.find((a) => a.handshakeId === unrecorded)?.outcome).toBe("DEFERRED");
    expect(s.org.handshakes().find((h) => h.Id === unrecorded)?.State).toBe("CANCELED");

    dbProxy.setRules([]);
    s.org.resetStats();
    const second = await runSweep(s.env, "no-outcome-2");

    expectStatus(second, "COMPLETED");
    expect(second.reconciled).toBe(1);
    expect(s.org.stats().CancelHandshake).toBeUndefined();
    expectOneFinalRecordEach(await auditItems(s.env, ["no-outcome-1", "no-outcome-2"]), selected);
    expectNoneCanceledTwice(s);
    // After the documented recovery the untouched table verifies: the first run stays as it was
    // sealed, and the second run's own record completes its intent.
    const verified = await runCli(
      ["audit", "verify", "--run", "no-outcome-1", "--run", "no-outcome-2"],
      s.env,
    );
    expect(verified.code, verified.stdout).toBe(0);
  });
  test("the seal's answer lost: the retried seal finds its own, the run completes sealed and verifies", async () => {
    const s = await scene(108);
    // The seal is the one transaction that moves the organization's chain head.
    dbProxy.setRules([
      { targets: [TRANSACT], bodyIncludes: '"CHAIN#organization"', fault: { kind: "lose-answer" }, times: 1 },
    ]);

    const lostBefore = dbProxy.stats().faults[TRANSACT]?.["lose-answer"] ?? 0;

    const summary = await runSweep(s.env, "seal-lost");

    expect((dbProxy.stats().faults[TRANSACT]?.["lose-answer"] ?? 0) - lostBefore).toBe(1);
    expectStatus(summary, "COMPLETED");
    dbProxy.setRules([]);
    const verified = await runCli(["audit", "verify", "--run", "seal-lost"], s.env);
    expect(verified.code, verified.stdout).toBe(0);
    expect(verified.stdout).toMatch(/^intact: /m);
  });
});

describe("the handshake ledger's writes fail", () => {
  test("a ledger transaction whose answer was lost: the retry is answered as the first, nothing is entered twice and the summary names no failure", async () => {
    const s = await scene(109);
    // Every ledger transaction moves the run item's ledger head; the first one's answer is lost.
    dbProxy.setRules([
      { targets: [TRANSACT], bodyIncludes: "ledgerHead", fault: { kind: "lose-answer" }, times: 1 },
    ]);
    const lostBefore = dbProxy.stats().faults[TRANSACT]?.["lose-answer"] ?? 0;

    const summary = await runSweep(s.env, "ledger-lost", { ledger: true });

    expect((dbProxy.stats().faults[TRANSACT]?.["lose-answer"] ?? 0) - lostBefore).toBe(1);
    expectStatus(summary, "COMPLETED");
    expect(summary.ledger?.error).toBeUndefined();
    dbProxy.setRules([]);
    const client = localDynamoDbClient(db.endpoint);
    try {
      const store = createAuditStore({ client, tableName: s.env.AUDIT_TABLE_NAME ?? "" });
      const entries = [];
      for await (const { entry } of store.runLedger("ledger-lost")) entries.push(entry);
      expect(entries.length).toBe(summary.ledger?.written);
      // Every handshake listed is entered once as seen, and each cancellation once.
      const seen = entries.filter((e) => e.kind === "SEEN").map((e) => e.handshakeId);
      expect(seen.length).toBe(summary.listed);
      expect(new Set(seen).size).toBe(seen.length);
      const canceled = entries.filter((e) => e.kind === "STATE" && e.state === "CANCELED");
      expect(canceled.length).toBe(summary.counts.CANCELED ?? 0);
    } finally {
      client.destroy();
    }
    const verified = await runCli(["audit", "verify", "--run", "ledger-lost"], s.env);
    expect(verified.code, verified.stdout).toBe(0);
    expect(verified.stdout).toMatch(/^intact: /m);
  });
});

describe("the hash chain misses links", () => {
  test("outcomes whose chain link fails stay on record, and the run links them before it is sealed", async () => {
    const s = await scene(109);
    const before = s.org.handshakes();
    const selected = selectedIds(before, config);
    // Every attempt at the first two single links fails: six attempts each, the store's limit.
    dbProxy.setRules([
      { targets: [TRANSACT], bodyIncludes: "SET chainSeq", fault: dynamoDbServerError(), times: 12 },
    ]);
    const errorsBefore = dbProxy.stats().faults[TRANSACT]?.error ?? 0;

    const first = await runSweep(s.env, "unlinked-1");

    expectStatus(first, "COMPLETED");
    expect((dbProxy.stats().faults[TRANSACT]?.error ?? 0) - errorsBefore).toBe(12);
    expect(newlyCanceled(before, s.org.handshakes())).toEqual(selected);
    expectOneFinalRecordEach(await auditItems(s.env, ["unlinked-1"]), selected);
    // Linked when the run finished, before its seal: the seal covers the whole chain, and is
    // never written again.
    const sealed = await chainOf(s.env, "unlinked-1");
    expect(sealed.problems).toEqual([]);
    expect(sealed.head?.length).toBe(first.actions.length);

    dbProxy.setRules([]);
    s.org.resetStats();
    const second = await runSweep(s.env, "unlinked-2");

    expectStatus(second, "COMPLETED");
    expect(s.org.stats().CancelHandshake).toBeUndefined();
    expect((await chainOf(s.env, "unlinked-1")).head).toEqual(sealed.head);
    expectNoneCanceledTwice(s);
  });
});

/**
 * The CLI in one Node process (see cliNodeArgs): the tsx command would run it in a child of its
 * own, which a SIGKILL of the command leaves running. Its stderr is kept for failure messages.
 */
function cli(args: string[], env: NodeJS.ProcessEnv, stdout: "ignore" | "pipe"): ChildProcess {
  const child = spawn(process.execPath, cliNodeArgs(args), { env, stdio: ["ignore", stdout, "pipe"] });
  cliStderr.set(child, "");
  child.stderr?.on("data", (chunk: Buffer) => {
    cliStderr.set(child, `${cliStderr.get(child) ?? ""}${chunk.toString("utf8")}`);
  });
  return child;
}
const cliStderr = new WeakMap<ChildProcess, string>();

describe("a killed process", () => {
  test("SIGKILL mid-run: the run after the lease lapses reconciles the interrupted intents and cancels nothing twice", async () => {
    const killAfter = 6;
    let child: ChildProcess | undefined;
    // Latency keeps cancels in flight when the kill lands.
    const s = await scene(108, { latencyMs: 40 });
    // Killed from the emulator's answer hook: the child dies right after the service answered,
    // before it can have written that outcome, and with other cancels in flight.
    s.onCanceled = (count) => {
      if (count === killAfter) child?.kill("SIGKILL");
    };
    const before = s.org.handshakes();
    const selected = selectedIds(before, config);
    expect(selected.length).toBeGreaterThan(killAfter + 4);
    const env = { ...process.env, ...s.env, AWS_ENDPOINT_URL_DYNAMODB: db.endpoint };

    child = cli(["run", "--config", configPath, "--json", "--run-id", "killed"], env, "ignore");
    cleanups.push(() => child?.kill("SIGKILL"));
    const [code, signal] = (await once(child, "exit")) as [number | null, string | null];

    expect({ code, signal }).toEqual({ code: null, signal: "SIGKILL" });
    const interrupted = await auditItems(s.env, ["killed"]);
    expect(interrupted.some((item) => item.outcome === undefined)).toBe(true);
    expect(newlyCanceled(before, s.org.handshakes()).length).toBeLessThan(selected.length);

    // The killed run still holds the organization's lease: a run started now is refused, exit 6.
    const tooSoon = await runCli(["run", "--config", configPath, "--json", "--run-id", "too-soon"], s.env);
    expect(tooSoon.code, tooSoon.stderr).toBe(6);
    expect(tooSoon.stderr).toMatch(/^another live run holds the organization's lease: run killed since /);

    // The lease lapses LEASE_DURATION_MS after the killed run's last renewal. Rather than wait that
    // out, the rerun is the run an operator starts a lease's length later: its clock runs ahead.
    const summary = await runSweep(s.env, "after-kill", {
      aheadMs: LEASE_DURATION_MS + DEFAULT_FENCING.marginMs + 1_000,
      claims: true,
    });

    expectStatus(summary, "COMPLETED");
    expect(summary.reconciled).toBeGreaterThan(0);
    expect(newlyCanceled(before, s.org.handshakes())).toEqual(selected);
    expectOneFinalRecordEach(await auditItems(s.env, ["killed", "after-kill"]), selected);
    expectNoneCanceledTwice(s);
  }, 240_000);
});
