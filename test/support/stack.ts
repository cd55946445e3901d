import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { type IncomingMessage, request } from "node:http";
import { type AttributeValue, type DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { inject } from "vitest";
import { type DynamoDbLocal, startDynamoDbLocal } from "../../devtools/dynamodb-local.js";
import {
  type EmulatorFaults,
  type EmulatorHandshake,
  type OrganizationsEmulator,
  startOrganizationsEmulator,
} from "../../devtools/org-emulator/index.js";
import { ensureLocalAuditTable, localDynamoDbClient, localStackEnv } from "../../devtools/stack-env.js";
import { type CliIo, outBlock } from "../../src/cli/io.js";
import { invoke } from "../../src/cli/main.js";

export { localDynamoDbClient } from "../../devtools/stack-env.js";

/** `act` with a client of the DynamoDB server at `endpoint`, as a test reads or edits a table directly. */
export async function withDynamoDb<T>(
  endpoint: string,
  act: (client: DynamoDBClient) => Promise<T>,
): Promise<T> {
  const client = localDynamoDbClient(endpoint);
  try {
    return await act(client);
  } finally {
    client.destroy();
  }
}

/** Every item of a table, as stored, read page by page (a test's table: at most 100 pages). */
export async function scanTable(
  client: DynamoDBClient,
  tableName: string,
): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  let from: Record<string, AttributeValue> | undefined;
  for (let page = 0; page < 100; page += 1) {
    const answer = await client.send(
      new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: from }),
    );
    items.push(...(answer.Items ?? []));
    from = answer.LastEvaluatedKey;
    if (from === undefined) break;
  }
  return items;
}

/**
 * A DynamoDB Local client whose chain transactions (TransactWriteItems) fail with a 500 while
 * `failing(true)` is in force: the audit store's items are stored, their chain links are not.
 */
export function chainFailingClient(endpoint: string): { client: DynamoDBClient; failing(on: boolean): void } {
  let on = false;
  const client = localDynamoDbClient(endpoint, (name) => {
    if (on && name === "TransactWriteItemsCommand") {
      throw Object.assign(new Error("chain write failed"), {
        name: "InternalServerError",
        $metadata: { httpStatusCode: 500 },
      });
    }
  });
  return {
    client,
    failing: (value) => {
      on = value;
    },
  };
}

/** The environment the CLI and the handler read: SDK endpoint variables, dummy credentials, the table. */
export function stackEnv(
  org: OrganizationsEmulator,
  db: DynamoDbLocal,
  tableName: string,
): Record<string, string> {
  return localStackEnv({ organizations: org.endpoint, dynamodb: db.endpoint }, tableName);
}

/**
 * The run's DynamoDB Local, started once by test/support/global-setup.ts; its stop() does nothing,
 * as other files are still using it (the global teardown stops it). Where no run-wide server was
 * provided (a file run under another config), one of the caller's own, which its
 * stop() ends. Tests keep apart by using tables of their own.
 */
export async function sharedDynamoDbLocal(): Promise<DynamoDbLocal> {
  const shared = inject("sharedDynamoDbLocal");
  if (shared === undefined) return startDynamoDbLocal();
  return { ...shared, stop: async () => {} };
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
    sharedDynamoDbLocal(),
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

const ROOT = new URL("../..", import.meta.url).pathname;
const TSX = `${ROOT}node_modules/.bin/tsx`;
const BIN = `${ROOT}src/cli/bin.ts`;

/**
 * The arguments for `process.execPath` that run the CLI in one Node process: the bundle that
 * global-setup.ts built from src/cli/bin.ts, or, without one, the source under tsx's loader.
 */
export function cliNodeArgs(args: readonly string[]): string[] {
  const bundle = inject("cliBundle");
  return bundle === undefined ? ["--import", "tsx", BIN, ...args] : [bundle, ...args];
}

function execCli(
  command: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs: number,
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * Runs the CLI's main() in this process, as bin.ts does, with its output, errors and environment
 * its own: exactly `env`, nothing inherited. Argument parsing, settings, wiring, the commands and
 * error reporting all run as in a process of their own, without the second or so of CPU a new
 * Node process takes to load the SDK. runCliProcess is the CLI as users start it.
 */
export async function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    out: (text) => {
      stdout += outBlock(text);
    },
    err: (text) => {
      stderr += text;
    },
    env: { ...env },
  };
  const code = await invoke([...args], io);
  return { code, stdout, stderr };
}

/**
 * Runs the CLI as its users do: a separate process, environment in, exit code and text out. The
 * process runs the CLI built once for the test run (see cliNodeArgs); runCliFromSource runs it
 * the way `npm run janitor` does.
 */
export function runCliProcess(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 120_000,
): Promise<CliResult> {
  return execCli(process.execPath, cliNodeArgs(args), env, timeoutMs);
}

/** The CLI as `npm run janitor` starts it: tsx compiling src/cli/bin.ts. Slower; for a smoke test. */
export function runCliFromSource(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 120_000,
): Promise<CliResult> {
  return execCli(TSX, [BIN, ...args], env, timeoutMs);
}

/**
 * Runs `fn` while holding the run-wide lock `name`, so that test files in parallel workers take
 * turns at something they share on disk (see the lock service in global-setup.ts). Without the
 * service (a file run under another config) there is no other worker: `fn` runs.
 */
export async function exclusively<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const service = inject("lockService");
  if (service === undefined) return fn();
  const held = request(`${service}/${encodeURIComponent(name)}`, { method: "POST", agent: false });
  held.end();
  try {
    const [response] = (await once(held, "response")) as [IncomingMessage];
    if (response.statusCode !== 200) throw new Error(`lock ${name}: HTTP ${response.statusCode}`);
    return await fn();
  } finally {
    held.destroy();
  }
}
