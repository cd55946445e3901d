import { createHash } from "node:crypto";
import { canonicalJson } from "../domain/canonical-json.js";
import { AUDIT_ATTRIBUTES, type AuditAction } from "../ports/records.js";
import { conflictProblems, itemKeyPart } from "./conflicts.js";

export { canonicalJson };

/**
 * Tamper evidence for the audit trail, as pure functions (the store writes the chain, `audit
 * verify` checks it).
 *
 * Each run is one hash chain. An action item joins its run's chain when it reaches its final
 * content (an outcome): it gets the next sequence number, the previous item's hash (`chainPrev`,
 * CHAIN_GENESIS for the first) and `chainHash = sha256(chainPrev + "\n" + canonical JSON of its
 * contract attributes and sequence)`. The run item holds the head (hash and length). Changing a
 * chained attribute breaks that item's hash; re-hashing it breaks the next item's link; deleting
 * one leaves a gap; cutting the tail leaves the head pointing past the last item. Someone able to
 * rewrite every item and the run item can forge a consistent chain: the chain makes tampering
 * visible, it does not replace access control (the janitor's role cannot delete items) or an
 * archive kept elsewhere (`audit export`).
 */

/** The previous hash of a run's first chained item. */
export const CHAIN_GENESIS = "0".repeat(64);

/** An action item as stored, with its place in the chain when it has one. */
export interface ChainedAction {
  action: AuditAction;
  chain?: { seq: number; hash: string; prevHash: string };
}

/** The hash of `action` as item number `seq` of its run, following `prevHash`. */
export function chainHash(prevHash: string, action: AuditAction, seq: number): string {
  const content: Record<string, unknown> = { chainSeq: seq };
  // canonicalJson sorts the keys: the list's order does not enter the hash.
  for (const name of AUDIT_ATTRIBUTES) content[name] = action[name];
  return createHash("sha256")
    .update(`${prevHash}\n${canonicalJson(content)}`, "utf8")
    .digest("hex");
}

/**
 * Checks one run's chain and returns one line per problem (none: intact). Each problem is
 * reported once, where it is: an altered item is one line, not a cascade down the chain.
 * `head` is what the run item holds; undefined when the run item is missing.
 */
