import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { type DynamoDbLocal, startDynamoDbLocal } from "../../src/local/dynamodb-local.js";
import {
  type EmulatorFaults,
  type EmulatorHandshake,
  type OrganizationsEmulator,
  startOrganizationsEmulator,
} from "../../src/local/org-emulator.js";
import { ensureLocalAuditTable, localStackEnv } from "../../src/local/stack-env.js";

export { localDynamoDbClient } from "../../src/local/stack-env.js";

/** The environment the CLI and the handler read: SDK endpoint variables, dummy credentials, the table. */
export function stackEnv(
  org: OrganizationsEmulator,
  db: DynamoDbLocal,
  tableName: string,
): Record<string, string> {
  return localStackEnv({ organizations: org.endpoint, dynamodb: db.endpoint }, tableName);
}

/** Runs `fn` with process.env extended by `env`, restoring it afterwards. */
export async function withEnv<T>(env: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = { ...process.env };
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  try {
    return await fn();
  } finally {
    process.env = saved;
  }
}

export interface Stack {
  org: OrganizationsEmulator;
  db: DynamoDbLocal;
  /** A fresh table per call, so tests sharing one DynamoDB Local never see each other's items. */
  newTable(): Promise<string>;
  /** A new emulator with these handshakes (the previous one is stopped). */
  reseed(handshakes: readonly EmulatorHandshake[], faults?: EmulatorFaults): Promise<OrganizationsEmulator>;
  stop(): Promise<void>;
}

export async function startStack(
  handshakes: readonly EmulatorHandshake[],
  faults?: EmulatorFaults,
): Promise<Stack> {
  const [org, db] = await Promise.all([
    startOrganizationsEmulator({ handshakes, ...(faults ? { faults } : {}) }),
    startDynamoDbLocal(),
  ]);
  const stack: Stack = {
    org,
    db,
    async newTable() {
      const tableName = `janitor-test-${randomUUID().slice(0, 8)}`;
      await ensureLocalAuditTable(db.endpoint, tableName);
      return tableName;
    },
    async reseed(next, nextFaults) {
      await stack.org.stop();
      stack.org = await startOrganizationsEmulator({
        handshakes: next,
        ...(nextFaults ? { faults: nextFaults } : {}),
      });
      return stack.org;
    },
    async stop() {
      await Promise.all([stack.org.stop(), db.stop()]);
    },
  };
  return stack;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const TSX = new URL("../../node_modules/.bin/tsx", import.meta.url).pathname;
const BIN = new URL("../../src/cli/bin.ts", import.meta.url).pathname;

/** Runs the CLI as its users do: a separate process, environment in, exit code and text out. */
export function runCli(args: string[], env: Record<string, string>, timeoutMs = 120_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      TSX,
      [BIN, ...args],
      { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
