import { afterEach, describe, expect, test, vi } from "vitest";
import { parseConfig } from "../../src/config/config.js";
import { LeaseHeldError } from "../../src/domain/errors.js";
import type { Handshake } from "../../src/domain/handshake.js";
import { stale as staleRule } from "../../src/rules/stale.js";
import { keepLease } from "../../src/sweep/lease.js";
import { type SweepLogger, type SweepRequest, sweep } from "../../src/sweep/sweep.js";
import { sweepPorts } from "../../src/sweep/types.js";
import {
  auditAction,
  type Event,
  FakeAudit,
  FakeClaims,
  FakeOrganizations,
  handshake,
} from "../support/fakes.js";

const NOW = new Date("2026-11-25T12:00:00Z");
const DAY = 86_400_000;

function config(extra = "", { dryRun = false, cap = 25 } = {}) {
  return parseConfig(
    `version: 1
dryRun: ${dryRun}
maxCancellationsPerRun: ${cap}
rules:
  - id: outside-email
    type: email
    allow: ["*@example.com"]
  - id: stale
    type: stale
    olderThanDays: 7
${extra}`,
    "test.yaml",
  );
}

function setup(handshakes: Handshake[]) {
  const events: Event[] = [];
  const organizations = new FakeOrganizations(handshakes, events);
  const audit = new FakeAudit(events);
  audit.now = () => NOW;
  return { events, organizations, audit, deps: { organizations, ...sweepPorts(audit), now: () => NOW } };
}

function request(overrides: Partial<SweepRequest> = {}): SweepRequest {
  return { config: config(), runId: "run-1", trigger: "cli", actor: "tester", ...overrides };
}

const outsider = () => handshake({ target: { type: "EMAIL", value: "someone@gmail.com" } });
const stale = () => handshake({ requestedAt: new Date(NOW.getTime() - 9 * DAY) });
const fine = () => handshake({ requestedAt: new Date(NOW.getTime() - 1 * DAY) });

