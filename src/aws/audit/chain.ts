/**
 * The hash chain of each run's final items. The run item holds the chain's head (chainHead,
 * chainLength); every append links an item after that head and advances it in one transaction,
 * conditional on the head it was computed on, so two writers cannot fork a chain. Appends are
 * queued per run inside this process, the head each run had after the last append is kept, and
 * a head another writer moved is read afresh and tried again under the one retry policy.
 */
import type { TransactWriteItem } from "@aws-sdk/client-dynamodb";
import { describeError } from "../../domain/errors.js";
import { itemKeyPart } from "../../evidence/conflicts.js";
import { chainHash } from "../../evidence/integrity.js";
import type { AuditAction, Linking } from "../../ports/records.js";
import { type BackoffPolicy, RetriesExhaustedError, retry } from "../../resilience/backoff.js";
import { actionKeyOf, type Item, isOpenMark, MARKED, runKey, toItem, UNLINKED } from "./items.js";
import {
  cancellationCodes,
  isConditionFailure,
  type RetryHooks,
  requestToken,
  type TableIo,
  writeError,
} from "./table-io.js";

/**
 * Conflicting head updates (another writer appended first) and busy-table cancellations are tried
 * this many times in all, pausing with full jitter between tries.
 */
export const CHAIN_BACKOFF: BackoffPolicy = { baseMs: 50, capMs: 2_000, maxAttempts: 8 };
/** A transaction holds at most 100 items: these final items and the run's head. */
export const FINALS_PER_TRANSACTION = 99;
/** DynamoDB refuses a transaction over 4 MB; a batch of final items stops well short of it. */
export const FINALS_BYTES_PER_TRANSACTION = 1_000_000;

/** A final item waiting in a batch: its place in the caller's list, the action and its item. */
export interface FinalEntry {
  index: number;
  action: AuditAction;
  item: Item;
}

const TRANSIENT_CANCELLATIONS = new Set([
  "ThrottlingError",
  "ProvisionedThroughputExceeded",
  "TransactionConflict",
]);

type ChainFailure = "item-exists" | "head-moved" | "transient" | "other";

/**
 * What failed in a chain transaction whose items before `headIndex` are action items and whose
 * item at `headIndex` advances the run's head.
 */
function chainFailure(error: unknown, headIndex: number): ChainFailure {
  const name = error instanceof Error ? error.name : "";
  if (name === "TransactionConflictException") return "head-moved";
  if (name !== "TransactionCanceledException") return "other";
  const codes = cancellationCodes(error);
  if (codes.slice(0, headIndex).includes("ConditionalCheckFailed")) return "item-exists";
  if (codes[headIndex] === "ConditionalCheckFailed") return "head-moved";
  // A transaction reports throttling and conflicts per item inside its cancellation, not as the
  // error name the store's retry layer looks for.
  if (codes.some((code) => TRANSIENT_CANCELLATIONS.has(code ?? ""))) return "transient";
  return "other";
}

/** A link asked of a run that is sealed: its chain is closed, and its seal is never rewritten. */
export class SealedRunError extends Error {
  constructor(readonly runId: string) {
    super(`run ${runId} is sealed: its chain is closed and its seal is never rewritten`);
    this.name = "SealedRunError";
  }
}

/** A chain write worth another try; carries the transaction's own error. */
class ChainConflict extends Error {
  constructor(readonly failure: unknown) {
    super("chain write conflict", { cause: failure });
    this.name = "ChainConflict";
  }
}

export type ChainWriter = ReturnType<typeof createChainWriter>;

