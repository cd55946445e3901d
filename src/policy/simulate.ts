/**
 * What another config would have decided over the ledger's history, pure: each handshake's
 * first-seen snapshot judged under the new config as of when it was first seen (a stale rule ages
 * a handshake from its request to that moment, not to now), against the verdict recorded then.
 * Only the differences are answered.
 */
import type { JanitorConfig } from "../config/config.js";
import type { Handshake } from "../domain/handshake.js";
import type { LedgerJudgement, LedgerRecord } from "../ports/ledger.js";
import { judge } from "./ledger.js";

export const SIMULATED_CHANGES = [
  "newly selected",
  "no longer selected",
  "different rule",
  "exemption would apply",
  "exemption would no longer apply",
] as const;
export type SimulatedChange = (typeof SIMULATED_CHANGES)[number];

export interface SimulatedDifference {
  handshakeId: string;
  requestedAt?: string;
  firstSeenAt: string;
  action: string;
  target?: string;
  change: SimulatedChange;
  was: LedgerJudgement;
  would: LedgerJudgement;
}

/** The handshake as the ledger first saw it. */
export function firstSeen(record: LedgerRecord): Handshake {
  const handshake: Handshake = {
    id: record.handshakeId,
    state: record.firstSeenState ?? record.state,
    action: record.action,
  };
  if (record.target !== undefined)
    handshake.target = { type: record.targetType ?? "EMAIL", value: record.target };
  if (record.requestedAt !== undefined) handshake.requestedAt = new Date(record.requestedAt);
  if (record.expiresAt !== undefined) handshake.expiresAt = new Date(record.expiresAt);
  if (record.notes !== undefined) handshake.notes = record.notes;
  return handshake;
}

function changeOf(was: LedgerJudgement, would: LedgerJudgement): SimulatedChange | undefined {
  if (was.verdict !== "selected" && would.verdict === "selected") return "newly selected";
  if (was.verdict === "selected" && would.verdict !== "selected") {
    return would.verdict === "exempted" ? "exemption would apply" : "no longer selected";
  }
  if (was.verdict === "selected" && would.verdict === "selected") {
    return was.ruleId === would.ruleId ? undefined : "different rule";
  }
  if (was.verdict !== "exempted" && would.verdict === "exempted") return "exemption would apply";
  if (was.verdict === "exempted" && would.verdict !== "exempted") return "exemption would no longer apply";
  return undefined;
}

export function simulate(
  records: readonly LedgerRecord[],
  config: JanitorConfig,
  configHash: string,
): SimulatedDifference[] {
  const differences: SimulatedDifference[] = [];
  for (const record of records) {
    const was: LedgerJudgement = {
      verdict: record.verdict,
      configHash: record.configHash,
      ...(record.ruleId === undefined ? {} : { ruleId: record.ruleId }),
      ...(record.selection === undefined ? {} : { selection: record.selection }),
      ...(record.exemption === undefined ? {} : { exemption: record.exemption }),
    };
    const would = judge(firstSeen(record), { config, configHash, now: new Date(record.firstSeenAt) });
    const change = changeOf(was, would);
    if (change === undefined) continue;
    differences.push({
      handshakeId: record.handshakeId,
      ...(record.requestedAt === undefined ? {} : { requestedAt: record.requestedAt }),
      firstSeenAt: record.firstSeenAt,
      action: record.action,
      ...(record.target === undefined ? {} : { target: record.target }),
      change,
      was,
      would,
    });
  }
  return differences;
}
