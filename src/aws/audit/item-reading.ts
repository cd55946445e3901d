/**
 * Stored items back into records. The strict readers (parseAction, parseRun) are what the sweep
 * acts on and throw on any doubt; the tolerant ones (readAction, readRun, storedAction) are what
 * readers of the trail see: an item that does not read in full comes back as what could be read
 * of it, flagged.
 */

import { JanitorError } from "../../domain/errors.js";
import {
  OUTCOMES,
  type Outcome,
  type OutcomeCounts,
  RUN_STATUSES,
  type RunStatus,
  TRIGGERS,
} from "../../domain/outcomes.js";
import type { StoredAction } from "../../evidence/reader.js";
import type { AuditAction, ReadAction, ReadRun, RunRecord } from "../../ports/records.js";
import { describeKey, type Item } from "./items.js";

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
      reconciles: () => read.optionalString("reconciles"),
      planId: () => read.optionalString("planId"),
      fingerprint: () => read.optionalString("fingerprint"),
      approver: () => read.optionalString("approver"),
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
      prevRun: () => read.optionalString("prevRun"),
      prevSeal: () => read.optionalString("prevSeal"),
      orgSeq: () => (item.orgSeq === undefined ? undefined : read.number("orgSeq")),
      findings: () => (item.findings === undefined ? undefined : read.strings("findings")),
      ledgerHead: () => read.optionalString("ledgerHead"),
      ledgerLength: () => (item.ledgerLength === undefined ? undefined : read.number("ledgerLength")),
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
