import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { sampleOrganization } from "../../devtools/sample-org.js";
import { offlineEnv } from "../../scripts/package.js";
import { exclusively, type Stack, stackEnv, startStack } from "../support/stack.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

let stack: Stack;
let table: string;

beforeAll(async () => {
  stack = await startStack(sampleOrganization(new Date(), { seed: 31 }));
  table = await stack.newTable();
});
afterAll(async () => {
  await stack?.stop();
});

/**
 * `serverless invoke local` as a user runs it; async, because the emulator lives in this process.
 * It builds into dist/sweep, as deploy.test.ts's packaging does: one at a time.
 */
function invokeLocal(event: object): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return exclusively("dist/sweep", () => spawnInvokeLocal(event));
}

function spawnInvokeLocal(event: object): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      `${ROOT}node_modules/.bin/serverless`,
      [
        "invoke",
        "local",
        "-f",
        "sweep",
        "--stage",
        "dev",
        "--param",
        "config=examples/janitor.yaml",
        "--data",
        JSON.stringify(event),
        // serverless.yml's environment wins over the process's; --env wins over both.
        "--env",
        `AUDIT_TABLE_NAME=${table}`,
      ],
      {
        cwd: ROOT,
        env: { ...offlineEnv(), ...stackEnv(stack.org, stack.db, table), POWERTOOLS_LOG_LEVEL: "ERROR" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 100_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** invoke local prints the handler's result as indented JSON after any single-line log output. */
function lastJsonBlock(stdout: string): unknown {
  const start = stdout.lastIndexOf("\n{\n");
  return JSON.parse(stdout.slice(start === -1 ? stdout.indexOf("{") : start + 1));
}

describe("serverless invoke local", () => {
  test("runs the bundled handler against the local stack and cancels what the rules select", async () => {
    const before = new Map(stack.org.handshakes().map((h) => [h.Id, h.State]));

    const result = await invokeLocal({ reason: "CHG-1234" });

    expect(result.code, result.stderr + result.stdout).toBe(0);
    const summary = lastJsonBlock(result.stdout) as {
      status: string;
      trigger: string;
      dryRun: boolean;
      listed: number;
      counts: Record<string, number>;
      actions: { handshakeId: string; outcome: string }[];
    };
    expect(summary.trigger).toBe("manual");
    expect(summary.dryRun).toBe(false);
    expect(summary.listed).toBe(before.size);
    const canceled = summary.actions.filter((a) => a.outcome === "CANCELED").map((a) => a.handshakeId);
    expect(canceled.length).toBeGreaterThan(0);
    expect(summary.counts.CANCELED).toBe(canceled.length);
    const after = new Map(stack.org.handshakes().map((h) => [h.Id, h.State]));
    for (const id of canceled) {
      expect(before.get(id)).not.toBe("CANCELED");
      expect(after.get(id)).toBe("CANCELED");
    }
    const newlyCanceled = [...after].filter(
      ([id, state]) => state === "CANCELED" && before.get(id) !== state,
    );
    expect(newlyCanceled.map(([id]) => id).sort()).toEqual([...canceled].sort());
  }, 150_000);
});
