import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/config.js";
import type { Handshake } from "../../src/domain/handshake.js";
import {
  applyGrace,
  cancelAfterOf,
  closeMarkOf,
  type EarlyApproval,
  isDue,
  marksByHandshake,
} from "../../src/policy/grace.js";
import { type Decision, plan } from "../../src/policy/plan.js";
import type { OpenMark } from "../../src/ports/records.js";

const NOW = new Date("2026-11-29T12:00:00.000Z");
const HOUR = 3_600_000;

const shake: Handshake = {
  id: "h-0000000001",
  state: "OPEN",
  action: "INVITE",
  requestedAt: new Date("2026-11-01T00:00:00Z"),
  target: { type: "EMAIL", value: "eve@gmail.com" },
};

function mark(overrides: Partial<OpenMark> = {}): OpenMark {
  return {
    runId: "run-0",
    handshakeId: shake.id,
    ruleId: "outside",
    cancelAfter: new Date(NOW.getTime() - HOUR).toISOString(),
    action: "INVITE",
    target: "eve@gmail.com",
    targetType: "EMAIL",
    ...overrides,
  };
}

const cancel: Decision = {
  kind: "cancel",
  handshake: shake,
  ruleId: "outside",
  matchedRules: ["outside"],
  reason: "not allowed",
};

const exempted: Decision = {
  kind: "exempted",
  handshake: shake,
  ruleId: "outside",
  matchedRules: ["outside"],
  reason: "not allowed; exempted: partner",
  exemption: { handshakeId: shake.id, reason: "partner" },
};

const failed: Decision = {
  kind: "failed",
  handshake: shake,
  ruleId: "outside",
  matchedRules: [],
  reason: "rule 'outside' failed: boom",
  error: "boom",
};

const grace = (hours: Record<string, number>) => (ruleId: string) => hours[ruleId] ?? 0;

describe("applyGrace", () => {
  const future = new Date(NOW.getTime() + HOUR).toISOString();
  const cases: {
    name: string;
    decision: Decision | undefined;
    open?: OpenMark;
    hours: Record<string, number>;
    kind: Decision["kind"] | undefined;
    closes?: boolean;
    outcome?: string;
  }[] = [
    { name: "no grace, no mark: cancels at once", decision: cancel, hours: {}, kind: "cancel" },
    { name: "grace, no mark: marks", decision: cancel, hours: { outside: 2 }, kind: "mark" },
    {
      name: "a mark not yet due: no item",
      decision: cancel,
      open: mark({ cancelAfter: future }),
      hours: { outside: 2 },
      kind: undefined,
    },
    {
      name: "a due mark that still matches: cancels and closes it",
      decision: cancel,
      open: mark(),
      hours: { outside: 2 },
      kind: "cancel",
      closes: true,
    },
    {
      name: "a due mark whose rule no longer matches, another rule with grace does: marked anew",
      decision: { ...cancel, ruleId: "stale", matchedRules: ["stale"] },
      open: mark(),
      hours: { stale: 1 },
      kind: "mark",
      closes: true,
    },
    {
      name: "an exemption added meanwhile: EXEMPTED, the mark closed",
      decision: exempted,
      open: mark({ cancelAfter: future }),
      hours: { outside: 2 },
      kind: "exempted",
      closes: true,
    },
    {
      name: "no rule matches any more: the mark closed",
      decision: undefined,
      open: mark({ cancelAfter: future }),
      hours: { outside: 2 },
      kind: "close",
      closes: true,
      outcome: "EXEMPTED",
    },
    { name: "no rule matches, no mark: nothing", decision: undefined, hours: {}, kind: undefined },
    {
      name: "a rule that throws: FAILED, the mark stays open",
      decision: failed,
      open: mark(),
      hours: { outside: 2 },
      kind: "failed",
      closes: false,
    },
  ];
  it.each(cases)("$name", ({ decision, open, hours, kind, closes, outcome }) => {
    const result = applyGrace(decision, shake, {
      now: NOW,
      graceHoursOf: grace(hours),
      ...(open ? { mark: open } : {}),
    });
    expect(result?.kind).toBe(kind);
    if (closes !== undefined && result !== undefined) {
      const closesMark = "closesMark" in result ? result.closesMark : undefined;
      expect(closesMark).toEqual(closes ? open : undefined);
    }
    if (outcome !== undefined) expect(result).toMatchObject({ outcome });
    if (closes && result !== undefined) expect(result.reason).toContain(`run ${open?.runId}`);
  });

  it("sets cancelAfter to now plus the rule's grace", () => {
    const result = applyGrace(cancel, shake, { now: NOW, graceHoursOf: grace({ outside: 1.5 }) });
    expect(result).toMatchObject({
      kind: "mark",
      cancelAfter: new Date(NOW.getTime() + 1.5 * HOUR).toISOString(),
    });
  });
});

