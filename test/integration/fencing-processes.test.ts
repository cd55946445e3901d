import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InviteAccountToOrganizationCommand, OrganizationsClient } from "@aws-sdk/client-organizations";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { DynamoDbLocal } from "../../devtools/dynamodb-local.js";
import { type FaultProxy, type ProxyEvent, startFaultProxy } from "../../devtools/fault-proxy.js";
import { type OrganizationsEmulator, startOrganizationsEmulator } from "../../devtools/org-emulator/index.js";
import { ensureLocalAuditTable, LOCAL_CREDENTIALS, localStackEnv } from "../../devtools/stack-env.js";
import type { AuditAction } from "../../src/ports/records.js";
import type { ActionSummary, RunSummary } from "../../src/sweep/sweep.js";
import { cliNodeArgs, runCli, scanTable, sharedDynamoDbLocal, withDynamoDb } from "../support/stack.js";
import { auditItems, newlyCanceled } from "../support/sweep-checks.js";

// Two real `run` processes on one audit table, the first stopped (SIGSTOP) at an exact point of
// its work on one handshake, found by watching its requests through fault proxies; meanwhile the
// operator puts that handshake under an exemption and a second run goes. Short fencing settings
// (docs/fencing.md) keep each scene to seconds: a 5 s margin over 0.5 s + 2 s timeouts, a 10 s lease.
const FENCING_ENV = {
  JANITOR_FENCE_MARGIN_MS: "5000",
  JANITOR_CONNECT_TIMEOUT_MS: "500",
  JANITOR_REQUEST_TIMEOUT_MS: "2000",
  JANITOR_LEASE_MS: "10000",
};
const DB = "DynamoDB_20120810";
const CANCEL = "AWSOrganizationsV20161128.CancelHandshake";

const RULES = `version: 1
dryRun: false
maxCancellationsPerRun: 50
rules:
  - id: personal-email
    type: email
    deny: ["*@gmail.com"]
`;

let db: DynamoDbLocal;
const dir = mkdtempSync(join(tmpdir(), "janitor-fencing-"));
/** Registers what a test stopped with: its scene's servers and processes (onTestFinished). */
type Cleanup = (stop: () => Promise<void> | void) => void;

