/**
 * Integrity findings (docs/audit.md). Before a run links anything, it checks the organization's
 * chain head: the run sealed last, its chain, its seal and its link to the run before it. What it
 * finds is a finding: logged at ERROR, counted as a metric the template alarms on, named in the
 * run's digest, and written on the run item, under its seal, so the finding is itself evidence.
 * The run then links nothing left over from earlier runs. `audit verify` names each finding until
 * someone acknowledges it (`audit acknowledge F-… --note …`); acknowledging records who and why, it
 * does not make the data intact.
 */
import { createHash } from "node:crypto";
import { runSeal, verifyRun } from "./integrity.js";
import { orgChainProblems } from "./org-chain.js";
import { type AuditReader, chainedActions } from "./reader.js";

/** A finding's id: `F-` and the first 12 hex digits of its problem's hash, stable across runs. */
export function findingId(problem: string): string {
  return `F-${createHash("sha256").update(problem, "utf8").digest("hex").slice(0, 12)}`;
}

/** The findings as a run records them: `F-…: problem`, one per problem. */
export function findingsOf(problems: readonly string[]): string[] {
  return [...new Set(problems)].map((problem) => `${findingId(problem)}: ${problem}`);
}

/** The id of a recorded finding (`F-…: problem`). */
export function idOfFinding(finding: string): string {
  return finding.slice(0, finding.indexOf(":"));
}

/** Accepts `F-` and 12 lowercase hex digits. */
export const FINDING_ID = /^F-[0-9a-f]{12}$/;

/**
 * The checks a run makes before it extends the trail: the run the organization's chain head
 * names, as `audit verify` checks a run, and its link to the run sealed before it. One line per
 * problem; none before the first seal.
 */
export async function headProblems(
  reader: Pick<AuditReader, "orgHead" | "readChain" | "runEvidence">,
): Promise<string[]> {
  const head = await reader.orgHead();
  if (head === undefined) return [];
  const run = await reader.runEvidence(head.runId);
  const link = () =>
    orgChainProblems(new Map([[head.runId, run]]), head, (runId) => reader.runEvidence(runId));
  // A large run (a sweep of a large organization) is checked by its run item: its seal and its
  // link. Every real-time event would otherwise read all of its items; `audit verify` reads them.
  if (run !== undefined && run.head.length > HEAD_CHAIN_CHECK_MAX) {
    const intact =
      run.seal === undefined ||
      run.unreadable !== undefined ||
      runSeal(run.record, run.head, run.awaitingLink) === run.seal;
    const sealed = intact
      ? []
      : [`run ${head.runId}: run item altered: seal mismatch (attributes, chain head or length changed)`];
    return [...sealed, ...(await link())];
  }
  const chain = await reader.readChain(head.runId);
  const { items, unreadable } = chainedActions(chain.actions);
  return [...unreadable, ...verifyRun(head.runId, chain.run, items), ...(await link())];
}

/** Up to this many items, the head run's whole chain is checked before a run extends the trail. */
export const HEAD_CHAIN_CHECK_MAX = 1_000;
