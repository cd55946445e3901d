/**
 * The write side the sweep uses (the run journal, the action log and the marks): runs, intents and outcomes, final
 * items in batches, grace marks, configs, and the reads the sweep itself acts on (pending intents,
 * a run's outcomes and liveness). Each write is conditional, so a retried event or a second writer
 * finds what is stored instead of overwriting it.
 */

import { AuditWriteError, describeError, JanitorError, OutcomeConflictError } from "../../domain/errors.js";
import { type Outcome, RUN_STATUSES, type RunStatus } from "../../domain/outcomes.js";
import { itemKeyPart, RECONCILED_KEY_SUFFIX } from "../../evidence/conflicts.js";
import { CHAIN_GENESIS } from "../../evidence/integrity.js";
import type { ActionLog } from "../../ports/action-log.js";
import type { MarkStore } from "../../ports/marks.js";
import type { AuditAction, FinalResult, PutResult } from "../../ports/records.js";
import type { RunJournal } from "../../ports/run-journal.js";
import { AUDIT_INDEXES } from "../audit-table.js";
import {
  type ChainWriter,
  FINALS_BYTES_PER_TRANSACTION,
  FINALS_PER_TRANSACTION,
  type FinalEntry,
} from "./chain.js";
import { eq, queryInput, updateExpression } from "./expressions.js";
import { createFindingStore } from "./findings.js";
import { isOutcome, parseAction, parseRun } from "./item-reading.js";
import {
  actionItem,
  actionKey,
  configItem,
  describeKey,
  expiry,
  finite,
  finiteCounts,
  type Item,
  isoInstant,
  type MARKED,
  normalizeAction,
  normalizeRun,
  PENDING,
  requireKeyPart,
  runItem,
  runKey,
  timeKey,
  toItem,
  UNLINKED,
} from "./items.js";
import { createMarks } from "./marks.js";
import { createReconciler } from "./reconciled.js";
import type { Seals } from "./seal.js";
import { conditionItem, isConditionFailure, type TableIo, writeError } from "./table-io.js";

export type AuditWriter = RunJournal & ActionLog & MarkStore;

