import { createHash } from "node:crypto";
import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import {
  type BackoffPolicy,
  describeError,
  RetriesExhaustedError,
  retry,
  type Sleep,
  sleep,
} from "../core/backoff.js";
import { CHAIN_GENESIS, type ChainedAction, chainHash } from "../core/integrity.js";
import type {
  AuditAction,
  AuditPort,
  ClaimResult,
  FinalResult,
  HandshakeClaims,
  Linking,
  OpenMark,
  PutResult,
  ReadAction,
  ReadRun,
  RunRecord,
} from "../core/ports.js";
import {
  AuditWriteError,
  ConfigError,
  JanitorError,
  type LeaseHolder,
  LeaseLostError,
  OutcomeConflictError,
} from "../domain/errors.js";
import {
  OUTCOMES,
  type Outcome,
  type OutcomeCounts,
  RUN_STATUSES,
  type RunStatus,
  TRIGGERS,
} from "../domain/outcomes.js";
import { AUDIT_INDEXES, AUDIT_TTL_ATTRIBUTE } from "./audit-table.js";
import { isRetryable } from "./errors.js";

/** A time-range query with no lower bound reads this far back. */
export const DEFAULT_QUERY_WINDOW_DAYS = 30;

/**
 * DynamoDB answers throttling in milliseconds, so the steps start small; six attempts span a few
 * seconds, after which the sweep is better off failing closed than holding a cancel in flight.
 */
export const AUDIT_BACKOFF: BackoffPolicy = { baseMs: 50, capMs: 2_000, maxAttempts: 6 };

export interface ActionFilter {
  since?: Date;
  until?: Date;
  /** The first matching rule (`ruleId`); handshakes a rule matched second are not found by it. */
  ruleId?: string;
  handshakeId?: string;
  runId?: string;
  outcome?: string;
}

export interface RunFilter {
  since?: Date;
  until?: Date;
}

/**
 * Read side for `audit query` and compliance: every method is a Query or GetItem, never a Scan.
 * The readers of a period (queryActions, listRuns, exportActions) yield an item that does not
 * read in full as what could be read of it, flagged `unreadable`, and carry on.
 */
export interface AuditQueries {
  /**
   * Served by the most selective key available: runId (the run's partition), then handshakeId
   * (byHandshake), then ruleId (byRule), else the time range (byTime, one Query per month, since
   * defaulting to DEFAULT_QUERY_WINDOW_DAYS before until). Other criteria filter the results.
   */
  queryActions(filter?: ActionFilter): AsyncIterable<ReadAction>;
  /** Runs that started in the range; the same defaults as the time path of queryActions. */
  listRuns(filter?: RunFilter): AsyncIterable<ReadRun>;
  getRun(runId: string): Promise<RunRecord | undefined>;
  getRunActions(runId: string): Promise<AuditAction[]>;
  /** A run's chain head and its action items with their links, for `audit verify`. */
  readChain(runId: string): Promise<{ head?: { hash: string; length: number }; actions: StoredAction[] }>;
  /** Every action item of the period once, with its chain link, page by page (byTime). */
  exportActions(filter: RunFilter): AsyncIterable<StoredAction>;
  /** The canonical config JSON recordConfig kept under this hash; undefined when none is stored. */
  getConfig(hash: string): Promise<string | undefined>;
}

/** An action item as stored, read tolerantly: verification must describe a damaged item, not stop. */
export interface StoredAction {
  keyRunId: string;
  keyHandshakeId: string;
  /** undefined when the item no longer reads as an audit action; readError says why. */
  action?: AuditAction;
  readError?: string;
  /** What a reader shows: the action, or what could be read of it, flagged. */
  record: ReadAction;
  link: { seq?: number; prev?: string; hash?: string };
}

/** For verifyChain: a partial link is kept as a link, so its empty parts fail the check. */
export function chainedActions(actions: readonly StoredAction[]): {
  items: ChainedAction[];
  unreadable: string[];
} {
  const items: ChainedAction[] = [];
  const unreadable: string[] = [];
  for (const stored of actions) {
    if (stored.action === undefined) {
      unreadable.push(
        `run ${stored.keyRunId}: item ${stored.keyHandshakeId}: unreadable: ${stored.readError}`,
      );
      continue;
    }
    const { seq, prev, hash } = stored.link;
    const linked = seq !== undefined || prev !== undefined || hash !== undefined;
    items.push(
      linked
        ? { action: stored.action, chain: { seq: seq ?? 0, prevHash: prev ?? "", hash: hash ?? "" } }
        : { action: stored.action },
    );
  }
  return { items, unreadable };
}

export interface AuditStoreOptions {
  /** Built by the composition root with maxAttempts: 1; this store is the only retry layer. */
  client: DynamoDBClient;
  tableName: string;
  retry?: { policy?: BackoffPolicy; sleep?: Sleep; random?: () => number };
  now?: () => Date;
  /**
   * When set, every item gets AUDIT_TTL_ATTRIBUTE = its time + this many days (epoch seconds), for
   * a table whose TTL is on. Unset (the default), nothing ever expires.
   */
  retentionDays?: number;
  /**
   * How long the organization's lease lasts unless renewed (the sweep renews it every third of
   * this): how long a crashed holder can keep the next live run waiting. Default LEASE_DURATION_MS.
   */
  leaseDurationMs?: number;
}

/** A crashed run blocks the next live run for at most this long. */
export const LEASE_DURATION_MS = 60_000;

/** AUDIT_RETENTION_DAYS: unset or empty means keep forever; otherwise a whole number of days > 0. */
export function retentionDaysFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env.AUDIT_RETENTION_DAYS?.trim();
  if (raw === undefined || raw === "") return undefined;
  if (!/^[1-9][0-9]*$/.test(raw)) {
    throw new ConfigError([`AUDIT_RETENTION_DAYS: '${raw}' is not a whole number of days greater than 0`]);
  }
  return Number(raw);
}

/** Conflicting head updates (another writer appended first) are retried this many times. */
const CHAIN_ATTEMPTS = 8;
/** A transaction holds at most 100 items: these final items and the run's head. */
const FINALS_PER_TRANSACTION = 99;
/** DynamoDB refuses a transaction over 4 MB; a batch of final items stops well short of it. */
const FINALS_BYTES_PER_TRANSACTION = 1_000_000;

/** A final item waiting in a batch: its place in the caller's list, the action and its item. */
interface FinalEntry {
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
  const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  if (reasons.slice(0, headIndex).some((reason) => reason.Code === "ConditionalCheckFailed")) {
    return "item-exists";
  }
  if (reasons[headIndex]?.Code === "ConditionalCheckFailed") return "head-moved";
  // A transaction reports throttling and conflicts per item inside its cancellation, not as the
  // error name the store's retry layer looks for.
  if (reasons.some((reason) => TRANSIENT_CANCELLATIONS.has(reason.Code ?? ""))) return "transient";
  return "other";
}

type Item = Record<string, AttributeValue>;

/** Throttling, server faults and dropped connections: worth another try. Everything else is not. */
export function isRetryableDynamoDbError(error: unknown): boolean {
  return isRetryable(error);
}

