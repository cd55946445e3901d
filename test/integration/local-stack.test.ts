import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, expect, test } from "vitest";
import { sampleOrganization } from "../../devtools/sample-org.js";
import { runCli } from "../support/stack.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const READY_LINE = /^Ctrl-C here stops/;
/** The script `npm run local` runs. */
const LOCAL_STACK = "devtools/local-stack-main.ts";
let child: ChildProcess | undefined;

afterAll(() => {
  // Only when the test failed half-way: the whole group, as Ctrl-C would reach it.
  if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    process.kill(-child.pid, "SIGKILL");
  }
});

/** Resolves with every line printed up to and including the ready line; rejects if it exits first. */
function readUntilReady(proc: ChildProcess, timeoutMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const lines: string[] = [];
    const timer = setTimeout(
      () => reject(new Error(`not ready in ${timeoutMs} ms:\n${lines.join("\n")}`)),
      timeoutMs,
    );
    const reader = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
    reader.on("line", (line) => {
      lines.push(line);
      if (READY_LINE.test(line)) {
        clearTimeout(timer);
        resolve(lines);
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before it was ready:\n${lines.join("\n")}`));
    });
  });
}

function connectionRefused(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED"));
  });
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

test("npm run local is the local stack itself: exec, no shell and no tsx process between npm and it", () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };

  expect(pkg.scripts.local).toBe(`exec node --import tsx ${LOCAL_STACK}`);
});

test("the local stack prints exports the CLI works with, and Ctrl-C stops everything and exits 0", async () => {
  // What `npm run local` execs, in a process group of its own, so that SIGINT reaches node and Java
  // as a terminal's Ctrl-C does. npm itself is left out: it answers a Ctrl-C with its own exit
  // code (130) whatever the script did, and may close the pipes before the last line is read.
  child = spawn(process.execPath, ["--import", "tsx", LOCAL_STACK], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  let printed = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    printed += chunk.toString();
  });
  // "close": the exit code, once everything it printed has been read.
  const exited = once(child, "close") as Promise<[number | null, NodeJS.Signals | null]>;

  const lines = await readUntilReady(child, 120_000);

  const env: Record<string, string> = {};
  for (const line of lines) {
    const match = /^export ([A-Z0-9_]+)=(\S+)$/.exec(line);
    if (match?.[1] && match[2]) env[match[1]] = match[2];
  }
  expect(Object.keys(env).sort()).toEqual(
    [
      "AUDIT_CHECKPOINT_BUCKET",
      "AUDIT_TABLE_NAME",
      "AWS_ACCESS_KEY_ID",
      "AWS_ENDPOINT_URL_DYNAMODB",
      "AWS_ENDPOINT_URL_ORGANIZATIONS",
      "AWS_ENDPOINT_URL_S3",
      "AWS_ENDPOINT_URL_STS",
      "AWS_REGION",
      "AWS_SECRET_ACCESS_KEY",
      "JANITOR_CONFIG",
    ].sort(),
  );
  const javaPid = Number(/java pid (\d+)/.exec(lines.join("\n"))?.[1]);
  expect(processExists(javaPid)).toBe(true);

  // The second terminal: exactly the pasted variables, no --config, no other setup.
  const run = await runCli(["run", "--dry-run", "--json"], env);
  expect(run.code, run.stderr).toBe(0);
  const summary = JSON.parse(run.stdout);
  expect(summary.listed).toBe(sampleOrganization(new Date()).length);
  expect(summary.dryRun).toBe(true);
  const query = await runCli(["audit", "query", "--run", summary.runId, "--format", "json"], env);
  expect(query.code, query.stderr).toBe(0);
  expect(query.stdout.trim().split("\n").length).toBe(summary.actions.length);

  process.kill(-(child.pid as number), "SIGINT");
  const [code, signal] = await exited;

  expect({ code, signal }, stderr).toEqual({ code: 0, signal: null });
  expect(printed).toContain("stopped.");
  expect(await connectionRefused(env.AWS_ENDPOINT_URL_ORGANIZATIONS as string)).toBe(true);
  expect(await connectionRefused(env.AWS_ENDPOINT_URL_DYNAMODB as string)).toBe(true);
  expect(processExists(javaPid)).toBe(false);
}, 240_000);
