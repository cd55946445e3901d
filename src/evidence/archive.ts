import { canonicalJson } from "../domain/canonical-json.js";
import { LEDGER_ATTRIBUTES, type LedgerEntry } from "../ports/ledger.js";
import { AUDIT_ATTRIBUTES, type AuditAction } from "../ports/records.js";
import { type Checkpoint, checkpointProblems, type StoredCheckpoint } from "./checkpoints.js";
import { itemKeyPart } from "./conflicts.js";
import { CHAIN_GENESIS, type ChainedAction, type RunEvidence, verifyRun } from "./integrity.js";
import { type ChainedLedgerEntry, verifyLedgerChain } from "./ledger.js";

/**
 * Archives: an `audit export` file checked from the file alone, and compared with the table.
 */

/** What an archive holds of one run, as `audit export` wrote it. */
export interface ArchivedRun {
  evidence: RunEvidence;
  items: ChainedAction[];
  /** The run's handshake ledger entries (docs/audit.md, "The ledger"), with their links. */
  ledger: ChainedLedgerEntry[];
  /** Whether the archive holds the run's run row, and so all of its ledger entries. */
  whole: boolean;
}

/** The head of a run's ledger chain as its (sealed) run attributes hold it; none: empty. */
export function ledgerHeadOf(record: Readonly<Record<string, unknown>>): { hash: string; length: number } {
  return {
    hash: typeof record.ledgerHead === "string" ? record.ledgerHead : CHAIN_GENESIS,
    length: typeof record.ledgerLength === "number" ? record.ledgerLength : 0,
  };
}

/** A ledger row of an archive as the entry its hash covers, with its link. */
function archivedLedgerEntry(row: Record<string, unknown>): ChainedLedgerEntry {
  const entry: Record<string, unknown> = {};
  for (const name of LEDGER_ATTRIBUTES) if (row[name] !== undefined) entry[name] = row[name];
  return {
    entry: entry as unknown as LedgerEntry,
    ...(typeof row.ledgerSeq === "number" ? { seq: row.ledgerSeq } : {}),
    ...(typeof row.ledgerPrev === "string" ? { prev: row.ledgerPrev } : {}),
    ...(typeof row.ledgerHash === "string" ? { hash: row.ledgerHash } : {}),
  };
}

/**
 * Reads an `audit export` JSON-lines archive and checks it from the file alone: every run's chain
 * and seal are recomputed. Returns the runs found (for the comparison with the table) and one line
 * per problem; a line that is not an archive row is a problem too, named by its line number.
 */
export function verifyArchive(text: string): {
  runs: Map<string, ArchivedRun>;
  problems: string[];
  /** The checkpoints the export carried (docs/checkpoints.md), as the bucket held them then. */
  checkpoints: StoredCheckpoint[];
} {
  const problems: string[] = [];
  const checkpoints: StoredCheckpoint[] = [];
  const runs = new Map<string, ArchivedRun>();
  const entry = (runId: string) => {
    let found = runs.get(runId);
    if (found === undefined) {
      found = {
        evidence: { runId, record: {}, head: { hash: "", length: -1 }, awaitingLink: [] },
        items: [],
        ledger: [],
        whole: false,
      };
      runs.set(runId, found);
    }
    return found;
  };
  const runRows = new Set<string>();
  for (const [index, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line) as Record<string, unknown>;
    } catch {
      problems.push(`line ${index + 1}: not JSON`);
      continue;
    }
    if (row !== null && typeof row === "object" && row.itemType === "checkpoint") {
      const { itemType: _t, key, versions, ...checkpoint } = row;
      checkpoints.push({
        key: String(key),
        versions: typeof versions === "number" ? versions : 1,
        checkpoint: checkpoint as unknown as Checkpoint,
      });
      continue;
    }
    if (row === null || typeof row !== "object" || typeof row.runId !== "string") {
      problems.push(`line ${index + 1}: not an audit export row (no runId)`);
      continue;
    }
    if (row.unreadable !== undefined) {
      problems.push(`line ${index + 1}: exported unreadable: ${String(row.unreadable)}`);
      continue;
    }
    if (row.itemType === "run") {
      const { itemType: _t, durationS: _d, seal, chainHead, chainLength, awaitingLink, ...record } = row;
      runRows.add(row.runId);
      entry(row.runId).whole = true;
      entry(row.runId).evidence = {
        runId: row.runId,
        record,
        head: {
          hash: typeof chainHead === "string" ? chainHead : "",
          length: typeof chainLength === "number" ? chainLength : -1,
        },
        ...(typeof seal === "string" ? { seal } : {}),
        awaitingLink: Array.isArray(awaitingLink) ? awaitingLink.map(String) : [],
      };
    } else if (row.itemType === "action") {
      const { itemType: _t, chainSeq, chainHash: hash, chainPrev, ...action } = row;
      const linked = chainSeq !== undefined || hash !== undefined || chainPrev !== undefined;
      entry(row.runId).items.push({
        action: action as unknown as AuditAction,
        ...(linked
          ? {
              chain: {
                seq: typeof chainSeq === "number" ? chainSeq : 0,
                hash: typeof hash === "string" ? hash : "",
                prevHash: typeof chainPrev === "string" ? chainPrev : "",
              },
            }
          : {}),
      });
    } else if (row.itemType === "ledger") {
      entry(row.runId).ledger.push(archivedLedgerEntry(row));
    } else {
      problems.push(`line ${index + 1}: itemType is neither run, action nor ledger`);
    }
  }
  for (const [runId, { evidence, items, ledger }] of runs) {
    // An archive of a period holds the actions of that period: a run that started before it has
    // actions outside it, so only a run exported whole (its run row is in the file) is checked whole.
    if (!runRows.has(runId)) {
      if (ledger.length > 0) problems.push(`archive: run ${runId}: ledger entries without their run`);
      continue;
    }
    problems.push(...verifyRun(runId, evidence, items).map((line) => `archive: ${line}`));
    // The run's ledger chain against the head its seal (just recomputed) covers.
    problems.push(
      ...verifyLedgerChain(runId, ledgerHeadOf(evidence.record), ledger).map((line) => `archive: ${line}`),
    );
  }
  // The archive against the checkpoints it carries: a run rewritten before the export is named.
  for (const stored of checkpoints) {
    const runId = stored.checkpoint?.runId ?? "";
    if (!runRows.has(runId)) continue;
    problems.push(...checkpointProblems(stored, runs.get(runId)?.evidence).map((line) => `archive: ${line}`));
  }
  return { runs, problems, checkpoints };
}

