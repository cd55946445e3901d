import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, test } from "vitest";
import { loadConfig } from "../../src/config/config.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "janitor-pack-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(command: string, args: string[], env: NodeJS.ProcessEnv, cwd = ROOT) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      command,
      args,
      { cwd, env, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

/** The machine's own node, not the one the `node` devDependency put first on the npm scripts' PATH. */
function systemNode(): string {
  const found = execFileSync("which", ["-a", "node"], {
    env: { PATH: "/usr/local/bin:/usr/bin:/bin" },
    encoding: "utf8",
  })
    .split("\n")
    .filter((path) => path !== "" && !realpathSync(path).startsWith(ROOT));
  const first = found[0];
  if (first === undefined) throw new Error("no system node on /usr/local/bin:/usr/bin:/bin");
  return first;
}

test("npm pack gives a package whose handshake-janitor command works with the system's Node 20+", async () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  const pack = await run("npm", ["pack", "--json", "--pack-destination", work], process.env);
  expect(pack.code, pack.stderr).toBe(0);
  // prepack's own output comes before npm's JSON.
  const [packed] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf("[\n")));
  const files = packed.files.map((file: { path: string }) => file.path).sort();
  expect(files).toEqual([...pkg.files, "package.json", "README.md"].sort());
  expect(pkg.dependencies ?? {}).toEqual({});

  const prefix = join(work, "prefix");
  const install = await run(
    "npm",
    [
      "install",
      "-g",
      "--prefix",
      prefix,
      "--offline",
      "--no-audit",
      "--no-fund",
      join(work, packed.filename),
    ],
    process.env,
  );
  expect(install.code, install.stderr).toBe(0);
  expect(existsSync(join(prefix, "lib/node_modules/handshake-janitor/node_modules"))).toBe(false);

  const node = systemNode();
  const PATH = `${dirname(node)}:/usr/bin:/bin`;
  const version = execFileSync("node", ["--version"], { env: { PATH }, encoding: "utf8" }).trim();
  expect(Number(/^v(\d+)\./.exec(version)?.[1])).toBeGreaterThanOrEqual(20);
  const bin = join(prefix, "bin/handshake-janitor");
  const env = { PATH, HOME: work };

  const help = await run(bin, ["--help"], env, work);
  const check = await run(
    bin,
    ["config", "check", "--config", join(ROOT, "examples/janitor.yaml")],
    env,
    work,
  );
  const demo = await run(bin, ["demo"], env, work);
  // Builds the SDK clients (whose Node 20 notice is off in this build) and fails on the closed port.
  const query = await run(
    bin,
    ["audit", "query"],
    {
      ...env,
      AUDIT_TABLE_NAME: "handshake-janitor-test-audit",
      AWS_ENDPOINT_URL_DYNAMODB: "http://127.0.0.1:1",
      AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local",
      AWS_REGION: "us-east-1",
    },
    work,
  );

  expect(help.code, `${version}: ${help.stderr}`).toBe(0);
  expect(help.stdout).toMatch(/^handshake-janitor: cancels AWS Organizations handshakes/);
  expect(check.code, `${version}: ${check.stderr}`).toBe(0);
  for (const rule of (await loadConfig(join(ROOT, "examples/janitor.yaml"))).rules) {
    expect(check.stdout).toContain(rule.id);
  }
  expect(query.code).toBe(1);
  expect(query.stderr).toMatch(/^error: JanitorError: audit query byTime failed: [^\n]*\n$/);
  expect(demo.code).toBe(1);
  expect(demo.stderr).toMatch(/^demo: not part of the installed command: .*npm ci && npm start\n$/);
}, 300_000);
