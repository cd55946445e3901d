/**
 * The ledger's tamper evidence, pure (docs/audit.md, "The ledger"). Each run's ledger entries
 * form a hash chain of their own, as its action items do: entry `ledgerSeq` n links to entry n-1
 * (`ledgerPrev`, CHAIN_GENESIS for the first) with `ledgerHash = sha256("ledger\n" + ledgerPrev +
 * "\n" + canonical JSON of its LEDGER_ATTRIBUTES and sequence)`. The run item holds the head
 * (`ledgerHead`, `ledgerLength`), and the run's seal covers both, so the seal commits to every
 * entry the run wrote, and the organization's chain of seals to every run's.
 */
import { createHash } from "node:crypto";
import { canonicalJson } from "../domain/canonical-json.js";
import { LEDGER_ATTRIBUTES, type LedgerEntry } from "../ports/ledger.js";
import { CHAIN_GENESIS } from "./integrity.js";

export function ledgerHash(prevHash: string, entry: LedgerEntry, seq: number): string {
  const content: Record<string, unknown> = { ledgerSeq: seq };
  for (const name of LEDGER_ATTRIBUTES) content[name] = entry[name];
  return createHash("sha256")
    .update(`ledger\n${prevHash}\n${canonicalJson(content)}`, "utf8")
    .digest("hex");
}

/** A ledger entry as stored, with its place in its run's ledger chain as far as it could be read. */
export interface ChainedLedgerEntry {
  entry: LedgerEntry;
  seq?: number;
  prev?: string;
  hash?: string;
  /** Why the item does not read as an entry. */
  unreadable?: string;
}

/**
 * Checks one run's ledger chain against the head its run item holds (length 0 when it holds
 * none): one line per problem, none when intact.
 */
export function verifyLedgerChain(
  runId: string,
  head: { hash: string; length: number },
  entries: readonly ChainedLedgerEntry[],
): string[] {
  const problems: string[] = [];
  const say = (text: string) => problems.push(`run ${runId}: ledger ${text}`);
  const bySeq = new Map<number, ChainedLedgerEntry>();
  for (const item of entries) {
    const name = item.entry.handshakeId;
    if (item.unreadable !== undefined) say(`entry ${name}: unreadable: ${item.unreadable}`);
    if (item.seq === undefined || item.prev === undefined || item.hash === undefined) {
      say(`entry ${name}: not in the run's ledger chain`);
      continue;
    }
    if (bySeq.has(item.seq)) say(`entry #${item.seq} claimed twice`);
    bySeq.set(item.seq, item);
    if (item.seq < 1 || item.seq > head.length) {
      say(`entry ${name} (#${item.seq}): outside the chain of length ${head.length}`);
    } else if (ledgerHash(item.prev, item.entry, item.seq) !== item.hash) {
      say(`entry ${name} (#${item.seq}): content altered (hash mismatch)`);
    }
  }
  for (let seq = 1; seq <= head.length; seq += 1) {
    const item = bySeq.get(seq);
    if (item === undefined) {
      say(`entry #${seq} of ${head.length} missing`);
      continue;
    }
    const previous = seq === 1 ? CHAIN_GENESIS : bySeq.get(seq - 1)?.hash;
    if (previous !== undefined && item.prev !== previous) {
      say(`entry ${item.entry.handshakeId} (#${seq}): link to the previous entry broken`);
    }
  }
  const last = head.length === 0 ? undefined : bySeq.get(head.length);
  const expected = head.length === 0 ? CHAIN_GENESIS : last?.hash;
  if (expected !== undefined && expected !== head.hash) say("head does not match its last entry");
  return problems;
}