export function createAuditWriter(
  io: TableIo,
  chain: ChainWriter,
  options: { now: () => Date; retentionDays: number | undefined },
  seals: Seals,
): AuditWriter {
  const { now, retentionDays } = options;
  const { link } = chain;
  const findings = createFindingStore(io);

  async function recordAction(action: AuditAction): Promise<PutResult> {
    const normalized = normalizeAction(action);
    // A final item waits on the pending index as UNLINKED until its chain link removes the mark.
    const mark = normalized.outcome === undefined ? {} : { pendingKey: UNLINKED };
    if (normalized.outcome !== undefined) await seals.noteAwaiting(normalized.runId, itemKeyPart(normalized));
    const result = await io.putNew({
      ...actionItem(normalized),
      ...toItem({ ...mark, ...expiry(normalized.at, retentionDays) }),
    });
    if (result.created) {
      return normalized.outcome === undefined
        ? { created: true }
        : { created: true, ...(await link(normalized)) };
    }
    const existing = parseAction(result.existing);
    // A final item a crash left unlinked is linked by whoever finds it next.
    if (existing.outcome !== undefined && result.existing.chainHash === undefined) await link(existing);
    return { created: false, existing };
  }

  /** One batch of recordFinals: a transaction, or item by item when the batch cannot be one. */
  async function writeFinals(entries: readonly FinalEntry[], results: FinalResult[]): Promise<void> {
    let written: boolean;
    try {
      written = await chain.putFinals(entries);
    } catch (error) {
      for (const entry of entries) results[entry.index] = { failed: describeError(error) };
      return;
    }
    for (const entry of entries) {
      if (written) {
        results[entry.index] = { created: true };
        continue;
      }
      try {
        results[entry.index] = await recordAction(entry.action);
      } catch (error) {
        results[entry.index] = { failed: describeError(error) };
      }
    }
  }

  /**
   * The run's own final items a fault left out of its chain, linked before it is sealed; what
   * fails again is left waiting, covered by the seal, and verify names it.
   */
  async function linkWaiting(runId: string): Promise<void> {
    const run = await io.getItem(runKey(runId), writeError);
    for (const handshakeKey of run?.awaitingLink?.SS ?? []) {
      const item = await io.getItem(actionKey(runId, handshakeKey), writeError);
      if (item?.outcome === undefined || item.chainHash !== undefined) continue;
      await link(parseAction(item));
    }
  }

  /** Every item on the pending index under one mark. */
  function pending(mark: typeof PENDING | typeof MARKED | typeof UNLINKED): AsyncIterable<Item> {
    return io.query(queryInput(AUDIT_INDEXES.pending, [eq("pendingKey", mark)], []));
  }

  return {
    ...createMarks(io, pending),
    ...createReconciler(io, chain, retentionDays),
    async startRun(run) {
      const normalized = normalizeRun(run);
      const result = await io.putNew({
        ...runItem(normalized),
        ...toItem({
          ...expiry(normalized.startedAt, retentionDays),
          // An empty chain from the start, so every append is the same conditional head update.
          chainHead: CHAIN_GENESIS,
          chainLength: 0,
        }),
      });
      if (result.created) return { created: true, run: normalized };
      return { created: false, run: parseRun(result.existing) };
    },

    async finishRun(run) {
      const normalized = normalizeRun({ ...run, endedAt: run.endedAt ?? now().toISOString() });
      const sets = {
        status: normalized.status,
        endedAt: normalized.endedAt ?? "",
        counts: finiteCounts(normalized.counts),
        listed: finite(normalized.listed),
        candidates: finite(normalized.candidates),
        matched: finite(normalized.matched),
        error: normalized.error,
        countsStale: normalized.countsStale === true ? true : undefined,
        findings:
          normalized.findings === undefined || normalized.findings.length === 0
            ? undefined
            : [...normalized.findings],
      };
      // What of its own items waits for a link is linked now, while its chain is still open.
      await linkWaiting(normalized.runId);
      // Each finding the run made is also an item of its own, which `audit acknowledge` names, and
      // written before the seal: a run that stops short of its seal leaves its findings on record.
      if (normalized.findings !== undefined && normalized.findings.length > 0) {
        await findings.recordFindings(normalized.runId, normalized.findings, sets.endedAt);
      }
      // The finish and its seal are one conditional write: a finished run is never left unsealed.
      return seals.writeSeal(normalized.runId, {
        sets,
        removes: normalized.countsStale === true ? [] : ["countsStale"],
        // What the run item reads as afterwards: an error not given leaves the stored one.
        // (countsStale left undefined is removed, so it reads as absent).
        record: Object.fromEntries(
          Object.entries(sets).filter(([name, value]) => value !== undefined || name === "countsStale"),
        ),
      });
    },

    recordAction,

    async recordFinals(actions) {
      const results: FinalResult[] = [];
      let batch: FinalEntry[] = [];
      let bytes = 0;
      // A batch is sent as soon as it is full: only one batch of marshalled items is ever held.
      const flush = async () => {
        const entries = batch;
        batch = [];
        bytes = 0;
        if (entries.length > 0) await writeFinals(entries, results);
      };
      for (const [index, raw] of actions.entries()) {
        let action: AuditAction;
        try {
          action = normalizeAction(raw);
          if (action.outcome === undefined) {
            throw new AuditWriteError(`audit ${raw.runId}/${raw.handshakeId}: a final item needs an outcome`);
          }
        } catch (error) {
          results[index] = { failed: describeError(error) };
          continue;
        }
        const item = { ...actionItem(action), ...toItem(expiry(action.at, retentionDays)) };
        const size = JSON.stringify(item).length;
        if (
          batch.length === FINALS_PER_TRANSACTION ||
          bytes + size > FINALS_BYTES_PER_TRANSACTION ||
          (batch[0] !== undefined && batch[0].action.runId !== action.runId)
        ) {
          await flush();
        }
        batch.push({ index, action, item });
        bytes += size;
      }
      await flush();
      return results;
    },

    async recordOutcome(runId, handshakeId, result) {
      const at = isoInstant(result.at, "at");
      const key = actionKey(runId, handshakeId);
      const update = updateExpression({
        outcome: result.outcome,
        attempts: finite(result.attempts),
        at,
        // `at` moves to the outcome's time, so the month bucket moves with it.
        timeKey: timeKey("ACTION", at),
        ...expiry(at, retentionDays),
        error: result.error,
        reason: result.reason,
        // From pending intent to final item awaiting its chain link, which removes the mark.
        pendingKey: UNLINKED,
      });
      let completed: Item | undefined;
      await seals.noteAwaiting(runId, handshakeId);
      try {
        const answer = await io.update({
          ...update,
          Key: key,
          // Exactly once: an outcome never overwrites another, and never creates a row that
          // has no intent.
          ConditionExpression:
            "attribute_exists(pk) AND attribute_not_exists(#outcome) AND attribute_not_exists(reconciledBy)",
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          // The final content is what the chain hashes; reading it back here saves a GetItem.
          ReturnValues: "ALL_NEW",
        });
        completed = answer.Attributes;
      } catch (error) {
        const where = `${runId}/${handshakeId}`;
        if (!isConditionFailure(error)) throw writeError(`record outcome ${where}`, error);
        const stored = conditionItem(error) ?? (await io.getItem(key, writeError));
        if (stored === undefined) {
          throw new AuditWriteError(
            `audit ${where}: no intent recorded, outcome ${result.outcome} not written`,
            {
              cause: error,
            },
          );
        }
        const reconciledBy = stored.reconciledBy?.S;
        if (reconciledBy !== undefined) {
          // Another run completed the intent with a record of its own: that record is the outcome.
          const record = await io.getItem(
            actionKey(reconciledBy, `${handshakeId}${RECONCILED_KEY_SUFFIX}`),
            writeError,
          );
          if (record?.outcome?.S === result.outcome) return {};
          throw new OutcomeConflictError(
            `audit ${where}: reconciled by run ${reconciledBy} as ${record?.outcome?.S ?? "?"}, refusing to write ${result.outcome} over it`,
            { outcome: record?.outcome?.S ?? "?", at: record?.at?.S, reason: record?.reason?.S },
            { cause: error },
          );
        }
        const existing = stored.outcome?.S;
        // The same outcome again is a retried write that had landed: nothing is lost.
        if (existing === result.outcome) {
          return stored.chainHash === undefined ? link(parseAction(stored)) : {};
        }
        throw new OutcomeConflictError(
          `audit ${where}: outcome ${existing} already recorded, refusing to overwrite it with ${result.outcome}`,
          { outcome: existing ?? "?", at: stored.at?.S, reason: stored.reason?.S },
          { cause: error },
        );
      }
      return completed === undefined ? {} : link(parseAction(completed));
    },

    async linkUnchained() {
      let linked = 0;
      // Each run's record of its waiting items, read once: only those are linked.
      const waiting = new Map<string, Set<string>>();
      for await (const item of pending(UNLINKED)) {
        const action = parseAction(item);
        let noted = waiting.get(action.runId);
        if (noted === undefined) {
          const run = await io.getItem(runKey(action.runId), writeError);
          // A sealed run's chain is closed and its seal covers what waits: nothing is linked
          // after it, so nothing can be laundered into it; verify names what is left waiting.
          noted = run?.seal === undefined ? new Set(run?.awaitingLink?.SS ?? []) : new Set();
          waiting.set(action.runId, noted);
        }
        // Not the janitor's own pending work (its run never noted it): left alone, verify names it.
        if (!noted.has(itemKeyPart(action))) continue;
        if ((await link(action)).unlinked === undefined) linked += 1;
      }
      return linked;
    },

    async recordNotifyFailure(runId, error) {
      try {
        await io.update({
          Key: runKey(runId),
          UpdateExpression: "SET notifyError = :error",
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeValues: toItem({ ":error": error }),
        });
      } catch (failure) {
        throw writeError(`record notify failure of run ${runId}`, failure);
      }
    },

    async listPendingIntents() {
      const intents: AuditAction[] = [];
      for await (const item of pending(PENDING)) intents.push(parseAction(item));
      return intents;
    },

    async runOutcomes(runId) {
      const outcomes = new Map<string, Outcome | undefined>();
      for await (const item of io.query({
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :action)",
        ExpressionAttributeValues: toItem({ ":pk": `RUN#${runId}`, ":action": "ACTION#" }),
        ProjectionExpression: "sk, #outcome",
        ExpressionAttributeNames: { "#outcome": "outcome" },
        // The base table, unlike an index, reads its latest writes: the counts are of what is stored.
        ConsistentRead: true,
      })) {
        const stored = item.outcome?.S;
        if (stored !== undefined && !isOutcome(stored)) {
          throw new JanitorError(`audit item ${describeKey(item)}: outcome is not an outcome`);
        }
        outcomes.set((item.sk?.S ?? "").replace(/^ACTION#/, ""), stored);
      }
      return outcomes;
    },

    async runLiveness(runId) {
      const item = await io.getItem(runKey(runId));
      if (item === undefined) return undefined;
      const status = item.status?.S;
      if (status === undefined || !(RUN_STATUSES as readonly string[]).includes(status)) {
        throw new JanitorError(`audit item ${describeKey(item)}: status is not a run status`);
      }
      const expires = item.leaseExpiresAt?.N;
      return {
        status: status as RunStatus,
        ...(expires === undefined ? {} : { leaseExpiresAt: Number(expires) }),
      };
    },

    async recordConfig(hash, canonicalJson) {
      requireKeyPart(hash, "configHash");
      // A conditional put: the first config stored under a hash stays; a later one is not written.
      await io.putNew(configItem(hash, canonicalJson, now().toISOString()));
    },
  };
}
