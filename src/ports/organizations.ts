import type { Handshake } from "../domain/handshake.js";
import type { CancelResult } from "../domain/outcomes.js";

/** Everything the sweep needs from AWS Organizations. Implemented in src/aws/organizations.ts. */
export interface OrganizationsPort {
  /**
   * Every handshake of the organization, a page at a time, all pages: the caller keeps what it
   * needs of each page, so a large organization is never held whole.
   */
  listHandshakes(): AsyncIterable<Handshake[]>;
  /** undefined when the service no longer knows the handshake. */
  describeHandshake(id: string): Promise<Handshake | undefined>;
  /**
   * Cancels one handshake. Expected outcomes (already closed, state changed, throttled past the
   * deadline) come back as data. It throws on programming errors, and when whether the cancel
   * happened is unknown (an answer was lost and no attempt was left to find out): the sweep then
   * leaves the intent pending for the next run to look up.
   * `deadline` is an epoch-millisecond instant after which no new attempt is started.
   */
  cancelHandshake(
    id: string,
    options?: {
      deadline?: number;
      /**
       * Asked before each attempt, retries included (src/sweep/fence.ts): false, and that attempt
       * is not sent; the cancel ends DEFERRED, or unknown when an earlier attempt's answer was lost.
       * `turn`, awaited once the check has passed and before its time limit is read: the adapter's
       * wait for the moment the call may go, so that the calls reach the service evenly spaced;
       * false when that moment would come after the deadline, and the attempt must not be sent.
       */
      beforeAttempt?: (turn: () => Promise<boolean>) => Promise<boolean>;
    },
  ): Promise<CancelResult>;
}
