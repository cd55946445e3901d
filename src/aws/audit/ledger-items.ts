/**
 * The ledger's items (src/ports/ledger.ts) as the audit table holds them, and back. A ledger item
 * keeps to attribute names of its own (ledgerId, verdictRule, popKey, listedKey, ledgerKey), so
 * no index of the action items ever returns one. Reading is tolerant: an item that does not read
 * in full comes back as what could be read of it, flagged with why, and never throws.
 */

import type { ChainedLedgerEntry } from "../../evidence/ledger.js";
import {
  type KnownHandshake,
  LEDGER_KINDS,
  LEDGER_VERDICTS,
  type LedgerEntry,
  type LedgerRecord,
  type LedgerVerdict,
  type ReadLedgerEntry,
  type ReadLedgerRecord,
} from "../../ports/ledger.js";
import { type Item, toItem } from "./items.js";

/** listedKey of a record still in the service's listing as last seen. */
export const LISTED = "LISTED";

/**
 * The ledger's coverage item (src/ports/ledger.ts LedgerCoverage). It is on the `listed` index
 * under a ledgerId no handshake has, so the one Query a sweep makes of that index also tells it
 * whether the coverage is recorded, at no read of its own.
 */
export const LEDGER_COVERAGE_KEY = { pk: "LEDGER", sk: "COVERAGE" } as const;
const COVERAGE_LEDGER_ID = "#coverage";

export function ledgerCoverageItem(runId: string, at: string): Item {
  return toItem({
    ...LEDGER_COVERAGE_KEY,
    itemType: "ledger-coverage",
    runId,
    at,
    listedKey: LISTED,
    ledgerId: COVERAGE_LEDGER_ID,
  });
}

export function isCoverageItem(item: Item): boolean {
  return item.pk?.S === LEDGER_COVERAGE_KEY.pk && item.sk?.S === LEDGER_COVERAGE_KEY.sk;
}

export function ledgerRecordKey(handshakeId: string): Item {
  return toItem({ pk: `LEDGER#${handshakeId}`, sk: "STATE" });
}

export function ledgerEntrySortKey(seq: number): string {
  return `LEDGER#${String(seq).padStart(9, "0")}`;
}

/** "POP#YYYY-MM" of the instant a handshake counts in the population from: requested, or first seen. */
export function populationKey(at: string): string {
  return `POP#${at.slice(0, 7)}`;
}

/** The attributes an entry and a record share, under the ledger's own names. */
function common(entry: LedgerEntry): Record<string, unknown> {
  return {
    ledgerId: entry.handshakeId,
    state: entry.state,
    action: entry.action,
    target: entry.target,
    targetType: entry.targetType,
    requester: entry.requester,
    requestedAt: entry.requestedAt,
    // Not `expiresAt`: that name is the table's TTL attribute.
    handshakeExpiresAt: entry.expiresAt,
    notes: entry.notes,
    verdict: entry.verdict,
    verdictRule: entry.ruleId,
    selection: entry.selection,
    exemption: entry.exemption,
    configHash: entry.configHash,
    escaped: entry.escaped,
    flags: entry.flags,
  };
}

/** An entry as item number `seq` of its run's ledger chain. */
export function ledgerEntryItem(entry: LedgerEntry, link: { seq: number; prev: string; hash: string }): Item {
  return toItem({
    ...common(entry),
    pk: `RUN#${entry.runId}`,
    sk: ledgerEntrySortKey(link.seq),
    itemType: "ledger",
    ledgerKey: `LEDGER#${entry.handshakeId}`,
    at: entry.at,
    runId: entry.runId,
    kind: entry.kind,
    previousState: entry.previousState,
    ledgerSeq: link.seq,
    ledgerPrev: link.prev,
    ledgerHash: link.hash,
  });
}

/** The record of a handshake seen for the first time, from its SEEN entry. */
export function ledgerRecordItem(entry: LedgerEntry): Item {
  const from = entry.requestedAt ?? entry.at;
  return toItem({
    ...common(entry),
    pk: `LEDGER#${entry.handshakeId}`,
    sk: "STATE",
    itemType: "ledger-record",
    firstSeenAt: entry.at,
    firstSeenRun: entry.runId,
    firstSeenState: entry.state,
    changedAt: entry.at,
    changedRun: entry.runId,
    popKey: populationKey(from),
    popAt: from,
    listedKey: LISTED,
  });
}

