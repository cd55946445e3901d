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
import type { ActionSummary, LedgerSummary, RunState } from "./types.js";

/**
 * Takes the listing's pages as they come and enters them in order, behind the run: the ledger
 * never holds up a decision or a cancel. The run awaits `finish` before it is sealed, so the
 * seal covers every entry.
 */
export interface LedgerObserver {
  page(page: readonly Handshake[]): void;
  /** `complete`: the listing was read to its end, so what it lacks has left it. */
  finish(complete: boolean): Promise<LedgerSummary>;
}

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

  function guarded(step: () => Promise<void>): void {
    queue = queue.then(() => (failed ? undefined : step().catch(fail)));
  }

  function fail(error: unknown): void {
    failed = true;
    summary.error = describeError(error);
    run.log.warn("could not write the handshake ledger; the next run enters what this one could not", {
      error: maskEmails(summary.error),
    });
  }

  async function write(ledgerPort: HandshakeLedger, changes: readonly LedgerChange[]): Promise<void> {
    if (changes.length === 0) return;
    const result = await ledgerPort.recordChanges(runId, changes);
    summary.written += result.written;
    summary.skipped += result.skipped;
    for (const { entry } of changes) {
      if (entry.kind === "SEEN") summary.seen += 1;
      else if (entry.kind === "STATE") summary.changed += 1;
      else summary.gone += 1;
    }
  }

  return {
    page(page) {
      void guarded(async () => {
        if (organization && listed === undefined) listed = await ledger.listedHandshakes();
        const ids = page.map(ledgerId);
        for (const id of ids) seen.add(id);
        const missing = ids.filter((id) => listed?.known.get(id) === undefined);
        const found = await ledger.knownHandshakes(missing);
        const known = { get: (id: string) => found.get(id) ?? listed?.known.get(id) };
        const changes = pageChanges(page, known, context);
        await write(ledger, changes);
        for (const { entry, from } of changes) {
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
    async finish(complete) {
      if (organization && complete) {
        guarded(async () => {
          listed ??= await ledger.listedHandshakes();
          await write(ledger, goneChanges(listed.known, seen, context));
          // The whole organization is entered now: the ledger covers it from this run on.
          if (!listed.covered) await ledger.enterCoverage(runId, now.toISOString());
        });
      }
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

/**
 * The run's own cancellations, entered once its ledger work is done and before it is sealed: a
 * handshake this run canceled moves to CANCELED in the ledger now, not at the next listing (which
 * may come after AWS has forgotten it). Each is conditional on the state the run decided on.
 */
export async function enterCancels(
  run: RunState,
  entered: Promise<LedgerSummary> | undefined,
  decisions: readonly Decision[],
  actions: readonly ActionSummary[],
): Promise<LedgerSummary | undefined> {
  const summary = await entered;
  const ledger = run.deps.ledger;
  if (summary === undefined || ledger === undefined || summary.error !== undefined) return summary;
  const canceled = new Set(actions.filter((a) => a.outcome === "CANCELED").map((a) => a.handshakeId));
  const at = run.deps.now().toISOString();
  const changes: LedgerChange[] = decisions
    .filter((d) => canceled.has(d.handshake.id) && d.handshake.state !== "CANCELED")
    .map((d) => ({
      entry: {
        runId: run.request.runId,
        handshakeId: ledgerId(d.handshake),
        kind: "STATE",
        at,
        state: "CANCELED",
        previousState: d.handshake.state,
      },
      from: { state: d.handshake.state, gone: false },
    }));
  if (changes.length === 0) return summary;
  try {
    const result = await ledger.recordChanges(run.request.runId, changes);
    summary.written += result.written;
    summary.changed += result.written;
    summary.skipped += result.skipped;
  } catch (error) {
    summary.error = describeError(error);
    run.log.warn(
      "could not enter the run's cancellations in the handshake ledger; the next run enters them",
      {
        error: maskEmails(summary.error),
      },
    );
  }
  return summary;
}
