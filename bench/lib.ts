/** Shared by the benchmark runner and its scenarios. */
export interface BenchRow {
  scenario: string;
  /** What was measured, e.g. "janitor pacer" or "SDK adaptive retry". */
  variant: string;
  /** Named metrics; numbers are printed with their unit in the name (wallS, rssMB…). */
  metrics: Record<string, number | string>;
}

export interface Scenario {
  name: string;
  run(): Promise<BenchRow[]>;
}

/** Median of repeated measurements: robust to one slow run on a shared machine. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? Number.NaN)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}