function reader(item: Item, problems: string[]) {
  const str = (name: string): string | undefined => {
    const value = item[name];
    if (value === undefined) return undefined;
    if (value.S === undefined) problems.push(`${name} is not a string`);
    return value.S;
  };
  const required = (name: string): string | undefined => {
    const value = str(name);
    if (value === undefined && item[name] === undefined) problems.push(`${name} missing`);
    return value;
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[], need: boolean): T | undefined => {
    const value = need ? required(name) : str(name);
    if (value !== undefined && !(allowed as readonly string[]).includes(value)) {
      problems.push(`${name} is not ${allowed.join(" | ")}`);
      return undefined;
    }
    return value as T | undefined;
  };
  const bool = (name: string): boolean | undefined => {
    const value = item[name];
    if (value === undefined) return undefined;
    if (value.BOOL === undefined) problems.push(`${name} is not a boolean`);
    return value.BOOL;
  };
  const list = (name: string): string[] | undefined => {
    const value = item[name];
    if (value === undefined) return undefined;
    const strings = value.L?.map((entry) => entry.S);
    if (strings === undefined || strings.some((s) => s === undefined)) {
      problems.push(`${name} is not a list of strings`);
      return undefined;
    }
    return strings as string[];
  };
  return { str, required, oneOf, bool, list };
}

/** Drops the members left undefined. */
function present<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function commonFields(item: Item, problems: string[]): Partial<LedgerEntry> {
  const read = reader(item, problems);
  return present({
    handshakeId: read.required("ledgerId"),
    action: read.str("action"),
    target: read.str("target"),
    targetType: read.str("targetType"),
    requester: read.str("requester"),
    requestedAt: read.str("requestedAt"),
    expiresAt: read.str("handshakeExpiresAt"),
    notes: read.str("notes"),
    verdict: read.oneOf<LedgerVerdict>("verdict", LEDGER_VERDICTS, false),
    ruleId: read.str("verdictRule"),
    selection: read.oneOf("selection", ["mark", "cancel"] as const, false),
    exemption: read.str("exemption"),
    configHash: read.str("configHash"),
    escaped: read.bool("escaped"),
    flags: read.list("flags"),
  });
}

/** A record item for a reader: the record, or what could be read of it, flagged. */
export function readLedgerRecord(item: Item): ReadLedgerRecord {
  const problems: string[] = [];
  const read = reader(item, problems);
  const record = present({
    ...commonFields(item, problems),
    state: read.required("state"),
    firstSeenAt: read.required("firstSeenAt"),
    firstSeenRun: read.required("firstSeenRun"),
    firstSeenState: read.str("firstSeenState"),
    changedAt: read.required("changedAt"),
    changedRun: read.required("changedRun"),
    goneAt: read.str("goneAt"),
  }) as Partial<LedgerRecord>;
  if (record.action === undefined) problems.push("action missing");
  if (record.verdict === undefined && !problems.some((p) => p.startsWith("verdict"))) {
    problems.push("verdict missing");
  }
  const id = record.handshakeId ?? (item.pk?.S ?? "?").replace(/^LEDGER#/, "");
  if (problems.length === 0) return record as LedgerRecord;
  return { ...record, handshakeId: id, unreadable: problems.join("; ") };
}

/** An entry item for a reader, with its chain link as far as it reads. */
export function readLedgerEntry(item: Item): ChainedLedgerEntry & { read: ReadLedgerEntry } {
  const problems: string[] = [];
  const read = reader(item, problems);
  const entry = present({
    ...commonFields(item, problems),
    runId: read.required("runId"),
    kind: read.oneOf("kind", LEDGER_KINDS, true),
    at: read.required("at"),
    state: read.str("state"),
    previousState: read.str("previousState"),
  }) as Partial<LedgerEntry>;
  const seq = item.ledgerSeq?.N === undefined ? undefined : Number(item.ledgerSeq.N);
  const handshakeId = entry.handshakeId ?? "?";
  const chained = present({
    seq,
    prev: item.ledgerPrev?.S,
    hash: item.ledgerHash?.S,
  });
  if (problems.length === 0) {
    return { entry: entry as LedgerEntry, ...chained, read: entry as LedgerEntry };
  }
  const unreadable = problems.join("; ");
  const flagged = { ...entry, handshakeId, unreadable };
  return { entry: flagged as LedgerEntry, ...chained, unreadable, read: flagged };
}

/** What a run compares the listing with, from a record or its projection on the listed index. */
export function knownOf(item: Item): KnownHandshake | undefined {
  const state = item.state?.S;
  if (state === undefined) return undefined;
  const verdict = item.verdict?.S;
  const ruleId = item.verdictRule?.S;
  return {
    state,
    gone: item.goneAt !== undefined,
    ...(ruleId === undefined ? {} : { ruleId }),
    ...((LEDGER_VERDICTS as readonly string[]).includes(verdict ?? "")
      ? { verdict: verdict as LedgerVerdict }
      : {}),
  };
}
