import { describe, expect, test, vi } from "vitest";
import { parseConfig } from "../../src/core/config.js";
import type { Handshake } from "../../src/core/handshake.js";
import { type SweepRequest, sweep } from "../../src/core/sweep.js";
import { stale as staleRule } from "../../src/rules/stale.js";
import { type Event, FakeAudit, FakeOrganizations, handshake } from "../support/fakes.js";

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
  return { events, organizations, audit, deps: { organizations, audit, now: () => NOW } };
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
    expect(audit.ofRun("run-1")[0]?.outcome).toBe("CANCELED");
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
    expect(audit.ofRun("run-1")[0]?.outcome).toBe("CANCELED");
    expect(next.reconciled).toBe(1);
  });
});
