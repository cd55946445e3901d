import type { RunEvidence } from "./integrity.js";

/**
 * The organization's chain: every run, when it is sealed, commits to the seal of the run sealed
 * before it (prevRun, prevSeal, its place orgSeq), and the head item names the run sealed last.
 * Deleting, reopening, re-dating or truncating a sealed run breaks the link of the run after it,
 * or the head's, even when every hash inside the run is recomputed.
 */
export interface OrgHead {
  runId: string;
  seal: string;
  /** How many runs are sealed in the chain, the head's run included. */
  length: number;
}

/** A sealed run's link in the organization's chain, as its run item holds it. */
interface OrgLink {
  runId: string;
  seal?: string;
  prevRun?: string;
  prevSeal?: string;
  orgSeq?: number;
}

function orgLinkOf(run: RunEvidence): OrgLink {
  const { record } = run;
  return {
    runId: run.runId,
    ...(run.seal === undefined ? {} : { seal: run.seal }),
    ...(typeof record.prevRun === "string" ? { prevRun: record.prevRun } : {}),
    ...(typeof record.prevSeal === "string" ? { prevSeal: record.prevSeal } : {}),
    ...(typeof record.orgSeq === "number" ? { orgSeq: record.orgSeq } : {}),
  };
}

const short = (seal: string | undefined) => (seal === undefined ? "none" : seal.slice(0, 12));

/**
 * The organization's chain over the runs verified: each sealed run's link to the run before it
 * (found among `runs`, else through `lookup`), no two runs following the same one, and the head
 * naming a run whose seal is the one it holds. One line per break, named at the run after it.
 */
export async function orgChainProblems(
  runs: ReadonlyMap<string, RunEvidence | undefined>,
  head: OrgHead | undefined,
  lookup: (runId: string) => Promise<RunEvidence | undefined>,
): Promise<string[]> {
  const problems: string[] = [];
  const known = new Map(runs);
  const find = async (runId: string) => {
    if (!known.has(runId)) known.set(runId, await lookup(runId));
    return known.get(runId);
  };
  const followers = new Map<string, string[]>();
  for (const run of runs.values()) {
    if (run?.seal === undefined) continue;
    const link = orgLinkOf(run);
    // Sealed before the organization's chain existed: nothing to follow.
    if (link.orgSeq === undefined) continue;
    if (link.prevRun === undefined) {
      if (link.orgSeq !== 1)
        problems.push(`run ${link.runId}: #${link.orgSeq} of the organization's chain follows no run`);
      continue;
    }
    followers.set(link.prevRun, [...(followers.get(link.prevRun) ?? []), link.runId]);
    const previous = await find(link.prevRun);
    if (previous === undefined) {
      problems.push(
        `run ${link.runId}: follows run ${link.prevRun} in the organization's chain, and run ${link.prevRun} is missing`,
      );
      continue;
    }
    if (previous.seal !== link.prevSeal) {
      problems.push(
        `run ${link.runId}: follows run ${link.prevRun} sealed ${short(link.prevSeal)}, but run ${link.prevRun}'s seal is ${short(previous.seal)}: reopened, rewritten or replaced`,
      );
      continue;
    }
    const before = orgLinkOf(previous).orgSeq;
    if (before !== undefined && before !== link.orgSeq - 1) {
      problems.push(`run ${link.runId}: #${link.orgSeq} of the organization's chain follows #${before}`);
    }
  }
  for (const [runId, after] of followers) {
    if (after.length > 1)
      problems.push(
        `run ${runId}: followed by ${after.length} runs (${after.join(", ")}): the organization's chain forked`,
      );
  }
  if (head === undefined) {
    const sealed = [...runs.values()].some(
      (run) => run?.seal !== undefined && orgLinkOf(run).orgSeq !== undefined,
    );
    if (sealed)
      problems.push("the organization's chain head is missing, though runs were sealed into the chain");
    return problems;
  }
  const last = await find(head.runId);
  if (last === undefined) {
    problems.push(
      `the organization's chain head names run ${head.runId} (#${head.length}), which is missing`,
    );
  } else if (last.seal !== head.seal) {
    problems.push(
      `the organization's chain head names run ${head.runId} sealed ${short(head.seal)}, but its seal is ${short(last.seal)}: reopened, rewritten or erased`,
    );
  }
  for (const run of runs.values()) {
    const seq = run === undefined ? undefined : orgLinkOf(run).orgSeq;
    if (run?.seal !== undefined && seq !== undefined && seq > head.length) {
      problems.push(`run ${run.runId}: #${seq} of the organization's chain, past its head #${head.length}`);
    }
  }
  return problems;
}