describe("applyGrace with an approval (approve means cancel now)", () => {
  const running = mark({ runId: "run-0", cancelAfter: new Date(NOW.getTime() + HOUR).toISOString() });
  const approval: EarlyApproval = { planId: "plan-0123456789abcdef", markRunId: "run-0", ruleId: "outside" };
  const context = (over: Partial<EarlyApproval>) => ({
    now: NOW,
    graceHoursOf: grace({ outside: 2 }),
    mark: running,
    approval: { ...approval, ...over },
  });

  it("cuts short the grace period of the mark its plan was made with, and closes that mark", () => {
    const result = applyGrace(cancel, shake, context({}));
    expect(result).toMatchObject({ kind: "cancel", ruleId: "outside", closesMark: running });
    expect(result?.reason).toContain(`grace period cut short by the approval of plan ${approval.planId}`);
  });

  it.each([
    { name: "a mark of another run", over: { markRunId: "run-9" } },
    { name: "a mark by another rule", over: { ruleId: "other" } },
  ])("leaves $name to its grace period", ({ over }) => {
    expect(applyGrace(cancel, shake, context(over))).toBeUndefined();
  });

  it("does not turn an exemption into a cancel", () => {
    expect(applyGrace(exempted, shake, context({}))).toMatchObject({ kind: "exempted", closesMark: running });
  });
});

describe("closeMarkOf", () => {
  it.each([
    { state: "ACCEPTED", outcome: "STATE_CHANGED" },
    { state: "DECLINED", outcome: "STATE_CHANGED" },
    { state: "EXPIRED", outcome: "STATE_CHANGED" },
    { state: "CANCELED", outcome: "ALREADY_CLOSED" },
  ])("a handshake now $state closes the mark as $outcome", ({ state, outcome }) => {
    expect(closeMarkOf(mark(), { ...shake, state })).toMatchObject({ kind: "close", outcome });
  });

  it("a handshake no longer listed closes the mark as ALREADY_CLOSED, named from the mark", () => {
    const result = closeMarkOf(mark(), undefined);
    expect(result).toMatchObject({ kind: "close", outcome: "ALREADY_CLOSED", ruleId: "outside" });
    expect(result?.handshake.id).toBe(shake.id);
    expect(result?.handshake.target).toEqual({ type: "EMAIL", value: "eve@gmail.com" });
  });

  it.each(["OPEN", "REQUESTED"])("a %s handshake is no reason to close", (state) => {
    expect(closeMarkOf(mark(), { ...shake, state })).toBeUndefined();
  });
});

describe("time", () => {
  it.each([
    { cancelAfter: new Date(NOW.getTime() - 1).toISOString(), due: true },
    { cancelAfter: NOW.toISOString(), due: true },
    { cancelAfter: new Date(NOW.getTime() + 1).toISOString(), due: false },
    { cancelAfter: "not a time", due: false },
  ])("a mark due at $cancelAfter is due: $due", ({ cancelAfter, due }) => {
    expect(isDue({ cancelAfter }, NOW)).toBe(due);
  });

  it("cancelAfterOf adds fractions of hours in milliseconds", () => {
    expect(cancelAfterOf(NOW, 0.001)).toBe(new Date(NOW.getTime() + 3_600).toISOString());
  });

  it("marksByHandshake keeps the mark due first", () => {
    const early = mark({ runId: "a", cancelAfter: "2026-11-01T00:00:00.000Z" });
    const late = mark({ runId: "b", cancelAfter: "2026-11-02T00:00:00.000Z" });
    expect(marksByHandshake([late, early]).get(shake.id)?.runId).toBe("a");
  });
});

