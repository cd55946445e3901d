/**
 * The "whole run" process of the pacing benchmark (bench/scenarios/pacing.ts): one live sweep, as
 * the CLI's `run` makes it, from the process's start to its exit. It is bundled with the
 * artifact's own esbuild options and run by plain node, so its start-up is the deployed code's.
 *
 * Each port the sweep is handed is wrapped to note when its calls start and end, and each call is
 * put in a phase; a phase's time is the wall time during which at least one of its calls was in
 * flight, so calls that overlap (the cancel workers') are not counted twice. Endpoints, table,
 * bucket and config come from the environment. The result is the last line of stdout.
 */
import { wire } from "../src/app.js";
import { loadConfig } from "../src/config/config.js";
import { loadSettings } from "../src/settings.js";
import { sweep } from "../src/sweep/sweep.js";

// bench/scenarios/pacing.ts looks for this prefix (not imported from here: that would run this module).
const RESULT_PREFIX = "PACING_RESULT ";

/** Which phase each port method's calls belong to. */
const PHASES: Record<string, Record<string, string>> = {
  lease: { acquireLease: "lease", renewLease: "lease renewals", releaseLease: "lease release" },
  journal: {
    startRun: "run item",
    recordConfig: "run item",
    runLiveness: "claims",
    runOutcomes: "final counts",
    finishRun: "seal",
  },
  evidence: { orgHead: "trail check", readChain: "trail check", runEvidence: "trail check" },
  actions: {
    linkUnchained: "prepare",
    listPendingIntents: "prepare",
    recordReconciled: "prepare",
    recordFinals: "planning",
    recordAction: "intents and outcomes",
    recordOutcome: "intents and outcomes",
  },
  marks: { listOpenMarks: "planning", closeMark: "planning" },
  claims: { claimHandshake: "claims", releaseHandshake: "claims", confirmClaim: "fence" },
  organizations: { describeHandshake: "prepare", cancelHandshake: "cancels" },
  ledger: { listedHandshakes: "ledger", knownHandshakes: "ledger", recordChanges: "ledger" },
  checkpoints: { write: "checkpoint" },
};

const spans = new Map<string, [number, number][]>();
function note(phase: string, start: number, end = performance.now()): void {
  spans.set(phase, [...(spans.get(phase) ?? []), [start, end]]);
}

/** The port with each listed method timed; anything else passes through. */
function timed<T extends object>(port: T, phases: Record<string, string>): T {
  return new Proxy(port, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      const phase = typeof key === "string" ? phases[key] : undefined;
      if (phase === undefined || typeof value !== "function") return value;
      return async (...args: unknown[]) => {
        const start = performance.now();
        try {
          return await value.apply(target, args);
        } finally {
          note(phase, start);
        }
      };
    },
  });
}

/** The listing as the sweep reads it: each page's wait is listing, what is done between pages planning. */
function timedListing<T>(pages: AsyncIterable<T>): AsyncIterable<T> {
  return {
    async *[Symbol.asyncIterator]() {
      const iterator = pages[Symbol.asyncIterator]();
      for (;;) {
        const asked = performance.now();
        const next = await iterator.next();
        note("listing", asked);
        if (next.done) return;
        const handed = performance.now();
        yield next.value;
        note("planning", handed);
      }
    },
  };
}

/** Milliseconds covered by at least one of the spans. */
function covered(list: readonly [number, number][]): number {
  let total = 0;
  let reach = Number.NEGATIVE_INFINITY;
  for (const [start, end] of [...list].sort((a, b) => a[0] - b[0])) {
    if (end <= reach) continue;
    total += end - Math.max(start, reach);
    reach = end;
  }
  return total;
}

const ready = performance.now();
const settings = loadSettings();
const config = await loadConfig(settings.janitorConfig ?? "janitor.yaml");
const app = wire(settings);
const deps = app.sweepDeps;
const organizations = timed(deps.organizations, PHASES.organizations ?? {});
const began = performance.now();
note("start-up: node and modules", 0, ready);
note("start-up: config and clients", ready, began);
const summary = await sweep(
  {
    config,
    runId: process.env.BENCH_RUN_ID ?? `bench-whole-run-${Date.now()}`,
    trigger: "cli",
    actor: "bench",
    concurrency: Number(process.env.BENCH_CONCURRENCY ?? 4),
  },
  {
    ...deps,
    organizations: {
      describeHandshake: (id) => organizations.describeHandshake(id),
      cancelHandshake: (id, options) => organizations.cancelHandshake(id, options),
      listHandshakes: () => timedListing(deps.organizations.listHandshakes()),
    },
    journal: timed(deps.journal, PHASES.journal ?? {}),
    actions: timed(deps.actions, PHASES.actions ?? {}),
    lease: timed(deps.lease, PHASES.lease ?? {}),
    marks: timed(deps.marks, PHASES.marks ?? {}),
    claims: timed(deps.claims, PHASES.claims ?? {}),
    evidence: timed(deps.evidence, PHASES.evidence ?? {}),
    ledger: timed(deps.ledger, PHASES.ledger ?? {}),
    now: () => new Date(),
    ...(deps.checkpoints ? { checkpoints: timed(deps.checkpoints, PHASES.checkpoints ?? {}) } : {}),
  },
);
const ended = performance.now();
app.clients.organizations.destroy();
app.clients.dynamodb.destroy();
// The ledger's writes after the last cancel (the run's own cancellations, entered before the seal)
// are in the run's series; those before it overlap the listing and the cancels.
const lastCancel = Math.max(...(spans.get("cancels") ?? []).map(([, end]) => end));
const ledgerSpans = spans.get("ledger") ?? [];
spans.set(
  "ledger",
  ledgerSpans.filter(([start]) => start < lastCancel),
);
spans.set(
  "ledger after the last cancel",
  ledgerSpans.filter(([start]) => start >= lastCancel),
);
const phasesMs = Object.fromEntries([...spans].map(([phase, list]) => [phase, covered(list)]));
process.stdout.write(
  `\n${RESULT_PREFIX}${JSON.stringify({
    status: summary.status,
    canceled: summary.counts.CANCELED ?? 0,
    sweepMs: ended - began,
    endedMs: ended,
    phasesMs,
  })}\n`,
);
