/**
 * The audit table's items: their keys, the attributes a run, an action and a config are stored
 * as (marshalled with util-dynamodb). Reading them back is item-reading.ts.
 */
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { AuditWriteError } from "../../domain/errors.js";
import type { OutcomeCounts } from "../../domain/outcomes.js";
import { itemKeyPart } from "../../evidence/conflicts.js";
import type { AuditAction, RunRecord } from "../../ports/records.js";
import { AUDIT_TTL_ATTRIBUTE } from "../audit-table.js";

export type Item = Record<string, AttributeValue>;

/**
 * Plain values to attributes. Absent optional fields are left out; numbers are checked by
 * `finite` first, so a large count (say, an epoch millisecond) is stored as written.
 */
export function toItem(values: Record<string, unknown>): Item {
  return marshall(values, { removeUndefinedValues: true, allowImpreciseNumbers: true });
}

/** A number DynamoDB can store; said here rather than in a ValidationException. */
export function finite(value: number): number {
  if (!Number.isFinite(value)) {
    throw new AuditWriteError(`audit: ${value} is not a number DynamoDB can store`);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Keys and marks

/** pendingKey of an intent: an action item that has no outcome yet. */
export const PENDING = "PENDING";
/** On the pending index too: a MARKED item no later run has closed (src/policy/grace.ts). */
export const MARKED = "MARKED";
/** On the pending index too: a final item whose chain link a fault prevented. */
export const UNLINKED = "UNLINKED";

export function isOpenMark(action: AuditAction): boolean {
  return action.outcome === "MARKED" && !action.dryRun && action.cancelAfter !== undefined;
}

/** The organization's lease: no timeKey, handshakeId, ruleId or pendingKey, so on no index. */
export const LEASE_KEY: Item = toItem({ pk: "LEASE#organization", sk: "LEASE" });
/** The organization's chain head: the run sealed last, its seal and how many runs are sealed. */
export const ORG_CHAIN_KEY: Item = toItem({ pk: "CHAIN#organization", sk: "HEAD" });

export function runKey(runId: string): Item {
  return toItem({ pk: `RUN#${runId}`, sk: "RUN" });
}

export function actionKey(runId: string, handshakeId: string): Item {
  return toItem({ pk: `RUN#${runId}`, sk: `ACTION#${handshakeId}` });
}

/** The key of an action's item: its run's own item for the handshake, or a conflict record. */
export function actionKeyOf(
  action: Pick<AuditAction, "runId" | "handshakeId" | "contradicts" | "reconciles">,
): Item {
  return actionKey(action.runId, itemKeyPart(action));
}

export function claimKey(handshakeId: string): Item {
  return toItem({ pk: `CLAIM#${handshakeId}`, sk: "CLAIM" });
}

export function configKey(hash: string): Item {
  return toItem({ pk: `CONFIG#${hash}`, sk: "CONFIG" });
}

export function timeKey(prefix: "ACTION" | "RUN" | "FINDING", at: string): string {
  return `${prefix}#${at.slice(0, 7)}`;
}

/** `pk/sk` of an item, for messages. */
export function describeKey(item: Item): string {
  return `${item.pk?.S ?? "?"}/${item.sk?.S ?? "?"}`;
}

/**
 * AUDIT_TTL_ATTRIBUTE of an item written at `at`: that time plus the retention, in epoch seconds;
 * undefined (left out) when nothing expires.
 */
export function expiresAt(at: string, retentionDays: number | undefined): number | undefined {
  if (retentionDays === undefined) return undefined;
  return Math.floor(Date.parse(at) / 1000) + retentionDays * 86_400;
}

export function expiry(at: string, retentionDays: number | undefined): Record<string, number | undefined> {
  return { [AUDIT_TTL_ATTRIBUTE]: expiresAt(at, retentionDays) };
}

// ---------------------------------------------------------------------------------------------
// Records to items

/**
 * One fixed ISO form: the `at` range conditions compare strings, which orders instants correctly
 * only when every value has the same shape ("…00Z" sorts after "…00.500Z").
 */
export function isoInstant(value: string, field: string): string {
  const time = Date.parse(value);
  if (Number.isNaN(time)) {
    throw new AuditWriteError(`audit ${field}: not an ISO-8601 instant: ${JSON.stringify(value)}`);
  }
  return new Date(time).toISOString();
}

export function requireKeyPart(value: string, field: string): void {
  // Key and index key attributes cannot be empty strings; saying so here beats a ValidationException.
  if (value === "") throw new AuditWriteError(`audit ${field}: must not be empty`);
}

export function normalizeAction(action: AuditAction): AuditAction {
  requireKeyPart(action.runId, "runId");
  requireKeyPart(action.handshakeId, "handshakeId");
  requireKeyPart(action.ruleId, "ruleId");
  return {
    ...action,
    at: isoInstant(action.at, "at"),
    ...(action.requestedAt === undefined
      ? {}
      : { requestedAt: isoInstant(action.requestedAt, "requestedAt") }),
    ...(action.cancelAfter === undefined
      ? {}
      : { cancelAfter: isoInstant(action.cancelAfter, "cancelAfter") }),
  };
}

export function normalizeRun(run: RunRecord): RunRecord {
  requireKeyPart(run.runId, "runId");
  return {
    ...run,
    startedAt: isoInstant(run.startedAt, "startedAt"),
    ...(run.endedAt === undefined ? {} : { endedAt: isoInstant(run.endedAt, "endedAt") }),
  };
}

/** The counts map as stored: every count that is there, each a number. */
export function finiteCounts(counts: OutcomeCounts): Record<string, number> {
  const map: Record<string, number> = {};
  for (const [outcome, count] of Object.entries(counts)) {
    if (count !== undefined) map[outcome] = finite(count);
  }
  return map;
}

/** An action as stored, before any chain link; exported for the bulk loader of the audit benchmark. */
export function actionItem(action: AuditAction): Item {
  return toItem({
    pk: `RUN#${action.runId}`,
    sk: `ACTION#${itemKeyPart(action)}`,
    itemType: "action",
    timeKey: timeKey("ACTION", action.at),
    runId: action.runId,
    handshakeId: action.handshakeId,
    ruleId: action.ruleId,
    matchedRules: [...action.matchedRules],
    dryRun: action.dryRun,
    at: action.at,
    trigger: action.trigger,
    actor: action.actor,
    action: action.action,
    target: action.target,
    targetType: action.targetType,
    reason: action.reason,
    attempts: finite(action.attempts),
    pendingKey: action.outcome === undefined ? PENDING : isOpenMark(action) ? MARKED : undefined,
    outcome: action.outcome,
    cancelAfter: action.cancelAfter,
    requestedAt: action.requestedAt,
    error: action.error,
    contradicts: action.contradicts,
    reconciles: action.reconciles,
    planId: action.planId,
    fingerprint: action.fingerprint,
    approver: action.approver,
  });
}

/** A run as stored, before any chain head; exported for the bulk loader of the audit benchmark. */
export function runItem(run: RunRecord): Item {
  return toItem({
    pk: `RUN#${run.runId}`,
    sk: "RUN",
    itemType: "run",
    timeKey: timeKey("RUN", run.startedAt),
    runId: run.runId,
    trigger: run.trigger,
    actor: run.actor,
    status: run.status,
    dryRun: run.dryRun,
    startedAt: run.startedAt,
    // Runs sort by start in the byTime index alongside actions, which sort by `at`.
    at: run.startedAt,
    counts: finiteCounts(run.counts),
    listed: finite(run.listed),
    candidates: finite(run.candidates),
    matched: finite(run.matched),
    configVersion: finite(run.configVersion),
    configHash: run.configHash,
    endedAt: run.endedAt,
    note: run.note,
    error: run.error,
    countsStale: run.countsStale === true ? true : undefined,
  });
}

/**
 * A config as a run applied it, once per hash. It carries none of the index keys (timeKey,
 * handshakeId, ruleId, pendingKey), so no index and no period query ever reads it, and no expiry:
 * runs of any age refer to it.
 */
export function configItem(hash: string, canonicalJson: string, recordedAt: string): Item {
  return toItem({
    pk: `CONFIG#${hash}`,
    sk: "CONFIG",
    itemType: "config",
    configHash: hash,
    config: canonicalJson,
    recordedAt,
  });
}
