import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * `npm run test:durations`: after an `npm test` on an idle machine, records each test file's
 * duration from Vitest's cache into test/durations.json, which orders the files of a run that has
 * no durations of its own (a fresh clone; see test/support/sequencer.ts).
 */
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CACHE = join(ROOT, "node_modules/.vite/vitest");

const newest = readdirSync(CACHE)
  .map((dir) => join(CACHE, dir, "results.json"))
  .filter((file) => statSync(file, { throwIfNoEntry: false })?.isFile())
  .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
if (newest === undefined) throw new Error(`no test results in ${CACHE}: run npm test first`);
const { results } = JSON.parse(readFileSync(newest, "utf8")) as {
  results: [string, { duration?: number }][];
};
// Vitest keys a result by `<project name>:<path>` and keeps results of files and project names
// that are gone; test/durations.json keys by path, for the files there are.
const seconds: Record<string, number> = {};
for (const [key, result] of results.sort(([a], [b]) => a.localeCompare(b))) {
  const path = key.slice(key.indexOf(":") + 1);
  if (typeof result.duration !== "number" || !existsSync(join(ROOT, path))) continue;
  if (path in seconds) {
    throw new Error(
      `${newest} holds ${path} twice (an earlier project name): remove ${CACHE} and run npm test again`,
    );
  }
  seconds[path] = Math.round(result.duration / 100) / 10;
}
writeFileSync(join(ROOT, "test/durations.json"), `${JSON.stringify(seconds, null, 2)}\n`);
process.stdout.write(`recorded ${Object.keys(seconds).length} files in test/durations.json\n`);
