import type { RunStatus } from "../domain/outcomes.js";

/**
 * Every exit code the command line gives, in one place: the commands return these, and the
 * overview's help line is written from their meanings.
 */
export const ExitCode = {
  /** Done: the run finished with every match final, or the command did what it was asked. */
  Done: 0,
  /** An error: the run itself failed, or the audit table does not exist. */
  Error: 1,
  /** Invalid config, arguments or event: nothing was called. */
  Invalid: 2,
  /** Partial: some matches were deferred or failed. */
  Partial: 3,
  /** Blocked by the safety cap: nothing was canceled. */
  Blocked: 4,
  /** `audit verify` found a missing, altered or conflicting item. */
  IntegrityProblem: 5,
  /** Another live run holds the organization's lease: nothing was done. */
  LeaseHeld: 6,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Each code's meaning in a line of help, in the order of the codes. */
export const EXIT_CODE_MEANINGS: Readonly<Record<ExitCode, string>> = {
  0: "done",
  1: "error",
  2: "invalid config or arguments, nothing called",
  3: "partial",
  4: "blocked by the safety cap",
  5: "audit verify found a problem",
  6: "another live run holds the organization's lease",
};

/** `0 done; 1 error; …`: every code with its meaning, as the overview lists them. */
export function exitCodesLine(): string {
  return Object.entries(EXIT_CODE_MEANINGS)
    .map(([code, meaning]) => `${code} ${meaning}`)
    .join("; ");
}

/**
 * The contract's exit codes for a run: done, partial, blocked; a failed run is an error. A run
 * refused the lease has no status: it throws LeaseHeldError, and the CLI exits LeaseHeld.
 */
export function exitCodeFor(status: RunStatus): ExitCode {
  switch (status) {
    case "COMPLETED":
      return ExitCode.Done;
    case "PARTIAL":
      return ExitCode.Partial;
    case "BLOCKED":
      return ExitCode.Blocked;
    default:
      return ExitCode.Error;
  }
}
