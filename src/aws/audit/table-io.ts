/**
 * Calls to one audit table over one client: every command is sent through the one retry policy
 * (src/resilience/backoff.ts), failures are turned into the store's errors, and the patterns the store
 * repeats (a conditional put that answers what is stored, a consistent get, a paged query) are
 * here once. The only module that sends DynamoDB commands.
 */

import { createHash } from "node:crypto";
import {
  BatchGetItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  type PutItemCommandInput,
  type PutItemCommandOutput,
  QueryCommand,
  TransactWriteItemsCommand,
  type TransactWriteItemsCommandInput,
  type TransactWriteItemsCommandOutput,
  UpdateItemCommand,
  type UpdateItemCommandInput,
  type UpdateItemCommandOutput,
} from "@aws-sdk/client-dynamodb";
import { AuditWriteError, describeError, JanitorError } from "../../domain/errors.js";
import { type BackoffPolicy, RetriesExhaustedError, retry, type Sleep } from "../../resilience/backoff.js";
import { isRetryable } from "../errors.js";
import type { QueryInput } from "./expressions.js";
import { describeKey, type Item } from "./items.js";

/**
 * DynamoDB answers throttling in milliseconds, so the steps start small; six attempts span a few
 * seconds, after which the sweep is better off failing closed than holding a cancel in flight.
 */
export const AUDIT_BACKOFF: BackoffPolicy = { baseMs: 50, capMs: 2_000, maxAttempts: 6 };

export interface RetryHooks {
  policy?: BackoffPolicy;
  sleep?: Sleep;
  random?: () => number;
}

/** Throttling, server faults and dropped connections: worth another try (src/aws/errors.ts). */
export function isRetryableDynamoDbError(error: unknown): boolean {
  return isRetryable(error);
}

export function isConditionFailure(error: unknown): boolean {
  return error instanceof Error && error.name === "ConditionalCheckFailedException";
}

/**
 * Why a cancelled transaction was cancelled, one code per item in the transaction's order
 * (`ConditionalCheckFailed`, `TransactionConflict`, `None`, …); empty for any other error.
 */
export function cancellationCodes(error: unknown): (string | undefined)[] {
  if (!(error instanceof Error && error.name === "TransactionCanceledException")) return [];
  const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.map((reason) => reason.Code);
}

/** A transaction cancelled because one of its conditions failed. */
export function isTransactionConditionFailure(error: unknown): boolean {
  return cancellationCodes(error).includes("ConditionalCheckFailed");
}

/** The item a failed condition returned (ReturnValuesOnConditionCheckFailure), if any. */
export function conditionItem(error: unknown): Item | undefined {
  const item = (error as { Item?: Item }).Item;
  return item !== undefined && Object.keys(item).length > 0 ? item : undefined;
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

export function writeError(what: string, error: unknown): AuditWriteError {
  if (error instanceof AuditWriteError) return error;
  return new AuditWriteError(`audit ${what} failed: ${causeText(error)}`, { cause: error });
}

export function readError(what: string, error: unknown): JanitorError {
  // The retry layer's own error says how it gave up, not what was being read: it is wrapped.
  if (error instanceof JanitorError && !(error instanceof RetriesExhaustedError)) return error;
  return new JanitorError(`audit ${what} failed: ${causeText(error)}`, { cause: error });
}

export type TableIo = ReturnType<typeof createTableIo>;

export function createTableIo(client: DynamoDBClient, tableName: string, hooks: RetryHooks = {}) {
  const policy = hooks.policy ?? AUDIT_BACKOFF;

  function send<T>(call: (attempt: number) => Promise<T>): Promise<T> {
    return retry(call, {
      policy,
      isRetryable: isRetryableDynamoDbError,
      ...(hooks.sleep ? { sleep: hooks.sleep } : {}),
      ...(hooks.random ? { random: hooks.random } : {}),
    });
  }

  /** A PutItem, retried; `onAttempt` learns the 0-based attempt about to be sent. */
  function put(
    input: Omit<PutItemCommandInput, "TableName">,
    onAttempt?: (attempt: number) => void,
  ): Promise<PutItemCommandOutput> {
    return send((attempt) => {
      onAttempt?.(attempt);
      return client.send(new PutItemCommand({ ...input, TableName: tableName }));
    });
  }

  function update(input: Omit<UpdateItemCommandInput, "TableName">): Promise<UpdateItemCommandOutput> {
    return send(() => client.send(new UpdateItemCommand({ ...input, TableName: tableName })));
  }

  /** A transaction, retried as a whole; its items name the table themselves (see `tableName`). */
  function transact(input: TransactWriteItemsCommandInput): Promise<TransactWriteItemsCommandOutput> {
    return send(() => client.send(new TransactWriteItemsCommand(input)));
  }

  /**
   * A conditional put. When the item exists already, returns what is stored. A put whose
   * response was lost and that is then retried finds its own item: that still counts as created.
   */
  async function putNew(item: Item): Promise<{ created: true } | { created: false; existing: Item }> {
    let retried = false;
    try {
      await put(
        {
          Item: item,
          ConditionExpression: "attribute_not_exists(pk)",
          // The item that failed the check comes back atomically with the failure, saving a read
          // that could race with a concurrent writer.
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        },
        (attempt) => {
          retried = attempt > 0;
        },
      );
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

  /** The stored item under the key of `keySource` (its pk and sk), read consistently. */
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

  /** Every item a Query matches, page after page. */
  async function* query(input: QueryInput): AsyncGenerator<Item> {
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

  /**
   * The stored items under these keys (pk and sk each), 100 to a BatchGetItem, eventually
   * consistent; keys the service leaves unprocessed are asked again, a bounded number of times.
   */
  async function batchGet(keys: readonly Item[]): Promise<Item[]> {
    const found: Item[] = [];
    for (let start = 0; start < keys.length; start += 100) {
      let pending: Item[] = keys.slice(start, start + 100);
      for (let round = 0; pending.length > 0; round += 1) {
        if (round >= policy.maxAttempts) {
          throw readError("batch get", new Error(`${pending.length} keys left unprocessed`));
        }
        const ask = pending;
        let answer: {
          Responses?: Record<string, Item[]>;
          UnprocessedKeys?: Record<string, { Keys?: Item[] }>;
        };
        try {
          answer = await send(() =>
            client.send(new BatchGetItemCommand({ RequestItems: { [tableName]: { Keys: ask } } })),
          );
        } catch (error) {
          throw readError("batch get", error);
        }
        found.push(...(answer.Responses?.[tableName] ?? []));
        pending = answer.UnprocessedKeys?.[tableName]?.Keys ?? [];
      }
    }
    return found;
  }

  return { tableName, put, update, transact, putNew, getItem, query, batchGet };
}

/**
 * A transaction's ClientRequestToken, named after what the transaction makes (a chain's new head):
 * a retry of one whose answer was lost is answered as the first one was, not applied again, and
 * another content gets another token. DynamoDB takes at most 36 characters.
 */
export function requestToken(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\n")).digest("hex").slice(0, 36);
}
