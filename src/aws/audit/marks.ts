/**
 * The grace periods running (MarkStore): open marks are MARKED items on the pending index, read
 * with one Query; closing one removes its mark. Only a mark in its run's chain is acted on.
 */
import { chainHash } from "../../evidence/integrity.js";
import type { MarkStore } from "../../ports/marks.js";
import type { AuditAction, OpenMark } from "../../ports/records.js";
import { parseAction } from "./item-reading.js";
import { actionKey, type Item, MARKED, toItem } from "./items.js";
import { isConditionFailure, type TableIo, writeError } from "./table-io.js";

/** The item carries a chain link whose hash is its content's, as the chain writer computes it. */
function chainedAsWritten(item: Item, action: AuditAction): boolean {
  const seq = Number(item.chainSeq?.N ?? Number.NaN);
  const prev = item.chainPrev?.S;
  const hash = item.chainHash?.S;
  return (
    Number.isInteger(seq) && prev !== undefined && hash !== undefined && chainHash(prev, action, seq) === hash
  );
}

export function createMarks(io: TableIo, pending: (mark: typeof MARKED) => AsyncIterable<Item>): MarkStore {
  return {
    async listOpenMarks() {
      const marks: OpenMark[] = [];
      for await (const item of pending(MARKED)) {
        const action = parseAction(item);
        if (action.cancelAfter === undefined || item.markClosedBy !== undefined) continue;
        // Only a mark in its run's chain, as the janitor writes every mark, is acted on: one put
        // into the table outside the chain never cuts a grace period short (verify names it).
        if (!chainedAsWritten(item, action)) continue;
        marks.push({
          runId: action.runId,
          handshakeId: action.handshakeId,
          ruleId: action.ruleId,
          cancelAfter: action.cancelAfter,
          action: action.action,
          target: action.target,
          targetType: action.targetType,
          ...(action.requestedAt ? { requestedAt: action.requestedAt } : {}),
        });
      }
      return marks;
    },

    async closeMark(mark, closedBy) {
      const where = `${mark.runId}/${mark.handshakeId}`;
      try {
        await io.update({
          Key: actionKey(mark.runId, mark.handshakeId),
          // markClosedBy is outside the chain hash: the closing run's own item is the record.
          UpdateExpression: "SET markClosedBy = :by REMOVE pendingKey",
          ConditionExpression: "pendingKey = :marked",
          ExpressionAttributeValues: toItem({ ":by": closedBy, ":marked": MARKED }),
        });
      } catch (error) {
        // Closed already (a retried close, or another run got there first): nothing is lost.
        if (!isConditionFailure(error)) throw writeError(`close mark ${where}`, error);
      }
    },
  };
}
