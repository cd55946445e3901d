import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { BenchRow } from "./lib.js";
import { SCENARIOS } from "./scenarios/index.js";

/**
 * `npm run bench`: runs every scenario against the local stack, prints one table and writes it
 * to bench/RESULTS.md. A benchmark, not a test: it reports numbers and asserts nothing.
 *
 * Scenarios are listed in bench/scenarios/index.ts; each exports `scenario: Scenario`.
 * `npm run bench -- NAME…` runs only the named ones.
 */
function renderRows(rows: BenchRow[]): string {
  const lines: string[] = [];
  const byScenario = new Map<string, BenchRow[]>();
  for (const row of rows) byScenario.set(row.scenario, [...(byScenario.get(row.scenario) ?? []), row]);
  for (const [scenario, group] of byScenario) {
    const keys = [...new Set(group.flatMap((r) => Object.keys(r.metrics)))];
    lines.push(
      `### ${scenario}`,
      "",
      `| variant | ${keys.join(" | ")} |`,
      `|---|${keys.map(() => "---:").join("|")}|`,
    );
    for (const row of group) {
      const cells = keys.map((k) => {
        const v = row.metrics[k];
        return typeof v === "number"
          ? Number.isInteger(v)
            ? String(v)
            : v.toFixed(v < 10 ? 3 : 1)
          : (v ?? "");
      });
      lines.push(`| ${row.variant} | ${cells.join(" | ")} |`);
    }
    lines.push("");
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const names = wanted.length > 0 ? wanted : Object.keys(SCENARIOS);
  const rows: BenchRow[] = [];
  for (const name of names) {
    const load = SCENARIOS[name];
    if (!load) throw new Error(`unknown scenario '${name}' (known: ${Object.keys(SCENARIOS).join(", ")})`);
    process.stderr.write(`bench: ${name}…\n`);
    const { scenario } = await load();
    rows.push(...(await scenario.run()));
  }
  const header = [
    "# Benchmark results",
    "",
    `Produced by \`npm run bench${wanted.length > 0 ? ` -- ${wanted.join(" ")}` : ""}\` on ${new Date().toISOString().slice(0, 10)},`,
    `Node ${process.version}, ${process.platform}/${process.arch}. Medians where a scenario repeats.`,
    "",
  ].join("\n");
  const text = `${header}\n${renderRows(rows)}`;
  process.stdout.write(`${text}\n`);
  if (wanted.length === 0) {
    writeFileSync(fileURLToPath(new URL("./RESULTS.md", import.meta.url)), text);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  });
}
