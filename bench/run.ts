import { readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import type { BenchRow } from "./lib.js";
import { SCENARIOS } from "./scenarios/index.js";

/**
 * `npm run bench`: runs every scenario against the local stack and writes each one's tables into
 * docs/performance.md, between that scenario's markers, with the date and the machine they were
 * measured on. A benchmark, not a test: it reports numbers and asserts nothing.
 *
 * Scenarios are listed in bench/scenarios/index.ts; each exports `scenario: Scenario`.
 * `npm run bench -- NAME…` runs only the named ones and rewrites only their tables.
 */
export const PERFORMANCE_PAGE = fileURLToPath(new URL("../docs/performance.md", import.meta.url));

export function markers(name: string): { start: string; end: string } {
  return { start: `<!-- bench:${name}:start -->`, end: `<!-- bench:${name}:end -->` };
}

function cell(value: number | string | undefined): string {
  if (typeof value !== "number") return value ?? "";
  if (Number.isInteger(value)) return String(value);
  return value.toFixed(value < 10 ? 3 : 1);
}

export function renderRows(rows: readonly BenchRow[]): string {
  const lines: string[] = [];
  const byScenario = new Map<string, BenchRow[]>();
  for (const row of rows) byScenario.set(row.scenario, [...(byScenario.get(row.scenario) ?? []), row]);
  for (const [scenario, group] of byScenario) {
    const keys = [...new Set(group.flatMap((r) => Object.keys(r.metrics)))];
    lines.push(
      `**${scenario}**`,
      "",
      `| variant | ${keys.join(" | ")} |`,
      `|---|${keys.map(() => "---:").join("|")}|`,
    );
    for (const row of group)
      lines.push(`| ${row.variant} | ${keys.map((k) => cell(row.metrics[k])).join(" | ")} |`);
    lines.push("");
  }
  return lines.join("\n");
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
  /** One-minute load average when the scenario started and when it ended. */
  load: [number, number];
}

export function thisMachine(loadBefore: number): Machine {
  return {
    cpu: cpus()[0]?.model.trim() ?? "unknown CPU",
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
    load: [loadBefore, loadavg()[0] ?? 0],
  };
}

/** The line above a scenario's tables: when, how, and on what, with the load that shared it. */
export function provenance(name: string, day: string, machine: Machine): string {
  const [before, after] = machine.load.map((load) => load.toFixed(1));
  const shared =
    Math.max(...machine.load) > machine.cores
      ? ": more than the cores, so other work shared the machine and times are longer than on an idle one"
      : "";
  return (
    `_Measured on ${day} by \`npm run bench -- ${name}\` (or \`npm run bench\`): Node ${machine.node}, ` +
    `${machine.platform}, ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB; ` +
    `load average ${before} at the start and ${after} at the end${shared}._`
  );
}

/** The page with one scenario's block replaced; the markers must be there, once each. */
export function replaceBlock(page: string, name: string, block: string): string {
  const { start, end } = markers(name);
  const from = page.indexOf(start);
  const to = page.indexOf(end);
  if (from === -1 || to < from || page.indexOf(start, from + 1) !== -1) {
    throw new Error(`docs/performance.md needs the markers ${start} … ${end}, once each`);
  }
  return `${page.slice(0, from + start.length)}\n${block.trim()}\n${page.slice(to)}`;
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const names = wanted.length > 0 ? wanted : Object.keys(SCENARIOS);
  const unknown = names.filter((name) => !SCENARIOS[name]);
  if (unknown.length > 0) {
    throw new Error(
      `unknown scenario '${unknown.join("', '")}' (known: ${Object.keys(SCENARIOS).join(", ")})`,
    );
  }
  // Checked before anything runs: a page without a scenario's markers fails now, not an hour in.
  for (const name of names) replaceBlock(readFileSync(PERFORMANCE_PAGE, "utf8"), name, "");
  for (const name of names) {
    const load = SCENARIOS[name];
    if (!load) continue;
    process.stderr.write(`bench: ${name}…\n`);
    const loadBefore = loadavg()[0] ?? 0;
    const { scenario } = await load();
    const rows = await scenario.run();
    const day = new Date().toISOString().slice(0, 10);
    const block = `${provenance(name, day, thisMachine(loadBefore))}\n\n${renderRows(rows)}`;
    process.stdout.write(`${block}\n`);
    // Written after each scenario, so a later one that fails keeps what the earlier ones measured.
    writeFileSync(PERFORMANCE_PAGE, replaceBlock(readFileSync(PERFORMANCE_PAGE, "utf8"), name, block));
  }
  process.stderr.write(`bench: wrote ${names.join(", ")} into docs/performance.md\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  });
}