describe("sweep", () => {
  test("records an intent before every CancelHandshake and an outcome after it", async () => {
    const selected = [outsider(), stale(), outsider()];
    const { events, organizations, deps } = setup([...selected, fine()]);

    const summary = await sweep(request(), deps);

    expect(organizations.cancels().sort()).toEqual(selected.map((h) => h.id).sort());
    for (const id of organizations.cancels()) {
      const mine = events.filter((e) => e.handshakeId === id).map((e) => e.kind);
      expect(mine).toEqual(["intent", "cancel", "outcome"]);
    }
    expect(summary.status).toBe("COMPLETED");
    expect(summary.counts).toEqual({ CANCELED: selected.length });
  });

  test("cancels nothing and records DRY_RUN in a dry run, from the config or the request", async () => {
    for (const variant of [{ config: config("", { dryRun: true }) }, { dryRun: true }]) {
      const selected = [outsider(), stale()];
      const { organizations, audit, deps } = setup(selected);

      const summary = await sweep(request(variant), deps);

      expect(organizations.cancels()).toEqual([]);
      expect(audit.ofRun("run-1").map((i) => i.outcome)).toEqual(selected.map(() => "DRY_RUN"));
      expect(summary.dryRun).toBe(true);
    }
  });

  test("cancels nothing and records BLOCKED when more handshakes match than the cap allows", async () => {
    const selected = [outsider(), outsider(), stale()];
    const { organizations, audit, deps } = setup(selected);

    const summary = await sweep(request({ config: config("", { cap: selected.length - 1 }) }), deps);

    expect(organizations.cancels()).toEqual([]);
    expect(summary.status).toBe("BLOCKED");
    expect(audit.ofRun("run-1").map((i) => i.outcome)).toEqual(selected.map(() => "BLOCKED"));
  });

  test("records what calls nothing (dry run, exempted, blocked) in one batch, with no intent", async () => {
    const exempt = handshake({ target: { type: "EMAIL", value: "partner@gmail.com" } });
    const exemption = `exemptions:
  - email: partner@gmail.com
    reason: signed partner, CHG-7`;
    const cases = [
      { name: "dry run", req: { dryRun: true }, extra: exemption, cap: 25 },
      { name: "blocked", req: {}, extra: exemption, cap: 1 },
    ];
    for (const { name, req, extra, cap } of cases) {
      const selected = [outsider(), stale(), exempt];
      const { events, organizations, audit, deps } = setup([...selected, fine()]);

      const summary = await sweep(request({ ...req, config: config(extra, { cap }) }), deps);

      expect(organizations.cancels(), name).toEqual([]);
      expect(audit.finalBatches, name).toEqual([selected.map((h) => h.id)]);
      expect(
        events.filter((e) => e.kind === "intent"),
        name,
      ).toEqual([]);
      expect(
        summary.actions.map((a) => a.handshakeId),
        name,
      ).toEqual(selected.map((h) => h.id));
      expect(audit.ofRun("run-1").find((i) => i.handshakeId === exempt.id)?.outcome, name).toBe("EXEMPTED");
    }
  });

  test("reports each final it could not record as FAILED, and the run as partial", async () => {
    const selected = [outsider(), stale()];
    const { audit, deps } = setup(selected);
    audit.failFinals = true;

    const summary = await sweep(request({ dryRun: true }), deps);

    expect(summary.actions.map((a) => [a.outcome, a.error])).toEqual(
      selected.map(() => ["FAILED", "audit write failed: InternalServerError"]),
    );
    expect(summary.status).toBe("PARTIAL");
    expect(audit.ofRun("run-1")).toEqual([]);
  });

  test("a rerun of the same run id cancels nothing twice and writes no new item", async () => {
    const { organizations, audit, deps } = setup([outsider(), stale()]);
    await sweep(request(), deps);
    const before = structuredClone([...audit.items.values()]);
    organizations.events.length = 0;

    const again = await sweep(request(), deps);

    expect(organizations.cancels()).toEqual([]);
    expect([...audit.items.values()]).toEqual(before);
    expect(again.replayed).toBe(true);
  });

  test("a rule that throws never leads to a cancellation, even when another rule matches", async () => {
    const tricky = outsider();
    const spy = vi.spyOn(staleRule, "evaluate").mockImplementation((h) => {
      if (h.id === tricky.id) throw new Error("bad timestamp");
      return { verdict: "pass" };
    });
    const { organizations, audit, deps } = setup([tricky]);

    const summary = await sweep(request(), deps);
    spy.mockRestore();

    expect(organizations.cancels()).toEqual([]);
    expect(audit.ofRun("run-1")[0]?.outcome).toBe("FAILED");
    expect(summary.status).toBe("PARTIAL");
  });

  test("does not cancel when the intent cannot be written", async () => {
    const { organizations, audit, deps } = setup([outsider()]);
    audit.failIntents = true;

    const summary = await sweep(request(), deps);

    expect(organizations.cancels()).toEqual([]);
    expect(summary.counts).toEqual({ FAILED: 1 });
    expect(summary.status).toBe("PARTIAL");
  });

  test("leaves the intent pending when the outcome cannot be written, and the next run completes it", async () => {
    const target = outsider();
    const { organizations, audit, deps } = setup([target]);
    audit.failOutcomes = true;

    const first = await sweep(request(), deps);
    audit.failOutcomes = false;
    const second = await sweep(request({ runId: "run-2" }), deps);

    expect(first.status).toBe("PARTIAL");
    expect(organizations.cancels()).toEqual([target.id]);
    expect(reconciledBy(audit, "run-2", "run-1", target.id)).toMatchObject({ outcome: "CANCELED" });
    expect(second.reconciled).toBe(1);
    expect(await audit.listPendingIntents()).toEqual([]);
  });

  test("defers what is left when the deadline has passed, and the run is partial", async () => {
    const selected = [outsider(), stale()];
    const { organizations, audit, deps } = setup(selected);

    const summary = await sweep(request({ deadline: NOW.getTime() }), deps);

    expect(organizations.cancels()).toEqual([]);
    expect(audit.ofRun("run-1").map((i) => i.outcome)).toEqual(selected.map(() => "DEFERRED"));
    expect(summary.status).toBe("PARTIAL");
  });

  test("stops reconciling at the deadline: what is left stays pending, and nothing is canceled", async () => {
    const interrupted = [outsider(), outsider()];
    const { organizations, audit, deps } = setup(interrupted);
    for (const h of interrupted) {
      await audit.recordAction({
        runId: "run-0",
        handshakeId: h.id,
        ruleId: "outside-email",
        matchedRules: ["outside-email"],
        dryRun: false,
        at: NOW.toISOString(),
        trigger: "cli",
        actor: "tester",
        action: h.action,
        target: h.target?.value ?? "",
        targetType: "EMAIL",
        reason: "outside",
        attempts: 0,
      });
    }

    const summary = await sweep(request({ deadline: NOW.getTime() }), deps);

    expect(summary.reconciled).toBe(0);
    expect(await audit.listPendingIntents()).toHaveLength(interrupted.length);
    expect(organizations.cancels()).toEqual([]);
    expect(summary.counts).toEqual({ DEFERRED: interrupted.length });
  });

  test("narrows to the named rules and handshakes", async () => {
    const a = outsider();
    const b = stale();
    const c = outsider();
    const { organizations, deps } = setup([a, b, c]);

    await sweep(request({ ruleIds: ["outside-email"], handshakeIds: [a.id, b.id] }), deps);

    expect(organizations.cancels()).toEqual([a.id]);
  });

  test("records the outcomes the service reports, and counts them", async () => {
    const gone = outsider();
    const accepted = outsider();
    const { organizations, audit, deps } = setup([gone, accepted]);
    organizations.scripted.set(gone.id, {
      outcome: "ALREADY_CLOSED",
      attempts: 1,
      error: "HandshakeAlreadyInState",
    });
    organizations.scripted.set(accepted.id, { outcome: "STATE_CHANGED", attempts: 2 });

    const summary = await sweep(request(), deps);

    expect(summary.counts).toEqual({ ALREADY_CLOSED: 1, STATE_CHANGED: 1 });
    expect(audit.ofRun("run-1").find((i) => i.handshakeId === accepted.id)?.attempts).toBe(2);
    expect(summary.status).toBe("COMPLETED");
  });

  test("a cancel interrupted before its answer is completed by the next run without a second cancel", async () => {
    const target = outsider();
    const { organizations, audit, deps } = setup([target]);
    organizations.crashOn.add(target.id);

    const first = await sweep(request(), deps);
    expect(first.status).toBe("PARTIAL");
    expect(await audit.listPendingIntents()).toHaveLength(1);
    organizations.crashOn.clear();
    organizations.events.length = 0;
    const next = await sweep(request({ runId: "run-2" }), deps);

    expect(organizations.cancels()).toEqual([]);
    expect(reconciledBy(audit, "run-2", "run-1", target.id)).toMatchObject({ outcome: "CANCELED" });
    expect(next.reconciled).toBe(1);
  });
});

