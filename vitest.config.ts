import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";
import LongestFirst from "./test/support/sequencer.js";

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Vitest's default is one worker fewer than there are cores: a single worker on two. The
    // integration files spend much of their time waiting on child processes and local servers,
    // so two files at a time fill two cores better than one.
    maxWorkers: availableParallelism() + 1,
    reporters: ["default", "./test/support/summary-reporter.ts"],
    // Longest files first, from this checkout's last run or, in a fresh clone, test/durations.json.
    sequence: { sequencer: LongestFirst },
    // Output of passing tests is noise; a failing test's output is printed with its failure.
    silent: "passed-only",
    setupFiles: ["./test/support/quiet-output.ts"],
    // The Lambda handlers' loggers take their level when their module loads, once per worker
    // (files share modules): errors only. A test that reads a handler's info lines sets its own.
    env: { POWERTOOLS_LOG_LEVEL: "ERROR" },
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: ["test/integration/**"],
          // Unit tests keep no state in modules or the environment: one process runs them all,
          // instead of a fresh one importing the same modules for each file.
          isolate: false,
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          // One DynamoDB Local and one CLI build for the run, started only when integration
          // tests run: see test/support/global-setup.ts.
          globalSetup: ["./test/support/global-setup.ts"],
          isolate: false,
        },
      },
    ],
  },
});
