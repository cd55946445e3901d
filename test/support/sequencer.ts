import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/** Seconds per file from a run on the project's reference machine: `npm run test:durations`. */
const RECORDED = new URL("../durations.json", import.meta.url);

/**
 * The longest files first, so that no long file starts last and runs on alone while the other
 * workers idle; the unit files, a fraction of a second each, come last and fill the gaps. A file's
 * duration is the one of this checkout's last run, which Vitest keeps in node_modules/.vite. A
 * fresh clone has none, and Vitest's fallback, larger files first, starts the demo's test (a few
 * lines that run for seconds) last: there the recorded durations order the files, as
 * test-splitting tools do with a committed timings file. A file known to neither goes first.
 */
export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const { cache, config } = this.ctx;
    const path = (file: TestSpecification) => relative(config.root, file.moduleId);
    const recorded = new Map(Object.entries(readRecorded()));
    const seconds = (file: TestSpecification) => {
      // Vitest's own key for a file's last result.
      const last = cache.getFileTestResults(`${file.project.name}:${path(file)}`)?.duration;
      if (last !== undefined) return last / 1000;
      return recorded.get(path(file)) ?? Number.MAX_SAFE_INTEGER;
    };
    return [...files].sort((a, b) => seconds(b) - seconds(a));
  }
}

function readRecorded(): Record<string, number> {
  try {
    return JSON.parse(readFileSync(RECORDED, "utf8")) as Record<string, number>;
  } catch {
    return {};
  }
}
