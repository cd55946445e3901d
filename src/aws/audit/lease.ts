/**
 * The organization's lease: one item, off every index, taken and renewed with conditional
 * writes so that at most one live run acts at a time. A holder that dies stops renewing, and the
 * lease lapses on its own after its duration. Times are the writer's clock (epoch ms).
 */

import { type LeaseHolder, LeaseLostError } from "../../domain/errors.js";
import type { LeaseStore } from "../../ports/lease.js";
import { type Item, LEASE_KEY, requireKeyPart, runKey, toItem } from "./items.js";
import { conditionItem, isConditionFailure, type TableIo, writeError } from "./table-io.js";

export type LeaseMethods = LeaseStore;

export function createLease(
  io: TableIo,
  now: () => Date,
  leaseDurationMs: number,
  marginMs: number,
): LeaseMethods {
  const names = { "#runId": "runId", "#expires": "leaseExpiresAt" };
  const holderOf = (item: Item | undefined): LeaseHolder | undefined =>
    item?.runId?.S === undefined
      ? undefined
      : {
          runId: item.runId.S,
          since: item.since?.S ?? "",
          expiresAt: Number(item.leaseExpiresAt?.N ?? "0"),
        };
  return {
    async acquireLease(runId) {
      requireKeyPart(runId, "runId");
      const at = now();
      const lease: LeaseHolder = {
        runId,
        since: at.toISOString(),
        expiresAt: at.getTime() + leaseDurationMs,
      };
      try {
        await io.put({
          Item: {
            ...LEASE_KEY,
            ...toItem({ itemType: "lease", runId, since: lease.since, leaseExpiresAt: lease.expiresAt }),
          },
          // Free, released, lapsed by more than the fencing margin (a holder confirmed its lease
          // with M left before each cancel: one may land until M after the lease lapsed), or
          // already this run's (a retried request, or a retried event).
          ConditionExpression:
            "attribute_not_exists(pk) OR #expires <= :lapsed OR (attribute_exists(releasedAt) AND #expires <= :now) OR #runId = :runId",
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: toItem({
            ":now": at.getTime(),
            ":lapsed": at.getTime() - marginMs,
            ":runId": runId,
          }),
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        });
        return { acquired: true, lease };
      } catch (error) {
        if (!isConditionFailure(error)) throw writeError("take the lease", error);
        const holder = holderOf(conditionItem(error) ?? (await io.getItem(LEASE_KEY, writeError)));
        if (holder === undefined) throw writeError("take the lease", error);
        return { acquired: false, holder };
      }
    },

    async renewLease(runId) {
      const at = now();
      const expiresAt = at.getTime() + leaseDurationMs;
      let since: string;
      try {
        const answer = await io.update({
          Key: LEASE_KEY,
          UpdateExpression: "SET #expires = :expires",
          // Still this run's: a lapsed lease nobody took meanwhile is still safely ours.
          ConditionExpression: "#runId = :runId",
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: toItem({ ":expires": expiresAt, ":runId": runId }),
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          ReturnValues: "ALL_NEW",
        });
        since = answer.Attributes?.since?.S ?? "";
      } catch (error) {
        if (isConditionFailure(error)) throw new LeaseLostError(runId, holderOf(conditionItem(error)));
        throw writeError("renew the lease", error);
      }
      // Noted on the run item too, so reconciliation can tell a live run's intents from a dead
      // one's even if the lease item itself were lost or deleted by hand.
      await io
        .update({
          Key: runKey(runId),
          UpdateExpression: "SET #expires = :expires",
          ConditionExpression: "attribute_exists(pk) AND #status = :running",
          ExpressionAttributeNames: { "#expires": "leaseExpiresAt", "#status": "status" },
          ExpressionAttributeValues: toItem({ ":expires": expiresAt, ":running": "RUNNING" }),
        })
        .catch((error: unknown) => {
          if (!isConditionFailure(error)) throw writeError(`note the lease on run ${runId}`, error);
        });
      return { runId, since, expiresAt };
    },

    async releaseLease(runId) {
      const at = now();
      try {
        await io.update({
          Key: LEASE_KEY,
          UpdateExpression: "SET #expires = :now, releasedAt = :at",
          ConditionExpression: "#runId = :runId",
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: toItem({
            ":now": at.getTime(),
            ":at": at.toISOString(),
            ":runId": runId,
          }),
        });
        return true;
      } catch (error) {
        if (isConditionFailure(error)) return false;
        throw writeError("release the lease", error);
      }
    },
  };
}