export function createChainWriter(io: TableIo, hooks: RetryHooks = {}) {
  /**
   * Appends are serialized per run inside this process, so the sweep's concurrent workers never
   * race for the same head; the conditional head update catches any writer outside this process.
   */
  const chainQueues = new Map<string, Promise<void>>();
  function inChainOrder<T>(runId: string, append: () => Promise<T>): Promise<T> {
    const previous = chainQueues.get(runId) ?? Promise.resolve();
    // The previous append's failure was already delivered to its own caller; it must not stop this one.
    const next = previous.then(append);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    chainQueues.set(runId, settled);
    settled.then(() => {
      if (chainQueues.get(runId) === settled) chainQueues.delete(runId);
    });
    return next;
  }

  /**
   * The head each run's chain had after this store's last successful append. Appends are
   * serialized per run, so it is the head to build on unless another writer appended meanwhile;
   * then the conditional head update fails and the retry reads the run item afresh.
   */
  const knownHeads = new Map<string, { length: string; hash: string }>();
  async function chainHead(runId: string, attempt: number) {
    const known = knownHeads.get(runId);
    if (attempt === 0 && known !== undefined) return known;
    const run = await io.getItem(runKey(runId), writeError);
    // A sealed run's chain is closed: its seal is written once and never again, so nothing is
    // linked after it (a later run records what is left in its own chain).
    if (run?.seal !== undefined) throw new SealedRunError(runId);
    const length = run?.chainLength?.N;
    const hash = run?.chainHead?.S;
    return length === undefined || hash === undefined ? undefined : { length, hash };
  }

  /**
   * Runs `write` (given the 0-based attempt) until it lands, an item is found stored already, or
   * it fails for good. A moved head or a busy table is tried again under CHAIN_BACKOFF; the error
   * that ends the tries is the transaction's own.
   */
  async function untilWritten<T>(
    headIndex: number,
    write: (attempt: number) => Promise<T>,
  ): Promise<T | "item-exists"> {
    try {
      return await retry(
        async (attempt) => {
          try {
            return await write(attempt);
          } catch (error) {
            const failure = chainFailure(error, headIndex);
            if (failure === "item-exists") return "item-exists" as const;
            if (failure === "other") throw error;
            throw new ChainConflict(error);
          }
        },
        {
          policy: CHAIN_BACKOFF,
          isRetryable: (error) => error instanceof ChainConflict,
          ...(hooks.sleep ? { sleep: hooks.sleep } : {}),
          ...(hooks.random ? { random: hooks.random } : {}),
        },
      );
    } catch (error) {
      const conflict = error instanceof RetriesExhaustedError ? error.cause : error;
      throw conflict instanceof ChainConflict ? conflict.failure : error;
    }
  }

  /** The run item's part of every chain write: the new head, only from the head it was computed on. */
  function advanceHead(runId: string, length: string, seq: number, hash: string, waited?: string) {
    return {
      Update: {
        TableName: io.tableName,
        Key: runKey(runId),
        // The item linked is no longer waiting: the run's record of it goes in the same transaction.
        UpdateExpression:
          waited === undefined
            ? "SET chainHead = :hash, chainLength = :seq"
            : "SET chainHead = :hash, chainLength = :seq DELETE awaitingLink :waited",
        // Advancing only from the head the hashes were computed on (two writers cannot fork), and
        // never past a seal: a sealed run's chain is closed.
        ConditionExpression: "chainLength = :length AND attribute_not_exists(seal)",
        ExpressionAttributeValues: {
          ...toItem({ ":seq": seq, ":hash": hash }),
          ":length": { N: length },
          ...(waited === undefined ? {} : { ":waited": { SS: [waited] } }),
        },
      },
    };
  }

  /**
   * Puts a batch of final items of one run, linked onto its chain, and advances the run's head,
   * all in one transaction. False when the batch must go item by item instead: one of its items
   * is stored already (a retried run), or the run has no chain to hang them on.
   */
  async function putChained(
    batch: readonly FinalEntry[],
    extra: readonly TransactWriteItem[] = [],
  ): Promise<boolean> {
    const runId = batch[0]?.action.runId;
    if (runId === undefined) return true;
    try {
      const written = await untilWritten(batch.length, async (attempt) => {
        const head = await chainHead(runId, attempt);
        if (head === undefined) return false;
        const { length } = head;
        let prevHash = head.hash;
        let seq = Number(length);
        const puts = batch.map(({ action, item }) => {
          seq += 1;
          const hash = chainHash(prevHash, action, seq);
          const linked: Item = {
            ...item,
            ...toItem({ chainSeq: seq, chainHash: hash, chainPrev: prevHash }),
          };
          prevHash = hash;
          return {
            Put: { TableName: io.tableName, Item: linked, ConditionExpression: "attribute_not_exists(pk)" },
          };
        });
        await io.transact({
          TransactItems: [...puts, advanceHead(runId, length, seq, prevHash), ...extra],
          ClientRequestToken: requestToken(runId, prevHash),
        });
        knownHeads.set(runId, { length: String(seq), hash: prevHash });
        return true;
      });
      // An item is stored already: the batch goes item by item, each finding what is there.
      return written !== "item-exists" && written;
    } catch (error) {
      throw writeError(`chain ${runId} (${batch.length} items)`, error);
    }
  }

  async function appendToChain(action: AuditAction): Promise<void> {
    const where = `${action.runId}/${action.handshakeId}`;
    const marked = isOpenMark(action) ? { ":marked": MARKED } : {};
    try {
      // "item-exists": already linked, a retried write whose first attempt landed, or another
      // writer got there.
      await untilWritten(1, async (attempt) => {
        const head = await chainHead(action.runId, attempt);
        // The chain hangs off the run item: an action recorded without a run (or under a run
        // started before chains existed) has nothing to anchor to, and verify reports it as unchained.
        if (head === undefined) {
          // Never linkable, so not left waiting on the pending index either.
          await io
            .update({
              Key: actionKeyOf(action),
              UpdateExpression: isOpenMark(action) ? `SET pendingKey = :marked` : "REMOVE pendingKey",
              ConditionExpression: "pendingKey = :unlinked",
              ExpressionAttributeValues: toItem({ ":unlinked": UNLINKED, ...marked }),
            })
            .catch((error: unknown) => {
              if (!isConditionFailure(error)) throw writeError(`unmark ${where}`, error);
            });
          return;
        }
        const { length, hash: prevHash } = head;
        const seq = Number(length) + 1;
        const hash = chainHash(prevHash, action, seq);
        await io.transact({
          TransactItems: [
            {
              Update: {
                TableName: io.tableName,
                Key: actionKeyOf(action),
                // Linked: off the pending index, where an unlinked final item waits.
                // An open mark moves from UNLINKED to MARKED, where the next runs find it.
                UpdateExpression: isOpenMark(action)
                  ? "SET chainSeq = :seq, chainHash = :hash, chainPrev = :prev, pendingKey = :marked"
                  : "SET chainSeq = :seq, chainHash = :hash, chainPrev = :prev REMOVE pendingKey",
                ConditionExpression: "attribute_exists(pk) AND attribute_not_exists(chainHash)",
                ExpressionAttributeValues: toItem({
                  ":seq": seq,
                  ":hash": hash,
                  ":prev": prevHash,
                  ...marked,
                }),
              },
            },
            advanceHead(action.runId, length, seq, hash, itemKeyPart(action)),
          ],
        });
        knownHeads.set(action.runId, { length: String(seq), hash });
      });
    } catch (error) {
      throw writeError(`chain ${where}`, error);
    }
  }

  return {
    /**
     * Links a stored final item into its run's chain. A failure is answered, not thrown: the item
     * and its outcome are on record, marked UNLINKED, and linkUnchained links it later.
     */
    async link(action: AuditAction): Promise<Linking> {
      let linking: Linking;
      try {
        await inChainOrder(action.runId, () => appendToChain(action));
        linking = {};
      } catch (error) {
        linking = { unlinked: describeError(error) };
      }
      return linking;
    },

    /** A batch of one run's final items put and linked in one transaction, in the run's chain order. */
    putFinals(entries: readonly FinalEntry[]): Promise<boolean> {
      return inChainOrder(entries[0]?.action.runId ?? "", () => putChained(entries));
    },

    /**
     * One final item put and linked, with `also` (a conditional write of another item) in the same
     * transaction. "refused" when `also`'s condition failed (nothing is written), "exists" when
     * the item is stored already, "no-chain" when its run has no chain.
     */
    async putChainedWith(
      entry: FinalEntry,
      also: TransactWriteItem,
    ): Promise<"written" | "refused" | "exists" | "no-chain"> {
      try {
        const written = await inChainOrder(entry.action.runId, () => putChained([entry], [also]));
        return written ? "written" : "no-chain";
      } catch (error) {
        const reasons =
          (error as { cause?: { CancellationReasons?: { Code?: string }[] } }).cause?.CancellationReasons ??
          (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ??
          [];
        if (reasons[2]?.Code === "ConditionalCheckFailed") return "refused";
        if (reasons[0]?.Code === "ConditionalCheckFailed") return "exists";
        throw error;
      }
    },
  };
}
