/**
 * The audit table's items: their keys, the attributes a run, an action and a config are stored
 * as (marshalled with util-dynamodb), and the readers that turn stored items back into records.
 * The strict readers (parseAction, parseRun) are what the sweep acts on and throw on any doubt;
 * the tolerant ones (readAction, readRun, storedAction) are what readers of the trail see: an
 * item that does not read in full comes back as what could be read of it, flagged.
 */
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { itemKeyPart } from "../../core/conflicts.js";
import type { AuditAction, ReadAction, ReadRun, RunRecord } from "../../core/ports.js";
import { AuditWriteError, JanitorError } from "../../domain/errors.js";
import {
  OUTCOMES,
  type Outcome,
  type OutcomeCounts,
  RUN_STATUSES,
  type RunStatus,
  TRIGGERS,
} from "../../domain/outcomes.js";
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
/** On the pending index too: a MARKED item no later run has closed (src/core/grace.ts). */
export const MARKED = "MARKED";
/** On the pending index too: a final item whose chain link a fault prevented. */
export const UNLINKED = "UNLINKED";

export function isOpenMark(action: AuditAction): boolean {
  return action.outcome === "MARKED" && !action.dryRun && action.cancelAfter !== undefined;
}

/** The organization's lease: no timeKey, handshakeId, ruleId or pendingKey, so on no index. */
export const LEASE_KEY: Item = toItem({ pk: "LEASE#organization", sk: "LEASE" });

export function runKey(runId: string): Item {
  return toItem({ pk: `RUN#${runId}`, sk: "RUN" });
}

export function actionKey(runId: string, handshakeId: string): Item {
  return toItem({ pk: `RUN#${runId}`, sk: `ACTION#${handshakeId}` });
}

/** The key of an action's item: its run's own item for the handshake, or a conflict record. */
export function actionKeyOf(action: Pick<AuditAction, "runId" | "handshakeId" | "contradicts">): Item {
  return actionKey(action.runId, itemKeyPart(action));
}

export function claimKey(handshakeId: string): Item {
  return toItem({ pk: `CLAIM#${handshakeId}`, sk: "CLAIM" });
}

export function configKey(hash: string): Item {
  return toItem({ pk: `CONFIG#${hash}`, sk: "CONFIG" });
}

