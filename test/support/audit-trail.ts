import type { Outcome, OutcomeCounts, Trigger } from "../../src/domain/outcomes.js";
import type { ActionLog } from "../../src/ports/action-log.js";
import type { AuditAction, RunRecord } from "../../src/ports/records.js";
import type { RunJournal } from "../../src/ports/run-journal.js";

/** Values that break naive CSV, HTML and shell handling, as real emails, notes and errors can. */
export const TRICKY = {
  target: '"o\'brien, jr"@gmail.com',
  reason: 'notes lack a ticket, "CHG-" missing; <script>alert(1)</script> & more',
  error: "AccessDeniedException: line one\nline two, with a comma",
};

const RULES = ["stale-invitations", "outside-email", "unknown-account", "ticket-required"] as const;
const TRIGGERS: Trigger[] = ["scheduled", "scheduled", "manual", "cli"];
const ACTORS: Record<Trigger, string> = {
  scheduled: "events.amazonaws.com",
  manual: "arn:aws:sts::111122223333:assumed-role/ops/alice",
  cli: "bob@cli",
  event: "arn:aws:iam::111122223333:user/carol",
};
/** Mostly cancellations, with every other outcome appearing somewhere. */
const OUTCOME_CYCLE: Outcome[] = [
  "CANCELED",
  "CANCELED",
  "DRY_RUN",
  "CANCELED",
  "EXEMPTED",
  "ALREADY_CLOSED",
  "CANCELED",
  "STATE_CHANGED",
  "FAILED",
  "DEFERRED",
];

export interface SeededTrail {
  runs: RunRecord[];
  actions: AuditAction[];
}

/**
 * A demo-like trail written through the store, as the sweep writes it: a run item, then each
 * action (an intent completed by its outcome for cancellations, one final write otherwise), then
 * the run's end with its counts. Deterministic, so tests can compute what to expect.
 */
export async function seedTrail(
  audit: RunJournal & ActionLog,
  options: { prefix: string; runs: number; start: Date; everyHours?: number; actionsPerRun?: number },
): Promise<SeededTrail> {
  const runs: RunRecord[] = [];
  const actions: AuditAction[] = [];
  let n = 0;
  for (let r = 0; r < options.runs; r += 1) {
    const started = new Date(options.start.getTime() + r * (options.everyHours ?? 37) * 3_600_000);
    const trigger = TRIGGERS[r % TRIGGERS.length] ?? "scheduled";
    const run: RunRecord = {
      runId: `${options.prefix}-run-${String(r).padStart(3, "0")}`,
      trigger,
      actor: ACTORS[trigger],
      status: "RUNNING",
      dryRun: false,
      startedAt: started.toISOString(),
      counts: {},
      listed: 40,
      candidates: 12,
      matched: 0,
      configVersion: 1,
      configHash: "sha256:5f1e0c9a",
      ...(trigger === "manual" ? { note: "CHG-1234, requested by security" } : {}),
    };
    await audit.startRun(run);
    const counts: OutcomeCounts = {};
    const perRun = options.actionsPerRun ?? 3 + (r % 3);
    for (let a = 0; a < perRun; a += 1) {
      const outcome = OUTCOME_CYCLE[n % OUTCOME_CYCLE.length] ?? "CANCELED";
      const tricky = n % 7 === 3;
      const at = new Date(started.getTime() + (a + 1) * 1_000).toISOString();
      const action: AuditAction = {
        runId: run.runId,
        handshakeId: `h-${options.prefix}${String(n).padStart(5, "0")}`,
        ruleId: RULES[n % RULES.length] ?? "stale-invitations",
        matchedRules: [RULES[n % RULES.length] ?? "stale-invitations"],
        dryRun: outcome === "DRY_RUN",
        at,
        trigger,
        actor: run.actor,
        action: "INVITE",
        target: tricky ? TRICKY.target : `user${n}@gmail.com`,
        targetType: "EMAIL",
        requestedAt: new Date(started.getTime() - 9 * 86_400_000).toISOString(),
        reason: tricky ? TRICKY.reason : `open for 9 days, more than 7`,
        attempts: outcome === "CANCELED" || outcome === "FAILED" ? 1 : 0,
        ...(outcome === "FAILED" ? { error: TRICKY.error } : {}),
      };
      if (outcome === "CANCELED") {
        const { outcome: _omit, ...intent } = { ...action, attempts: 0 };
        await audit.recordAction(intent);
        await audit.recordOutcome(run.runId, action.handshakeId, { outcome, attempts: 1, at });
        actions.push({ ...action, outcome });
      } else {
        await audit.recordAction({ ...action, outcome });
        actions.push({ ...action, outcome });
      }
      counts[outcome] = (counts[outcome] ?? 0) + 1;
      n += 1;
    }
    const finished: RunRecord = {
      ...run,
      status: counts.FAILED || counts.DEFERRED ? "PARTIAL" : "COMPLETED",
      endedAt: new Date(started.getTime() + (perRun + 2) * 1_000).toISOString(),
      counts,
      matched: perRun,
    };
    await audit.finishRun(finished);
    runs.push(finished);
  }
  return { runs, actions };
}