/** The identity of an action's content: its contract attributes, and its link when it has one. */
export function actionFingerprint(item: ChainedAction): string {
  const content: Record<string, unknown> = {};
  for (const name of AUDIT_ATTRIBUTES) content[name] = item.action[name];
  return canonicalJson({ content, chain: item.chain ?? null });
}

/** The identity of a ledger entry's content and its link. */
function ledgerFingerprint(item: ChainedLedgerEntry): string {
  const content: Record<string, unknown> = {};
  for (const name of LEDGER_ATTRIBUTES) content[name] = item.entry[name];
  return canonicalJson({ content, seq: item.seq ?? null, prev: item.prev ?? null, hash: item.hash ?? null });
}

/**
 * An archived run against the same run in the table: the run's seal must be the table's, and every
 * archived action must be in the table, unchanged. Items added to the table since (a later link)
 * are not problems: the table's own checks cover them.
 */
export function compareWithTable(
  runId: string,
  archived: ArchivedRun,
  table: { run?: RunEvidence; items: readonly ChainedAction[]; ledger?: readonly ChainedLedgerEntry[] },
): string[] {
  const problems: string[] = [];
  const say = (text: string) => problems.push(`run ${runId}: ${text}`);
  if (archived.evidence.seal !== undefined) {
    if (table.run === undefined) say("in the archive, run item missing from the table");
    else if (table.run.seal !== archived.evidence.seal)
      say("seal differs from the archive's: run rewritten since");
  }
  const inTable = new Map(table.items.map((item) => [itemKeyPart(item.action), item]));
  for (const item of archived.items) {
    const stored = inTable.get(itemKeyPart(item.action));
    if (stored === undefined) say(`item ${item.action.handshakeId}: in the archive, missing from the table`);
    else if (
      actionFingerprint({ action: stored.action }) !== actionFingerprint({ action: item.action }) ||
      // An item unlinked when archived may have been linked since; a link archived must stay.
      (item.chain !== undefined && actionFingerprint(stored) !== actionFingerprint(item))
    ) {
      say(`item ${item.action.handshakeId}: differs from the archive`);
    }
  }
  // A run's ledger chain is complete once the run is sealed: every entry archived stays as it was.
  const ledgerInTable = new Map((table.ledger ?? []).map((item) => [item.seq, item]));
  const name = (item: ChainedLedgerEntry) => `ledger entry ${item.entry.handshakeId} (#${item.seq ?? "?"})`;
  for (const item of archived.ledger) {
    const stored = ledgerInTable.get(item.seq);
    if (stored === undefined) say(`${name(item)}: in the archive, missing from the table`);
    else if (ledgerFingerprint(stored) !== ledgerFingerprint(item))
      say(`${name(item)}: differs from the archive`);
  }
  // A run archived whole has all its entries in the archive: the table names one the file lacks.
  if (archived.whole) {
    const inArchive = new Set(archived.ledger.map((item) => item.seq));
    for (const stored of table.ledger ?? []) {
      if (!inArchive.has(stored.seq)) say(`${name(stored)}: in the table, missing from the archive`);
    }
  }
  return problems;
}
