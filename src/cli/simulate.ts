/**
 * `simulate --config NEW.yaml`: what another config would have decided over the handshake
 * ledger's history (src/policy/simulate.ts). It reads the ledger by Query, calls nothing on
 * Organizations and writes nothing: how a team reviews a change to its rules before merging it.
 */
import { wire } from "../app.js";
import { configHash, loadConfig } from "../config/config.js";
import { ConfigError } from "../domain/errors.js";
import { SIMULATED_CHANGES, type SimulatedDifference, simulate } from "../policy/simulate.js";
import type { LedgerJudgement, LedgerRecord } from "../ports/ledger.js";
import { defineCommand, oneOf, parseCommandArgs } from "./args.js";
import * as shared from "./audit-shared.js";
import { ExitCode } from "./exit-codes.js";
import type { CliIo } from "./io.js";

const SIMULATE_FORMATS = ["table", "json"] as const;

export const SIMULATE = defineCommand({
  name: "simulate",
  summary: "what another config would have decided over the ledger's history; calls nothing, writes nothing",
  options: {
    config: {
      type: "string",
      value: "FILE",
      required: true,
      description: "the config to try, YAML or JSON (required)",
    },
    ...shared.PERIOD_OPTIONS,
    format: {
      type: "string",
      value: "F",
      description: "table (default, for people) or json (one object per line, for CI)",
    },
  },
  details: [
    "Each handshake requested in the period is judged as the ledger first saw it, under FILE, as of when it was first seen: a stale rule ages it from its request to that moment, not to now. Only what differs from the verdict recorded then is printed: newly selected, no longer selected, a different rule, an exemption that would apply or no longer apply.",
    "Handshakes the ledger could not read in full are left out and counted on stderr.",
    shared.PERIOD_NOTE,
  ],
  exitCodes: "0 simulated (differences or none); 1 error; 2 invalid config or arguments",
  environment: shared.TABLE_ENV,
});

function judgement(j: LedgerJudgement): string {
  if (j.verdict === "selected") return `selected by ${j.ruleId ?? "?"} (${j.selection ?? "?"})`;
  if (j.verdict === "exempted") return `exempted (${j.exemption ?? "?"})`;
  return j.verdict ?? "?";
}

export async function simulateCommand(argv: string[], io: CliIo): Promise<number> {
  const args = parseCommandArgs(SIMULATE, argv).values;
  const issues: string[] = [];
  const range = shared.period(args, issues);
  const format = oneOf("--format", args.format, SIMULATE_FORMATS, issues) ?? "table";
  if (!args.config) issues.push("--config: required (the config to try)");
  const config = args.config
    ? await loadConfig(args.config).catch((error: unknown) => {
        if (!(error instanceof ConfigError)) throw error;
        issues.push(...error.issues);
        return undefined;
      })
    : undefined;
  const settings = shared.settingsOrIssues(io.env, issues);
  if (issues.length > 0 || range === undefined || config === undefined) throw new ConfigError(issues);
  const { audit } = wire(settings);
  const records: LedgerRecord[] = [];
  let unreadable = 0;
  for await (const record of audit.queryPopulation(range)) {
    if (record.unreadable === undefined) records.push(record);
    else unreadable += 1;
  }
  const differences: SimulatedDifference[] = simulate(records, config, configHash(config));
  if (format === "json") {
    io.out(
      shared.render(
        differences.map((d) => ({ ...d })),
        "json",
        [],
        [],
        "",
      ),
    );
  } else {
    const counts = SIMULATED_CHANGES.map(
      (change) => [change, differences.filter((d) => d.change === change).length] as const,
    )
      .filter(([, n]) => n > 0)
      .map(([change, n]) => `${change} ${n}`);
    io.out(
      `${records.length} handshakes requested in the period judged under ${args.config}: ${counts.length === 0 ? "no difference" : counts.join(", ")}`,
    );
    if (differences.length > 0) {
      const rows = differences.map((d) => ({
        handshakeId: d.handshakeId,
        requestedAt: d.requestedAt,
        target: d.target,
        change: d.change,
        was: judgement(d.was),
        would: judgement(d.would),
      }));
      const columns = ["handshakeId", "requestedAt", "target", "change", "was", "would"];
      io.out(shared.render(rows, "table", columns, columns, ""));
    }
  }
  shared.warnUnreadable(io, unreadable);
  return ExitCode.Done;
}