/** A logger that keeps every line, to check what a run says. */
function recordingLogger() {
  const lines: { level: string; message: string; extra?: Record<string, unknown> }[] = [];
  const at =
    (level: string) =>
    (message: string, extra?: Record<string, unknown>): void => {
      lines.push({ level, message, ...(extra ? { extra } : {}) });
    };
  const logger: SweepLogger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  return { logger, lines, messages: () => lines.map((line) => `${line.level}: ${line.message}`) };
}

/** A pending intent of an earlier run for this handshake, as that run wrote it before its cancel. */
function intentOf(runId: string, h: Handshake) {
  return auditAction({ runId, handshakeId: h.id, target: h.target?.value ?? "", at: NOW.toISOString() });
}

describe("the organization's lease", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  test("a live run that finds the lease held does nothing: no run item, no call, the holder named", async () => {
    const { organizations, audit, events, deps } = setup([outsider(), stale()]);
    audit.lease = { runId: "lambda-7", since: "2026-11-25T11:59:00.000Z", expiresAt: NOW.getTime() + 42_000 };

    const refused = sweep(request(), deps);

    await expect(refused).rejects.toThrow(new LeaseHeldError(audit.lease, NOW.getTime()).message);
    await expect(refused).rejects.toThrow(
      "another live run holds the organization's lease: run lambda-7 since 2026-11-25T11:59:00.000Z (expires in 42 s); nothing done",
    );
    expect(audit.runs.size).toBe(0);
    expect(events).toEqual([]);
    expect(organizations.cancels()).toEqual([]);
    expect(audit.lease?.runId).toBe("lambda-7");
  });

  test("a dry run needs no lease and runs beside a live run", async () => {
    const selected = [outsider(), stale()];
    const { audit, deps } = setup(selected);
    audit.lease = { runId: "lambda-7", since: NOW.toISOString(), expiresAt: NOW.getTime() + 60_000 };

    const summary = await sweep(request({ dryRun: true }), deps);

    expect(summary.counts).toEqual({ DRY_RUN: selected.length });
    expect(audit.lease.runId).toBe("lambda-7");
  });

  test("a lease whose holder died (expired) is taken over, and released at the end", async () => {
    const target = outsider();
    const { organizations, audit, deps } = setup([target]);
    audit.lease = { runId: "crashed", since: "2026-11-25T11:00:00.000Z", expiresAt: NOW.getTime() - 1 };

    const summary = await sweep(request(), deps);

    expect(summary.status).toBe("COMPLETED");
    expect(organizations.cancels()).toEqual([target.id]);
    // Released: free from now on, last held by this run.
    expect(audit.lease).toEqual({
      runId: "run-1",
      since: NOW.toISOString(),
      expiresAt: NOW.getTime(),
      released: true,
    });
  });

  test("a live run notes its lease on its run item as it starts its work", async () => {
    const { organizations, audit, deps } = setup([outsider()]);
    const noted: (number | undefined)[] = [];
    organizations.onCancel = async () => {
      noted.push(audit.runLeases.get("run-1"));
    };

    await sweep(request(), deps);

    expect(noted).toEqual([NOW.getTime() + 60_000]);
  });

  test("a run renews its lease at once (noting it on its run item) and every third of its length", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(NOW);
    const audit = new FakeAudit();
    const clock = () => new Date(Date.now());
    audit.now = clock;
    const claim = await audit.acquireLease("run-1");
    if (!claim.acquired) throw new Error("the lease is free");
    audit.runs.set("run-1", { ...runRecord("run-1"), status: "RUNNING" });
    const { logger } = recordingLogger();

    const keeper = keepLease({ store: audit, runId: "run-1", lease: claim.lease, now: clock, log: logger });
    await vi.advanceTimersByTimeAsync(0);
    expect(audit.renewals).toBe(1);
    expect(audit.runLeases.get("run-1")).toBe(NOW.getTime() + 60_000);
    await vi.advanceTimersByTimeAsync(20_000 * 5);

    expect(audit.renewals).toBe(6);
    expect(audit.lease?.expiresAt).toBe(NOW.getTime() + 100_000 + 60_000);
    expect(keeper.held()).toBe(true);
    await keeper.release();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(audit.renewals).toBe(6);
  });

  test("a run whose lease is taken by another stops starting cancellations: the rest is DEFERRED, and it says so", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(NOW);
    const selected = [outsider(), outsider(), outsider()];
    const { organizations, audit, deps } = setup(selected);
    const { logger, messages } = recordingLogger();
    organizations.onCancel = async () => {
      if (organizations.cancels().length > 1) return;
      // This run hung; its lease expired and another run took it.
      audit.lease = { runId: "run-9", since: NOW.toISOString(), expiresAt: NOW.getTime() + 60_000 };
      await vi.advanceTimersByTimeAsync(20_000);
    };

    const summary = await sweep(request({ concurrency: 1 }), { ...deps, logger });

    expect(organizations.cancels()).toEqual([selected[0]?.id]);
    expect(summary.counts).toEqual({ CANCELED: 1, DEFERRED: 2 });
    expect(summary.status).toBe("PARTIAL");
    const deferred = summary.actions.filter((a) => a.outcome === "DEFERRED");
    for (const action of deferred) {
      expect(action.reason).toContain("lost the organization's lease to run run-9");
    }
    expect(messages()).toContain("error: lease lost: no new cancellation starts, the rest is DEFERRED");
    // Not this run's to release any more.
    expect(audit.lease?.runId).toBe("run-9");
  });

  test("a run whose lease lapsed unrenewed (its clock passed the expiry) starts no new cancellation", async () => {
    const selected = [outsider(), outsider()];
    const { organizations, audit, deps } = setup(selected);
    let now = NOW.getTime();
    audit.now = () => new Date(now);
    organizations.onCancel = async () => {
      // Frozen for longer than the lease lasts.
      now += 61_000;
    };

    const summary = await sweep(request({ concurrency: 1 }), { ...deps, now: () => new Date(now) });

    expect(organizations.cancels()).toHaveLength(1);
    expect(summary.counts).toEqual({ CANCELED: 1, DEFERRED: 1 });
    expect(summary.actions.find((a) => a.outcome === "DEFERRED")?.reason).toMatch(
      /the lease lapsed at .* unrenewed/,
    );
  });

  test("reconciliation leaves alone the pending intents of a run that is RUNNING with an unexpired lease", async () => {
    const inFlight = outsider();
    const done = outsider();
    done.state = "CANCELED";
    const { organizations, audit, deps } = setup([inFlight, done]);
    await audit.recordAction(intentOf("run-0", inFlight));
    await audit.recordAction(intentOf("run-0", done));
    audit.runs.set("run-0", { ...runRecord("run-0"), status: "RUNNING" });
    audit.runLeases.set("run-0", NOW.getTime() + 30_000);
    const { logger, messages } = recordingLogger();

    const summary = await sweep(request({ ruleIds: ["stale"] }), { ...deps, logger });

    expect(summary.reconciled).toBe(0);
    expect((await audit.listPendingIntents()).map((i) => i.handshakeId).sort()).toEqual(
      [inFlight.id, done.id].sort(),
    );
    expect(organizations.cancels()).toEqual([]);
    expect(messages()).toContain(
      "warn: pending intent of a run that is still live (its lease is unexpired): left alone",
    );
  });

  test("reconciliation completes the pending intents of a run whose lease expired", async () => {
    const done = outsider();
    done.state = "CANCELED";
    const { audit, deps } = setup([done]);
    await audit.recordAction(intentOf("run-0", done));
    audit.runs.set("run-0", { ...runRecord("run-0"), status: "RUNNING" });
    audit.runLeases.set("run-0", NOW.getTime() - 1);

    const summary = await sweep(request(), deps);

    expect(summary.reconciled).toBe(1);
    expect(reconciledBy(audit, "run-1", "run-0", done.id)).toMatchObject({ outcome: "CANCELED" });
  });
});

