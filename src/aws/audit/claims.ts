/**
 * Handshake claims: a sweep claims each handshake before it cancels it, so two runs never act on
 * the same one. A claim is one item beside the runs, `CLAIM#<handshakeId>` / `CLAIM`, with none
 * of the attributes any index keys on (no timeKey, handshakeId, ruleId or pendingKey): no audit
 * query, report, export or verification ever reads it. Taking it is one conditional put;
 * releasing it sets its expiry to 0 (an update, so the role needs no DeleteItem). A claim that
 * lapsed is taken over only once it has lapsed by more than the fencing margin M, and a holder
 * known to be gone only once its last confirmation (`fencedUntil`, src/aws/audit/fence.ts) has:
 * a cancel its holder confirmed may still land until then (docs/fencing.md).
 */

import { AuditWriteError } from "../../domain/errors.js";
import type { ClaimResult, HandshakeClaims } from "../../ports/claims.js";
import { AUDIT_TTL_ATTRIBUTE } from "../audit-table.js";
import { claimKey, requireKeyPart, toItem } from "./items.js";
import { conditionItem, isConditionFailure, type TableIo, writeError } from "./table-io.js";

export function createClaims(
  io: TableIo,
  now: () => Date,
  marginMs: number,
): Omit<HandshakeClaims, "confirmClaim"> {
  return {
    async claimHandshake(
      handshakeId: string,
      holder: string,
      ttlMs: number,
      options: { replacing?: string } = {},
    ): Promise<ClaimResult> {
      requireKeyPart(handshakeId, "claim handshakeId");
      requireKeyPart(holder, "claim holder");
      if (!(Number.isFinite(ttlMs) && ttlMs > 0)) {
        throw new AuditWriteError(`audit claim ${handshakeId}: ttlMs must be a number > 0, not ${ttlMs}`);
      }
      const at = now();
      const until = at.getTime() + Math.ceil(ttlMs);
      const item = {
        ...claimKey(handshakeId),
        ...toItem({
          itemType: "claim",
          holder,
          claimedAt: at.toISOString(),
          claimedUntil: until,
          // Whether or not the table's TTL is on: a claim is working state, not part of the trail.
          [AUDIT_TTL_ATTRIBUTE]: Math.floor(until / 1000) + 86_400,
        }),
      };
      try {
        await io.put({
          Item: item,
          // Free, ours already (a renewal, or a retried put whose answer was lost), or lapsed by
          // more than M. Or held by a holder the caller knows to be gone (a sweep that lost the
          // lease) whose last confirmation has lapsed by more than M.
          ConditionExpression: `attribute_not_exists(pk) OR holder = :holder OR claimedUntil <= :lapsed${
            options.replacing === undefined
              ? ""
              : " OR (holder = :replacing AND (attribute_not_exists(fencedUntil) OR fencedUntil <= :lapsed))"
          }`,
          ExpressionAttributeValues: toItem({
            ":holder": holder,
            ":lapsed": at.getTime() - marginMs,
            ...(options.replacing === undefined ? {} : { ":replacing": options.replacing }),
          }),
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        });
        return { taken: true };
      } catch (error) {
        if (!isConditionFailure(error)) throw writeError(`claim ${handshakeId}`, error);
        const held = conditionItem(error) ?? (await io.getItem(claimKey(handshakeId), writeError));
        return {
          taken: false,
          holder: held?.holder?.S ?? "(unknown)",
          until: new Date(Number(held?.claimedUntil?.N ?? until)),
        };
      }
    },

    async releaseHandshake(handshakeId: string, holder: string): Promise<void> {
      requireKeyPart(handshakeId, "claim handshakeId");
      try {
        await io.update({
          Key: claimKey(handshakeId),
          UpdateExpression: "SET claimedUntil = :zero, releasedAt = :at",
          // Only our own claim: one that expired and was taken over belongs to its new holder.
          ConditionExpression: "holder = :holder",
          ExpressionAttributeValues: toItem({ ":zero": 0, ":at": now().toISOString(), ":holder": holder }),
        });
      } catch (error) {
        if (isConditionFailure(error)) return;
        throw writeError(`release claim ${handshakeId}`, error);
      }
    },
  };
}
