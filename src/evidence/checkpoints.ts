/**
 * Checkpoints (docs/checkpoints.md): at the end of every live run, a small object outside the
 * audit table, in storage nobody can rewrite (an S3 bucket with Object Lock in compliance mode),
 * saying what the table held for that run when it ended: its seal, its chain's head and length,
 * its counts. `audit verify` compares the table with them, so a run erased from the table, or a
 * table rewritten with every hash recomputed, no longer verifies.
 */
import type { OutcomeCounts } from "../domain/outcomes.js";
import type { RunEvidence } from "./integrity.js";

export interface Checkpoint {
  /** The audit table the run was recorded in: one bucket may serve several stages. */
  table: string;
  runId: string;
  startedAt: string;
  endedAt: string;
  status: string;
  seal: string;
  chainHead: string;
  chainLength: number;
  counts: OutcomeCounts;
}

/** One checkpoint as the bucket holds it: its first version, and how many versions its key has. */
export interface StoredCheckpoint {
  key: string;
  versions: number;
  checkpoint?: Checkpoint;
  /** Why the object could not be read as a checkpoint. */
  unreadable?: string;
}

export interface CheckpointPort {
  /** Writes the run's checkpoint under retention, naming the store's table; answers the object's key. */
  write(checkpoint: Omit<Checkpoint, "table">): Promise<{ key: string }>;
  /** The checkpoints of the runs that started in the period, each read at its first version. */
  list(range: { since: Date; until: Date }): Promise<StoredCheckpoint[]>;
}

/**
 * What the table says of a checkpointed run, against the checkpoint: one line per difference.
 * `run` is the table's run item (undefined when it is missing), `length` its chain's length.
 */
export function checkpointProblems(stored: StoredCheckpoint, run: RunEvidence | undefined): string[] {
  const where = `checkpoint ${stored.key}`;
  const problems: string[] = [];
  if (stored.versions > 1) {
    problems.push(
      `${where}: the key holds ${stored.versions} versions; a checkpoint is written once, so a later one was put beside it (compared: the first)`,
    );
  }
  const checkpoint = stored.checkpoint;
  if (checkpoint === undefined) {
    problems.push(`${where}: not a checkpoint (${stored.unreadable ?? "unreadable"})`);
    return problems;
  }
  const runId = checkpoint.runId;
  if (run === undefined) {
    problems.push(
      `run ${runId}: its checkpoint (${stored.key}) says it ended ${checkpoint.status} at ${checkpoint.endedAt} with seal ${checkpoint.seal}, but the table has no run item for it: erased`,
    );
    return problems;
  }
  const differs = (what: string, table: unknown, saved: unknown) => {
    if (JSON.stringify(table) !== JSON.stringify(saved)) {
      problems.push(
        `run ${runId}: ${what} differs from its checkpoint (${stored.key}): ${JSON.stringify(table ?? null)} in the table, ${JSON.stringify(saved)} in the checkpoint`,
      );
    }
  };
  differs("seal", run.seal, checkpoint.seal);
  differs("chain head", run.head.hash, checkpoint.chainHead);
  differs("chain length", run.head.length, checkpoint.chainLength);
  differs("counts", sorted(run.record.counts), sorted(checkpoint.counts));
  return problems;
}

function sorted(counts: unknown): unknown {
  if (typeof counts !== "object" || counts === null) return counts;
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

/** The key of a run's checkpoint: by table and month of its start, so a period reads its months only. */
export function checkpointKey(checkpoint: Pick<Checkpoint, "table" | "startedAt" | "runId">): string {
  return `checkpoints/${encodeURIComponent(checkpoint.table)}/${checkpoint.startedAt.slice(0, 7)}/${checkpoint.startedAt}_${encodeURIComponent(checkpoint.runId)}.json`;
}

/** The key prefixes of the months a period touches. */
export function monthPrefixes(table: string, range: { since: Date; until: Date }): string[] {
  const prefixes: string[] = [];
  const at = new Date(Date.UTC(range.since.getUTCFullYear(), range.since.getUTCMonth(), 1));
  for (let guard = 0; at < range.until && guard < 1200; guard += 1) {
    prefixes.push(`checkpoints/${encodeURIComponent(table)}/${at.toISOString().slice(0, 7)}/`);
    at.setUTCMonth(at.getUTCMonth() + 1);
  }
  return prefixes;
}