describe("outcomes another run recorded first", () => {
  test("a cancel whose outcome write is refused is recorded as a conflict of its own, never only logged", async () => {
    const target = outsider();
    const { organizations, audit, deps } = setup([target]);
    const { logger, lines, messages } = recordingLogger();
    organizations.onCancel = async (id) => {
      // A run that took over after this one's lease lapsed reconciles the in-flight intent.
      await audit.recordOutcome("run-1", id, {
        outcome: "DEFERRED",
        attempts: 0,
        at: "2026-11-25T12:01:00.000Z",
        reason: "stale; reconciled by run run-2: still OPEN, decided again",
      });
    };

    const summary = await sweep(request(), { ...deps, logger });

    expect(organizations.cancels()).toEqual([target.id]);
    const recorded =
      "DEFERRED (written 2026-11-25T12:01:00.000Z, reason: stale; reconciled by run run-2: still OPEN, decided again)";
    expect(summary.actions.map((a) => [a.outcome, a.error])).toEqual([
      [
        "CANCELED",
        `conflict: the record already held ${recorded.replace("DEFERRED ", "DEFERRED for this intent ")}`,
      ],
    ]);
    // The intent keeps what the other run recorded; the cancel is an item of its own beside it.
    expect(audit.ofRun("run-1").map((item) => [item.handshakeId, item.outcome, item.contradicts])).toEqual([
      [target.id, "DEFERRED", undefined],
      [target.id, "CANCELED", `run-1/${target.id} DEFERRED`],
    ]);
    expect(summary.counts).toEqual({ DEFERRED: 1, CANCELED: 1 });
    expect(messages()).toContain(
      "error: conflict: a cancel landed after this run's claim had lapsed; recorded as a conflict",
    );
    expect(lines.some((line) => line.message.includes("left pending"))).toBe(false);
  });
});

