import { describe, expect, it } from "vitest";
import {
  findingId,
  findingsOf,
  HEAD_CHAIN_CHECK_MAX,
  headProblems,
  idOfFinding,
} from "../../src/evidence/findings.js";
import { CHAIN_GENESIS, type RunEvidence, runSeal } from "../../src/evidence/integrity.js";

function runEvidence(length: number, overrides: Partial<RunEvidence> = {}): RunEvidence {
  const record = { runId: "run-big", status: "COMPLETED", orgSeq: 1, prevSeal: CHAIN_GENESIS };
  const head = { hash: "a".repeat(64), length };
  return { runId: "run-big", record, head, seal: runSeal(record, head, []), awaitingLink: [], ...overrides };
}

function reader(run: RunEvidence) {
  const chainsRead: string[] = [];
  return {
    chainsRead,
    orgHead: async () => ({ runId: run.runId, seal: run.seal ?? "", length: 1 }),
    runEvidence: async (runId: string) => (runId === run.runId ? run : undefined),
    readChain: async (runId: string) => {
      chainsRead.push(runId);
      return { actions: [], run };
    },
  };
}

describe("integrity findings", () => {
  it("are named by a stable id of their problem", () => {
    const [finding] = findingsOf(["run r: item h: content altered", "run r: item h: content altered"]);
    expect(finding).toMatch(/^F-[0-9a-f]{12}: run r: item h: content altered$/);
    expect(idOfFinding(finding ?? "")).toBe(findingId("run r: item h: content altered"));
  });

  it("check a large head run by its run item alone, without reading its items", async () => {
    const intact = reader(runEvidence(HEAD_CHAIN_CHECK_MAX + 1));
    expect(await headProblems(intact)).toEqual([]);
    expect(intact.chainsRead).toEqual([]);

    const altered = runEvidence(HEAD_CHAIN_CHECK_MAX + 1);
    const edited = reader({ ...altered, record: { ...altered.record, status: "PARTIAL" } });
    expect(await headProblems(edited)).toEqual([
      "run run-big: run item altered: seal mismatch (attributes, chain head or length changed)",
    ]);
    expect(edited.chainsRead).toEqual([]);
  });

  it("read a small head run's whole chain", async () => {
    const small = reader(runEvidence(2));
    const problems = await headProblems(small);
    expect(small.chainsRead).toEqual(["run-big"]);
    // Its run item says two items, and none is in the table.
    expect(problems).toContain("run run-big: item #1 of 2 missing");
  });
});
