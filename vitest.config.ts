import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    reporters: ["default", "./test/support/summary-reporter.ts"],
    // Output of passing tests is noise; a failing test's output is printed with its failure.
    silent: "passed-only",
    setupFiles: ["./test/support/quiet-output.ts"],
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["test/**/*.test.ts"], exclude: ["test/integration/**"] },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          // One DynamoDB Local and one CLI build for the run, started only when integration
          // tests run: see test/support/global-setup.ts.
          globalSetup: ["./test/support/global-setup.ts"],
        },
      },
    ],
  },
});
