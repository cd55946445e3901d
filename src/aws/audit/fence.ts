/**
 * The fence's one conditional write (src/sweep/fence.ts, docs/fencing.md): a transaction of a
 * ConditionCheck on the organization's lease (a sweep's only) and a conditional Update of the
 * handshake's claim, which records how long this confirmation lasts (`fencedUntil`). Either
 * condition failing cancels both: nothing is written, and the holder makes no call.
 */
import type { FenceAnswer, FenceRequest, FenceStore } from "../../ports/fence.js";
import { claimKey, type Item, LEASE_KEY, requireKeyPart, toItem } from "./items.js";
import { type TableIo, writeError } from "./table-io.js";

type Reason = { Code?: string; Item?: Item };

/** Who has the lease or the claim now, as the failed condition returned it. */
function held(item: Item | undefined, owner: string): string {
  if (item === undefined || item[owner]?.S === undefined) return "not held";
  if (item.releasedAt?.S !== undefined) return `released by ${item[owner]?.S} at ${item.releasedAt.S}`;
  const until = Number(item.leaseExpiresAt?.N ?? item.claimedUntil?.N ?? "0");
  return `held by ${item[owner]?.S} until ${new Date(until).toISOString()}`;
}

export function createFenceStore(io: TableIo): FenceStore {
  return {
    async confirmClaim(request: FenceRequest): Promise<FenceAnswer> {
      requireKeyPart(request.handshakeId, "fence handshakeId");
      requireKeyPart(request.holder, "fence holder");
      const until = request.at + request.marginMs;
      const lease =
        request.leaseRunId === undefined
          ? []
          : [
              {
                ConditionCheck: {
                  TableName: io.tableName,
                  Key: LEASE_KEY,
                  ConditionExpression: "#runId = :run AND #expires >= :until",
                  ExpressionAttributeNames: { "#runId": "runId", "#expires": "leaseExpiresAt" },
                  ExpressionAttributeValues: toItem({ ":run": request.leaseRunId, ":until": until }),
                  ReturnValuesOnConditionCheckFailure: "ALL_OLD" as const,
                },
              },
            ];
      const claim = {
        Update: {
          TableName: io.tableName,
          Key: claimKey(request.handshakeId),
          UpdateExpression: "SET fencedUntil = :until, fencedAt = :at",
          // Still this holder's, with at least M left: a claim taken over, released or about to
          // lapse is not acted on.
          ConditionExpression: "holder = :holder AND claimedUntil >= :until",
          ExpressionAttributeValues: toItem({
            ":holder": request.holder,
            ":until": until,
            ":at": new Date(request.at).toISOString(),
          }),
          ReturnValuesOnConditionCheckFailure: "ALL_OLD" as const,
        },
      };
      try {
        await io.transact({ TransactItems: [...lease, claim] });
        return { confirmed: true };
      } catch (error) {
        const reasons = (error as { CancellationReasons?: Reason[] }).CancellationReasons;
        if (!(error instanceof Error && error.name === "TransactionCanceledException") || !reasons) {
          throw writeError(`confirm the claim of ${request.handshakeId}`, error);
        }
        const needed = new Date(until).toISOString();
        const leaseReason = lease.length > 0 ? reasons[0] : undefined;
        if (leaseReason?.Code === "ConditionalCheckFailed") {
          return {
            confirmed: false,
            lost: "lease",
            detail: `the organization's lease is ${held(leaseReason.Item, "runId")}, not run ${request.leaseRunId}'s until ${needed}`,
          };
        }
        const claimReason = reasons[lease.length];
        if (claimReason?.Code === "ConditionalCheckFailed") {
          return {
            confirmed: false,
            lost: "claim",
            detail: `the claim of ${request.handshakeId} is ${held(claimReason.Item, "holder")}, not ${request.holder}'s until ${needed}`,
          };
        }
        throw writeError(`confirm the claim of ${request.handshakeId}`, error);
      }
    },
  };
}
