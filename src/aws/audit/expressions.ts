/**
 * Query and update expressions for the audit table. Every attribute name and value goes through a
 * placeholder, so DynamoDB's reserved words (status, at, action, …) never bite; the `at` range of
 * a period and the months a period spans are worked out here too.
 */
import type { QueryCommandInput } from "@aws-sdk/client-dynamodb";
import { type Item, toItem } from "./items.js";

/** A Query's input without the parts the table's I/O adds (the table, the page to start from). */
export type QueryInput = Omit<QueryCommandInput, "TableName" | "ExclusiveStartKey">;

export type Condition =
  | { kind: "eq"; name: string; value: string }
  | { kind: "beginsWith"; name: string; value: string }
  | { kind: "between"; name: string; low: string; high: string }
  | { kind: "gte" | "lte"; name: string; value: string };

export function eq(name: string, value: string): Condition {
  return { kind: "eq", name, value };
}

export function beginsWith(name: string, value: string): Condition {
  return { kind: "beginsWith", name, value };
}

/**
 * A period is [since, until): `until` itself is excluded, so `--until 2026-04-01` ends with March
 * and consecutive periods never share an item. Every stored `at` has millisecond precision (see
 * isoInstant), so "at most one millisecond before until" is exactly "before until".
 */
export function atRange(range: { since?: Date; until?: Date }): Condition[] {
  const low = range.since?.toISOString();
  const high = range.until === undefined ? undefined : new Date(range.until.getTime() - 1).toISOString();
  if (low !== undefined && high !== undefined) return [{ kind: "between", name: "at", low, high }];
  if (low !== undefined) return [{ kind: "gte", name: "at", value: low }];
  if (high !== undefined) return [{ kind: "lte", name: "at", value: high }];
  return [];
}

/** A Query of the table (indexName undefined) or of an index: key conditions, then filters. */
export function queryInput(
  indexName: string | undefined,
  keyConditions: Condition[],
  filters: Condition[],
): QueryInput {
  const names: Record<string, string> = {};
  const values: Record<string, string> = {};
  let counter = 0;
  const render = (condition: Condition): string => {
    const name = `#n${counter}`;
    names[name] = condition.name;
    const value = (raw: string) => {
      const placeholder = `:v${counter}_${Object.keys(values).length}`;
      values[placeholder] = raw;
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
    ExpressionAttributeValues: toItem(values),
  };
}

/**
 * `SET #a = :a, … REMOVE #r, …` with every attribute name behind a placeholder; a value left
 * undefined is not set.
 */
export function updateExpression(
  sets: Record<string, unknown>,
  removes: string[] = [],
): {
  UpdateExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues: Item;
} {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const assignments = Object.entries(sets)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => {
      names[`#${name}`] = name;
      values[`:${name}`] = value;
      return `#${name} = :${name}`;
    });
  for (const name of removes) names[`#${name}`] = name;
  const remove = removes.length > 0 ? ` REMOVE ${removes.map((name) => `#${name}`).join(", ")}` : "";
  return {
    UpdateExpression: `SET ${assignments.join(", ")}${remove}`,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: toItem(values),
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
