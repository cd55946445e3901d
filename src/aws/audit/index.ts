/**
 * The DynamoDB audit store: createAuditStore wires one table's I/O (table-io.ts) into the chain
 * writer (chain.ts), the sweep's write port (writer.ts), the lease (lease.ts), handshake claims
 * (claims.ts) and the read port (queries.ts). The names other parts of the janitor use are
 * exported from here.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { AuditReader } from "../../evidence/reader.js";
import { DEFAULT_FENCING } from "../../fencing-settings.js";
import type { ActionLog } from "../../ports/action-log.js";
import type { HandshakeClaims } from "../../ports/claims.js";
import type { FenceStore } from "../../ports/fence.js";
import type { LeaseStore } from "../../ports/lease.js";
import type { HandshakeLedger, LedgerReader } from "../../ports/ledger.js";
import type { MarkStore } from "../../ports/marks.js";
import type { PlanStore } from "../../ports/plans.js";
import type { RunJournal } from "../../ports/run-journal.js";
import type { BackoffPolicy, Sleep } from "../../resilience/backoff.js";
import { createChainWriter } from "./chain.js";
import { createClaims } from "./claims.js";
import { createFenceStore } from "./fence.js";
import { createFindingStore, type FindingStore } from "./findings.js";
import { createLease } from "./lease.js";
import { createLedgerStore } from "./ledger.js";
import { createLedgerQueries } from "./ledger-queries.js";
import { createPlanStore } from "./plans.js";
import { createAuditQueries } from "./queries.js";
import { createSeals } from "./seal.js";
import { createTableIo } from "./table-io.js";
import { createAuditWriter } from "./writer.js";

export { chainedActions } from "../../evidence/reader.js";
export { monthsBetween } from "./expressions.js";
export { actionItem, runItem } from "./items.js";
export { planChainProblems } from "./plans.js";
export { DEFAULT_QUERY_WINDOW_DAYS } from "./queries.js";
export { AUDIT_BACKOFF, isRetryableDynamoDbError } from "./table-io.js";

export interface AuditStoreOptions {
  /** Built by the composition root with maxAttempts: 1; this store is the only retry layer. */
  client: DynamoDBClient;
  tableName: string;
  retry?: { policy?: BackoffPolicy; sleep?: Sleep; random?: () => number };
  now?: () => Date;
  /**
   * When set, every item gets AUDIT_TTL_ATTRIBUTE = its time + this many days (epoch seconds), for
   * a table whose TTL is on. Unset (the default), nothing ever expires.
   */
  retentionDays?: number;
  /**
   * How long the organization's lease lasts unless renewed (the sweep renews it every third of
   * this): how long a crashed holder can keep the next live run waiting. Default LEASE_DURATION_MS.
   */
  leaseDurationMs?: number;
  /**
   * The fencing margin M (docs/fencing.md): a lapsed lease or claim is taken over only once it has
   * lapsed by more than this. Default DEFAULT_FENCING.marginMs.
   */
  fenceMarginMs?: number;
}

/** A crashed run blocks the next live run for at most this long, and the fencing margin after it. */
export const LEASE_DURATION_MS = DEFAULT_FENCING.leaseMs;

/**
 * One table holds every port of the audit trail: the run journal, the action log, the lease, the
 * handshake claims with their fence, the marks and the reader. Each part of the janitor is handed
 * only the ports it uses (src/sweep/types.ts sweepPorts).
 */
export type AuditStore = RunJournal &
  ActionLog &
  LeaseStore &
  MarkStore &
  HandshakeClaims &
  FenceStore &
  PlanStore &
  AuditReader &
  FindingStore &
  HandshakeLedger &
  LedgerReader;

export function createAuditStore(options: AuditStoreOptions): AuditStore {
  const now = options.now ?? (() => new Date());
  const io = createTableIo(options.client, options.tableName, options.retry);
  const margin = options.fenceMarginMs ?? DEFAULT_FENCING.marginMs;
  // The chain's conflict retries keep their own attempts (chain.ts); only the pauses are shared.
  // Run seals and the runs' waiting sets: written by the writer, rewritten by a later link.
  const seals = createSeals(io, {
    ...(options.retry?.sleep ? { sleep: options.retry.sleep } : {}),
    ...(options.retry?.random ? { random: options.retry.random } : {}),
  });
  const chain = createChainWriter(io, {
    ...(options.retry?.sleep ? { sleep: options.retry.sleep } : {}),
    ...(options.retry?.random ? { random: options.retry.random } : {}),
  });
  return {
    ...createAuditWriter(io, chain, { now, retentionDays: options.retentionDays }, seals),
    ...createLease(io, now, options.leaseDurationMs ?? LEASE_DURATION_MS, margin),
    ...createClaims(io, now, margin),
    ...createFenceStore(io),
    ...createAuditQueries(io, now),
    ...createFindingStore(io),
    ...createPlanStore(io, now),
    ...createLedgerStore(io, { retentionDays: options.retentionDays }),
    ...createLedgerQueries(io),
  };
}
