import { createHash } from "node:crypto";
import { AUDIT_ATTRIBUTES, type AuditAction } from "./ports.js";

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

/**
 * JSON with object keys sorted by UTF-16 code unit, undefined members dropped, no whitespace.
 * For the values audit items hold (strings, integers, booleans, arrays) this is the text RFC 8785
 * (JSON Canonicalization Scheme) gives, so a hash can be recomputed without this code.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `[${value.map((entry) => canonicalJson(entry ?? null)).join(",")}]`;
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: ${value} has no JSON form`);
      return JSON.stringify(value);
    case "object": {
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, inner]) => inner !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([key, inner]) => `${JSON.stringify(key)}:${canonicalJson(inner)}`).join(",")}}`;
    }
    default:
      throw new TypeError(`canonicalJson: a ${typeof value} has no JSON form`);
  }
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
  run: { runId: string; head?: { hash: string; length: number } },
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
      if (action.outcome !== undefined) say(`item ${action.handshakeId}: final but not in the chain`);
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