describe("the run's counts", () => {
  test("come from the stored items: an outcome write that timed out but landed counts as stored", async () => {
    const selected = [outsider(), outsider(), stale()];
    const { audit, deps } = setup(selected);
    audit.landOutcomesThenFail = true;

    const summary = await sweep(request(), deps);

    // The run saw three failed writes; the table holds three CANCELED items.
    expect(summary.actions.map((a) => a.outcome)).toEqual(selected.map(() => "DEFERRED"));
    expect(audit.ofRun("run-1").map((i) => i.outcome)).toEqual(selected.map(() => "CANCELED"));
    expect(summary.counts).toEqual({ CANCELED: selected.length });
    expect(audit.runs.get("run-1")?.counts).toEqual({ CANCELED: selected.length });
    expect(audit.runs.get("run-1")?.countsStale).toBeUndefined();
  });

  test("say they may be stale when the items cannot be read back", async () => {
    const selected = [outsider(), stale()];
    const { audit, deps } = setup(selected);
    audit.landOutcomesThenFail = true;
    audit.failOutcomeReads = true;

    const summary = await sweep(request(), deps);

    expect(summary.counts).toEqual({ DEFERRED: selected.length });
    expect(summary.countsStale).toBe(true);
    expect(audit.runs.get("run-1")?.countsStale).toBe(true);
  });
});

