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

/** More handshakes selected than maxCancellationsPerRun allows. */
export class LimitExceededError extends JanitorError {
  readonly limit: number;
  readonly selected: number;
  constructor(limit: number, selected: number) {
    super(`${selected} handshakes selected, more than maxCancellationsPerRun ${limit}: nothing canceled`);
    this.limit = limit;
    this.selected = selected;
  }
}

/** An audit write failed after retries: the cancellation it guards must not happen. */
export class AuditWriteError extends JanitorError {}
