import { describe, expect, it } from "vitest";
import { compareWithTable, verifyArchive } from "../../src/evidence/archive.js";
import {
  CHAIN_GENESIS,
  type ChainedAction,
  canonicalJson,
  chainHash,
  RUN_SEALED_ATTRIBUTES,
  type RunEvidence,
  runSeal,
  verifyChain,
  verifyCounts,
  verifyRun,
} from "../../src/evidence/integrity.js";
import type { AuditAction } from "../../src/ports/records.js";
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

const RUN = {
  runId: "r-1",
  trigger: "manual",
  actor: "alice",
  status: "COMPLETED",
  dryRun: false,
  startedAt: "2026-06-02T06:00:00.000Z",
  endedAt: "2026-06-02T06:01:00.000Z",
  counts: { CANCELED: 3 },
  listed: 9,
  candidates: 4,
  matched: 3,
  configVersion: 1,
  configHash: "sha256:abc",
  note: "CHG-1",
  error: "boom",
  countsStale: true,
};

/** A sealed run item over a correct chain of `count` CANCELED items, keys as stored. */
function sealedRun(count: number) {
  const { items, head } = chainOf(count);
  const keyed = items.map((item) => ({
    ...item,
    keys: {
      runId: item.action.runId,
      handshakeId: item.action.handshakeId,
      timeKey: `ACTION#${item.action.at.slice(0, 7)}`,
    },
  }));
  const record = {
    ...RUN,
    runId: keyed[0]?.action.runId ?? "r-1",
    counts: { CANCELED: count },
    countsStale: undefined,
  };
  const run: RunEvidence = {
    runId: record.runId,
    record,
    head,
    seal: runSeal(record, head),
    awaitingLink: [],
    timeKey: `RUN#${record.startedAt.slice(0, 7)}`,
  };
  return { run, items: keyed };
}

describe("runSeal", () => {
  it("changes with every sealed attribute, the chain end and the waiting set, and not with key order", () => {
    const head = { hash: "a".repeat(64), length: 3 };
    const seal = runSeal(RUN, head, ["h-1", "h-2"]);
    expect(runSeal(Object.fromEntries(Object.entries(RUN).reverse()), head, ["h-2", "h-1"])).toBe(seal);
    for (const name of RUN_SEALED_ATTRIBUTES) {
      const changed = {
        ...RUN,
        [name]:
          name === "dryRun"
            ? true
            : name === "counts"
              ? { CANCELED: 2 }
              : name === "countsStale"
                ? undefined
                : name.endsWith("ed") || name === "configVersion"
                  ? 99
                  : "x",
      };
      expect(runSeal(changed, head, ["h-1", "h-2"]), name).not.toBe(seal);
    }
    expect(runSeal(RUN, { ...head, length: 2 }, ["h-1", "h-2"])).not.toBe(seal);
    expect(runSeal(RUN, { ...head, hash: "b".repeat(64) }, ["h-1", "h-2"])).not.toBe(seal);
    expect(runSeal(RUN, head, ["h-1"])).not.toBe(seal);
    // notifyError is written after the seal: outside it.
    expect(runSeal({ ...RUN, notifyError: "SNS down" }, head, ["h-1", "h-2"])).toBe(seal);
  });
});

describe("verifyRun", () => {
  it("finds a sealed run over its chain intact", () => {
    const { run, items } = sealedRun(3);
    expect(verifyRun(run.runId, run, items)).toEqual([]);
  });

  it("names keys that are not the values they derive from", () => {
    const { run, items } = sealedRun(2);
    const [first, second] = items as [(typeof items)[0], (typeof items)[0]];
    const moved = [
      { ...first, keys: { ...first.keys, timeKey: "ACTION#2020-01" } },
      { ...second, keys: { ...second.keys, handshakeId: "h-other" } },
    ];
    expect(verifyRun(run.runId, run, moved)).toEqual([
      `run ${run.runId}: item h-1: timeKey ACTION#2020-01 is not ACTION#${first.action.at.slice(0, 7)} (its at ${first.action.at})`,
      `run ${run.runId}: item h-other: stored under RUN#${run.runId}/ACTION#h-other but holds ${run.runId}/h-2`,
    ]);
    expect(verifyRun(run.runId, { ...run, timeKey: "RUN#1999-12" }, items)).toEqual([
      `run ${run.runId}: timeKey RUN#1999-12 is not RUN#2026-06 (its startedAt ${RUN.startedAt})`,
    ]);
  });

  it("names a finished run without a seal, an altered seal, and leaves a running run unsealed", () => {
    const { run, items } = sealedRun(1);
    const { seal: _seal, ...unsealed } = run;
    expect(verifyRun(run.runId, unsealed, items)).toEqual([
      `run ${run.runId}: finished (COMPLETED) but not sealed`,
    ]);
    expect(
      verifyRun(run.runId, { ...unsealed, record: { ...run.record, status: "RUNNING" } }, items),
    ).toEqual([]);
    expect(verifyRun(run.runId, { ...run, record: { ...run.record, actor: "mallory" } }, items)).toEqual([
      `run ${run.runId}: run item altered: seal mismatch (attributes, chain head or length changed)`,
    ]);
  });

  it("tells an item its run noted as waiting from one it did not", () => {
    const { run, items } = sealedRun(1);
    const waiting = {
      action: action("h-w"),
      keys: { runId: run.runId, handshakeId: "h-w", timeKey: items[0]?.keys.timeKey },
    };
    const forged = {
      action: action("h-f"),
      keys: { runId: run.runId, handshakeId: "h-f", timeKey: items[0]?.keys.timeKey },
    };
    const record = { ...run.record, counts: { CANCELED: 3 } };
    const noted = { ...run, record, awaitingLink: ["h-w"], seal: runSeal(record, run.head, ["h-w"]) };
    expect(verifyRun(run.runId, noted, [...items, waiting, forged])).toEqual([
      `run ${run.runId}: item h-w: final but not in the chain`,
      `run ${run.runId}: item h-f: final, not in the chain, and not recorded by its run as waiting: possibly forged`,
    ]);
  });
});