beforeAll(async () => {
  db = await sharedDynamoDbLocal();
});
afterAll(async () => {
  await db?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Scene {
  org: OrganizationsEmulator;
  /** The handshakes invited, in order; the first is the one the first run is stopped on. */
  ids: string[];
  /** The first run's proxies, in front of DynamoDB Local and of the emulator. */
  dbProxy: FaultProxy;
  orgProxy: FaultProxy;
  /** What the first run reads (through the proxies) and what the second and the checks read. */
  envA: Record<string, string>;
  envB: Record<string, string>;
  configA: string;
  /** The same rules, with the first handshake exempted ("legal hold"). */
  configB: string;
  cleanup: Cleanup;
}

async function scene(name: string, cleanup: Cleanup): Promise<Scene> {
  const org = await startOrganizationsEmulator({ seed: 7 });
  cleanup(() => org.stop());
  const ids: string[] = [];
  const client = new OrganizationsClient({
    endpoint: org.endpoint,
    region: "us-east-1",
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    for (const address of ["hold.me@gmail.com", "second@gmail.com", "third@gmail.com", "fourth@gmail.com"]) {
      const answer = await client.send(
        new InviteAccountToOrganizationCommand({ Target: { Type: "EMAIL", Id: address } }),
      );
      ids.push(answer.Handshake?.Id ?? "");
    }
  } finally {
    client.destroy();
  }
  const table = `fencing-${name}-${Math.floor(Math.random() * 1e9)}`;
  await ensureLocalAuditTable(db.endpoint, table);
  const [dbProxy, orgProxy] = await Promise.all([
    startFaultProxy({ target: db.endpoint }),
    startFaultProxy({ target: org.endpoint }),
  ]);
  cleanup(async () => {
    await Promise.all([dbProxy.stop(), orgProxy.stop()]);
  });
  const envB = {
    ...localStackEnv({ organizations: org.endpoint, dynamodb: db.endpoint }, table),
    ...FENCING_ENV,
  };
  const envA = {
    ...envB,
    AWS_ENDPOINT_URL_DYNAMODB: dbProxy.endpoint,
    AWS_ENDPOINT_URL_ORGANIZATIONS: orgProxy.endpoint,
  };
  const configA = join(dir, `${name}-a.yaml`);
  const configB = join(dir, `${name}-b.yaml`);
  writeFileSync(configA, RULES);
  writeFileSync(
    configB,
    `${RULES}exemptions:\n  - handshakeId: ${ids[0]}\n    reason: legal hold, ticket LEGAL-7\n`,
  );
  return { org, ids, dbProxy, orgProxy, envA, envB, configA, configB, cleanup };
}

/** A CLI process of its own; its stdout and stderr are collected. */
function start(args: string[], env: Record<string, string>, cleanup: Cleanup) {
  const child = spawn(process.execPath, cliNodeArgs(args), {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  cleanup(() => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGCONT");
      child.kill("SIGKILL");
    }
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const exited = once(child, "exit").then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as string | null,
    stdout,
    stderr,
  }));
  return { child, exited };
}

/**
 * Stops `child` (SIGSTOP) the first time `matches` sees a proxy event, from inside the proxy's
 * hook: before the request is forwarded, or before its answer reaches the child. With `hold`, a
 * request stopped on stays in the proxy until the point's `beforeWake`, which forwards it and
 * waits until its answer is on its way back to the stopped child.
 */
function stopAt(
  proxies: FaultProxy | readonly FaultProxy[],
  matches: (event: ProxyEvent) => boolean,
  child: () => ChildProcess,
  hold = false,
): StopPoint {
  let stopped: ProxyEvent | undefined;
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let answered = () => {};
  const landed = new Promise<void>((resolve) => {
    answered = resolve;
  });
  const reached = new Promise<void>((resolve) => {
    const observer = async (event: ProxyEvent) => {
      if (stopped !== undefined) {
        if (event.phase === "answer" && event.body === stopped.body) answered();
        return;
      }
      if (!matches(event)) return;
      stopped = event;
      child().kill("SIGSTOP");
      resolve();
      if (hold) await released;
    };
    for (const proxy of [proxies].flat()) proxy.observe(observer);
  });
  return {
    reached,
    beforeWake: hold
      ? async () => {
          release();
          await landed;
        }
      : async () => {},
  };
}

interface StopPoint {
  reached: Promise<void>;
  /** Runs after the second run ended, before the stopped one is woken (SIGCONT). */
  beforeWake(): Promise<void>;
}

interface Ending {
  /** What run A reported for each handshake, from its JSON summary. */
  actionsA: ActionSummary[];
  summaryA: RunSummary;
  items: AuditAction[];
  canceled: string[];
  verify: { code: number; stdout: string };
  stderrA: string;
}

/**
 * The scene played through: run A starts on the first config and is stopped where `stop` says;
 * run B goes on the exempting config as soon as A's lease lets it (its --wait); then A goes on.
 */
async function play(s: Scene, stop: (a: () => ChildProcess) => StopPoint): Promise<Ending> {
  const started = new Date(Date.now() - 60_000);
  const before = s.org.handshakes();
  let a: ChildProcess | undefined;
  const point = stop(() => a as ChildProcess);
  const runA = start(["run", "--config", s.configA, "--json", "--run-id", "run-a"], s.envA, s.cleanup);
  a = runA.child;
  const first = await Promise.race([point.reached.then(() => "stopped"), runA.exited.then(() => "exited")]);
  expect(first, "run A never reached the point where it is stopped").toBe("stopped");

  const runB = start(
    ["run", "--config", s.configB, "--json", "--run-id", "run-b", "--wait", "100"],
    s.envB,
    s.cleanup,
  );
  const b = await runB.exited;
  expect([0, 3], b.stderr).toContain(b.code);

  await point.beforeWake();
  a.kill("SIGCONT");
  const endA = await runA.exited;
  expect(endA.signal, endA.stderr).toBeNull();

  const items = await auditItems(s.envB, ["run-a", "run-b"]);
  const verify = await runCli(["audit", "verify", "--since", started.toISOString()], s.envB);
  const summaryA = JSON.parse(endA.stdout) as RunSummary;
  return {
    actionsA: summaryA.actions,
    summaryA,
    items,
    canceled: newlyCanceled(before, s.org.handshakes()),
    verify,
    stderrA: endA.stderr,
  };
}

/** Every cancellation the service made has a CANCELED record, and none was made twice. */
function expectEveryCancelRecorded(s: Scene, end: Ending) {
  const recorded = new Set(end.items.filter((i) => i.outcome === "CANCELED").map((i) => i.handshakeId));
  expect(end.canceled.filter((id) => !recorded.has(id))).toEqual([]);
  expect(s.org.stats().CancelHandshake?.successes ?? 0).toBe(end.canceled.length);
  expect(end.stderrA).not.toContain("outcome refused");
}

/**
 * The held handshake stays open: run A made no cancel of it and says why, run B exempted it, every
 * other handshake is canceled and on record, and verify finds the trail intact.
 */
function expectHeldOpen(s: Scene, end: Ending, why: RegExp) {
  const held = s.ids[0] ?? "";
  expect(end.canceled).toEqual([...s.ids.slice(1)].sort());
  expectEveryCancelRecorded(s, end);
  const told = end.actionsA.find((action) => action.handshakeId === held);
  expect(told?.outcome).toBe("DEFERRED");
  expect(`${told?.reason}; ${told?.error}`).toMatch(why);
  const heldItems = end.items.filter((i) => i.handshakeId === held);
  expect(
    heldItems.filter((i) => i.runId === "run-b" && i.reconciles === undefined).map((i) => i.outcome),
  ).toEqual(["EXEMPTED"]);
  // Run A's intent has one outcome on record: its own, or the record of run B that reconciled it.
  const outcomesOfA = heldItems.filter(
    (i) => (i.runId === "run-a" && i.outcome !== undefined) || i.reconciles === `run-a/${held}`,
  );
  expect(outcomesOfA.map((i) => i.outcome)).toEqual(["DEFERRED"]);
  expect(end.verify.code, end.verify.stdout).toBe(0);
  expect(end.verify.stdout).toMatch(/^intact: /m);
}

/** Why run A made no cancel on waking: its confirmation was refused, B having had the lease. */
const LEASE_LOST = /fence: the lease was lost: the organization's lease is released by run-b at /;

/** The held handshake's confirmation: the fence's one transaction on its claim. */
function isConfirmationAnswer(held: string) {
  return (e: ProxyEvent) =>
    e.phase === "answer" &&
    e.target === `${DB}.TransactWriteItems` &&
    e.body.includes(`"CLAIM#${held}"`) &&
    e.body.includes("fencedUntil");
}

const HOLD = { timeout: 120_000 };

// The scenes run at once: each is mostly a wait for its first run's lease to lapse, and each has
// its own emulator, proxies, table and processes.
describe.concurrent("a run stopped past its lease while another run, on a config that exempts the handshake, goes", () => {
  test(
    "after its intent: it makes no cancel on waking, the exempted handshake stays open, verify says intact",
    async ({ onTestFinished }) => {
      const s = await scene("intent", onTestFinished);
      const held = s.ids[0] ?? "";

      const end = await play(s, (a) =>
        stopAt(
          s.dbProxy,
          (e) =>
            e.phase === "answer" &&
            e.target === `${DB}.PutItem` &&
            e.body.includes(`"ACTION#${held}"`) &&
            !e.body.includes('"outcome"'),
          a,
        ),
      );

      // On waking it asks for its claim's confirmation (refused: the lease is B's), unless its
      // intent write timed out meanwhile and its retry found the intent completed by B.
      expectHeldOpen(s, end, new RegExp(`${LEASE_LOST.source}|reconciled by run run-b: still OPEN`));
    },
    HOLD.timeout,
  );

  test(
    "during its backoff after a throttled cancel: its retry is fenced off, the exempted handshake stays open",
    async ({ onTestFinished }) => {
      const s = await scene("backoff", onTestFinished);
      const held = s.ids[0] ?? "";
      s.orgProxy.setRules([
        {
          targets: [CANCEL],
          bodyIncludes: held,
          times: 1,
          fault: {
            kind: "error",
            status: 400,
            body: {
              __type: "TooManyRequestsException",
              Message: "Rate exceeded",
              Type: "RequestRateExceeded",
            },
          },
        },
      ]);

      // Throttled, it backs off; its next request about the handshake (the retry's confirmation,
      // or the retry itself where nothing confirms) is held, and the run stopped, until B is done.
      let throttled = false;
      const afterBackoff = (e: ProxyEvent) => {
        if (e.phase === "answer" && e.target === CANCEL && e.status === 400 && e.body.includes(held)) {
          throttled = true;
          return false;
        }
        return throttled && e.phase === "request" && e.body.includes(held);
      };
      const end = await play(s, (a) => stopAt([s.orgProxy, s.dbProxy], afterBackoff, a, true));

      expect(s.orgProxy.stats().faults[CANCEL]).toEqual({ error: 1 });
      // A run slowed past its request timeout takes the throttle's answer as lost; the refused
      // retry then leaves it to the look-up, which finds the handshake open: DEFERRED either way,
      // and the reason names the lost lease either way.
      expectHeldOpen(s, end, LEASE_LOST);
    },
    HOLD.timeout,
  );

  test(
    "after its claim check, its call held in flight longer than the margin: the cancel that lands is recorded as a conflict that verify and the report name",
    async ({ onTestFinished }) => {
      const s = await scene("in-flight", onTestFinished);
      const held = s.ids[0] ?? "";

      // Stopped as its CancelHandshake leaves it; the call is held back until the other run is done.
      const end = await play(s, (a) =>
        stopAt(
          s.orgProxy,
          (e) => e.phase === "request" && e.target === CANCEL && e.body.includes(held),
          a,
          true,
        ),
      );

      // The stall outlasted the margin: the cancel landed, and it is on record as a conflict.
      expect(end.canceled).toEqual([...s.ids].sort());
      expectEveryCancelRecorded(s, end);
      const heldItems = end.items.filter((i) => i.handshakeId === held);
      // Run A's intent stays as it was; run B's record completes it, DEFERRED; the cancel that
      // landed after is run A's conflict record, contradicting that.
      expect(heldItems.map((i) => [i.runId, i.outcome, i.contradicts, i.reconciles])).toEqual([
        ["run-a", undefined, undefined, undefined],
        ["run-a", "CANCELED", `run-a/${held} DEFERRED`, undefined],
        ["run-b", "EXEMPTED", undefined, undefined],
        ["run-b", "DEFERRED", undefined, `run-a/${held}`],
      ]);
      const conflicts = end.items.filter((i) => i.contradicts !== undefined);
      const lines = end.verify.stdout.split("\n").filter((line) => line.includes(": conflict: "));
      expect(end.verify.code, end.verify.stdout).toBe(5);
      expect(lines).toHaveLength(conflicts.length);
      expect(lines[0]).toContain(
        `run run-a: item ${held}: conflict: CancelHandshake by run run-a canceled it`,
      );
      expect(lines[0]).toContain(
        `it contradicts DEFERRED recorded for run-a/${held} (conflict: the record already held DEFERRED`,
      );
      expect(lines[0]).toContain("reconciled by run run-b");

      const out = join(dir, "in-flight-report.html");
      const report = await runCli(
        ["audit", "report", "--out", out, "--since", new Date(Date.now() - 60_000).toISOString()],
        s.envB,
      );
      expect(report.code, report.stderr).toBe(0);
      expect(readFileSync(out, "utf8")).toContain(`item ${held}: conflict: CancelHandshake by run run-a`);
    },
    HOLD.timeout,
  );

  test(
    "between asking for its claim's confirmation and the answer: the late confirmation is not used, no call is made",
    async ({ onTestFinished }) => {
      const s = await scene("confirming", onTestFinished);
      const held = s.ids[0] ?? "";

      const end = await play(s, (a) => stopAt(s.dbProxy, isConfirmationAnswer(held), a));

      // The answer came after the stall (too late to use), or, its request timed out meanwhile,
      // the retried confirmation was refused: the lease is B's.
      expectHeldOpen(
        s,
        end,
        new RegExp(`fence: its claim was confirmed too late to act on|${LEASE_LOST.source}`),
      );
    },
    HOLD.timeout,
  );
});

/** The ledger's entries (kind, state, run) of each handshake, over every run's chain. */
async function ledgerEntries(s: Scene): Promise<Map<string, string[]>> {
  const items = await withDynamoDb(db.endpoint, (client) => scanTable(client, s.envB.AUDIT_TABLE_NAME ?? ""));
  const entries = new Map<string, string[]>();
  for (const item of items.map((raw) => unmarshall(raw))) {
    if (item.itemType !== "ledger") continue;
    const id = String(item.ledgerId);
    entries.set(id, [...(entries.get(id) ?? []), `${item.kind} ${item.state ?? ""} by ${item.runId}`]);
  }
  return entries;
}

describe("a run stopped as it enters its cancellations in the handshake ledger, past its lease, while another run lists them", () => {
  test(
    "each cancellation is entered once, by the run that entered it first; the stopped run's summary says what it skipped; verify says intact",
    async ({ onTestFinished }) => {
      const s = await scene("ledger", onTestFinished);
      // Run A cancels all four, then its one batch of CANCELED entries is held in the proxy, the
      // run stopped, until run B has listed the four as canceled and entered them itself.
      const end = await play(s, (a) =>
        stopAt(
          s.dbProxy,
          (e) =>
            e.phase === "request" &&
            e.target === `${DB}.TransactWriteItems` &&
            e.body.includes('"CANCELED"') &&
            e.body.includes("ledgerHead"),
          a,
          true,
        ),
      );

      expect(end.canceled).toEqual([...s.ids].sort());
      expectEveryCancelRecorded(s, end);
      expect(end.actionsA.map((action) => action.outcome)).toEqual(s.ids.map(() => "CANCELED"));
      const entries = await ledgerEntries(s);
      for (const id of s.ids) {
        const states = (entries.get(id) ?? []).filter((entry) => entry.startsWith("STATE CANCELED"));
        expect(states, `${id}: ${entries.get(id)?.join("; ")}`).toHaveLength(1);
      }
      // What A could not enter was entered by B first: A skipped it, or (its held write timed out
      // on waking) says its ledger was not written in full. Either way nothing is entered twice.
      const ledgerA = end.summaryA.ledger;
      expect(ledgerA?.changed ?? 0).toBe(0);
      if (ledgerA?.error === undefined) expect(ledgerA?.skipped).toBe(s.ids.length);
      expect(end.verify.code, end.verify.stdout).toBe(0);
      expect(end.verify.stdout).toMatch(/^intact: /m);
    },
    HOLD.timeout,
  );
});
