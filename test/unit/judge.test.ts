import { describe, expect, test } from "vitest";
import { parseConfig } from "../../src/config/config.js";
import type { Handshake } from "../../src/domain/handshake.js";
import { describedHandshakes, type JudgeRequest, judge } from "../../src/sweep/judge.js";
import type { RunSummary } from "../../src/sweep/sweep.js";
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

function config({ dryRun = false } = {}) {
  return parseConfig(
    `version: 1
dryRun: ${dryRun}
maxCancellationsPerRun: 25
rules:
  - id: outside-email
    type: email
    allow: ["*@example.com"]
`,
    "test.yaml",
  );
}

function setup(handshakes: Handshake[]) {
  const events: Event[] = [];
  const organizations = new FakeOrganizations(handshakes, events);
  const audit = new FakeAudit(events);
  const claims = new FakeClaims();
  claims.now = () => NOW;
  const slept: number[] = [];
  const warnings: string[] = [];
  const deps = {
    organizations,
    ...sweepPorts(audit),
    claims,
    now: () => NOW,
    sleep: async (ms: number) => {
      slept.push(ms);
    },
    logger: { debug() {}, info() {}, warn: (message: string) => warnings.push(message), error() {} },
  };
  return { events, organizations, audit, claims, slept, warnings, deps };
}

function request(id: string, overrides: Partial<JudgeRequest> = {}): JudgeRequest {
  return {
    config: config(),
    runId: "event-1",
    actor: "arn:aws:iam::123456789012:user/ops",
    handshakeId: id,
    holder: "event-1/req-1",
    claimTtlMs: 40_000,
    ...overrides,
  };
}

function summary(result: Awaited<ReturnType<typeof judge>>): RunSummary {
  if ("inProgress" in result) throw new Error("in progress");
  return result;
}

const outsider = () => handshake({ target: { type: "EMAIL", value: "someone@gmail.com" } });

