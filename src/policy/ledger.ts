/**
 * The ledger's judgement, pure: what a run enters in the handshake ledger for what it sees
 * (src/ports/ledger.ts). First sight: the snapshot and the verdict under the config in force;
 * after that only changes: a new state, or leaving the service's listing. What a listing entry
 * lacks is flagged, never a reason to leave it out.
 */
import { createHash } from "node:crypto";
import type { Exemption, JanitorConfig } from "../config/config.js";
import { CANDIDATE_STATES, type Handshake, KNOWN_ACTION_TYPES } from "../domain/handshake.js";
import type { KnownHandshake, LedgerChange, LedgerEntry, LedgerJudgement } from "../ports/ledger.js";
import { decide } from "./plan.js";

/** Every state the Organizations model knows; another is recorded as it comes, and flagged. */
export const KNOWN_STATES: readonly string[] = [
  "OPEN",
  "REQUESTED",
  "ACCEPTED",
  "DECLINED",
  "CANCELED",
  "EXPIRED",
];

/** States the invited party puts a handshake in: an escape when a rule would have selected it. */
export const CLOSED_BY_INVITEE: readonly string[] = ["ACCEPTED", "DECLINED"];

/** What a run judges with: its id, its time, the config in force and its hash. */
export interface LedgerContext {
  runId: string;
  now: Date;
  config: JanitorConfig;
  configHash: string;
}

function describeExemption(exemption: Exemption): string {
  const covers = exemption.handshakeId ?? exemption.email ?? exemption.accountId ?? "?";
  return `${covers}: ${exemption.reason}`;
}

/**
 * The verdict on a handshake under `config`: selected, exempted or compliant. An open handshake
 * is judged as of now; one first seen closed, as of when it was requested (what a run would have
 * decided had it seen it open), so a stale rule does not select every old accepted invitation.
 */
export function judge(handshake: Handshake, context: Omit<LedgerContext, "runId">): LedgerJudgement {
  const { config, configHash } = context;
  const open = CANDIDATE_STATES.includes(handshake.state);
  const at = open ? context.now : (handshake.requestedAt ?? context.now);
  const decision = decide(handshake, config.rules, config, at);
  if (decision === undefined || decision.kind === "failed") return { verdict: "compliant", configHash };
  if (decision.kind === "exempted") {
    return {
      verdict: "exempted",
      ruleId: decision.ruleId,
      exemption: describeExemption(decision.exemption),
      configHash,
    };
  }
  const rule = config.rules.find((r) => r.id === decision.ruleId);
  return {
    verdict: "selected",
    ruleId: decision.ruleId,
    selection: (rule?.graceHours ?? 0) > 0 ? "mark" : "cancel",
    configHash,
  };
}

/** The id a ledger keeps a handshake under: its own, or for an entry without one, a digest of what it has. */
export function ledgerId(handshake: Handshake): string {
  if (handshake.id !== "") return handshake.id;
  const content = JSON.stringify({ ...handshake, id: undefined });
  return `unidentified-${createHash("sha256").update(content).digest("hex").slice(0, 16)}`;
}

/** What the listing entry lacks or holds unknown. */
export function flagsOf(handshake: Handshake): string[] {
  const flags: string[] = [];
  if (handshake.id === "") flags.push("id missing");
  if (handshake.target === undefined) flags.push("parties missing");
  if (!KNOWN_ACTION_TYPES.includes(handshake.action)) flags.push(`unknown action ${handshake.action}`);
  if (!KNOWN_STATES.includes(handshake.state)) flags.push(`unknown state ${handshake.state}`);
  if (handshake.requestedAt === undefined) flags.push("requestedAt missing");
  return flags;
}

/** The SEEN entry of a handshake seen for the first time. */
export function seenEntry(handshake: Handshake, context: LedgerContext): LedgerEntry {
  const judgement = judge(handshake, context);
  const flags = flagsOf(handshake);
  const entry: LedgerEntry = {
    runId: context.runId,
    handshakeId: ledgerId(handshake),
    kind: "SEEN",
    at: context.now.toISOString(),
    state: handshake.state,
    action: handshake.action,
    ...judgement,
  };
  if (handshake.target !== undefined) {
    entry.target = handshake.target.value;
    entry.targetType = handshake.target.type;
  }
  if (handshake.requester !== undefined) entry.requester = handshake.requester.value;
  if (handshake.requestedAt !== undefined) entry.requestedAt = handshake.requestedAt.toISOString();
  if (handshake.expiresAt !== undefined) entry.expiresAt = handshake.expiresAt.toISOString();
  if (handshake.notes !== undefined) entry.notes = handshake.notes;
  if (judgement.verdict === "selected" && CLOSED_BY_INVITEE.includes(handshake.state)) entry.escaped = true;
  if (flags.length > 0) entry.flags = flags;
  return entry;
}

/**
 * What a run enters for one listing page: a SEEN entry for each handshake the ledger does not
 * know, a STATE entry for each whose state differs from the last known one, nothing for the rest.
 * A handshake the ledger had as gone and the listing shows again is entered as a state change.
 */
export function pageChanges(
  page: readonly Handshake[],
  known: Pick<ReadonlyMap<string, KnownHandshake>, "get">,
  context: LedgerContext,
): LedgerChange[] {
  const changes: LedgerChange[] = [];
  for (const handshake of page) {
    const id = ledgerId(handshake);
    const from = known.get(id);
    if (from === undefined) {
      changes.push({ entry: seenEntry(handshake, context) });
      continue;
    }
    if (from.state === handshake.state && !from.gone) continue;
    const entry: LedgerEntry = {
      runId: context.runId,
      handshakeId: id,
      kind: "STATE",
      at: context.now.toISOString(),
      state: handshake.state,
      previousState: from.gone ? `${from.state} (gone)` : from.state,
    };
    if (from.verdict === "selected" && CLOSED_BY_INVITEE.includes(handshake.state)) entry.escaped = true;
    changes.push({ entry, from });
  }
  return changes;
}

/**
 * After a full listing: a GONE entry for each handshake the ledger had as listed that the
 * listing no longer holds.
 */
export function goneChanges(
  listed: ReadonlyMap<string, KnownHandshake>,
  seen: ReadonlySet<string>,
  context: LedgerContext,
): LedgerChange[] {
  const changes: LedgerChange[] = [];
  for (const [handshakeId, from] of listed) {
    if (seen.has(handshakeId) || from.gone) continue;
    changes.push({
      entry: {
        runId: context.runId,
        handshakeId,
        kind: "GONE",
        at: context.now.toISOString(),
        state: from.state,
      },
      from,
    });
  }
  return changes;
}
