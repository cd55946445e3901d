import type { LeaseHolder } from "../domain/errors.js";

/** Whether the organization's lease was taken, or who holds it. */
export type LeaseClaim = { acquired: true; lease: LeaseHolder } | { acquired: false; holder: LeaseHolder };

/** The organization's lease: at most one live run at a time. Implemented in src/aws/audit/lease.ts. */
export interface LeaseStore {
  /**
   * Takes the organization's lease for this run when it is free, expired, or already this run's
   * (a conditional write); otherwise answers who holds it. At most one live run holds it.
   */
  acquireLease(runId: string): Promise<LeaseClaim>;
  /**
   * Extends this run's lease (and notes its expiry on the run item, when there is one). Throws
   * LeaseLostError when another run holds it now.
   */
  renewLease(runId: string): Promise<LeaseHolder>;
  /** Frees the lease if this run still holds it; false when it did not. */
  releaseLease(runId: string): Promise<boolean>;
}
