import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect, test } from "vitest";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));

test("npm scripts get the Node major that .nvmrc and the node devDependency declare, whatever the system Node", () => {
  const nvmrc = Number(readFileSync(new URL("../../.nvmrc", import.meta.url), "utf8").trim());
  const pinned = Number(/(\d+)/.exec(pkg.devDependencies.node)?.[1]);
  // The node that npm puts first on PATH for every script, asked itself: not the one running this.
  const installed = execFileSync(fileURLToPath(new URL("../../node_modules/.bin/node", import.meta.url)), [
    "-p",
    "process.versions.node",
  ]).toString();

  expect(pinned).toBe(nvmrc);
  expect(Number(installed.split(".")[0])).toBe(nvmrc);
});

test("engines names the oldest Node the packed CLI supports, no newer than the one the scripts run on", () => {
  // The repository's own scripts run on the pinned Node; the installed command is a bundle that
  // runs on older ones too (test/integration/package.test.ts runs it on the system's Node 20).
  const oldest = Number(/^>=(\d+)$/.exec(pkg.engines.node)?.[1]);
  const nvmrc = Number(readFileSync(new URL("../../.nvmrc", import.meta.url), "utf8").trim());

  expect(oldest).toBe(20);
  expect(oldest).toBeLessThanOrEqual(nvmrc);
});
