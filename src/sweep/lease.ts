import { describeError, type LeaseHolder, LeaseLostError } from "../domain/errors.js";
import type { SweepLogger } from "../domain/logger.js";
import type { LeaseStore } from "../ports/lease.js";

/** A live run's hold on the organization's lease, renewed in the background while it works. */
export interface LeaseKeeper {
  /**
   * Whether this run may start another cancellation: the lease was not lost to another run and
   * its last known expiry has not passed (a renewal that keeps failing lets it lapse).
   */
  held(): boolean;
  /** Why `held()` is false, for the audit trail; undefined while it is held. */
  lapse(): string | undefined;
  /** Stops renewing and frees the lease if this run still holds it. Never throws. */
  release(): Promise<void>;
}

export interface KeepLeaseOptions {
  store: Pick<LeaseStore, "renewLease" | "releaseLease">;
  runId: string;
  lease: LeaseHolder;
  now: () => Date;
  log: SweepLogger;
  /** Renewal period; default a third of the lease's length, so two renewals can fail before it lapses. */
  everyMs?: number;
}

/**
 * Renews the lease at once, in the background (which also notes it on the run item), and then
 * every third of its length. A renewal that finds another holder means the lease is lost for good: the run starts
 * no new cancellation. A renewal that fails otherwise is tried again at the next tick.
 */
export function keepLease(options: KeepLeaseOptions): LeaseKeeper {
  const { store, runId, now, log } = options;
  const period = options.everyMs ?? Math.max(1, Math.floor((options.lease.expiresAt - now().getTime()) / 3));
  let expiresAt = options.lease.expiresAt;
  let lost: string | undefined;
  let lapsedSaid = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let renewing: Promise<void> = Promise.resolve();

  const renew = async () => {
    try {
      expiresAt = (await store.renewLease(runId)).expiresAt;
    } catch (error) {
      if (error instanceof LeaseLostError) {
        lost = error.message;
        log.error("lease lost: no new cancellation starts, the rest is DEFERRED", { error: error.message });
        return;
      }
      log.warn("could not renew the lease; trying again", { error: describeError(error) });
    }
  };
  const schedule = () => {
    if (stopped || lost !== undefined) return;
    timer = setTimeout(() => {
      renewing = renew().then(schedule);
    }, period);
    timer.unref();
  };

  // The first renewal (which notes the lease on the run item) runs beside the run's first steps,
  // not before them: the lease was just taken, so its expiry is known already.
  renewing = renew().then(schedule);

  return {
    held() {
      if (lost !== undefined) return false;
      if (now().getTime() < expiresAt) return true;
      if (!lapsedSaid) {
        lapsedSaid = true;
        log.error("lease lapsed unrenewed: no new cancellation starts, the rest is DEFERRED", {
          expiredAt: new Date(expiresAt).toISOString(),
        });
      }
      return false;
    },
    lapse() {
      if (lost !== undefined) return lost;
      if (now().getTime() >= expiresAt)
        return `the lease lapsed at ${new Date(expiresAt).toISOString()} unrenewed`;
      return undefined;
    },
    async release() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await renewing;
      if (lost !== undefined) return;
      try {
        if (!(await store.releaseLease(runId))) log.warn("lease was no longer this run's to release");
      } catch (error) {
        // It lapses on its own within its length.
        log.warn("could not release the lease; it lapses on its own", { error: describeError(error) });
      }
    },
  };
}