function runRecord(runId: string) {
  return {
    runId,
    trigger: "scheduled" as const,
    actor: "events",
    status: "RUNNING" as const,
    dryRun: false,
    startedAt: NOW.toISOString(),
    counts: {},
    listed: 0,
    candidates: 0,
    matched: 0,
    configVersion: 1,
    configHash: "x",
  };
}

describe("handshake claims", () => {
  function withClaims(handshakes: Handshake[]) {
    const base = setup(handshakes);
    const claims = new FakeClaims();
    claims.now = () => NOW;
    return { ...base, claims, deps: { ...base.deps, claims } };
  }

  test("a sweep claims each handshake before its intent and releases it after the outcome", async () => {
    const selected = outsider();
    const { events, claims, deps } = withClaims([selected]);

    await sweep(request(), deps);

    expect(claims.log).toEqual([`claim ${selected.id} run-1`, `release ${selected.id} run-1`]);
    expect(events.filter((e) => e.handshakeId === selected.id).map((e) => e.kind)).toEqual([
      "intent",
      "cancel",
      "outcome",
    ]);
    expect(claims.held.size).toBe(0);
  });

  test("a handshake a real-time invocation holds is DEFERRED with no intent and no cancel", async () => {
    const held = outsider();
    const free = outsider();
    const { organizations, events, claims, deps } = withClaims([held, free]);
    claims.held.set(held.id, { holder: "event-1/request-1", until: new Date(NOW.getTime() + 20_000) });

    const summary = await sweep(request(), deps);

    expect(organizations.cancels()).toEqual([free.id]);
    expect(events.filter((e) => e.handshakeId === held.id && e.kind !== "final")).toEqual([]);
    const deferred = summary.actions.find((a) => a.handshakeId === held.id);
    expect(deferred?.outcome).toBe("DEFERRED");
    expect(deferred?.reason).toContain("claimed by event-1/request-1");
    expect(claims.held.get(held.id)?.holder).toBe("event-1/request-1");
  });

  test("a claim of a sweep run that lost the lease is taken over, and the handshake canceled", async () => {
    const selected = outsider();
    const { organizations, audit, claims, deps } = withClaims([selected]);
    audit.runs.set("run-0", { ...runRecord("run-0"), status: "RUNNING" });
    audit.runLeases.set("run-0", NOW.getTime() - 1);
    claims.held.set(selected.id, { holder: "run-0", until: new Date(NOW.getTime() + 300_000) });

    await sweep(request(), deps);

    expect(organizations.cancels()).toEqual([selected.id]);
    expect(claims.log[1]).toBe(`claim ${selected.id} run-1 replacing run-0`);
  });

  test("reconciliation leaves alone an intent whose handshake a real-time invocation holds", async () => {
    const inFlight = outsider();
    const { audit, claims, deps } = withClaims([inFlight]);
    await audit.recordAction(intentOf("event-1", inFlight));
    claims.held.set(inFlight.id, { holder: "event-1/request-1", until: new Date(NOW.getTime() + 20_000) });

    const summary = await sweep(request({ ruleIds: ["stale"] }), deps);

    expect(summary.reconciled).toBe(0);
    expect((await audit.listPendingIntents()).map((i) => i.handshakeId)).toEqual([inFlight.id]);
  });
});

/**
 * The record in `runId`'s chain that completes `intentRunId`'s intent for the handshake, checking
 * that the interrupted run's own item is left as it was: an intent, without an outcome.
 */
function reconciledBy(audit: FakeAudit, runId: string, intentRunId: string, handshakeId: string) {
  expect(audit.ofRun(intentRunId).find((item) => item.handshakeId === handshakeId)?.outcome).toBeUndefined();
  return audit.ofRun(runId).find((item) => item.reconciles === `${intentRunId}/${handshakeId}`);
}
