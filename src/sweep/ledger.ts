/**
 * The run's part in the handshake ledger (src/ports/ledger.ts): each listing page is compared with
 * what the ledger knows, and only what changed is written, as entries of the run's ledger chain.
 * A run over the organization reads the ledger's listed handshakes once (one Query of a sparse
 * index) and asks for the rest only of ids it does not find there; after a full listing it enters
 * the handshakes the listing no longer holds. Dry runs write the ledger too: it is what was seen,
 * not what was done. The ledger is observation: a failed ledger write is logged and reported in
 * the summary, and changes nothing of what the run decides or cancels; the next run enters what
 * this one could not.
 */
import { configHash } from "../config/config.js";
import { describeError } from "../domain/errors.js";
import type { Handshake } from "../domain/handshake.js";
import { maskEmails } from "../domain/mask.js";
import { goneChanges, type LedgerContext, ledgerId, pageChanges } from "../policy/ledger.js";
import type { Decision } from "../policy/plan.js";
import type { HandshakeLedger, LedgerChange, ListedHandshakes } from "../ports/ledger.js";
import type { LedgerSummary, RunState } from "./types.js";

/**
 * A handshake's ledger entries are written in this run's order: its listing pages, what left the
 * listing, then the run's own cancellations. Each is queued as it comes and written behind the
 * run, so the ledger never holds up a decision or a cancel; the run awaits `finish` before it is
 * sealed, so the seal covers every entry.
 */
export interface LedgerObserver {
  page(page: readonly Handshake[]): void;
  /**
   * The listing is over. `complete`: it was read to its end, so what it lacks has left it. Its
   * entries are still being written; `finish` waits for them.
   */
  listed(complete: boolean): void;
  /**
   * The run canceled this decision's handshake (its outcome, CANCELED, is on record): the ledger
   * moves it to CANCELED, stamped now, in a batch with the cancellations around it.
   */
  canceled(decision: Decision): void;
  /** Every entry queued so far is written (or the ledger gave up); what the run entered. */
  finish(): Promise<LedgerSummary>;
}

/** The run's own cancellations, entered in the ledger this many at a time while the cancels go on. */
export const CANCELS_PER_BATCH = 40;

export function observeLedger(run: RunState, now: Date): LedgerObserver | undefined {
  const ledger = run.deps.ledger;
  if (ledger === undefined) return undefined;
  const { config, runId } = run.request;
  const context: LedgerContext = { runId, now, config, configHash: configHash(config) };
  const summary: LedgerSummary = { written: 0, seen: 0, changed: 0, gone: 0, skipped: 0, escaped: [] };
  const organization = run.scope.kind === "organization";
  const seen = new Set<string>();
  let listed: ListedHandshakes | undefined;
  let failed = false;
  /** The ledger's work, one step after the other. */
  let queue: Promise<void> = Promise.resolve();
  /** Cancellations not yet queued. */
  let cancels: LedgerChange[] = [];

  function guarded(step: () => Promise<unknown>, failure = "could not write the handshake ledger"): void {
    queue = queue.then(async () => {
      if (!failed) await step().catch((error) => fail(error, failure));
    });
  }

  function fail(error: unknown, failure: string): void {
    failed = true;
    summary.error = describeError(error);
    run.log.warn(`${failure}; the next run enters what this one could not`, {
      error: maskEmails(summary.error),
    });
  }

  /** Writes `changes`; the ones this run entered (not those another run had entered first). */
  async function write(
    ledgerPort: HandshakeLedger,
    changes: readonly LedgerChange[],
  ): Promise<LedgerChange[]> {
    if (changes.length === 0) return [];
    const result = await ledgerPort.recordChanges(runId, changes);
    const skipped = new Set(result.skipped);
    const entered = changes.filter(({ entry }) => !skipped.has(entry.handshakeId));
    summary.written += result.written;
    summary.skipped += result.skipped.length;
    for (const { entry } of entered) {
      if (entry.kind === "SEEN") summary.seen += 1;
      else if (entry.kind === "STATE") summary.changed += 1;
      else summary.gone += 1;
    }
    return entered;
  }

  /** Queues the cancellations gathered so far, as one write. */
  const flushCancels = (): void => {
    if (cancels.length === 0) return;
    const batch = cancels;
    cancels = [];
    guarded(() => write(ledger, batch), "could not enter the run's cancellations in the handshake ledger");
  };

  return {
    page(page) {
      guarded(async () => {
        if (organization && listed === undefined) listed = await ledger.listedHandshakes();
        const ids = page.map(ledgerId);
        for (const id of ids) seen.add(id);
        const missing = ids.filter((id) => listed?.known.get(id) === undefined);
        const found = await ledger.knownHandshakes(missing);
        const known = { get: (id: string) => found.get(id) ?? listed?.known.get(id) };
        // An escaped handshake another run entered first is that run's to report.
        const entered = await write(ledger, pageChanges(page, known, context));
        for (const { entry, from } of entered) {
          if (entry.escaped !== true) continue;
          const handshake = page.find((h) => ledgerId(h) === entry.handshakeId);
          const ruleId = entry.ruleId ?? from?.ruleId;
          summary.escaped.push({
            handshakeId: entry.handshakeId,
            action: handshake?.action ?? entry.action ?? "?",
            target: handshake?.target?.value ?? entry.target ?? "?",
            state: entry.state ?? "?",
            ...(ruleId === undefined ? {} : { ruleId }),
          });
        }
      });
    },
    listed(complete) {
      if (!organization || !complete) return;
      guarded(async () => {
        listed ??= await ledger.listedHandshakes();
        await write(ledger, goneChanges(listed.known, seen, context));
        // The whole organization is entered now: the ledger covers it from this run on.
        if (!listed.covered) await ledger.enterCoverage(runId, now.toISOString());
      });
    },
    canceled(decision) {
      const { handshake } = decision;
      if (handshake.state === "CANCELED") return;
      // Conditional on the state the run decided on: a later change by anyone else is kept.
      cancels.push({
        entry: {
          runId,
          handshakeId: ledgerId(handshake),
          kind: "STATE",
          at: run.deps.now().toISOString(),
          state: "CANCELED",
          previousState: handshake.state,
        },
        from: { state: handshake.state, gone: false },
      });
      if (cancels.length >= CANCELS_PER_BATCH) flushCancels();
    },
    async finish() {
      flushCancels();
      await queue;
      if (summary.escaped.length > 0) {
        run.log.warn(
          "escaped: a rule would have selected these, and they were closed before the janitor acted",
          {
            escaped: summary.escaped.length,
          },
        );
      }
      return summary;
    },
  };
}
