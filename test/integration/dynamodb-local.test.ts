import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  compiledLauncherDir,
  type DynamoDbLocal,
  dynamoDbLocalCommand,
  startDynamoDbLocal,
} from "../../devtools/dynamodb-local.js";

/** Local addresses in LISTEN state for `port`, from the kernel's own socket tables. */
function listeningAddresses(port: number): string[] {
  const addresses: string[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const lines = readFileSync(file, "utf8").trim().split("\n").slice(1);
    for (const line of lines) {
      const [, local, , state] = line.trim().split(/\s+/);
      const [hexAddress, hexPort] = (local ?? "").split(":");
      if (state !== "0A" || hexAddress === undefined || Number.parseInt(hexPort ?? "", 16) !== port) continue;
      addresses.push(decodeAddress(hexAddress));
    }
  }
  return addresses;
}

/** /proc/net/tcp* print each 32-bit word of the address in host (little-endian) order. */
function decodeAddress(hex: string): string {
  const bytes = (hex.match(/.{8}/g) ?? []).flatMap((word) => (word.match(/../g) ?? []).reverse());
  if (bytes.length === 4) return bytes.map((byte) => Number.parseInt(byte, 16)).join(".");
  const groups: string[] = [];
  for (let i = 0; i < bytes.length; i += 2) groups.push(`${bytes[i]}${bytes[i + 1]}`);
  return groups.join(":");
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("startDynamoDbLocal", () => {
  let db: DynamoDbLocal;
  let client: DynamoDBClient;

  beforeAll(async () => {
    db = await startDynamoDbLocal();
    client = new DynamoDBClient({
      endpoint: db.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
      maxAttempts: 1,
    });
  });

  afterAll(async () => {
    client?.destroy();
    await db?.stop();
  });

  it("serves the DynamoDB API at the endpoint it reports", async () => {
    const result = await client.send(new ListTablesCommand({}));

    expect(db.endpoint).toBe(`http://127.0.0.1:${db.port}`);
    expect(result.TableNames).toEqual([]);
  });

  it("listens on the loopback address only", () => {
    const addresses = listeningAddresses(db.port);

    expect(addresses).toEqual(["127.0.0.1"]);
  });

  it("runs the launcher compiled once, not its source, which Java would compile at every start", async () => {
    const classDir = await compiledLauncherDir();

    expect(classDir).toBeDefined();
    expect(existsSync(join(classDir ?? "", "DynamoDbLocalLoopback.class"))).toBe(true);
    expect(await compiledLauncherDir()).toBe(classDir);
    const { args } = dynamoDbLocalCommand({ launcherClassDir: classDir ?? "" });
    expect(args.some((arg) => arg.endsWith(".java"))).toBe(false);
    expect(args).toContain("DynamoDbLocalLoopback");
    expect(args[args.indexOf("-cp") + 1]?.startsWith(classDir ?? "?")).toBe(true);
    expect(readFileSync(`/proc/${db.pid}/cmdline`, "utf8").split("\0")).toContain("DynamoDbLocalLoopback");
  });

  it("reports a start that does not finish in time, with the process ended", async () => {
    await expect(startDynamoDbLocal({ startupTimeoutMs: 1 })).rejects.toThrow(
      /did not report listening within 1 ms/,
    );
  });

  // Last in this block: it stops the server the tests above used (afterAll's stop is then a no-op).
  it("ends the Java process on stop", async () => {
    expect(isAlive(db.pid)).toBe(true);

    await db.stop();

    expect(isAlive(db.pid)).toBe(false);
    await expect(db.stop()).resolves.toBeUndefined();
  });
});

describe("the loopback launcher", () => {
  it("exits by itself when its stdin closes, as it does when the parent dies", async () => {
    // The compiled launcher, as every start runs it: the source form differs only in who compiles
    // the class, and would cost this test a compilation.
    const launcherClassDir = await compiledLauncherDir();
    expect(launcherClassDir).toBeDefined();
    const { command, args } = dynamoDbLocalCommand({ launcherClassDir: launcherClassDir ?? "" });
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "inherit"] });
    const exit = once(child, "exit");
    const lines = createInterface({ input: child.stdout });
    const ready = new Promise<string>((resolve) => {
      lines.on("line", (line) => {
        if (line.startsWith("DYNAMODB_LOCAL_LISTENING ")) resolve(line);
      });
    });
    await expect(ready).resolves.toMatch(/^DYNAMODB_LOCAL_LISTENING 127\.0\.0\.1:\d+$/);

    child.stdin.end();
    const [code, signal] = await exit;

    expect({ code, signal }).toEqual({ code: 0, signal: null });
  });
});
