/**
 * Reconciled records (src/sweep/prepare.ts): another run's interrupted intent is completed by a
 * final item of the reconciling run, chained there, and the intent leaves the pending index in the
 * same transaction. The interrupted run's items stay as they are.
 */
import { AuditWriteError } from "../../domain/errors.js";
import type { ActionLog } from "../../ports/action-log.js";
import type { ChainWriter } from "./chain.js";
import { actionItem, actionKey, actionKeyOf, expiry, normalizeAction, toItem } from "./items.js";
import { type TableIo, writeError } from "./table-io.js";

export function createReconciler(
  io: TableIo,
  chain: ChainWriter,
  retentionDays: number | undefined,
): Pick<ActionLog, "recordReconciled"> {
  return {
    async recordReconciled(record) {
      const action = normalizeAction(record);
      const [intentRun, ...rest] = (action.reconciles ?? "").split("/");
      const intentHandshake = rest.join("/");
      if (action.outcome === undefined || !intentRun || !intentHandshake) {
        throw new AuditWriteError(
          `audit ${action.runId}/${action.handshakeId}: a reconciled record needs an outcome and the intent it reconciles`,
        );
      }
      const item = { ...actionItem(action), ...toItem(expiry(action.at, retentionDays)) };
      // The interrupted intent leaves the pending list in the same transaction, only while it is
      // still a pending intent: a record and its intent's closing never come apart.
      const closeIntent = {
        Update: {
          TableName: io.tableName,
          Key: actionKey(intentRun, intentHandshake),
          UpdateExpression: "SET reconciledBy = :by REMOVE pendingKey",
          ConditionExpression:
            "attribute_exists(pk) AND attribute_not_exists(#outcome) AND attribute_not_exists(reconciledBy)",
          ExpressionAttributeNames: { "#outcome": "outcome" },
          ExpressionAttributeValues: toItem({ ":by": action.runId }),
        },
      };
      const answer = await chain.putChainedWith({ index: 0, action, item }, closeIntent);
      if (answer === "written") return true;
      if (answer === "refused") return false;
      const stored = await io.getItem(actionKeyOf(action), writeError);
      if (stored !== undefined) return false;
      throw new AuditWriteError(`audit ${action.runId}: no run item to chain the reconciled record to`);
    },
  };
}
