/**
 * The store's side of the fence (src/sweep/fence.ts, docs/fencing.md): one conditional write that
 * confirms a claim, and the lease for a sweep, with the margin left.
 */

/** One confirmation, as the store writes it: the condition is written against `at`. */
export interface FenceRequest {
  handshakeId: string;
  /** The claim's holder: the run id of a sweep, `<run id>/<invocation>` of a real-time judgement. */
  holder: string;
  /** A sweep of the organization also confirms the lease is this run's; absent, no lease is checked. */
  leaseRunId?: string;
  /** Epoch ms on the holder's clock: the claim and the lease must last until at + marginMs. */
  at: number;
  marginMs: number;
}

/** Confirmed, or refused because the claim or the lease is not the holder's with M left. */
export type FenceAnswer = { confirmed: true } | { confirmed: false; lost: "claim" | "lease"; detail: string };

/** The store's side of the fence: one conditional write (src/aws/audit/fence.ts). */
export interface FenceStore {
  confirmClaim(request: FenceRequest): Promise<FenceAnswer>;
}
