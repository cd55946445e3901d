/**
 * Run seals and the run's record of its items waiting to be linked (src/evidence/integrity.ts runSeal,
 * verifyRun). A finished run's item carries `seal`, a hash over its attributes, its chain's end
 * and `awaitingLink`, the string set of its final items written to wait for their link
 * (UNLINKED): linkUnchained links only items their run noted there.
 */

import { AuditWriteError } from "../../domain/errors.js";
import { CHAIN_GENESIS, type RunEvidence, runSeal } from "../../evidence/integrity.js";
import type { OrgHead } from "../../evidence/org-chain.js";
import type { RunRecord, RunSealed } from "../../ports/records.js";
import { type BackoffPolicy, RetriesExhaustedError, retry } from "../../resilience/backoff.js";
import { updateExpression } from "./expressions.js";
import { runFields } from "./item-reading.js";
import { type Item, ORG_CHAIN_KEY, runKey, toItem } from "./items.js";
import {
  cancellationCodes,
  conditionItem,
  isConditionFailure,
  type RetryHooks,
  type TableIo,
  writeError,
} from "./table-io.js";

/**
 * Sealing is tried again when a link or another run's seal lands between the read and the
 * transaction: real-time runs end many at once, and each seal moves the one organization chain
 * head. Full jitter spreads the tries of runs that collided.
 */
export const SEAL_BACKOFF: BackoffPolicy = { baseMs: 20, capMs: 1_000, maxAttempts: 30 };

/** A seal's transaction lost to another writer: worth reading again; carries the transaction's error. */
class SealConflict extends Error {
  constructor(readonly failure: unknown) {
    super("seal conflict", { cause: failure });
    this.name = "SealConflict";
  }
}

/** A run's end as finishRun writes it: the attribute values and the record they read back as. */
export interface RunFinish {
  sets: Record<string, unknown>;
  removes: string[];
  record: Partial<RunRecord>;
}

export type Seals = ReturnType<typeof createSeals>;

