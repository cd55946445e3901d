import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Handshake as SdkHandshake } from "@aws-sdk/client-organizations";
import { expect } from "vitest";
import { DEMO_CONFIG } from "../../devtools/demo.js";
import type { EmulatorHandshake } from "../../devtools/org-emulator/index.js";
import { createAuditStore } from "../../src/aws/audit/index.js";
import { createClients } from "../../src/aws/clients.js";
import { toHandshake } from "../../src/aws/organizations.js";
import { type JanitorConfig, loadConfig } from "../../src/config/config.js";
import type { Outcome } from "../../src/domain/outcomes.js";
import { plan } from "../../src/policy/plan.js";
import type { AuditAction } from "../../src/ports/records.js";
import { loadSettings } from "../../src/settings.js";

/** Outcomes after which a selected handshake needs nothing more from any run. */
export const FINAL_OUTCOMES: readonly Outcome[] = ["CANCELED", "ALREADY_CLOSED", "STATE_CHANGED"];

/**
 * The demo's rules with a cap high enough for the larger organizations of these tests, written to
 * `dir`; the cap is not what they are about.
 */
export function uncappedDemoConfig(dir: string): string {
  const path = join(dir, "janitor-uncapped.yaml");
  const text = readFileSync(DEMO_CONFIG, "utf8").replace(
    /maxCancellationsPerRun: \d+/,
    "maxCancellationsPerRun: 500",
  );
  writeFileSync(path, text);
  return path;
}

/** What the rules select from these handshakes, by the pure planner: the ids to be canceled. */
export function selectedIds(
  handshakes: EmulatorHandshake[],
  config: JanitorConfig,
  now = new Date(),
): string[] {
  const decided = plan({ handshakes: handshakes.map((h) => toHandshake(h as SdkHandshake)), config, now });
  if (decided.blocked) throw new Error("the test organization exceeds the config's cap");
  return decided.decisions
    .filter((d) => d.kind === "cancel")
    .map((d) => d.handshake.id)
    .sort();
}

export async function selectedBy(handshakes: EmulatorHandshake[], configPath: string): Promise<string[]> {
  return selectedIds(handshakes, await loadConfig(configPath));
}

/** Handshakes that were open in `before` and are CANCELED now. */
export function newlyCanceled(before: EmulatorHandshake[], after: EmulatorHandshake[]): string[] {
  const wasOpen = new Set(
    before.filter((h) => h.State === "OPEN" || h.State === "REQUESTED").map((h) => h.Id),
  );
  return after
    .filter((h) => h.State === "CANCELED" && wasOpen.has(h.Id))
    .map((h) => h.Id)
    .sort();
}

/** Every action item of these runs, read back through the audit store with a fault-free client. */
export async function auditItems(
  env: Record<string, string>,
  runIds: readonly string[],
): Promise<AuditAction[]> {
  const clients = createClients(loadSettings(env));
  try {
    const store = createAuditStore({ client: clients.dynamodb, tableName: env.AUDIT_TABLE_NAME ?? "" });
    const items: AuditAction[] = [];
    for (const runId of runIds) items.push(...(await store.getRunActions(runId)));
    return items;
  } finally {
    clients.dynamodb.destroy();
    clients.organizations.destroy();
  }
}

/**
 * The suite's invariant: no intent is left pending (an interrupted run's intent is completed by
 * a later run's record that names it), and each selected handshake has exactly one final record
 * over all the runs, with the outcome `expected` gives it (CANCELED by default). Nothing else
 * was canceled.
 */
export function expectOneFinalRecordEach(
  items: AuditAction[],
  selected: readonly string[],
  expected: Record<string, Outcome> = {},
): void {
  const completed = new Set(
    items.flatMap((item) => (item.reconciles === undefined ? [] : [item.reconciles])),
  );
  expect(
    items
      .filter((item) => item.outcome === undefined && !completed.has(`${item.runId}/${item.handshakeId}`))
      .map((item) => item.handshakeId),
    "pending intents",
  ).toEqual([]);
  const finals = new Map<string, Outcome[]>();
  for (const item of items) {
    if (item.outcome === undefined || !FINAL_OUTCOMES.includes(item.outcome)) continue;
    finals.set(item.handshakeId, [...(finals.get(item.handshakeId) ?? []), item.outcome]);
  }
  const want = Object.fromEntries(selected.map((id) => [id, [expected[id] ?? "CANCELED"]]));
  expect(Object.fromEntries([...finals].sort(([a], [b]) => a.localeCompare(b)))).toEqual(want);
}
