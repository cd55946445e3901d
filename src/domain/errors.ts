/** Base of every error the janitor raises on purpose; anything else is a bug. */
export class JanitorError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * Bad config, arguments or event: raised before any API call. `issues` holds one line per
 * problem, each naming the file or source, the field path and what is wrong.
 */
export class ConfigError extends JanitorError {
  readonly issues: readonly string[];
  constructor(issues: readonly string[]) {
    super(issues.join("\n"));
    this.issues = issues;
  }
}

/** An audit write failed after retries: the cancellation it guards must not happen. */
export class AuditWriteError extends JanitorError {}

/** The organization's lease, as the audit table holds it: which run, since when, until when. */
export interface LeaseHolder {
  runId: string;
  /** ISO-8601 instant the holder took the lease. */
  since: string;
  /** Epoch ms the lease lapses unless renewed. */
  expiresAt: number;
}

/** Another live run holds the organization's lease: this run did nothing (CLI exit 6). */
export class LeaseHeldError extends JanitorError {
  readonly holder: LeaseHolder;
  constructor(holder: LeaseHolder, now: number) {
    const seconds = Math.max(0, Math.ceil((holder.expiresAt - now) / 1000));
    super(
      `another live run holds the organization's lease: run ${holder.runId} since ${holder.since} (expires in ${seconds} s); nothing done`,
    );
    this.holder = holder;
  }
}

/** Renewing the lease found another run holding it: this run must not start another cancellation. */
export class LeaseLostError extends JanitorError {
  readonly holder: LeaseHolder | undefined;
  constructor(runId: string, holder: LeaseHolder | undefined) {
    super(
      holder === undefined
        ? `run ${runId} lost the organization's lease: it is no longer stored`
        : `run ${runId} lost the organization's lease to run ${holder.runId} (since ${holder.since})`,
    );
    this.holder = holder;
  }
}

/**
 * An outcome was not written because another outcome is already recorded for the item: not a
 * transient failure, so the item is not pending and no later run will complete it.
 */
export class OutcomeConflictError extends AuditWriteError {
  /** The outcome on record, and the reason stored with it (which names who wrote it). */
  readonly existing: { outcome: string; at: string | undefined; reason: string | undefined };
  constructor(message: string, existing: OutcomeConflictError["existing"], options?: { cause?: unknown }) {
    super(message, options);
    this.existing = existing;
  }
}

/** A service answered in a way the janitor cannot go on from (a paging token that loops): nothing is decided on it. */
export class ServiceAnswerError extends JanitorError {}

/** `Name: message` for an error of any shape, for audit records and log lines. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const message = error.message && error.message !== error.name ? `: ${error.message}` : "";
    return `${error.name}${message}`;
  }
  return String(error);
}
