import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, type Plugin } from "esbuild";
import type { BrowserServer } from "playwright-core";
import type { TestProject } from "vitest/node";
import { startDynamoDbLocal } from "../../devtools/dynamodb-local.js";
import { artifactBuildOptions } from "../../scripts/build.js";
import { launchOfflineChromiumServer } from "../../scripts/chromium.js";
import { CHROMIUM_PATH } from "./run-services.js";

/** What the integration tests share for the whole run; see stack.ts for how they use it. */
export interface SharedDynamoDbLocal {
  endpoint: string;
  port: number;
  pid: number;
}

declare module "vitest" {
  export interface ProvidedContext {
    /** One DynamoDB Local for every test file of the run; each test makes tables of its own. */
    sharedDynamoDbLocal: SharedDynamoDbLocal | undefined;
    /** The CLI built once from src/cli/bin.ts, for `node <file>`; see runCliProcess. */
    cliBundle: string | undefined;
    /** A directory of this run's own under .tmp/, removed at its end; see packagedOnce. */
    runDir: string | undefined;
    /** `http://127.0.0.1:<port>` of the run's lock service; see `exclusively` in stack.ts. */
    lockService: string | undefined;
  }
}

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI_ENTRY = join(ROOT, "src/cli/bin.ts");

/**
 * A module reads files beside its source through `import.meta.url` (the demo's config, DynamoDB
 * Local's launcher); in one bundle every module would get the bundle's URL. Each of the janitor's
 * own modules keeps the URL of its source file instead, so the bundle finds what tsx would.
 */
const sourceUrls: Plugin = {
  name: "source-import-meta-url",
  setup(pluginBuild) {
    pluginBuild.onLoad({ filter: /\.ts$/ }, (args) => ({
      contents: readFileSync(args.path, "utf8").replaceAll(
        "import.meta.url",
        JSON.stringify(pathToFileURL(args.path).href),
      ),
      loader: "ts",
    }));
  },
};

/**
 * The CLI compiled once for the run, as the installed command is built (scripts/build-cli.ts: one
 * file with the SDK inside, which a new process loads in about half the time of resolving its
 * hundreds of modules from node_modules), with the demo and its local tools included. Spawning
 * `tsx src/cli/bin.ts` would compile the TypeScript and start a second Node process at every call.
 * The bundle lives in the repository's ignored .tmp/, where the packages the demo's tools look up
 * at run time (DynamoDB Local's jar) resolve from node_modules as they do from the source.
 */
async function buildCli(): Promise<{ file: string; dir: string }> {
  const parent = join(ROOT, ".tmp");
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(join(parent, "test-cli-"));
  const options = artifactBuildOptions({ entry: CLI_ENTRY, entryName: "bin", outdir: dir, split: false });
  await build({
    ...options,
    outExtension: { ".js": ".mjs" },
    // Beside the bundle, read only under --enable-source-maps: an inline map would be parsed at
    // every start.
    sourcemap: "linked",
    metafile: false,
    logLevel: "error",
    plugins: [...(options.plugins ?? []), sourceUrls],
  });
  return { file: join(dir, "bin.mjs"), dir };
}

/**
 * Named locks for test files running in parallel workers that share something on disk (the
 * serverless build writes dist/sweep). A request for /<name> is answered with its headers once
 * the lock is free, and holds it until the client closes the connection, which a worker that dies
 * does too; waiting requests are granted in order. At CHROMIUM_PATH it answers with the address of
 * the run's one browser instead. Listens on 127.0.0.1 only.
 */
async function startLockService(): Promise<{ url: string; stop: () => Promise<void> }> {
  const queues = new Map<string, ServerResponse[]>();
  const grant = (queue: ServerResponse[]) => {
    const next = queue[0];
    if (next === undefined) return;
    next.writeHead(200, { "content-type": "text/plain" });
    next.flushHeaders();
  };
  let browser: Promise<BrowserServer> | undefined;
  const server = createServer((request, response) => {
    if (request.url === CHROMIUM_PATH) {
      // Started on the first request: a run without a browser test starts no browser.
      browser ??= launchOfflineChromiumServer();
      browser.then(
        (started) => response.end(started.wsEndpoint()),
        (error: unknown) => {
          response.writeHead(500).end(String(error));
        },
      );
      request.resume();
      return;
    }
    const name = request.url ?? "/";
    const queue = queues.get(name) ?? [];
    queues.set(name, queue);
    queue.push(response);
    response.on("close", () => {
      const index = queue.indexOf(response);
      if (index === -1) return;
      queue.splice(index, 1);
      if (index === 0) grant(queue);
    });
    if (queue.length === 1) grant(queue);
    request.resume();
  });
  server.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      await (await browser?.catch(() => undefined))?.close();
    },
  };
}

/**
 * Whether the run has integration files, the only ones that use what setup() starts. Vitest has
 * collected the run's paths when it calls setup(); its State API is experimental, so when it
 * answers nothing the servers start anyway rather than a test finding none.
 */
function runsIntegrationFiles(project: TestProject): boolean {
  const integration = join(ROOT, "test/integration") + sep;
  const paths = project.vitest.state.getPaths();
  return paths.length === 0 || paths.some((path) => path.startsWith(integration));
}

/**
 * Runs once before the tests: one DynamoDB Local (a JVM takes seconds of CPU to start, so not one
 * per file), the CLI bundle and the lock service, handed to the test files with `provide`. A run
 * of unit files alone starts none of them.
 */
export async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (!runsIntegrationFiles(project)) return async () => {};
  const [started, built, locking] = await Promise.allSettled([
    startDynamoDbLocal(),
    buildCli(),
    startLockService(),
  ]);
  const stop = async () => {
    if (started.status === "fulfilled") await started.value.stop();
    if (built.status === "fulfilled") rmSync(built.value.dir, { recursive: true, force: true });
    if (locking.status === "fulfilled") await locking.value.stop();
  };
  if (started.status === "rejected" || built.status === "rejected" || locking.status === "rejected") {
    await stop();
    throw [started, built, locking].find((result) => result.status === "rejected")?.reason;
  }
  const db = started.value;
  project.provide("sharedDynamoDbLocal", { endpoint: db.endpoint, port: db.port, pid: db.pid });
  project.provide("cliBundle", built.value.file);
  project.provide("runDir", built.value.dir);
  project.provide("lockService", locking.value.url);
  return stop;
}
