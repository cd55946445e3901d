import { chmod, rm } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { artifactBuildOptions, ROOT } from "./build.js";

/** bin in package.json names this file; `files` packs it. */
export const CLI_DIR = path.join(ROOT, "dist/cli");
export const CLI_FILE = path.join(CLI_DIR, "handshake-janitor.js");

/**
 * The installable CLI: src/cli/bin.ts and everything it imports (the AWS SDK, yaml) in one
 * ES module for Node 20 or later, so the package needs no dependency at install time. It is built
 * as the Lambda artifact is (the same names kept), as one file.
 *
 * The demo is left out: it runs the repository's local emulator and DynamoDB Local through Java.
 * main.ts imports it only when asked for, and says what it needs when the import finds nothing.
 */
export async function buildCli(): Promise<string> {
  await rm(CLI_DIR, { recursive: true, force: true });
  const options = artifactBuildOptions({
    entry: path.join(ROOT, "src/cli/bin.ts"),
    entryName: path.parse(CLI_FILE).name,
    outdir: CLI_DIR,
    split: false,
  });
  await build({
    ...options,
    // Node 20 is the oldest release the installed command supports (package.json engines).
    target: "node20",
    banner: {
      // On Node 20 the SDK warns, at every command, that its releases after January 2027 need
      // Node 22. This command carries its own SDK, the one it was tested with, and cannot update
      // it; the warning stays available to whoever sets the variable to anything else.
      js: `${options.banner?.js ?? ""}process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED??="true";`,
    },
    external: ["../../devtools/demo.js"],
    // One file to install: a stack trace names the functions (keepNames) without a map.
    sourcemap: false,
    metafile: false,
    // bin.ts's own `#!/usr/bin/env node` line stays first; esbuild keeps an entry's hashbang.
  });
  await chmod(CLI_FILE, 0o755);
  return CLI_FILE;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.stdout.write(`built ${path.relative(ROOT, await buildCli())}\n`);
}