describe("judge", () => {
  test("cancels a selected handshake under its claim, taken before the intent and released after the outcome", async () => {
    const target = outsider();
    const other = outsider();
    const { deps, events, claims, organizations, audit } = setup([target, other]);

    const result = summary(await judge(request(target.id), deps));

    expect(result.trigger).toBe("event");
    expect(result.actions.map((a) => [a.handshakeId, a.outcome])).toEqual([[target.id, "CANCELED"]]);
    expect(organizations.cancels()).toEqual([target.id]);
    expect(events.map((e) => e.kind)).toEqual(["intent", "cancel", "outcome"]);
    expect(claims.log).toEqual([`claim ${target.id} event-1/req-1`, `release ${target.id} event-1/req-1`]);
    expect(claims.held.size).toBe(0);
    expect(audit.runs.get("event-1")).toMatchObject({ trigger: "event", listed: 1, candidates: 1 });
  });

  test("records DEFERRED without cancelling when another run keeps the claim past the wait", async () => {
    const target = outsider();
    const { deps, claims, organizations, slept, events } = setup([target]);
    claims.held.set(target.id, { holder: "sweep-7", until: new Date(NOW.getTime() + 60_000) });
    let clock = NOW.getTime();
    deps.now = () => new Date(clock);
    deps.sleep = async (ms: number) => {
      slept.push(ms);
      clock += ms;
    };

    const result = summary(await judge(request(target.id, { claimWaitMs: 1_000 }), deps));

    expect(result.actions).toHaveLength(1);
    expect(result.actions[0]).toMatchObject({ outcome: "DEFERRED", attempts: 0 });
    expect(result.actions[0]?.reason).toContain("claimed by sweep-7");
    // Skipped before any intent: one final item, nothing a later run would reconcile.
    expect(events.map((event) => event.kind)).toEqual(["final"]);
    expect(result.status).toBe("PARTIAL");
    expect(organizations.cancels()).toEqual([]);
    // Waited with doubling pauses, the last cut short: the whole wait, never past it.
    expect(slept.reduce((sum, ms) => sum + ms, 0)).toBe(1_000);
    expect(slept.length).toBeGreaterThan(2);
    for (let i = 1; i < slept.length - 1; i++) expect(slept[i]).toBe(2 * (slept[i - 1] ?? 0));
    expect(slept.at(-1)).toBeLessThanOrEqual(2 * (slept.at(-2) ?? 0));
    expect(claims.held.get(target.id)?.holder).toBe("sweep-7");
    expect(claims.log.filter((line) => line.startsWith("release"))).toEqual([]);
  });

  test("cancels once the other holder lets go within the wait", async () => {
    const target = outsider();
    const { deps, claims, organizations } = setup([target]);
    claims.held.set(target.id, { holder: "sweep-7", until: new Date(NOW.getTime() + 60_000) });
    deps.sleep = async () => {
      claims.held.delete(target.id);
    };

    const result = summary(await judge(request(target.id, { claimWaitMs: 2_000 }), deps));

    expect(result.actions.map((a) => a.outcome)).toEqual(["CANCELED"]);
    expect(organizations.cancels()).toEqual([target.id]);
  });

  test("does nothing when the same event's run holds the claim in another invocation", async () => {
    const target = outsider();
    const { deps, claims, organizations, audit } = setup([target]);
    claims.held.set(target.id, { holder: "event-1/req-0", until: new Date(NOW.getTime() + 60_000) });

    const result = await judge(request(target.id, { claimWaitMs: 2_000 }), deps);

    expect(result).toEqual({
      inProgress: {
        runId: "event-1",
        holder: "event-1/req-0",
        until: new Date(NOW.getTime() + 60_000).toISOString(),
      },
    });
    expect(organizations.cancels()).toEqual([]);
    expect(audit.runs.size).toBe(0);
    expect(audit.items.size).toBe(0);
  });

  test.each([
    ["a dry run", { config: config({ dryRun: true }) }, "DRY_RUN"],
    ["a dry run asked by the request", { dryRun: true }, "DRY_RUN"],
  ])("takes no claim and cancels nothing in %s", async (_name, overrides, outcome) => {
    const target = outsider();
    const { deps, claims, organizations } = setup([target]);

    const result = summary(await judge(request(target.id, overrides), deps));

    expect(result.actions.map((a) => a.outcome)).toEqual([outcome]);
    expect(claims.log).toEqual([]);
    expect(organizations.cancels()).toEqual([]);
  });

  test.each([
    ["allowed by the rules", () => handshake({ target: { type: "EMAIL", value: "new@example.com" } })],
    [
      "closed already",
      () => handshake({ state: "ACCEPTED", target: { type: "EMAIL", value: "x@gmail.com" } }),
    ],
  ])("takes no claim and records no action for a handshake %s", async (_name, make) => {
    const target = make();
    const { deps, claims, organizations, audit } = setup([target]);

    const result = summary(await judge(request(target.id), deps));

    expect(result.status).toBe("COMPLETED");
    expect(result.actions).toEqual([]);
    expect(claims.log).toEqual([]);
    expect(organizations.cancels()).toEqual([]);
    expect(audit.items.size).toBe(0);
  });

  test("judges only the described handshake, never the organization's other open handshakes", async () => {
    const target = handshake({ target: { type: "EMAIL", value: "new@example.com" } });
    const { deps, organizations } = setup([target, outsider(), outsider()]);

    const result = summary(await judge(request(target.id), deps));

    expect(result.listed).toBe(1);
    expect(organizations.cancels()).toEqual([]);
  });

  test("leaves other runs' pending intents alone: the sweep reconciles them", async () => {
    const target = outsider();
    const stranded = outsider();
    const { deps, audit, organizations } = setup([target, stranded]);
    await audit.recordAction(auditAction({ runId: "sweep-3", handshakeId: stranded.id }));

    const result = summary(await judge(request(target.id), deps));

    expect(result.reconciled).toBe(0);
    expect(audit.items.get(`sweep-3/${stranded.id}`)?.outcome).toBeUndefined();
    expect(organizations.cancels()).toEqual([target.id]);
  });

  test("a release that fails is only a warning: the claim expires by itself", async () => {
    const target = outsider();
    const { deps, claims, warnings } = setup([target]);
    claims.failRelease = true;

    const result = summary(await judge(request(target.id), deps));

    expect(result.actions.map((a) => a.outcome)).toEqual(["CANCELED"]);
    expect(warnings).toEqual(["could not release the handshake's claim; it expires by itself"]);
  });
});

describe("describedHandshakes", () => {
  test("lists exactly the described handshakes, each described once, and leaves out the unknown", async () => {
    const known = outsider();
    const organizations = new FakeOrganizations([known, outsider()]);
    let describes = 0;
    const counting = {
      ...organizations,
      listHandshakes: () => organizations.listHandshakes(),
      cancelHandshake: (id: string) => organizations.cancelHandshake(id),
      describeHandshake: (id: string) => {
        describes += 1;
        return organizations.describeHandshake(id);
      },
    };
    const port = describedHandshakes(counting, [known.id, "h-0000000unknown"]);

    const pages: Handshake[][] = [];
    await port.described(known.id);
    for await (const page of port.listHandshakes()) pages.push(page);

    expect(pages.map((page) => page.map((h) => h.id))).toEqual([[known.id]]);
    expect(describes).toBe(2);
  });
});
