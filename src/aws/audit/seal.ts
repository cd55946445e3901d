/**
 * Run seals and the run's record of its items waiting to be linked (src/evidence/integrity.ts runSeal,
 * verifyRun). A finished run's item carries `seal`, a hash over its attributes, its chain's end
 * and `awaitingLink`, the string set of its final items written to wait for their link
 * (UNLINKED): linkUnchained links only items their run noted there.
 */

import { AuditWriteError } from "../../domain/errors.js";
import { CHAIN_GENESIS, type RunEvidence, runSeal } from "../../evidence/integrity.js";
import type { RunRecord, RunSealed } from "../../ports/records.js";
import { updateExpression } from "./expressions.js";
import { runFields } from "./item-reading.js";
import { type Item, runKey } from "./items.js";
import { isConditionFailure, type TableIo, writeError } from "./table-io.js";

/** Sealing retries when a link lands between the read and the conditional write. */
const SEAL_ATTEMPTS = 8;

/** A run's end as finishRun writes it: the attribute values and the record they read back as. */
export interface RunFinish {
  sets: Record<string, unknown>;
  removes: string[];
  record: Partial<RunRecord>;
}

export type Seals = ReturnType<typeof createSeals>;

export function createSeals(io: TableIo) {
  /** Runs seen sealed (finished): a later link into one writes its seal again (chain.ts link). */
  const sealedRuns = new Set<string>();

  return {
    sealedRuns,

    /** Notes that `item` (a run item just read) is sealed, when it is. */
    seen(runId: string, item: Item | undefined): void {
      if (item?.seal !== undefined) sealedRuns.add(runId);
    },

    /**
     * Notes on the run item that its final item `handshakeId` is about to be written waiting for
     * its link. Written before the item, so an item waiting is always noted; a note whose item
     * write then fails names no UNLINKED item and is harmless. No run item: nothing to note (such
     * an item is never linkable).
     */
    async noteAwaiting(runId: string, handshakeId: string): Promise<void> {
      const answer = await io
        .update({
          Key: runKey(runId),
          UpdateExpression: "ADD awaitingLink :h",
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeValues: { ":h": { SS: [handshakeId] } },
          // Whether the run is sealed already (an outcome reconciled after its run ended).
          ReturnValues: "ALL_OLD",
        })
        .catch((error: unknown) => {
          if (!isConditionFailure(error)) throw writeError(`note ${runId}/${handshakeId} as waiting`, error);
          return undefined;
        });
      if (answer?.Attributes?.seal !== undefined) sealedRuns.add(runId);
    },

    /**
     * Seals the run item as stored, with `finish` applied over it: written with `finish` in one
     * conditional update, only while the chain's end and the waiting set are what the seal covers;
     * a link landing meanwhile makes it read and compute again. Without `finish`, reseals a run
     * already sealed (and does nothing to one that is not). Answers the seal written.
     */
    async writeSeal(runId: string, finish?: RunFinish): Promise<RunSealed | undefined> {
      for (let attempt = 1; ; attempt += 1) {
        const stored = await io.getItem(runKey(runId), writeError);
        if (stored === undefined) {
          if (finish === undefined) return undefined;
          throw new AuditWriteError(`audit run ${runId}: finishRun before startRun`);
        }
        if (finish === undefined && stored.seal === undefined) return undefined;
        const problems: string[] = [];
        const record: Record<string, unknown> = { ...runFields(stored, problems), ...finish?.record };
        if (finish === undefined && problems.length > 0) return undefined;
        const head = {
          hash: stored.chainHead?.S ?? CHAIN_GENESIS,
          length: Number(stored.chainLength?.N ?? "0"),
        };
        const awaiting = stored.awaitingLink?.SS ?? [];
        const seal = runSeal(record, head, awaiting);
        const update = updateExpression({ ...finish?.sets, seal }, finish?.removes ?? []);
        try {
          await io.update({
            ...update,
            Key: runKey(runId),
            ConditionExpression:
              "attribute_exists(pk) AND #chainLength = :sealedLength AND " +
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
          });
          sealedRuns.add(runId);
          return { runId, seal, chainHead: head.hash, chainLength: head.length };
        } catch (error) {
          if (isConditionFailure(error) && attempt < SEAL_ATTEMPTS) continue;
          throw writeError(`seal run ${runId}`, error);
        }
      }
    },
  };
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
