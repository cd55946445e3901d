import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";
import LongestFirst from "./test/support/sequencer.js";

export default defineConfig({
  test: {
    // Unit tests (test/unit) and integration tests (test/integration) in one pool: the unit files
    // fill the workers' last gaps instead of a set of workers of their own starting before the
    // integration ones. `npm run test:unit` and `npm run test:integration` select by folder.
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Worker threads in Vitest's own process rather than a process per worker: a thread starts
    // quicker and talks to Vitest without serialising through a pipe. Nothing under test needs a
    // process of its own in the worker (no chdir, no signal handlers); what does (the CLI as
    // users start it, the local stack, a SIGKILL) is spawned as a real child process.
    pool: "threads",
    // Vitest's default is one worker fewer than there are cores: a single worker on two. The
    // integration files spend much of their time waiting on child processes, local servers and
    // leases to lapse, so two workers more than there are cores keep the cores busy: on two idle
    // cores the suite took 101 s with three workers, 89–95 s with four and 92 s with five.
    maxWorkers: availableParallelism() + 2,
    // Files share their worker's modules instead of a fresh process importing the same modules
    // for each file: no test may leave state in a module or the environment.
    isolate: false,
    // One DynamoDB Local, one CLI build and the lock service for the run, started only when
    // integration files run: see test/support/global-setup.ts.
    globalSetup: ["./test/support/global-setup.ts"],
    reporters: ["default", "./test/support/summary-reporter.ts"],
    // Longest files first, from this checkout's last run or, in a fresh clone, test/durations.json.
    sequence: { sequencer: LongestFirst },
    // Output of passing tests is noise; a failing test's output is printed with its failure.
    silent: "passed-only",
    // config-readers: parseConfig reads YAML once its reader is loaded (loadYamlReader).
    setupFiles: ["./test/support/quiet-output.ts", "./test/support/config-readers.ts"],
    // The Lambda handlers' loggers take their level when their module loads, once per worker
    // (files share modules): errors only. A test that reads a handler's info lines sets its own.
    // Settings carry no credentials: the SDK's own chain finds these, the dummy keys the local
    // servers accept, for a CLI run in this process as for the clients tests build.
    env: { POWERTOOLS_LOG_LEVEL: "ERROR", AWS_ACCESS_KEY_ID: "local", AWS_SECRET_ACCESS_KEY: "local" },
    // Transformed TypeScript kept in node_modules/.experimental-vitest-cache between runs, keyed by
    // each file's content and the config (the default from Vitest 5). This config has no Vite
    // plugin, the one thing the key cannot see.
    experimental: { fsModuleCache: true },
  },
});