describe("verifyCounts", () => {
  const items = (outcomes: (string | undefined)[]) =>
    outcomes.map((outcome, i) => ({
      action: auditAction({ handshakeId: `h-${i}`, ...(outcome ? { outcome: outcome as "CANCELED" } : {}) }),
    }));

  it("accepts counts equal to the items, and counts an intent may explain", () => {
    expect(
      verifyCounts(
        "r",
        { status: "COMPLETED", counts: { CANCELED: 2, EXEMPTED: 1 } },
        items(["CANCELED", "CANCELED", "EXEMPTED"]),
      ),
    ).toEqual([]);
    expect(
      verifyCounts("r", { status: "PARTIAL", counts: { CANCELED: 2 } }, items(["CANCELED", undefined])),
    ).toEqual([]);
  });

  it("names counts the items do not hold, and skips stale and running runs", () => {
    expect(
      verifyCounts("r", { status: "COMPLETED", counts: { CANCELED: 1 } }, items(["CANCELED", "CANCELED"])),
    ).toEqual(["run r: counts say CANCELED 1, its items hold 2"]);
    expect(
      verifyCounts("r", { status: "COMPLETED", counts: { CANCELED: 3 } }, items(["CANCELED", undefined])),
    ).toEqual(["run r: counts say CANCELED 3, its items hold 1"]);
    expect(
      verifyCounts(
        "r",
        { status: "COMPLETED", counts: { CANCELED: 2, FAILED: 1 } },
        items(["CANCELED", undefined]),
      ),
    ).toEqual(["run r: counts exceed its items by 2, with 1 intents to explain them"]);
    expect(
      verifyCounts("r", { status: "COMPLETED", countsStale: true, counts: {} }, items(["CANCELED"])),
    ).toEqual([]);
    expect(verifyCounts("r", { status: "RUNNING", counts: {} }, items(["CANCELED"]))).toEqual([]);
  });
});

describe("verifyArchive and compareWithTable", () => {
  function archive(count: number) {
    const { run, items } = sealedRun(count);
    const rows: Record<string, unknown>[] = [
      {
        itemType: "run",
        ...run.record,
        durationS: 60,
        seal: run.seal,
        chainHead: run.head.hash,
        chainLength: run.head.length,
        awaitingLink: [],
      },
      ...items.map((item) => ({
        itemType: "action",
        ...item.action,
        chainSeq: item.chain?.seq,
        chainHash: item.chain?.hash,
        chainPrev: item.chain?.prevHash,
      })),
    ];
    return { run, items, rows, text: `${rows.map((r) => JSON.stringify(r)).join("\n")}\n` };
  }

  it("verifies an archive from its text alone, and names an edited row and lines that are not rows", () => {
    const { text, rows, run } = archive(2);
    expect(verifyArchive(text).problems).toEqual([]);
    const edited = rows.map((row) =>
      row.itemType === "action" && row.handshakeId === "h-2" ? { ...row, reason: "x" } : row,
    );
    expect(
      verifyArchive(`${edited.map((r) => JSON.stringify(r)).join("\n")}\nnot json\n{"a":1}\n`).problems,
    ).toEqual([
      "line 4: not JSON",
      "line 5: not an audit export row (no runId)",
      `archive: run ${run.runId}: item h-2 (#2): content altered (hash mismatch)`,
    ]);
    const reSealed = rows.map((row) => (row.itemType === "run" ? { ...row, actor: "mallory" } : row));
    expect(verifyArchive(reSealed.map((r) => JSON.stringify(r)).join("\n")).problems).toEqual([
      `archive: run ${run.runId}: run item altered: seal mismatch (attributes, chain head or length changed)`,
    ]);
  });

  it("compares with the table: the seal, every action present and unchanged; a later link is no change", () => {
    const { text, run, items } = archive(2);
    const archived = verifyArchive(text).runs.get(run.runId);
    if (archived === undefined) throw new Error("run not read");
    expect(compareWithTable(run.runId, archived, { run, items })).toEqual([]);
    expect(compareWithTable(run.runId, archived, { items: items.slice(1) })).toEqual([
      `run ${run.runId}: in the archive, run item missing from the table`,
      `run ${run.runId}: item h-1: in the archive, missing from the table`,
    ]);
    const changed = items.map((item, i) =>
      i === 1 ? { ...item, action: { ...item.action, target: "x" } } : item,
    );
    expect(compareWithTable(run.runId, archived, { run: { ...run, seal: "0" }, items: changed })).toEqual([
      `run ${run.runId}: seal differs from the archive's: run rewritten since`,
      `run ${run.runId}: item h-2: differs from the archive`,
    ]);
    // Unlinked when archived, linked since: the same item.
    const unlinked = { ...archived, items: archived.items.map(({ action: a }) => ({ action: a })) };
    expect(compareWithTable(run.runId, unlinked, { run, items })).toEqual([]);
  });
});