export function createSeals(io: TableIo, hooks: Pick<RetryHooks, "sleep" | "random"> = {}) {
  return {
    /**
     * Notes on the run item that its final item `handshakeId` is about to be written waiting for
     * its link. Written before the item, so an item waiting is always noted; a note whose item
     * write then fails names no UNLINKED item and is harmless. No run item: nothing to note (such
     * an item is never linkable). A sealed run takes no new item: its seal covers what it holds.
     */
    async noteAwaiting(runId: string, handshakeId: string): Promise<void> {
      try {
        await io.update({
          Key: runKey(runId),
          UpdateExpression: "ADD awaitingLink :h",
          ConditionExpression: "attribute_exists(pk) AND attribute_not_exists(seal)",
          ExpressionAttributeValues: { ":h": { SS: [handshakeId] } },
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        });
      } catch (error) {
        if (!isConditionFailure(error)) throw writeError(`note ${runId}/${handshakeId} as waiting`, error);
        if (conditionItem(error)?.seal === undefined) return;
        throw new AuditWriteError(
          `audit ${runId}/${handshakeId}: run ${runId} is sealed; a sealed run takes no new item`,
        );
      }
    },

    /**
     * Seals the run item as stored, with `finish` applied over it, and makes the run the
     * organization's chain head: one transaction of two conditional writes. The run item is
     * written only while its chain's end and waiting set are what the seal covers and it has no
     * seal yet (a seal is written once); the head moves only from the run it named when the seal
     * was computed, whose seal this one commits to (prevRun, prevSeal, orgSeq). A link or another
     * run's seal landing meanwhile makes it read and compute again. Answers the seal written.
     */
    async writeSeal(runId: string, finish: RunFinish): Promise<RunSealed> {
      // The seals this call's transactions carried: a transaction whose answer was lost may have
      // landed, and the retry that then finds the run sealed with one of them has what it wrote.
      const sent = new Map<string, RunSealed>();
      const attempt = async (): Promise<RunSealed> => {
        const [stored, orgHead] = await Promise.all([
          io.getItem(runKey(runId), writeError),
          io.getItem(ORG_CHAIN_KEY, writeError),
        ]);
        if (stored === undefined) throw new AuditWriteError(`audit run ${runId}: finishRun before startRun`);
        const found = stored.seal?.S === undefined ? undefined : sent.get(stored.seal.S);
        if (found !== undefined) return found;
        if (stored.seal !== undefined) throw new AuditWriteError(`audit run ${runId}: sealed already`);
        const previous = orgHeadOf(orgHead);
        const chained = {
          prevRun: previous?.runId,
          prevSeal: previous?.seal ?? CHAIN_GENESIS,
          orgSeq: (previous?.length ?? 0) + 1,
        };
        const problems: string[] = [];
        const record: Record<string, unknown> = {
          ...runFields(stored, problems),
          ...finish.record,
          ...chained,
        };
        const head = {
          hash: stored.chainHead?.S ?? CHAIN_GENESIS,
          length: Number(stored.chainLength?.N ?? "0"),
        };
        const awaiting = stored.awaitingLink?.SS ?? [];
        const seal = runSeal(record, head, awaiting);
        const update = updateExpression({ ...finish.sets, ...chained, seal }, finish.removes);
        const at = new Date().toISOString();
        const sealed: RunSealed = { runId, seal, chainHead: head.hash, chainLength: head.length };
        sent.set(seal, sealed);
        try {
          await io.transact({
            TransactItems: [
              {
                Update: {
                  ...update,
                  TableName: io.tableName,
                  Key: runKey(runId),
                  ConditionExpression:
                    "attribute_exists(pk) AND attribute_not_exists(seal) AND #chainLength = :sealedLength AND " +
                    (awaiting.length === 0
                      ? "attribute_not_exists(#awaitingLink)"
                      : "size(#awaitingLink) = :sealedWaiting"),
                  ExpressionAttributeNames: {
                    ...update.ExpressionAttributeNames,
                    "#chainLength": "chainLength",
                    "#awaitingLink": "awaitingLink",
                  },
                  ExpressionAttributeValues: {
                    ...update.ExpressionAttributeValues,
                    ":sealedLength": { N: String(head.length) },
                    ...(awaiting.length === 0 ? {} : { ":sealedWaiting": { N: String(awaiting.length) } }),
                  },
                },
              },
              {
                Update: {
                  TableName: io.tableName,
                  Key: ORG_CHAIN_KEY,
                  UpdateExpression: "SET runId = :runId, seal = :seal, #length = :length, sealedAt = :at",
                  // Only from the head this seal commits to: two runs sealing at once cannot both follow it.
                  ConditionExpression:
                    previous === undefined
                      ? "attribute_not_exists(pk)"
                      : "runId = :prevRun AND seal = :prevSeal AND #length = :prevLength",
                  ExpressionAttributeNames: { "#length": "length" },
                  ExpressionAttributeValues: toItem({
                    ":runId": runId,
                    ":seal": seal,
                    ":length": chained.orgSeq,
                    ":at": at,
                    ...(previous === undefined
                      ? {}
                      : {
                          ":prevRun": previous.runId,
                          ":prevSeal": previous.seal,
                          ":prevLength": previous.length,
                        }),
                  }),
                },
              },
            ],
          });
        } catch (error) {
          // Another run sealed, or a link landed, meanwhile: read again and compute again.
          if (isTransactionConflict(error)) throw new SealConflict(error);
          throw error;
        }
        return sealed;
      };
      try {
        return await retry(attempt, {
          policy: SEAL_BACKOFF,
          isRetryable: (error) => error instanceof SealConflict,
          ...hooks,
        });
      } catch (error) {
        const cause = error instanceof RetriesExhaustedError ? error.cause : error;
        throw writeError(`seal run ${runId}`, cause instanceof SealConflict ? cause.failure : cause);
      }
    },

    /** The organization's chain head: the run sealed last and its seal; undefined before the first. */
    async orgHead(): Promise<OrgHead | undefined> {
      return orgHeadOf(await io.getItem(ORG_CHAIN_KEY, writeError));
    },
  };
}

/** A transaction refused on a condition, or on a concurrent transaction: worth reading again. */
function isTransactionConflict(error: unknown): boolean {
  if (error instanceof Error && error.name === "TransactionConflictException") return true;
  return cancellationCodes(error).some(
    (code) => code === "ConditionalCheckFailed" || code === "TransactionConflict",
  );
}

export function orgHeadOf(item: Item | undefined): OrgHead | undefined {
  const runId = item?.runId?.S;
  const seal = item?.seal?.S;
  const length = Number(item?.length?.N ?? Number.NaN);
  if (runId === undefined || seal === undefined || !Number.isInteger(length)) return undefined;
  return { runId, seal, length };
}

/** A run item as verify reads it: attributes, seal, chain end, waiting set, time key. */
export function runEvidence(item: Item): RunEvidence {
  const problems: string[] = [];
  const record = runFields(item, problems);
  const runId = record.runId ?? (item.pk?.S ?? "").replace(/^RUN#/, "");
  return {
    runId,
    record,
    ...(problems.length === 0 ? {} : { unreadable: problems.join("; ") }),
    head: { hash: item.chainHead?.S ?? CHAIN_GENESIS, length: Number(item.chainLength?.N ?? "0") },
    ...(item.seal?.S === undefined ? {} : { seal: item.seal.S }),
    awaitingLink: item.awaitingLink?.SS ?? [],
    ...(item.timeKey?.S === undefined ? {} : { timeKey: item.timeKey.S }),
  };
}
