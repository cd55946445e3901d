import type { FenceStore } from "./fence.js";

/** The answer to a claim: taken, or held by someone else until `until`. */
export type ClaimResult = { taken: true } | { taken: false; holder: string; until: Date };

/**
 * One actor at a time per handshake, across processes: a run takes the handshake's claim before
 * it writes the intent to cancel it and releases it after the outcome is recorded. A claim
 * expires by itself (`ttlMs`), so a holder that dies never blocks the handshake for good; a
 * claim lapsed by more than the fencing margin may be taken over. Before each CancelHandshake
 * attempt its holder confirms it (FenceStore, src/sweep/fence.ts). Implemented in src/aws/audit/
 * beside the audit items.
 */
export interface HandshakeClaims extends FenceStore {
  /**
   * Takes the claim, or renews it when `holder` already holds it. `replacing` names a holder
   * known to be gone (a sweep run that lost the organization's lease): its claim is taken over
   * before it expires, once its last confirmation has lapsed by more than the fencing margin.
   */
  claimHandshake(
    handshakeId: string,
    holder: string,
    ttlMs: number,
    options?: { replacing?: string },
  ): Promise<ClaimResult>;
  /** Gives it up; a claim that another holder has taken over meanwhile is left alone. */
  releaseHandshake(handshakeId: string, holder: string): Promise<void>;
}