export function verifyChain(
  run: {
    runId: string;
    head?: { hash: string; length: number };
    /** The handshakes the run item records as waiting to be linked; undefined when not read. */
    awaitingLink?: ReadonlySet<string>;
  },
  items: readonly ChainedAction[],
): string[] {
  const problems: string[] = [];
  const say = (text: string) => problems.push(`run ${run.runId}: ${text}`);
  if (run.head === undefined) say("run item missing");

  const bySeq = new Map<number, ChainedAction[]>();
  for (const item of items) {
    const { action, chain } = item;
    if (chain === undefined) {
      // An intent without an outcome joins the chain only when it gets one.
      if (action.outcome === undefined) continue;
      if (run.awaitingLink === undefined || run.awaitingLink.has(itemKeyPart(action))) {
        say(`item ${action.handshakeId}: final but not in the chain`);
      } else {
        say(
          `item ${action.handshakeId}: final, not in the chain, and not recorded by its run as waiting: possibly forged`,
        );
      }
      continue;
    }
    bySeq.set(chain.seq, [...(bySeq.get(chain.seq) ?? []), item]);
    if (chainHash(chain.prevHash, action, chain.seq) !== chain.hash) {
      say(`item ${action.handshakeId} (#${chain.seq}): content altered (hash mismatch)`);
    }
  }

  const length = run.head?.length ?? Math.max(0, ...bySeq.keys());
  const only = (seq: number) => {
    const found = bySeq.get(seq);
    return found?.length === 1 ? found[0] : undefined;
  };
  for (const [seq, found] of [...bySeq].sort(([a], [b]) => a - b)) {
    if (found.length > 1) {
      say(
        `item #${seq} claimed by ${found.length} items: ${found.map((i) => i.action.handshakeId).join(", ")}`,
      );
    }
    if (run.head !== undefined && (seq > length || seq < 1)) {
      for (const item of found) {
        say(`item ${item.action.handshakeId} (#${seq}): outside the chain of length ${length}`);
      }
    }
  }
  for (let seq = 1; seq <= length; seq += 1) {
    if (!bySeq.has(seq)) {
      say(`item #${seq} of ${length} missing`);
      continue;
    }
    const item = only(seq);
    const previous = seq === 1 ? CHAIN_GENESIS : only(seq - 1)?.chain?.hash;
    if (item?.chain !== undefined && previous !== undefined && item.chain.prevHash !== previous) {
      say(`item ${item.action.handshakeId} (#${seq}): link to the previous item broken`);
    }
  }
  if (run.head !== undefined) {
    const last = length === 0 ? undefined : only(length);
    const expected = length === 0 ? CHAIN_GENESIS : last?.chain?.hash;
    if (expected !== undefined && run.head.hash !== expected) {
      say(`chain head does not match ${length === 0 ? "an empty chain" : `item #${length}`}`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Run seals, derived keys, counts and archives

/**
 * The run item's attributes a reader relies on, all covered by its seal. `notifyError` is left
 * out: it is written after the run is sealed, by the notification step, and says nothing about
 * what the run did. `timeKey` is checked as a derived value (RUN#<month of startedAt>).
 */
export const RUN_SEALED_ATTRIBUTES = [
  "runId",
  "trigger",
  "actor",
  "status",
  "dryRun",
  "startedAt",
  "endedAt",
  "counts",
  "listed",
  "candidates",
  "matched",
  "configVersion",
  "configHash",
  "note",
  "error",
  "countsStale",
  "prevRun",
  "prevSeal",
  "orgSeq",
  "findings",
  // The run's ledger chain (src/evidence/ledger.ts): absent on a run that wrote no ledger entry.
  "ledgerHead",
  "ledgerLength",
] as const;

/** A run's chain end as its run item holds it. */
export interface ChainEnd {
  hash: string;
  length: number;
}

/**
 * The seal of a finished run: sha256 over the canonical JSON of its sealed attributes, its chain's
 * head and length, and the items it recorded as waiting to be linked (sorted). Written by the store
 * when the run finishes and again when a later link moves the head of a finished run.
 */
export function runSeal(run: object, head: ChainEnd, awaitingLink: readonly string[] = []): string {
  const fields = run as Readonly<Record<string, unknown>>;
  const content: Record<string, unknown> = {
    chainHead: head.hash,
    chainLength: head.length,
    awaitingLink: [...new Set(awaitingLink)].sort(),
  };
  for (const name of RUN_SEALED_ATTRIBUTES) content[name] = fields[name];
  // The store writes countsStale only when true: absent and false read the same.
  if (content.countsStale !== true) content.countsStale = undefined;
  return createHash("sha256")
    .update(`run-seal\n${canonicalJson(content)}`, "utf8")
    .digest("hex");
}

/** "YYYY-MM" of an ISO instant, as the store buckets items by month. */
function monthOf(at: unknown): string {
  return typeof at === "string" ? at.slice(0, 7) : "?";
}

/** A run item as verify reads it: what could be read, plus its seal, chain end and index key. */
export interface RunEvidence {
  runId: string;
  /** The run's attributes that could be read. */
  record: Readonly<Record<string, unknown>>;
  /** Why some attribute could not be read; the seal cannot be checked then. */
  unreadable?: string;
  head: ChainEnd;
  seal?: string;
  awaitingLink: readonly string[];
  /** undefined when not read (an export carries none). */
  timeKey?: string;
}

/** An action item with the keys it is found by; keys undefined when not read (an export). */
export interface KeyedAction extends ChainedAction {
  keys?: { runId: string; handshakeId: string; timeKey?: string };
}

/**
 * Everything verify checks of one run, one line per problem: the chain (verifyChain), each item's
 * keys as derived values (pk/sk name the item's runId/handshakeId, timeKey its month), the run's
 * seal, its own time key, and its counts against its items. `run` undefined: the run item is gone.
 */
export function verifyRun(
  runId: string,
  run: RunEvidence | undefined,
  items: readonly KeyedAction[],
): string[] {
  const say = (text: string) => `run ${runId}: ${text}`;
  // A cancel that landed outside its claim is a problem to look into, however intact the chain.
  const conflicts = conflictProblems(runId, items);
  const problems = verifyChain(
    {
      runId,
      ...(run === undefined ? {} : { head: run.head, awaitingLink: new Set(run.awaitingLink) }),
    },
    items,
  );
  for (const { action, keys } of items) {
    if (keys === undefined) continue;
    if (keys.runId !== action.runId || keys.handshakeId !== itemKeyPart(action)) {
      problems.push(
        say(
          `item ${keys.handshakeId}: stored under RUN#${keys.runId}/ACTION#${keys.handshakeId} but holds ${action.runId}/${action.handshakeId}`,
        ),
      );
    }
    const expected = `ACTION#${monthOf(action.at)}`;
    if (keys.timeKey !== expected) {
      problems.push(
        say(
          `item ${action.handshakeId}: timeKey ${keys.timeKey ?? "(none)"} is not ${expected} (its at ${action.at})`,
        ),
      );
    }
  }
  problems.push(...conflicts);
  if (run === undefined) return problems;
  if (run.timeKey !== undefined && run.timeKey !== `RUN#${monthOf(run.record.startedAt)}`) {
    problems.push(
      say(
        `timeKey ${run.timeKey} is not RUN#${monthOf(run.record.startedAt)} (its startedAt ${String(run.record.startedAt)})`,
      ),
    );
  }
  if (run.unreadable !== undefined) {
    problems.push(say(`run item unreadable: ${run.unreadable}`));
    return problems;
  }
  if (run.seal === undefined) {
    if (run.record.status !== "RUNNING")
      problems.push(say(`finished (${String(run.record.status)}) but not sealed`));
  } else if (runSeal(run.record, run.head, run.awaitingLink) !== run.seal) {
    problems.push(say("run item altered: seal mismatch (attributes, chain head or length changed)"));
  }
  problems.push(...verifyCounts(runId, run.record, items));
  return problems;
}

/**
 * The run's counts against its items: every final item is counted under its outcome. An intent
 * without an outcome may be counted under the outcome the run saw in memory (its outcome write
 * failed), so it explains at most one count more. Runs whose counts say they may be stale, and runs
 * still running, are not compared.
 */
export function verifyCounts(
  runId: string,
  record: Readonly<Record<string, unknown>>,
  items: readonly ChainedAction[],
): string[] {
  if (record.countsStale === true || record.status === "RUNNING") return [];
  const counts = (record.counts ?? {}) as Record<string, number | undefined>;
  const stored = new Map<string, number>();
  let intents = 0;
  for (const { action } of items) {
    if (action.outcome === undefined) intents += 1;
    else stored.set(action.outcome, (stored.get(action.outcome) ?? 0) + 1);
  }
  const problems: string[] = [];
  let unexplained = 0;
  for (const outcome of [...new Set([...Object.keys(counts), ...stored.keys()])].sort()) {
    const said = counts[outcome] ?? 0;
    const found = stored.get(outcome) ?? 0;
    if (found > said || said > found + intents) {
      problems.push(`run ${runId}: counts say ${outcome} ${said}, its items hold ${found}`);
    } else unexplained += said - found;
  }
  if (problems.length === 0 && unexplained > intents) {
    problems.push(
      `run ${runId}: counts exceed its items by ${unexplained}, with ${intents} intents to explain them`,
    );
  }
  return problems;
}
