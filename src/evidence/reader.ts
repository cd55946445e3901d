/**
 * The read port of the audit trail: what `audit query`, the report, export and `audit verify` read.
 * Implemented in src/aws/audit/queries.ts with Query and GetItem only, never a Scan.
 */

import type { ReadLedgerEntry } from "../ports/ledger.js";
import type { AuditAction, ReadAction, ReadRun, RunRecord } from "../ports/records.js";
import type { KeyedAction, RunEvidence } from "./integrity.js";
import type { ChainedLedgerEntry } from "./ledger.js";
import type { OrgHead } from "./org-chain.js";

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

/** What an integrity finding's acknowledgement records (findings.ts). */
export interface Acknowledgement {
  actor: string;
  note: string;
  at: string;
}

export interface ActionFilter {
  since?: Date;
  until?: Date;
  /** The first matching rule (`ruleId`); handshakes a rule matched second are not found by it. */
  ruleId?: string;
  handshakeId?: string;
  runId?: string;
  outcome?: string;
}

export interface RunFilter {
  since?: Date;
  until?: Date;
}

/**
 * Read side for `audit query` and compliance: every method is a Query or GetItem, never a Scan.
 * The readers of a period (queryActions, listRuns, exportActions) yield an item that does not
 * read in full as what could be read of it, flagged `unreadable`, and carry on.
 */
export interface AuditReader {
  /**
   * Served by the most selective key available: runId (the run's partition), then handshakeId
   * (byHandshake), then ruleId (byRule), else the time range (byTime, one Query per month, since
   * defaulting to DEFAULT_QUERY_WINDOW_DAYS before until). Other criteria filter the results.
   */
  queryActions(filter?: ActionFilter): AsyncIterable<ReadAction>;
  /** Runs that started in the range; the same defaults as the time path of queryActions. */
  listRuns(filter?: RunFilter): AsyncIterable<ReadRun>;
  /**
   * Runs that started in [floor, until), newest first (byTime, RUN months from until's back to
   * floor's), read page by page as the caller goes: one that stops early reads no further.
   */
  runsBefore(until: Date, floor: Date): AsyncIterable<ReadRun>;
  getRun(runId: string): Promise<RunRecord | undefined>;
  getRunActions(runId: string): Promise<AuditAction[]>;
  /** A run's chain head and its action items with their links, for `audit verify`. */
  readChain(runId: string): Promise<{
    head?: { hash: string; length: number };
    actions: StoredAction[];
    /** The run item with its seal, for verifyRun; undefined when the run item is missing. */
    run?: RunEvidence;
    /** The run's ledger entries with their links (./ledger.ts); undefined when not read. */
    ledger?: ChainedLedgerEntry[];
  }>;
  /** The period's runs with their seals and chain ends, for `audit export` (byTime, RUN months). */
  exportRuns(filter: RunFilter): AsyncIterable<RunEvidence & { read: ReadRun }>;
  /** One run's ledger entries with their links, from its partition (`audit export`). */
  runLedger(runId: string): AsyncIterable<ChainedLedgerEntry & { read: ReadLedgerEntry }>;
  /** Every action item of the period once, with its chain link, page by page (byTime). */
  exportActions(filter: RunFilter): AsyncIterable<StoredAction>;
  /** The integrity findings recorded in the period (byTime, FINDING months), whoever made them. */
  findingsIn(filter: RunFilter): AsyncIterable<{ finding: string; by: string; at: string }>;
  /** The acknowledgement of an integrity finding (findings.ts); undefined while it has none. */
  findingAcknowledgement(id: string): Promise<Acknowledgement | undefined>;
  /** One run item as verify reads it; undefined when there is none. */
  runEvidence(runId: string): Promise<RunEvidence | undefined>;
  /** The organization's chain head (integrity.ts OrgHead); undefined before the first seal. */
  orgHead(): Promise<OrgHead | undefined>;
  /** The canonical config JSON recordConfig kept under this hash; undefined when none is stored. */
  getConfig(hash: string): Promise<string | undefined>;
}

/** For verifyChain: a partial link is kept as a link, so its empty parts fail the check. */
export function chainedActions(actions: readonly StoredAction[]): {
  items: KeyedAction[];
  unreadable: string[];
} {
  const items: KeyedAction[] = [];
  const unreadable: string[] = [];
  for (const stored of actions) {
    if (stored.action === undefined) {
      unreadable.push(
        `run ${stored.keyRunId}: item ${stored.keyHandshakeId}: unreadable: ${stored.readError}`,
      );
      continue;
    }
    const { seq, prev, hash } = stored.link;
    const linked = seq !== undefined || prev !== undefined || hash !== undefined;
    // The keys it is stored under, which verify checks as values derived from its content.
    const keys: KeyedAction["keys"] = {
      runId: stored.keyRunId,
      handshakeId: stored.keyHandshakeId,
      ...(stored.timeKey === undefined ? {} : { timeKey: stored.timeKey }),
    };
    items.push(
      linked
        ? { action: stored.action, keys, chain: { seq: seq ?? 0, prevHash: prev ?? "", hash: hash ?? "" } }
        : { action: stored.action, keys },
    );
  }
  return { items, unreadable };
}
