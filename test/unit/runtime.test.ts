import { readFileSync } from "node:fs";
import { expect, test } from "vitest";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));

test("npm scripts run on the Node major that package.json and .nvmrc declare, whatever the system Node", () => {
  const declared = Number(/(\d+)/.exec(pkg.engines.node)?.[1]);
  const nvmrc = Number(readFileSync(new URL("../../.nvmrc", import.meta.url), "utf8").trim());
  const running = Number(process.versions.node.split(".")[0]);

  expect(nvmrc).toBe(declared);
  expect(running).toBe(declared);
  expect(Number(/(\d+)/.exec(pkg.devDependencies.node)?.[1])).toBe(declared);
});
