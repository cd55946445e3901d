import { describe, expect, test } from "vitest";
import { renderSummary } from "../../src/cli/render.js";
import { parseConfig } from "../../src/config/config.js";
import type { Handshake } from "../../src/domain/handshake.js";
import type {
  HandshakeLedger,
  KnownHandshake,
  LedgerChange,
  LedgerWriteResult,
} from "../../src/ports/ledger.js";
import { CANCELS_PER_BATCH } from "../../src/sweep/ledger.js";
import { type SweepRequest, sweep } from "../../src/sweep/sweep.js";
import { sweepPorts } from "../../src/sweep/types.js";
import { FakeAudit, FakeOrganizations, handshake } from "../support/fakes.js";

const START = new Date("2026-11-25T12:00:00Z").getTime();

/** A ledger that keeps what each write held, and how many cancels had been sent when it was made. */
class RecordingLedger implements HandshakeLedger {
  readonly writes: { changes: LedgerChange[]; cancelsSent: number }[] = [];
  failCancels = false;
  constructor(private readonly organizations: FakeOrganizations) {}
  async listedHandshakes() {
    return { known: new Map<string, KnownHandshake>(), covered: true };
  }
  async knownHandshakes() {
    return new Map<string, KnownHandshake>();
  }
  async recordChanges(_runId: string, changes: readonly LedgerChange[]): Promise<LedgerWriteResult> {
    const cancels = changes.filter((c) => c.entry.state === "CANCELED");
    if (this.failCancels && cancels.length > 0) throw new Error("ledger write refused");
    this.writes.push({ changes: [...changes], cancelsSent: this.organizations.cancels().length });
    return { written: changes.length, skipped: [] };
  }
  async enterCoverage() {}
  canceledEntries() {
    return this.writes.flatMap((w) => w.changes).filter((c) => c.entry.state === "CANCELED");
  }
}

function setup(handshakes: Handshake[]) {
  const organizations = new FakeOrganizations(handshakes);
  const audit = new FakeAudit();
  // Each read of the clock is a millisecond later, so an entry's time says when it was made.
  let tick = 0;
  const now = () => new Date(START + tick++);
  audit.now = now;
  const ledger = new RecordingLedger(organizations);
  return { organizations, audit, ledger, deps: { organizations, ...sweepPorts(audit), ledger, now } };
}

function request(count: number): SweepRequest {
  const config = parseConfig(
    `version: 1
dryRun: false
maxCancellationsPerRun: ${count}
maxCancellationsReason: every outsider goes, in one run
rules:
  - id: outside-email
    type: email
    allow: ["*@example.com"]
`,
    "test.yaml",
  );
  return { config, runId: "run-1", trigger: "cli", actor: "tester" };
}

const outsiders = (n: number, state: Handshake["state"] = "OPEN") =>
  Array.from({ length: n }, () =>
    handshake({ state, target: { type: "EMAIL", value: "someone@gmail.com" } }),
  );

describe("the run's own cancellations in the handshake ledger", () => {
  test("are entered in batches while the cancels go on, each once, stamped when its outcome was recorded", async () => {
    const selected = outsiders(3 * CANCELS_PER_BATCH + 7);
    const { organizations, ledger, deps } = setup(selected);

    const summary = await sweep(request(selected.length), deps);

    expect(organizations.cancels()).toHaveLength(selected.length);
    const entries = ledger.canceledEntries();
    expect(entries.map((c) => c.entry.handshakeId).sort()).toEqual(selected.map((h) => h.id).sort());
    for (const { entry, from } of entries) {
      expect(entry).toMatchObject({
        kind: "STATE",
        state: "CANCELED",
        previousState: "OPEN",
        runId: "run-1",
      });
      expect(from).toEqual({ state: "OPEN", gone: false });
    }
    // Most of them were written before the last cancel was sent, not all after it.
    const early = ledger.writes
      .filter((w) => w.cancelsSent < selected.length)
      .flatMap((w) => w.changes)
      .filter((c) => c.entry.state === "CANCELED");
    expect(early.length).toBeGreaterThanOrEqual(3 * CANCELS_PER_BATCH);
    // The first batch's entries carry the times of their own outcomes, not one time for all.
    expect(new Set(entries.slice(0, CANCELS_PER_BATCH).map((c) => c.entry.at)).size).toBe(CANCELS_PER_BATCH);
    // Every listing entry comes before any cancellation.
    const firstCancel = ledger.writes.findIndex((w) => w.changes.some((c) => c.entry.state === "CANCELED"));
    const lastSeen = ledger.writes.findLastIndex((w) => w.changes.some((c) => c.entry.kind === "SEEN"));
    expect(lastSeen).toBeLessThan(firstCancel);
    expect(summary.ledger?.changed).toBe(selected.length);
    expect(summary.ledger?.error).toBeUndefined();
    expect(renderSummary(summary)).not.toContain("handshake ledger");
  });

  test("a refused cancellation write is reported in the summary and changes nothing the run did", async () => {
    const selected = outsiders(CANCELS_PER_BATCH + 3);
    const { organizations, audit, ledger, deps } = setup(selected);
    ledger.failCancels = true;

    const summary = await sweep(request(selected.length), deps);

    expect(organizations.cancels()).toHaveLength(selected.length);
    expect(audit.ofRun("run-1").map((i) => i.outcome)).toEqual(selected.map(() => "CANCELED"));
    expect(summary.status).toBe("COMPLETED");
    expect(summary.ledger?.error).toContain("ledger write refused");
    expect(ledger.canceledEntries()).toEqual([]);
    // The table output says so too, not only --json.
    expect(renderSummary(summary)).toMatch(/^handshake ledger not written in full: .*ledger write refused/m);
  });
});