describe("the planner with marks", () => {
  const config = parseConfig(
    [
      "version: 1",
      "dryRun: false",
      "rules:",
      "  - id: outside",
      "    type: email",
      '    deny: ["*@gmail.com"]',
      "    graceHours: 2",
      "  - id: stale",
      "    type: stale",
      "    olderThanDays: 100",
    ].join("\n"),
    "c.yaml",
  );

  it("marks a handshake once, waits, and cancels when due", () => {
    const first = plan({ handshakes: [shake], config, now: NOW });
    expect(first.decisions.map((d) => d.kind)).toEqual(["mark"]);
    expect(first.selected).toBe(0);
    const made = first.decisions[0] as Extract<Decision, { kind: "mark" }>;
    const open = new Map([[shake.id, mark({ runId: "r1", cancelAfter: made.cancelAfter })]]);

    const waiting = plan({ handshakes: [shake], config, now: new Date(NOW.getTime() + HOUR), marks: open });
    expect(waiting.decisions).toEqual([]);

    const due = plan({ handshakes: [shake], config, now: new Date(NOW.getTime() + 2 * HOUR), marks: open });
    expect(due.decisions.map((d) => d.kind)).toEqual(["cancel"]);
    expect(due.selected).toBe(1);
  });

  it("cancels a marked handshake before it is due only when an approval names its mark", () => {
    const due = new Date(NOW.getTime() + HOUR).toISOString();
    const open = new Map([[shake.id, mark({ runId: "r1", cancelAfter: due })]]);
    const approval = { planId: "plan-0123456789abcdef", markRunId: "r1", ruleId: "outside" };

    const approved = plan({
      handshakes: [shake],
      config,
      now: NOW,
      marks: open,
      approvals: new Map([[shake.id, approval]]),
    });
    const elsewhere = plan({
      handshakes: [shake],
      config,
      now: NOW,
      marks: open,
      approvals: new Map([["h-0000000002", approval]]),
    });

    expect(approved.decisions.map((d) => d.kind)).toEqual(["cancel"]);
    expect(approved.selected).toBe(1);
    expect(elsewhere.decisions).toEqual([]);
  });

  it("closes a mark whose handshake was accepted, and one no longer listed", () => {
    const other = mark({ handshakeId: "h-0000000099" });
    const open = new Map([
      [shake.id, mark()],
      [other.handshakeId, other],
    ]);
    const result = plan({ handshakes: [{ ...shake, state: "ACCEPTED" }], config, now: NOW, marks: open });
    expect(result.decisions.map((d) => [d.handshake.id, d.kind, "outcome" in d ? d.outcome : ""])).toEqual([
      [shake.id, "close", "STATE_CHANGED"],
      [other.handshakeId, "close", "ALREADY_CLOSED"],
    ]);
  });

  it("leaves a mark of a rule the run does not evaluate, and its handshake, alone", () => {
    const open = new Map([[shake.id, mark()]]);
    const result = plan({ handshakes: [shake], config, now: NOW, marks: open, only: { ruleIds: ["stale"] } });
    expect(result.decisions).toEqual([]);
  });

  it("leaves marks outside a --handshake selection alone", () => {
    const open = new Map([[shake.id, mark()]]);
    const result = plan({
      handshakes: [{ ...shake, state: "ACCEPTED" }],
      config,
      now: NOW,
      marks: open,
      only: { handshakeIds: ["h-0000000077"] },
    });
    expect(result.decisions).toEqual([]);
  });
});

describe("graceHours in the config", () => {
  const withGrace = (value: string) =>
    `version: 1\nrules:\n  - id: old\n    type: stale\n    olderThanDays: 7\n    graceHours: ${value}\n`;

  it.each([
    { value: "24", graceHours: 24 },
    { value: "0.5", graceHours: 0.5 },
    { value: "720", graceHours: 720 },
    // 0 is the default: left out, so the config hash is the one without it.
    { value: "0", graceHours: undefined },
  ])("graceHours: $value is accepted", ({ value, graceHours }) => {
    expect(parseConfig(withGrace(value), "c.yaml").rules[0]?.graceHours).toBe(graceHours);
  });

  it.each([
    { value: "-1", problem: "must be at least 0" },
    { value: "721", problem: "must be at most 720 (30 days)" },
    { value: ".inf", problem: "must be a number, got Infinity" },
    { value: ".nan", problem: "must be a number, got NaN" },
    { value: '"24"', problem: 'must be a number, got "24"' },
  ])("graceHours: $value is refused with one line", ({ value, problem }) => {
    expect(() => parseConfig(withGrace(value), "c.yaml")).toThrow(
      expect.objectContaining({ issues: [`c.yaml: rules[0].graceHours: ${problem}`] }),
    );
  });

  it("is reported together with the rule's other problems", () => {
    const text = "version: 1\nrules:\n  - {id: old, type: stale, olderThanDays: 0, graceHours: -2}\n";
    expect(() => parseConfig(text, "c.yaml")).toThrow(
      expect.objectContaining({
        issues: [
          "c.yaml: rules[0].graceHours: must be at least 0",
          "c.yaml: rules[0].olderThanDays: must be greater than 0",
        ],
      }),
    );
  });

  it("notify.showTargets is optional and strict", () => {
    const base = "version: 1\nrules: [{id: old, type: stale, olderThanDays: 7}]\n";
    expect(parseConfig(`${base}notify: {showTargets: true}\n`, "c.yaml").notify).toEqual({
      showTargets: true,
    });
    expect(parseConfig(base, "c.yaml").notify).toBeUndefined();
    expect(() => parseConfig(`${base}notify: {showTarget: true}\n`, "c.yaml")).toThrow(
      expect.objectContaining({ issues: ["c.yaml: notify.showTarget: unknown key"] }),
    );
  });
});
