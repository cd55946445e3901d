import type { RunStatus } from "../domain/outcomes.js";
import type { ClaimResult, HandshakeClaims } from "../ports/claims.js";
import type { SweepDeps } from "./types.js";

/** RUNNING with a lease expiry still ahead: a run that may still be cancelling. */
export function isLive(liveness: { status: RunStatus; leaseExpiresAt?: number }, now: Date): boolean {
  return (
    liveness.status === "RUNNING" &&
    liveness.leaseExpiresAt !== undefined &&
    liveness.leaseExpiresAt > now.getTime()
  );
}

/**
 * Takes a handshake's claim for a run of organization scope, which holds the organization's
 * lease. A claim another sweep run holds is that run's only while it is live: one whose run item
 * says it lost the lease (or finished) is taken over rather than waited out. A holder without a
 * run item of its name (a real-time invocation, `event-…/request`) keeps its claim until it
 * expires.
 */
export async function takeClaim(
  claims: HandshakeClaims,
  handshakeId: string,
  runId: string,
  ttlMs: number,
  deps: Pick<SweepDeps, "journal" | "now">,
): Promise<ClaimResult> {
  const first = await claims.claimHandshake(handshakeId, runId, ttlMs);
  if (first.taken) return first;
  const liveness = await deps.journal.runLiveness(first.holder);
  if (liveness === undefined || isLive(liveness, deps.now())) return first;
  return claims.claimHandshake(handshakeId, runId, ttlMs, { replacing: first.holder });
}
