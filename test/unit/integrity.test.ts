import { describe, expect, it } from "vitest";
import {
  CHAIN_GENESIS,
  type ChainedAction,
  canonicalJson,
  chainHash,
  verifyChain,
} from "../../src/core/integrity.js";
import type { AuditAction } from "../../src/core/ports.js";
import { auditAction } from "../support/fakes.js";

function action(handshakeId: string, overrides: Partial<AuditAction> = {}): AuditAction {
  return auditAction({ handshakeId, outcome: "CANCELED", attempts: 1, ...overrides });
}

/** A correctly linked chain of `count` items and the head the run item would hold. */
function chainOf(count: number) {
  const items: ChainedAction[] = [];
  let prev = CHAIN_GENESIS;
  for (let seq = 1; seq <= count; seq += 1) {
    const a = action(`h-${seq}`);
    const hash = chainHash(prev, a, seq);
    items.push({ action: a, chain: { seq, hash, prevHash: prev } });
    prev = hash;
  }
  return { items, head: { hash: prev, length: count } };
}

describe("canonicalJson", () => {
  it("sorts keys at every depth and drops undefined members", () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { y: 1, x: 0 }], c: undefined } })).toBe(
      '{"a":{"d":[2,{"x":0,"y":1}]},"b":1}',
    );
  });
});

describe("chainHash", () => {
  it("changes with any contract attribute, the sequence and the previous hash", () => {
    const base = chainHash(CHAIN_GENESIS, action("h-1"), 1);
    expect(chainHash(CHAIN_GENESIS, action("h-1", { reason: "stale." }), 1)).not.toBe(base);
    expect(chainHash(CHAIN_GENESIS, action("h-1"), 2)).not.toBe(base);
    expect(chainHash("1".repeat(64), action("h-1"), 1)).not.toBe(base);
    expect(chainHash(CHAIN_GENESIS, { ...action("h-1") }, 1)).toBe(base);
  });
});

describe("verifyChain", () => {
  it("finds nothing wrong with an intact chain and ignores pending intents", () => {
    const { items, head } = chainOf(3);
    const pending: ChainedAction = { action: action("h-9", { outcome: undefined }) };
    expect(verifyChain({ runId: "run-1", head }, [...items, pending])).toEqual([]);
  });

  it("reports an altered item", () => {
    const { items, head } = chainOf(3);
    const [first, second, third] = items;
    if (!first || !second || !third) throw new Error("chain too short");
    const altered = { ...second, action: { ...second.action, ruleId: "outside-email" } };
    expect(verifyChain({ runId: "run-1", head }, [first, altered, third])).toEqual([
      "run run-1: item h-2 (#2): content altered (hash mismatch)",
    ]);
  });

  it("reports a deleted item in the middle and at the end", () => {
    const { items, head } = chainOf(3);
    expect(verifyChain({ runId: "run-1", head }, [items[0], items[2]] as ChainedAction[])).toEqual([
      "run run-1: item #2 of 3 missing",
    ]);
    expect(verifyChain({ runId: "run-1", head }, items.slice(0, 2))).toEqual([
      "run run-1: item #3 of 3 missing",
    ]);
  });

  it("reports a final item outside the chain, a missing run item and a wrong head", () => {
    const { items, head } = chainOf(2);
    const unlinked: ChainedAction = { action: action("h-x") };
    expect(verifyChain({ runId: "run-1", head }, [...items, unlinked])).toEqual([
      "run run-1: item h-x: final but not in the chain",
    ]);
    expect(verifyChain({ runId: "run-1" }, [])).toEqual(["run run-1: run item missing"]);
    expect(verifyChain({ runId: "run-1", head: { ...head, hash: "f".repeat(64) } }, items)).toEqual([
      "run run-1: chain head does not match item #2",
    ]);
  });

  it("reports an item whose hash was recomputed after editing, at the next link", () => {
    const { items, head } = chainOf(3);
    const [first, , third] = items as [ChainedAction, ChainedAction, ChainedAction];
    const edited = action("h-2", { outcome: "DRY_RUN" });
    const prevHash = first.chain?.hash ?? "";
    const forged = { action: edited, chain: { seq: 2, prevHash, hash: chainHash(prevHash, edited, 2) } };
    expect(verifyChain({ runId: "run-1", head }, [first, forged, third])).toEqual([
      "run run-1: item h-3 (#3): link to the previous item broken",
    ]);
  });
});