export function createAuditStore(options: AuditStoreOptions): AuditPort & AuditQueries & HandshakeClaims {
  const { client, tableName } = options;
  const now = options.now ?? (() => new Date());
  const policy = options.retry?.policy ?? AUDIT_BACKOFF;
  const { retentionDays } = options;
  const leaseDurationMs = options.leaseDurationMs ?? LEASE_DURATION_MS;

  function expiresAt(at: string): number | undefined {
    if (retentionDays === undefined) return undefined;
    return Math.floor(Date.parse(at) / 1000) + retentionDays * 86_400;
  }
  function expiry(at: string): Item {
    const seconds = expiresAt(at);
    return seconds === undefined ? {} : { [AUDIT_TTL_ATTRIBUTE]: { N: String(seconds) } };
  }

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
  function chain(action: AuditAction): Promise<void> {
    return inChainOrder(action.runId, () => appendToChain(action));
  }

  /**
   * The head each run's chain had after this store's last successful append. Appends are
   * serialized per run, so it is the head to build on unless another writer appended meanwhile;
   * then the conditional head update fails and the retry reads the run item afresh.
   */
  const knownHeads = new Map<string, { length: string; hash: string }>();
  async function chainHead(runId: string, attempt: number) {
    const known = knownHeads.get(runId);
    if (attempt === 1 && known !== undefined) return known;
    const run = await getItem(runKey(runId), writeError);
    const length = run?.chainLength?.N;
    const hash = run?.chainHead?.S;
    return length === undefined || hash === undefined ? undefined : { length, hash };
  }

  /**
   * Puts a batch of final items of one run, linked onto its chain, and advances the run's head,
   * all in one transaction. False when the batch must go item by item instead: one of its items
   * is stored already (a retried run), or the run has no chain to hang them on.
   */
  async function putChained(batch: readonly FinalEntry[]): Promise<boolean> {
    const runId = batch[0]?.action.runId;
    if (runId === undefined) return true;
    for (let attempt = 1; ; attempt += 1) {
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
          chainSeq: { N: String(seq) },
          chainHash: { S: hash },
          chainPrev: { S: prevHash },
        };
        prevHash = hash;
        return {
          Put: { TableName: tableName, Item: linked, ConditionExpression: "attribute_not_exists(pk)" },
        };
      });
      try {
        await send(() =>
          client.send(
            new TransactWriteItemsCommand({
              TransactItems: [...puts, advanceHead(runId, length, seq, prevHash)],
              // A retry of a transaction whose answer was lost is answered as the first one was,
              // not applied again; the new head names the content, so another content gets another token.
              ClientRequestToken: createHash("sha256")
                .update(`${runId}\n${prevHash}`)
                .digest("hex")
                .slice(0, 36),
            }),
          ),
        );
        knownHeads.set(runId, { length: String(seq), hash: prevHash });
        return true;
      } catch (error) {
        const failure = chainFailure(error, puts.length);
        // An item is stored already: the batch goes item by item, each finding what is there.
        if (failure === "item-exists") return false;
        if (await retryChain(failure, attempt)) continue;
        throw writeError(`chain ${runId} (${batch.length} items)`, error);
      }
    }
  }

  /** The run item's part of every chain write: the new head, only from the head it was computed on. */
  function advanceHead(runId: string, length: string, seq: number, hash: string) {
    return {
      Update: {
        TableName: tableName,
        Key: runKey(runId),
        UpdateExpression: "SET chainHead = :hash, chainLength = :seq",
        // Advancing only from the head the hashes were computed on: two writers cannot fork.
        ConditionExpression: "chainLength = :length",
        ExpressionAttributeValues: {
          ":seq": { N: String(seq) },
          ":hash": { S: hash },
          ":length": { N: length },
        },
      },
    };
  }

  /** Whether a failed chain write is tried again (after a pause when the table was busy). */
  async function retryChain(failure: ChainFailure, attempt: number): Promise<boolean> {
    if ((failure !== "head-moved" && failure !== "transient") || attempt >= CHAIN_ATTEMPTS) return false;
    if (failure === "transient") await (options.retry?.sleep ?? sleep)(Math.min(2_000, 50 * 2 ** attempt));
    return true;
  }

  async function appendToChain(action: AuditAction): Promise<void> {
    const where = `${action.runId}/${action.handshakeId}`;
    for (let attempt = 1; ; attempt += 1) {
      const head = await chainHead(action.runId, attempt);
      // The chain hangs off the run item: an action recorded without a run (or under a run started
      // before chains existed) has nothing to anchor to, and verify reports it as unchained.
      if (head === undefined) {
        // Never linkable, so not left waiting on the pending index either.
        await send(() =>
          client.send(
            new UpdateItemCommand({
              TableName: tableName,
              Key: actionKey(action.runId, action.handshakeId),
              UpdateExpression: isOpenMark(action) ? `SET pendingKey = :marked` : "REMOVE pendingKey",
              ConditionExpression: "pendingKey = :unlinked",
              ExpressionAttributeValues: {
                ":unlinked": { S: UNLINKED },
                ...(isOpenMark(action) ? { ":marked": { S: MARKED } } : {}),
              },
            }),
          ),
        ).catch((error: unknown) => {
          if (!isConditionFailure(error)) throw writeError(`unmark ${where}`, error);
        });
        return;
      }
      const { length, hash: prevHash } = head;
      const seq = Number(length) + 1;
      const hash = chainHash(prevHash, action, seq);
      try {
        await send(() =>
          client.send(
            new TransactWriteItemsCommand({
              TransactItems: [
                {
                  Update: {
                    TableName: tableName,
                    Key: actionKey(action.runId, action.handshakeId),
                    // Linked: off the pending index, where an unlinked final item waits.
                    // An open mark moves from UNLINKED to MARKED, where the next runs find it.
                    UpdateExpression: isOpenMark(action)
                      ? "SET chainSeq = :seq, chainHash = :hash, chainPrev = :prev, pendingKey = :marked"
                      : "SET chainSeq = :seq, chainHash = :hash, chainPrev = :prev REMOVE pendingKey",
                    ConditionExpression: "attribute_exists(pk) AND attribute_not_exists(chainHash)",
                    ExpressionAttributeValues: {
                      ":seq": { N: String(seq) },
                      ":hash": { S: hash },
                      ":prev": { S: prevHash },
                      ...(isOpenMark(action) ? { ":marked": { S: MARKED } } : {}),
                    },
                  },
                },
                advanceHead(action.runId, length, seq, hash),
              ],
            }),
          ),
        );
        knownHeads.set(action.runId, { length: String(seq), hash });
        return;
      } catch (error) {
        const failure = chainFailure(error, 1);
        // Already linked: a retried write whose first attempt landed, or another writer got there.
        if (failure === "item-exists") return;
        if (await retryChain(failure, attempt)) continue;
        throw writeError(`chain ${where}`, error);
      }
    }
  }

  function send<T>(call: (attempt: number) => Promise<T>): Promise<T> {
    return retry(call, {
      policy,
      isRetryable: isRetryableDynamoDbError,
      ...(options.retry?.sleep ? { sleep: options.retry.sleep } : {}),
      ...(options.retry?.random ? { random: options.retry.random } : {}),
    });
  }

  /**
   * A conditional put. When the item exists already, returns what is stored. A put whose
   * response was lost and that is then retried finds its own item: that still counts as created.
   */
  async function putNew(item: Item): Promise<{ created: true } | { created: false; existing: Item }> {
    let retried = false;
    try {
      await send((attempt) => {
        retried = attempt > 0;
        return client.send(
          new PutItemCommand({
            TableName: tableName,
            Item: item,
            ConditionExpression: "attribute_not_exists(pk)",
            // The item that failed the check comes back atomically with the failure, saving a read
            // that could race with a concurrent writer.
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          }),
        );
      });
      return { created: true };
    } catch (error) {
      if (!isConditionFailure(error)) throw writeError(`put ${describeKey(item)}`, error);
      const existing = conditionItem(error) ?? (await getItem(item, writeError));
      if (existing === undefined) {
        throw new AuditWriteError(`audit put ${describeKey(item)}: condition failed but no item is stored`, {
          cause: error,
        });
      }
      if (retried && canonical(existing) === canonical(item)) return { created: true };
      return { created: false, existing };
    }
  }

  async function getItem(
    keySource: Item,
    wrap: (what: string, error: unknown) => JanitorError = readError,
  ): Promise<Item | undefined> {
    const key: Item = {};
    if (keySource.pk) key.pk = keySource.pk;
    if (keySource.sk) key.sk = keySource.sk;
    try {
      const result = await send(() =>
        client.send(new GetItemCommand({ TableName: tableName, Key: key, ConsistentRead: true })),
      );
      return result.Item;
    } catch (error) {
      throw wrap(`get ${describeKey(keySource)}`, error);
    }
  }

  async function* query(
    input: Omit<QueryCommandInput, "TableName" | "ExclusiveStartKey">,
  ): AsyncGenerator<Item> {
    let startKey: Item | undefined;
    do {
      const exclusiveStart = startKey;
      let page: { Items?: Item[]; LastEvaluatedKey?: Item };
      try {
        page = await send(() =>
          client.send(
            new QueryCommand({
              ...input,
              TableName: tableName,
              ...(exclusiveStart ? { ExclusiveStartKey: exclusiveStart } : {}),
            }),
          ),
        );
      } catch (error) {
        throw readError(`query ${input.IndexName ?? "table"}`, error);
      }
      yield* page.Items ?? [];
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
  }

  function timeRange(
    filter: { since?: Date; until?: Date },
    defaults: boolean,
  ): { since?: Date; until?: Date } {
    const until = filter.until ?? (defaults ? now() : undefined);
    const since =
      filter.since ??
      (defaults && until ? new Date(until.getTime() - DEFAULT_QUERY_WINDOW_DAYS * 86_400_000) : undefined);
    const issues: string[] = [];
    if (since && Number.isNaN(since.getTime())) issues.push("since: not a valid date");
    if (until && Number.isNaN(until.getTime())) issues.push("until: not a valid date");
    if (issues.length === 0 && since && until && since > until) {
      issues.push(`since: ${since.toISOString()} is after until ${until.toISOString()}`);
    }
    if (issues.length > 0) throw new ConfigError(issues.map((issue) => `audit query ${issue}`));
    return { ...(since ? { since } : {}), ...(until ? { until } : {}) };
  }

  async function* itemsByMonth(
    prefix: "ACTION" | "RUN",
    range: { since?: Date; until?: Date },
    filters: Condition[],
  ): AsyncGenerator<Item> {
    const { since, until } = range;
    if (!since || !until) return;
    for (const month of monthsBetween(since, until)) {
      yield* query(
        queryInput(AUDIT_INDEXES.byTime, [eq("timeKey", `${prefix}#${month}`), ...atRange(range)], filters),
      );
    }
  }

  /** One batch of recordFinals: a transaction, or item by item when the batch cannot be one. */
  async function writeFinals(entries: readonly FinalEntry[], results: FinalResult[]): Promise<void> {
    let written: boolean;
    try {
      written = await inChainOrder(entries[0]?.action.runId ?? "", () => putChained(entries));
    } catch (error) {
      for (const entry of entries) results[entry.index] = { failed: describeError(error) };
      return;
    }
    for (const entry of entries) {
      if (written) {
        results[entry.index] = { created: true };
        continue;
      }
      try {
        results[entry.index] = await recordAction(entry.action);
      } catch (error) {
        results[entry.index] = { failed: describeError(error) };
      }
    }
  }

  async function recordAction(action: AuditAction): Promise<PutResult> {
    const normalized = normalizeAction(action);
    // A final item waits on the pending index as UNLINKED until its chain link removes the mark.
    const mark: Item = normalized.outcome === undefined ? {} : { pendingKey: { S: UNLINKED } };
    const result = await putNew({ ...actionItem(normalized), ...mark, ...expiry(normalized.at) });
    if (result.created) {
      return normalized.outcome === undefined
        ? { created: true }
        : { created: true, ...(await link(normalized)) };
    }
    const existing = parseAction(result.existing);
    // A final item a crash left unlinked is linked by whoever finds it next.
    if (existing.outcome !== undefined && result.existing.chainHash === undefined) await link(existing);
    return { created: false, existing };
  }

  /**
   * Links a stored final item into its run's chain. A failure is answered, not thrown: the item
   * and its outcome are on record, marked UNLINKED, and linkUnchained links it later.
   */
  async function link(action: AuditAction): Promise<Linking> {
    try {
      await chain(action);
      return {};
    } catch (error) {
      return { unlinked: describeError(error) };
    }
  }

  /**
   * A handshake's claim is one item beside the runs, `CLAIM#<handshakeId>` / `CLAIM`, with none of
   * the attributes any index keys on (no timeKey, handshakeId, ruleId or pendingKey): no audit
   * query, report, export or verification ever reads it. Taking it is one conditional put;
   * releasing it sets its expiry to 0 (an update, so the role needs no DeleteItem).
   */
  async function claimHandshake(handshakeId: string, holder: string, ttlMs: number): Promise<ClaimResult> {
    requireKeyPart(handshakeId, "claim handshakeId");
    requireKeyPart(holder, "claim holder");
    if (!(Number.isFinite(ttlMs) && ttlMs > 0)) {
      throw new AuditWriteError(`audit claim ${handshakeId}: ttlMs must be a number > 0, not ${ttlMs}`);
    }
    const at = now();
    const until = at.getTime() + Math.ceil(ttlMs);
    const item: Item = {
      ...claimKey(handshakeId),
      itemType: { S: "claim" },
      holder: { S: holder },
      claimedAt: { S: at.toISOString() },
      claimedUntil: { N: String(until) },
      // Whether or not the table's TTL is on: a claim is working state, not part of the trail.
      [AUDIT_TTL_ATTRIBUTE]: { N: String(Math.floor(until / 1000) + 86_400) },
    };
    try {
      await send(() =>
        client.send(
          new PutItemCommand({
            TableName: tableName,
            Item: item,
            // Free, ours already (a renewal, or a retried put whose answer was lost), or expired.
            ConditionExpression: "attribute_not_exists(pk) OR holder = :holder OR claimedUntil <= :now",
            ExpressionAttributeValues: { ":holder": { S: holder }, ":now": { N: String(at.getTime()) } },
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          }),
        ),
      );
      return { taken: true };
    } catch (error) {
      if (!isConditionFailure(error)) throw writeError(`claim ${handshakeId}`, error);
      const held = conditionItem(error) ?? (await getItem(claimKey(handshakeId), writeError));
      return {
        taken: false,
        holder: held?.holder?.S ?? "(unknown)",
        until: new Date(Number(held?.claimedUntil?.N ?? until)),
      };
    }
  }

  async function releaseHandshake(handshakeId: string, holder: string): Promise<void> {
    requireKeyPart(handshakeId, "claim handshakeId");
    try {
      await send(() =>
        client.send(
          new UpdateItemCommand({
            TableName: tableName,
            Key: claimKey(handshakeId),
            UpdateExpression: "SET claimedUntil = :zero, releasedAt = :at",
            // Only our own claim: one that expired and was taken over belongs to its new holder.
            ConditionExpression: "holder = :holder",
            ExpressionAttributeValues: {
              ":zero": { N: "0" },
              ":at": { S: now().toISOString() },
              ":holder": { S: holder },
            },
          }),
        ),
      );
    } catch (error) {
      if (isConditionFailure(error)) return;
      throw writeError(`release claim ${handshakeId}`, error);
    }
  }

  /**
   * The organization's lease: one item, off every index, taken and renewed with conditional
   * writes so that at most one live run acts at a time. A holder that dies stops renewing, and the
   * lease lapses on its own after leaseDurationMs. Times are the writer's clock (epoch ms).
   */
  function leaseMethods(): Pick<AuditPort, "acquireLease" | "renewLease" | "releaseLease"> {
    const names = { "#runId": "runId", "#expires": "leaseExpiresAt" };
    const holderOf = (item: Item | undefined): LeaseHolder | undefined =>
      item?.runId?.S === undefined
        ? undefined
        : {
            runId: item.runId.S,
            since: item.since?.S ?? "",
            expiresAt: Number(item.leaseExpiresAt?.N ?? "0"),
          };
    return {
      async acquireLease(runId) {
        requireKeyPart(runId, "runId");
        const at = now();
        const lease: LeaseHolder = {
          runId,
          since: at.toISOString(),
          expiresAt: at.getTime() + leaseDurationMs,
        };
        try {
          await send(() =>
            client.send(
              new PutItemCommand({
                TableName: tableName,
                Item: {
                  ...LEASE_KEY,
                  itemType: { S: "lease" },
                  runId: { S: runId },
                  since: { S: lease.since },
                  leaseExpiresAt: { N: String(lease.expiresAt) },
                },
                // Free, lapsed, or already this run's (a retried request, or a retried event).
                ConditionExpression: "attribute_not_exists(pk) OR #expires <= :now OR #runId = :runId",
                ExpressionAttributeNames: names,
                ExpressionAttributeValues: { ":now": { N: String(at.getTime()) }, ":runId": { S: runId } },
                ReturnValuesOnConditionCheckFailure: "ALL_OLD",
              }),
            ),
          );
          return { acquired: true, lease };
        } catch (error) {
          if (!isConditionFailure(error)) throw writeError("take the lease", error);
          const holder = holderOf(conditionItem(error) ?? (await getItem(LEASE_KEY, writeError)));
          if (holder === undefined) throw writeError("take the lease", error);
          return { acquired: false, holder };
        }
      },

      async renewLease(runId) {
        const at = now();
        const expiresAt = at.getTime() + leaseDurationMs;
        let since: string;
        try {
          const answer = await send(() =>
            client.send(
              new UpdateItemCommand({
                TableName: tableName,
                Key: LEASE_KEY,
                UpdateExpression: "SET #expires = :expires",
                // Still this run's: a lapsed lease nobody took meanwhile is still safely ours.
                ConditionExpression: "#runId = :runId",
                ExpressionAttributeNames: names,
                ExpressionAttributeValues: { ":expires": { N: String(expiresAt) }, ":runId": { S: runId } },
                ReturnValuesOnConditionCheckFailure: "ALL_OLD",
                ReturnValues: "ALL_NEW",
              }),
            ),
          );
          since = answer.Attributes?.since?.S ?? "";
        } catch (error) {
          if (isConditionFailure(error)) throw new LeaseLostError(runId, holderOf(conditionItem(error)));
          throw writeError("renew the lease", error);
        }
        // Noted on the run item too, so reconciliation can tell a live run's intents from a dead
        // one's even if the lease item itself were lost or deleted by hand.
        await send(() =>
          client.send(
            new UpdateItemCommand({
              TableName: tableName,
              Key: runKey(runId),
              UpdateExpression: "SET #expires = :expires",
              ConditionExpression: "attribute_exists(pk) AND #status = :running",
              ExpressionAttributeNames: { "#expires": "leaseExpiresAt", "#status": "status" },
              ExpressionAttributeValues: {
                ":expires": { N: String(expiresAt) },
                ":running": { S: "RUNNING" },
              },
            }),
          ),
        ).catch((error: unknown) => {
          if (!isConditionFailure(error)) throw writeError(`note the lease on run ${runId}`, error);
        });
        return { runId, since, expiresAt };
      },

      async releaseLease(runId) {
        const at = now();
        try {
          await send(() =>
            client.send(
              new UpdateItemCommand({
                TableName: tableName,
                Key: LEASE_KEY,
                UpdateExpression: "SET #expires = :now, releasedAt = :at",
                ConditionExpression: "#runId = :runId",
                ExpressionAttributeNames: names,
                ExpressionAttributeValues: {
                  ":now": { N: String(at.getTime()) },
                  ":at": { S: at.toISOString() },
                  ":runId": { S: runId },
                },
              }),
            ),
          );
          return true;
        } catch (error) {
          if (isConditionFailure(error)) return false;
          throw writeError("release the lease", error);
        }
      },
    };
  }

  return {
    claimHandshake,
    releaseHandshake,

    async startRun(run) {
      const normalized = normalizeRun(run);
      const result = await putNew({
        ...runItem(normalized),
        ...expiry(normalized.startedAt),
        // An empty chain from the start, so every append is the same conditional head update.
        chainHead: { S: CHAIN_GENESIS },
        chainLength: { N: "0" },
      });
      if (result.created) return { created: true, run: normalized };
      return { created: false, run: parseRun(result.existing) };
    },

    async finishRun(run) {
      const normalized = normalizeRun({ ...run, endedAt: run.endedAt ?? now().toISOString() });
      const update = updateExpression(
        {
          status: { S: normalized.status },
          endedAt: { S: normalized.endedAt ?? "" },
          counts: countsAttribute(normalized.counts),
          listed: numberAttribute(normalized.listed),
          candidates: numberAttribute(normalized.candidates),
          matched: numberAttribute(normalized.matched),
          ...(normalized.error === undefined ? {} : { error: { S: normalized.error } }),
          ...(normalized.countsStale === true ? { countsStale: { BOOL: true } } : {}),
        },
        normalized.countsStale === true ? [] : ["countsStale"],
      );
      try {
        await send(() =>
          client.send(
            new UpdateItemCommand({
              ...update,
              TableName: tableName,
              Key: runKey(normalized.runId),
              // A finish without a start would leave a run item missing trigger, config and start.
              ConditionExpression: "attribute_exists(pk)",
            }),
          ),
        );
      } catch (error) {
        if (isConditionFailure(error)) {
          throw new AuditWriteError(`audit run ${normalized.runId}: finishRun before startRun`, {
            cause: error,
          });
        }
        throw writeError(`finish run ${normalized.runId}`, error);
      }
    },

    recordAction,

    async recordFinals(actions) {
      const results: FinalResult[] = [];
      let batch: FinalEntry[] = [];
      let bytes = 0;
      // A batch is sent as soon as it is full: only one batch of marshalled items is ever held.
      const flush = async () => {
        const entries = batch;
        batch = [];
        bytes = 0;
        if (entries.length > 0) await writeFinals(entries, results);
      };
      for (const [index, raw] of actions.entries()) {
        let action: AuditAction;
        try {
          action = normalizeAction(raw);
          if (action.outcome === undefined) {
            throw new AuditWriteError(`audit ${raw.runId}/${raw.handshakeId}: a final item needs an outcome`);
          }
        } catch (error) {
          results[index] = { failed: describeError(error) };
          continue;
        }
        const item = { ...actionItem(action), ...expiry(action.at) };
        const size = JSON.stringify(item).length;
        if (
          batch.length === FINALS_PER_TRANSACTION ||
          bytes + size > FINALS_BYTES_PER_TRANSACTION ||
          (batch[0] !== undefined && batch[0].action.runId !== action.runId)
        ) {
          await flush();
        }
        batch.push({ index, action, item });
        bytes += size;
      }
      await flush();
      return results;
    },

    async recordOutcome(runId, handshakeId, result) {
      const at = isoInstant(result.at, "at", AuditWriteError);
      const key = actionKey(runId, handshakeId);
      const update = updateExpression({
        outcome: { S: result.outcome },
        attempts: numberAttribute(result.attempts),
        at: { S: at },
        // `at` moves to the outcome's time, so the month bucket moves with it.
        timeKey: { S: timeKey("ACTION", at) },
        ...expiry(at),
        ...(result.error === undefined ? {} : { error: { S: result.error } }),
        ...(result.reason === undefined ? {} : { reason: { S: result.reason } }),
        // From pending intent to final item awaiting its chain link, which removes the mark.
        pendingKey: { S: UNLINKED },
      });
      let completed: Item | undefined;
      try {
        const answer = await send(() =>
          client.send(
            new UpdateItemCommand({
              ...update,
              TableName: tableName,
              Key: key,
              // Exactly once: an outcome never overwrites another, and never creates a row that
              // has no intent.
              ConditionExpression: "attribute_exists(pk) AND attribute_not_exists(#outcome)",
              ReturnValuesOnConditionCheckFailure: "ALL_OLD",
              // The final content is what the chain hashes; reading it back here saves a GetItem.
              ReturnValues: "ALL_NEW",
            }),
          ),
        );
        completed = answer.Attributes;
      } catch (error) {
        const where = `${runId}/${handshakeId}`;
        if (!isConditionFailure(error)) throw writeError(`record outcome ${where}`, error);
        const stored = conditionItem(error) ?? (await getItem(key, writeError));
        if (stored === undefined) {
          throw new AuditWriteError(
            `audit ${where}: no intent recorded, outcome ${result.outcome} not written`,
            {
              cause: error,
            },
          );
        }
        const existing = stored.outcome?.S;
        // The same outcome again is a retried write that had landed: nothing is lost.
        if (existing === result.outcome) {
          return stored.chainHash === undefined ? link(parseAction(stored)) : {};
        }
        throw new OutcomeConflictError(
          `audit ${where}: outcome ${existing} already recorded, refusing to overwrite it with ${result.outcome}`,
          { outcome: existing ?? "?", at: stored.at?.S, reason: stored.reason?.S },
          { cause: error },
        );
      }
      return completed === undefined ? {} : link(parseAction(completed));
    },

    async linkUnchained() {
      let linked = 0;
      for await (const item of query(queryInput(AUDIT_INDEXES.pending, [eq("pendingKey", UNLINKED)], []))) {
        if ((await link(parseAction(item))).unlinked === undefined) linked += 1;
      }
      return linked;
    },

    async listOpenMarks() {
      const marks: OpenMark[] = [];
      for await (const item of query(queryInput(AUDIT_INDEXES.pending, [eq("pendingKey", MARKED)], []))) {
        const action = parseAction(item);
        if (action.cancelAfter === undefined || item.markClosedBy !== undefined) continue;
        marks.push({
          runId: action.runId,
          handshakeId: action.handshakeId,
          ruleId: action.ruleId,
          cancelAfter: action.cancelAfter,
          action: action.action,
          target: action.target,
          targetType: action.targetType,
          ...(action.requestedAt ? { requestedAt: action.requestedAt } : {}),
        });
      }
      return marks;
    },

    async closeMark(mark, closedBy) {
      const where = `${mark.runId}/${mark.handshakeId}`;
      try {
        await send(() =>
          client.send(
            new UpdateItemCommand({
              TableName: tableName,
              Key: actionKey(mark.runId, mark.handshakeId),
              // markClosedBy is outside the chain hash: the closing run's own item is the record.
              UpdateExpression: "SET markClosedBy = :by REMOVE pendingKey",
              ConditionExpression: "pendingKey = :marked",
              ExpressionAttributeValues: { ":by": { S: closedBy }, ":marked": { S: MARKED } },
            }),
          ),
        );
      } catch (error) {
        // Closed already (a retried close, or another run got there first): nothing is lost.
        if (!isConditionFailure(error)) throw writeError(`close mark ${where}`, error);
      }
    },

    async recordNotifyFailure(runId, error) {
      try {
        await send(() =>
          client.send(
            new UpdateItemCommand({
              TableName: tableName,
              Key: runKey(runId),
              UpdateExpression: "SET notifyError = :error",
              ConditionExpression: "attribute_exists(pk)",
              ExpressionAttributeValues: { ":error": { S: error } },
            }),
          ),
        );
      } catch (failure) {
        throw writeError(`record notify failure of run ${runId}`, failure);
      }
    },

    async listPendingIntents() {
      const intents: AuditAction[] = [];
      for await (const item of query(queryInput(AUDIT_INDEXES.pending, [eq("pendingKey", PENDING)], []))) {
        intents.push(parseAction(item));
      }
      return intents;
    },

    ...leaseMethods(),

    async runOutcomes(runId) {
      const outcomes = new Map<string, Outcome | undefined>();
      for await (const item of query({
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :action)",
        ExpressionAttributeValues: { ":pk": { S: `RUN#${runId}` }, ":action": { S: "ACTION#" } },
        ProjectionExpression: "sk, #outcome",
        ExpressionAttributeNames: { "#outcome": "outcome" },
        // The base table, unlike an index, reads its latest writes: the counts are of what is stored.
        ConsistentRead: true,
      })) {
        const stored = item.outcome?.S;
        if (stored !== undefined && !isOutcome(stored)) {
          throw new JanitorError(`audit item ${describeKey(item)}: outcome is not an outcome`);
        }
        outcomes.set((item.sk?.S ?? "").replace(/^ACTION#/, ""), stored);
      }
      return outcomes;
    },

    async runLiveness(runId) {
      const item = await getItem(runKey(runId));
      if (item === undefined) return undefined;
      const status = item.status?.S;
      if (status === undefined || !(RUN_STATUSES as readonly string[]).includes(status)) {
        throw new JanitorError(`audit item ${describeKey(item)}: status is not a run status`);
      }
      const expires = item.leaseExpiresAt?.N;
      return {
        status: status as RunStatus,
        ...(expires === undefined ? {} : { leaseExpiresAt: Number(expires) }),
      };
    },

    async *queryActions(filter: ActionFilter = {}) {
      const criteria = {
        runId: filter.runId,
        handshakeId: filter.handshakeId,
        ruleId: filter.ruleId,
        outcome: filter.outcome,
      };
      const filtersExcept = (...keyed: (keyof typeof criteria)[]) =>
        Object.entries(criteria)
          .filter(([name, value]) => value !== undefined && !keyed.includes(name as keyof typeof criteria))
          .map(([name, value]) => eq(name, value as string));

      let items: AsyncIterable<Item>;
      if (filter.runId !== undefined) {
        const range = timeRange(filter, false);
        const sk =
          filter.handshakeId !== undefined
            ? eq("sk", `ACTION#${filter.handshakeId}`)
            : beginsWith("sk", "ACTION#");
        // `at` is not a key of the base table, so a range with runId is a filter.
        items = query(
          queryInput(
            undefined,
            [eq("pk", `RUN#${filter.runId}`), sk],
            [...filtersExcept("runId", "handshakeId"), ...atRange(range)],
          ),
        );
      } else if (filter.handshakeId !== undefined) {
        const range = timeRange(filter, false);
        items = query(
          queryInput(
            AUDIT_INDEXES.byHandshake,
            [eq("handshakeId", filter.handshakeId), ...atRange(range)],
            filtersExcept("handshakeId"),
          ),
        );
      } else if (filter.ruleId !== undefined) {
        const range = timeRange(filter, false);
        items = query(
          queryInput(
            AUDIT_INDEXES.byRule,
            [eq("ruleId", filter.ruleId), ...atRange(range)],
            filtersExcept("ruleId"),
          ),
        );
      } else {
        items = itemsByMonth("ACTION", timeRange(filter, true), filtersExcept());
      }
      for await (const item of items) yield readAction(item).record;
    },

    async *listRuns(filter: RunFilter = {}) {
      for await (const item of itemsByMonth("RUN", timeRange(filter, true), [])) yield readRun(item);
    },

    async getRun(runId) {
      const item = await getItem(runKey(runId));
      return item === undefined ? undefined : parseRun(item);
    },

    async readChain(runId) {
      const runStored = await getItem(runKey(runId));
      const actions: StoredAction[] = [];
      for await (const item of query(
        queryInput(undefined, [eq("pk", `RUN#${runId}`), beginsWith("sk", "ACTION#")], []),
      )) {
        actions.push(storedAction(item));
      }
      if (runStored === undefined) return { actions };
      const head = {
        hash: runStored.chainHead?.S ?? CHAIN_GENESIS,
        length: Number(runStored.chainLength?.N ?? "0"),
      };
      return { head, actions };
    },

    async *exportActions(filter: RunFilter = {}) {
      for await (const item of itemsByMonth("ACTION", timeRange(filter, true), [])) {
        yield storedAction(item);
      }
    },

    async getRunActions(runId) {
      const actions: AuditAction[] = [];
      for await (const item of query(
        queryInput(undefined, [eq("pk", `RUN#${runId}`), beginsWith("sk", "ACTION#")], []),
      )) {
        actions.push(parseAction(item));
      }
      return actions;
    },

    async recordConfig(hash, canonicalJson) {
      requireKeyPart(hash, "configHash");
      // A conditional put: the first config stored under a hash stays; a later one is not written.
      await putNew(configItem(hash, canonicalJson, now().toISOString()));
    },

    async getConfig(hash) {
      const item = await getItem(configKey(hash));
      const config = item?.config?.S;
      if (item !== undefined && config === undefined) {
        throw new JanitorError(`audit item ${describeKey(item)}: config is not a string`);
      }
      return config;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Items

const PENDING = "PENDING";
/** On the pending index too: a MARKED item no later run has closed (src/core/grace.ts). */
const MARKED = "MARKED";

function isOpenMark(action: AuditAction): boolean {
  return action.outcome === "MARKED" && !action.dryRun && action.cancelAfter !== undefined;
}
/** On the pending index too: a final item whose chain link a fault prevented. */
const UNLINKED = "UNLINKED";

/** The organization's lease: no timeKey, handshakeId, ruleId or pendingKey, so on no index. */
const LEASE_KEY: Item = { pk: { S: "LEASE#organization" }, sk: { S: "LEASE" } };

function runKey(runId: string): Item {
  return { pk: { S: `RUN#${runId}` }, sk: { S: "RUN" } };
}

function actionKey(runId: string, handshakeId: string): Item {
  return { pk: { S: `RUN#${runId}` }, sk: { S: `ACTION#${handshakeId}` } };
}

function claimKey(handshakeId: string): Item {
  return { pk: { S: `CLAIM#${handshakeId}` }, sk: { S: "CLAIM" } };
}

function timeKey(prefix: "ACTION" | "RUN", at: string): string {
  return `${prefix}#${at.slice(0, 7)}`;
}

/**
 * One fixed ISO form: the `at` range conditions compare strings, which orders instants correctly
 * only when every value has the same shape ("…00Z" sorts after "…00.500Z").
 */
function isoInstant(value: string, field: string, ErrorClass: new (message: string) => Error): string {
  const time = Date.parse(value);
  if (Number.isNaN(time))
    throw new ErrorClass(`audit ${field}: not an ISO-8601 instant: ${JSON.stringify(value)}`);
  return new Date(time).toISOString();
}

function requireKeyPart(value: string, field: string): void {
  // Key and index key attributes cannot be empty strings; saying so here beats a ValidationException.
  if (value === "") throw new AuditWriteError(`audit ${field}: must not be empty`);
}

function normalizeAction(action: AuditAction): AuditAction {
  requireKeyPart(action.runId, "runId");
  requireKeyPart(action.handshakeId, "handshakeId");
  requireKeyPart(action.ruleId, "ruleId");
  return {
    ...action,
    at: isoInstant(action.at, "at", AuditWriteError),
    ...(action.requestedAt === undefined
      ? {}
      : { requestedAt: isoInstant(action.requestedAt, "requestedAt", AuditWriteError) }),
    ...(action.cancelAfter === undefined
      ? {}
      : { cancelAfter: isoInstant(action.cancelAfter, "cancelAfter", AuditWriteError) }),
  };
}

function normalizeRun(run: RunRecord): RunRecord {
  requireKeyPart(run.runId, "runId");
  return {
    ...run,
    startedAt: isoInstant(run.startedAt, "startedAt", AuditWriteError),
    ...(run.endedAt === undefined ? {} : { endedAt: isoInstant(run.endedAt, "endedAt", AuditWriteError) }),
  };
}

function numberAttribute(value: number): AttributeValue {
  if (!Number.isFinite(value))
    throw new AuditWriteError(`audit: ${value} is not a number DynamoDB can store`);
  return { N: String(value) };
}

function countsAttribute(counts: OutcomeCounts): AttributeValue {
  const map: Item = {};
  for (const [outcome, count] of Object.entries(counts)) {
    if (count !== undefined) map[outcome] = numberAttribute(count);
  }
  return { M: map };
}

/** An action as stored, before any chain link; exported for the bulk loader of the audit benchmark. */
export function actionItem(action: AuditAction): Item {
  const item: Item = {
    ...actionKey(action.runId, action.handshakeId),
    itemType: { S: "action" },
    timeKey: { S: timeKey("ACTION", action.at) },
    runId: { S: action.runId },
    handshakeId: { S: action.handshakeId },
    ruleId: { S: action.ruleId },
    matchedRules: { L: action.matchedRules.map((rule) => ({ S: rule })) },
    dryRun: { BOOL: action.dryRun },
    at: { S: action.at },
    trigger: { S: action.trigger },
    actor: { S: action.actor },
    action: { S: action.action },
    target: { S: action.target },
    targetType: { S: action.targetType },
    reason: { S: action.reason },
    attempts: numberAttribute(action.attempts),
  };
  if (action.outcome === undefined) item.pendingKey = { S: PENDING };
  else item.outcome = { S: action.outcome };
  if (isOpenMark(action)) item.pendingKey = { S: MARKED };
  if (action.cancelAfter !== undefined) item.cancelAfter = { S: action.cancelAfter };
  if (action.requestedAt !== undefined) item.requestedAt = { S: action.requestedAt };
  if (action.error !== undefined) item.error = { S: action.error };
  return item;
}

function configKey(hash: string): Item {
  return { pk: { S: `CONFIG#${hash}` }, sk: { S: "CONFIG" } };
}

/**
 * A config as a run applied it, once per hash. It carries none of the index keys (timeKey,
 * handshakeId, ruleId, pendingKey), so no index and no period query ever reads it, and no expiry:
 * runs of any age refer to it.
 */
function configItem(hash: string, canonicalJson: string, recordedAt: string): Item {
  return {
    ...configKey(hash),
    itemType: { S: "config" },
    configHash: { S: hash },
    config: { S: canonicalJson },
    recordedAt: { S: recordedAt },
  };
}

/** A run as stored, before any chain head; exported for the bulk loader of the audit benchmark. */
export function runItem(run: RunRecord): Item {
  const item: Item = {
    ...runKey(run.runId),
    itemType: { S: "run" },
    timeKey: { S: timeKey("RUN", run.startedAt) },
    runId: { S: run.runId },
    trigger: { S: run.trigger },
    actor: { S: run.actor },
    status: { S: run.status },
    dryRun: { BOOL: run.dryRun },
    startedAt: { S: run.startedAt },
    // Runs sort by start in the byTime index alongside actions, which sort by `at`.
    at: { S: run.startedAt },
    counts: countsAttribute(run.counts),
    listed: numberAttribute(run.listed),
    candidates: numberAttribute(run.candidates),
    matched: numberAttribute(run.matched),
    configVersion: numberAttribute(run.configVersion),
    configHash: { S: run.configHash },
  };
  if (run.endedAt !== undefined) item.endedAt = { S: run.endedAt };
  if (run.note !== undefined) item.note = { S: run.note };
  if (run.error !== undefined) item.error = { S: run.error };
  if (run.countsStale === true) item.countsStale = { BOOL: true };
  return item;
}

/** One attribute that does not read as expected; `problem` says which and why, without the key. */
class UnreadableAttributeError extends JanitorError {
  constructor(
    item: Item,
    readonly problem: string,
  ) {
    super(`audit item ${describeKey(item)}: ${problem}`);
  }
}

function itemReader(item: Item) {
  const fail = (name: string, expected: string): never => {
    throw new UnreadableAttributeError(item, `${name} is not ${expected}`);
  };
  const string = (name: string): string => item[name]?.S ?? fail(name, "a string");
  return {
    string,
    optionalString(name: string): string | undefined {
      const attribute = item[name];
      return attribute === undefined ? undefined : (attribute.S ?? fail(name, "a string"));
    },
    number(name: string): number {
      const value = item[name]?.N;
      return value === undefined ? fail(name, "a number") : Number(value);
    },
    boolean(name: string): boolean {
      return item[name]?.BOOL ?? fail(name, "a boolean");
    },
    strings(name: string): string[] {
      const list = item[name]?.L ?? fail(name, "a list");
      return list.map((entry) => entry.S ?? fail(name, "a list of strings"));
    },
    counts(name: string): OutcomeCounts {
      const map = item[name]?.M ?? fail(name, "a map");
      const counts: OutcomeCounts = {};
      for (const [outcome, value] of Object.entries(map)) {
        if (!isOutcome(outcome) || value.N === undefined) return fail(name, "a map of outcome counts");
        counts[outcome] = Number(value.N);
      }
      return counts;
    },
    oneOf<T extends string>(name: string, allowed: readonly T[]): T {
      const value = string(name);
      return (allowed as readonly string[]).includes(value) ? (value as T) : fail(name, allowed.join(" | "));
    },
  };
}

function isOutcome(value: string): value is Outcome {
  return (OUTCOMES as readonly string[]).includes(value);
}

type Readers<T> = { [K in keyof T]-?: () => T[K] };

/**
 * Every attribute that reads, in the readers' order; each one that does not adds its problem. An
 * absent optional attribute reads as undefined and is left out.
 */
function readFields<T>(readers: Readers<T>, problems: string[]): Partial<T> {
  const record: Partial<T> = {};
  for (const name of Object.keys(readers) as (keyof T)[]) {
    try {
      const value = readers[name]();
      if (value !== undefined) record[name] = value;
    } catch (error) {
      if (!(error instanceof UnreadableAttributeError)) throw error;
      problems.push(error.problem);
    }
  }
  return record;
}

function actionFields(item: Item, problems: string[]): Partial<AuditAction> {
  const read = itemReader(item);
  return readFields<AuditAction>(
    {
      runId: () => read.string("runId"),
      handshakeId: () => read.string("handshakeId"),
      ruleId: () => read.string("ruleId"),
      matchedRules: () => read.strings("matchedRules"),
      dryRun: () => read.boolean("dryRun"),
      at: () => read.string("at"),
      trigger: () => read.oneOf("trigger", TRIGGERS),
      actor: () => read.string("actor"),
      action: () => read.string("action"),
      target: () => read.string("target"),
      targetType: () => read.string("targetType"),
      reason: () => read.string("reason"),
      attempts: () => read.number("attempts"),
      outcome: () => (item.outcome === undefined ? undefined : read.oneOf("outcome", OUTCOMES)),
      requestedAt: () => read.optionalString("requestedAt"),
      error: () => read.optionalString("error"),
      cancelAfter: () => read.optionalString("cancelAfter"),
    },
    problems,
  );
}

function parseAction(item: Item): AuditAction {
  const problems: string[] = [];
  const action = actionFields(item, problems);
  if (problems.length > 0) throw new JanitorError(`audit item ${describeKey(item)}: ${problems.join("; ")}`);
  return action as AuditAction;
}

/** An action item for a reader: the action, or what could be read of it, flagged with why not all. */
function readAction(item: Item): { record: ReadAction; problems: string[] } {
  const problems: string[] = [];
  const action = actionFields(item, problems);
  if (problems.length === 0) return { record: action as AuditAction, problems };
  const record = {
    ...action,
    runId: action.runId ?? (item.pk?.S ?? "").replace(/^RUN#/, ""),
    handshakeId: action.handshakeId ?? (item.sk?.S ?? "").replace(/^ACTION#/, ""),
    unreadable: problems.join("; "),
  };
  return { record, problems };
}

function storedAction(item: Item): StoredAction {
  const { record, problems } = readAction(item);
  return {
    keyRunId: (item.pk?.S ?? "").replace(/^RUN#/, ""),
    keyHandshakeId: (item.sk?.S ?? "").replace(/^ACTION#/, ""),
    ...(problems.length === 0
      ? { action: record as AuditAction }
      : { readError: `audit item ${describeKey(item)}: ${problems.join("; ")}` }),
    record,
    link: {
      ...(item.chainSeq?.N === undefined ? {} : { seq: Number(item.chainSeq.N) }),
      ...(item.chainPrev?.S === undefined ? {} : { prev: item.chainPrev.S }),
      ...(item.chainHash?.S === undefined ? {} : { hash: item.chainHash.S }),
    },
  };
}

function runFields(item: Item, problems: string[]): Partial<RunRecord> {
  const read = itemReader(item);
  return readFields<RunRecord>(
    {
      runId: () => read.string("runId"),
      trigger: () => read.oneOf("trigger", TRIGGERS),
      actor: () => read.string("actor"),
      status: () => read.oneOf<RunStatus>("status", RUN_STATUSES),
      dryRun: () => read.boolean("dryRun"),
      startedAt: () => read.string("startedAt"),
      counts: () => read.counts("counts"),
      listed: () => read.number("listed"),
      candidates: () => read.number("candidates"),
      matched: () => read.number("matched"),
      configVersion: () => read.number("configVersion"),
      configHash: () => read.string("configHash"),
      endedAt: () => read.optionalString("endedAt"),
      note: () => read.optionalString("note"),
      error: () => read.optionalString("error"),
      notifyError: () => read.optionalString("notifyError"),
      countsStale: () => (item.countsStale?.BOOL === true ? true : undefined),
    },
    problems,
  );
}

function parseRun(item: Item): RunRecord {
  const problems: string[] = [];
  const run = runFields(item, problems);
  if (problems.length > 0) throw new JanitorError(`audit item ${describeKey(item)}: ${problems.join("; ")}`);
  return run as RunRecord;
}

/** A run item for a reader: the run, or what could be read of it, flagged with why not all. */
function readRun(item: Item): ReadRun {
  const problems: string[] = [];
  const run = runFields(item, problems);
  if (problems.length === 0) return run as RunRecord;
  return {
    ...run,
    runId: run.runId ?? (item.pk?.S ?? "").replace(/^RUN#/, ""),
    unreadable: problems.join("; "),
  };
}

// ---------------------------------------------------------------------------------------------
// Query building

type Condition =
  | { kind: "eq"; name: string; value: string }
  | { kind: "beginsWith"; name: string; value: string }
  | { kind: "between"; name: string; low: string; high: string }
  | { kind: "gte" | "lte"; name: string; value: string };

function eq(name: string, value: string): Condition {
  return { kind: "eq", name, value };
}

function beginsWith(name: string, value: string): Condition {
  return { kind: "beginsWith", name, value };
}

/**
 * A period is [since, until): `until` itself is excluded, so `--until 2026-04-01` ends with March
 * and consecutive periods never share an item. Every stored `at` has millisecond precision (see
 * isoInstant), so "at most one millisecond before until" is exactly "before until".
 */
function atRange(range: { since?: Date; until?: Date }): Condition[] {
  const low = range.since?.toISOString();
  const high = range.until === undefined ? undefined : new Date(range.until.getTime() - 1).toISOString();
  if (low !== undefined && high !== undefined) return [{ kind: "between", name: "at", low, high }];
  if (low !== undefined) return [{ kind: "gte", name: "at", value: low }];
  if (high !== undefined) return [{ kind: "lte", name: "at", value: high }];
  return [];
}

/** Every name and value goes through placeholders, so reserved words (status, at, …) never bite. */
function queryInput(
  indexName: string | undefined,
  keyConditions: Condition[],
  filters: Condition[],
): Omit<QueryCommandInput, "TableName" | "ExclusiveStartKey"> {
  const names: Record<string, string> = {};
  const values: Item = {};
  let counter = 0;
  const render = (condition: Condition): string => {
    const name = `#n${counter}`;
    names[name] = condition.name;
    const value = (raw: string) => {
      const placeholder = `:v${counter}_${Object.keys(values).length}`;
      values[placeholder] = { S: raw };
      return placeholder;
    };
    counter += 1;
    switch (condition.kind) {
      case "eq":
        return `${name} = ${value(condition.value)}`;
      case "beginsWith":
        return `begins_with(${name}, ${value(condition.value)})`;
      case "between":
        return `${name} BETWEEN ${value(condition.low)} AND ${value(condition.high)}`;
      case "gte":
        return `${name} >= ${value(condition.value)}`;
      case "lte":
        return `${name} <= ${value(condition.value)}`;
    }
  };
  const keyExpression = keyConditions.map(render).join(" AND ");
  const filterExpression = filters.map(render).join(" AND ");
  return {
    ...(indexName === undefined ? {} : { IndexName: indexName }),
    KeyConditionExpression: keyExpression,
    ...(filterExpression === "" ? {} : { FilterExpression: filterExpression }),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

/**
 * `SET #a = :a, … REMOVE #r, …` with every attribute name behind a placeholder: several audit
 * attribute names (status, action, …) are DynamoDB reserved words.
 */
function updateExpression(
  sets: Item,
  removes: string[] = [],
): {
  UpdateExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues: Item;
} {
  const names: Record<string, string> = {};
  const values: Item = {};
  const assignments = Object.entries(sets).map(([name, value]) => {
    names[`#${name}`] = name;
    values[`:${name}`] = value;
    return `#${name} = :${name}`;
  });
  for (const name of removes) names[`#${name}`] = name;
  const remove = removes.length > 0 ? ` REMOVE ${removes.map((name) => `#${name}`).join(", ")}` : "";
  return {
    UpdateExpression: `SET ${assignments.join(", ")}${remove}`,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

/** "YYYY-MM" of every UTC month from since's to until's, both included. */
export function monthsBetween(since: Date, until: Date): string[] {
  const months: string[] = [];
  let year = since.getUTCFullYear();
  let month = since.getUTCMonth();
  const lastYear = until.getUTCFullYear();
  const lastMonth = until.getUTCMonth();
  while (year < lastYear || (year === lastYear && month <= lastMonth)) {
    months.push(`${String(year).padStart(4, "0")}-${String(month + 1).padStart(2, "0")}`);
    month += 1;
    if (month === 12) {
      month = 0;
      year += 1;
    }
  }
  return months;
}

// ---------------------------------------------------------------------------------------------
// Errors

function isConditionFailure(error: unknown): boolean {
  return error instanceof Error && error.name === "ConditionalCheckFailedException";
}

function conditionItem(error: unknown): Item | undefined {
  const item = (error as { Item?: Item }).Item;
  return item !== undefined && Object.keys(item).length > 0 ? item : undefined;
}

function describeKey(item: Item): string {
  return `${item.pk?.S ?? "?"}/${item.sk?.S ?? "?"}`;
}

/** Item order is not significant in DynamoDB; sort keys so two equal items print equal. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === "object" && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}

function causeText(error: unknown): string {
  return error instanceof RetriesExhaustedError ? error.message : describeError(error);
}

function writeError(what: string, error: unknown): AuditWriteError {
  if (error instanceof AuditWriteError) return error;
  return new AuditWriteError(`audit ${what} failed: ${causeText(error)}`, { cause: error });
}

function readError(what: string, error: unknown): JanitorError {
  if (error instanceof JanitorError) return error;
  return new JanitorError(`audit ${what} failed: ${causeText(error)}`, { cause: error });
}