export function timeKey(prefix: "ACTION" | "RUN", at: string): string {
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

// ---------------------------------------------------------------------------------------------
// Items to records

/** An action item as stored, read tolerantly: verification must describe a damaged item, not stop. */
export interface StoredAction {
  keyRunId: string;
  keyHandshakeId: string;
  /** undefined when the item no longer reads as an audit action; readError says why. */
  action?: AuditAction;
  readError?: string;
  /** What a reader shows: the action, or what could be read of it, flagged. */
  record: ReadAction;
  link: { seq?: number; prev?: string; hash?: string };
  /** The item's byTime key as stored, checked by verify as a value derived from `at`. */
  timeKey?: string;
}

/** One attribute that does not read as expected; `problem` says which and why, without the key. */
class UnreadableAttributeError extends JanitorError {
  constructor(
    item: Item,
    readonly problem: string,
  ) {
    super(`audit item ${describeKey(item)}: ${problem}`);
  }
}

function itemReader(item: Item) {
  const fail = (name: string, expected: string): never => {
    throw new UnreadableAttributeError(item, `${name} is not ${expected}`);
  };
  const string = (name: string): string => item[name]?.S ?? fail(name, "a string");
  return {
    string,
    optionalString(name: string): string | undefined {
      const attribute = item[name];
      return attribute === undefined ? undefined : (attribute.S ?? fail(name, "a string"));
    },
    number(name: string): number {
      const value = item[name]?.N;
      return value === undefined ? fail(name, "a number") : Number(value);
    },
    boolean(name: string): boolean {
      return item[name]?.BOOL ?? fail(name, "a boolean");
    },
    strings(name: string): string[] {
      const list = item[name]?.L ?? fail(name, "a list");
      return list.map((entry) => entry.S ?? fail(name, "a list of strings"));
    },
    counts(name: string): OutcomeCounts {
      const map = item[name]?.M ?? fail(name, "a map");
      const counts: OutcomeCounts = {};
      for (const [outcome, value] of Object.entries(map)) {
        if (!isOutcome(outcome) || value.N === undefined) return fail(name, "a map of outcome counts");
        counts[outcome] = Number(value.N);
      }
      return counts;
    },
    oneOf<T extends string>(name: string, allowed: readonly T[]): T {
      const value = string(name);
      return (allowed as readonly string[]).includes(value) ? (value as T) : fail(name, allowed.join(" | "));
    },
  };
}

export function isOutcome(value: string): value is Outcome {
  return (OUTCOMES as readonly string[]).includes(value);
}

type Readers<T> = { [K in keyof T]-?: () => T[K] };

/**
 * Every attribute that reads, in the readers' order; each one that does not adds its problem. An
 * absent optional attribute reads as undefined and is left out.
 */
function readFields<T>(readers: Readers<T>, problems: string[]): Partial<T> {
  const record: Partial<T> = {};
  for (const name of Object.keys(readers) as (keyof T)[]) {
    try {
      const value = readers[name]();
      if (value !== undefined) record[name] = value;
    } catch (error) {
      if (!(error instanceof UnreadableAttributeError)) throw error;
      problems.push(error.problem);
    }
  }
  return record;
}

function actionFields(item: Item, problems: string[]): Partial<AuditAction> {
  const read = itemReader(item);
  return readFields<AuditAction>(
    {
      runId: () => read.string("runId"),
      handshakeId: () => read.string("handshakeId"),
      ruleId: () => read.string("ruleId"),
      matchedRules: () => read.strings("matchedRules"),
      dryRun: () => read.boolean("dryRun"),
      at: () => read.string("at"),
      trigger: () => read.oneOf("trigger", TRIGGERS),
      actor: () => read.string("actor"),
      action: () => read.string("action"),
      target: () => read.string("target"),
      targetType: () => read.string("targetType"),
      reason: () => read.string("reason"),
      attempts: () => read.number("attempts"),
      outcome: () => (item.outcome === undefined ? undefined : read.oneOf("outcome", OUTCOMES)),
      requestedAt: () => read.optionalString("requestedAt"),
      error: () => read.optionalString("error"),
      cancelAfter: () => read.optionalString("cancelAfter"),
      contradicts: () => read.optionalString("contradicts"),
    },
    problems,
  );
}

/** The record an item holds, for the sweep to act on: throws when any attribute does not read. */
function strictly<T>(item: Item, fields: (item: Item, problems: string[]) => Partial<T>): T {
  const problems: string[] = [];
  const record = fields(item, problems);
  if (problems.length > 0) throw new JanitorError(`audit item ${describeKey(item)}: ${problems.join("; ")}`);
  return record as T;
}

export function parseAction(item: Item): AuditAction {
  return strictly(item, actionFields);
}

/** An action item for a reader: the action, or what could be read of it, flagged with why not all. */
export function readAction(item: Item): { record: ReadAction; problems: string[] } {
  const problems: string[] = [];
  const action = actionFields(item, problems);
  if (problems.length === 0) return { record: action as AuditAction, problems };
  const record = {
    ...action,
    runId: action.runId ?? (item.pk?.S ?? "").replace(/^RUN#/, ""),
    handshakeId: action.handshakeId ?? (item.sk?.S ?? "").replace(/^ACTION#/, ""),
    unreadable: problems.join("; "),
  };
  return { record, problems };
}

export function storedAction(item: Item): StoredAction {
  const { record, problems } = readAction(item);
  return {
    keyRunId: (item.pk?.S ?? "").replace(/^RUN#/, ""),
    keyHandshakeId: (item.sk?.S ?? "").replace(/^ACTION#/, ""),
    ...(problems.length === 0
      ? { action: record as AuditAction }
      : { readError: `audit item ${describeKey(item)}: ${problems.join("; ")}` }),
    record,
    link: {
      ...(item.chainSeq?.N === undefined ? {} : { seq: Number(item.chainSeq.N) }),
      ...(item.chainPrev?.S === undefined ? {} : { prev: item.chainPrev.S }),
      ...(item.chainHash?.S === undefined ? {} : { hash: item.chainHash.S }),
    },
    ...(item.timeKey?.S === undefined ? {} : { timeKey: item.timeKey.S }),
  };
}

/** A run item's attributes that read; each that does not adds its problem (also for seals). */
export function runFields(item: Item, problems: string[]): Partial<RunRecord> {
  const read = itemReader(item);
  return readFields<RunRecord>(
    {
      runId: () => read.string("runId"),
      trigger: () => read.oneOf("trigger", TRIGGERS),
      actor: () => read.string("actor"),
      status: () => read.oneOf<RunStatus>("status", RUN_STATUSES),
      dryRun: () => read.boolean("dryRun"),
      startedAt: () => read.string("startedAt"),
      counts: () => read.counts("counts"),
      listed: () => read.number("listed"),
      candidates: () => read.number("candidates"),
      matched: () => read.number("matched"),
      configVersion: () => read.number("configVersion"),
      configHash: () => read.string("configHash"),
      endedAt: () => read.optionalString("endedAt"),
      note: () => read.optionalString("note"),
      error: () => read.optionalString("error"),
      notifyError: () => read.optionalString("notifyError"),
      countsStale: () => (item.countsStale?.BOOL === true ? true : undefined),
    },
    problems,
  );
}

export function parseRun(item: Item): RunRecord {
  return strictly(item, runFields);
}

/** A run item for a reader: the run, or what could be read of it, flagged with why not all. */
export function readRun(item: Item): ReadRun {
  const problems: string[] = [];
  const run = runFields(item, problems);
  if (problems.length === 0) return run as RunRecord;
  return {
    ...run,
    runId: run.runId ?? (item.pk?.S ?? "").replace(/^RUN#/, ""),
    unreadable: problems.join("; "),
  };
}
