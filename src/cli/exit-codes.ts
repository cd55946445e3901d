import type { RunStatus } from "../domain/outcomes.js";

/** Exit code of a live run that found another live run holding the organization's lease: nothing done. */
export const EXIT_LEASE_HELD = 6;

/**
 * The contract's exit codes: 0 done, 3 partial, 4 blocked; a failed run is an error (1). A run
 * refused the lease has no status: it throws LeaseHeldError, and the CLI exits EXIT_LEASE_HELD.
 */
export function exitCodeFor(status: RunStatus): number {
  switch (status) {
    case "COMPLETED":
      return 0;
    case "PARTIAL":
      return 3;
    case "BLOCKED":
      return 4;
    default:
      return 1;
  }
}
