import type { Issue, MessageMap } from "../domain/check.js";

/**
 * The config's problems in words: every issue becomes one line `<source>: <path>: <problem>`;
 * the checkers' default wording is replaced here so that the problem reads as plain English about
 * the user's file.
 */

export interface Problem {
  path: readonly PropertyKey[];
  message: string;
}

const EXPECTED: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  array: "a list",
  object: "a mapping",
  date: "a date",
};

export function describeValue(value: unknown): string {
  if (value === null) return "an empty value";
  if (typeof value === "string")
    return value.length > 40 ? `${JSON.stringify(value.slice(0, 40))}…` : JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return "a list";
  if (value instanceof Date) return "a date";
  if (typeof value === "object") return "a mapping";
  return `a ${typeof value}`;
}

export const errorMap: MessageMap = (issue) => {
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return "is required";
      return `must be ${EXPECTED[issue.expected ?? ""] ?? issue.expected}, got ${describeValue(issue.input)}`;
    case "too_small":
      if (issue.origin === "array")
        return issue.minimum === 1 ? "must not be empty" : `must have at least ${issue.minimum} items`;
      if (issue.origin === "string")
        return issue.minimum === 1 ? "must not be empty" : `must be at least ${issue.minimum} characters`;
      return issue.inclusive ? `must be at least ${issue.minimum}` : `must be greater than ${issue.minimum}`;
    case "too_big":
      if (issue.origin === "array") return `must have at most ${issue.maximum} items`;
      if (issue.origin === "string") return `must be at most ${issue.maximum} characters`;
      return issue.inclusive ? `must be at most ${issue.maximum}` : `must be less than ${issue.maximum}`;
    case "invalid_value":
      if (issue.input === undefined) return "is required";
      return `must be ${(issue.values ?? []).map((v) => JSON.stringify(v)).join(" or ")}`;
    case "unrecognized_keys":
      return "unknown key";
    default:
      return undefined;
  }
};

export function problemsOf(issues: readonly Issue[]): Problem[] {
  return issues.flatMap((issue) =>
    // One line per unknown key, so each names the key it is about.
    issue.code === "unrecognized_keys"
      ? (issue.keys ?? []).map((key) => ({ path: [...issue.path, key], message: "unknown key" }))
      : [{ path: issue.path, message: issue.message }],
  );
}

/** A parser's message on one line: YAML's and JSON's quote excerpts over several. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (typeof segment === "string" && /^[A-Za-z_$][\w$]*$/.test(segment))
      out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

export function formatProblem(source: string, problem: Problem): string {
  const path = formatPath(problem.path);
  return path ? `${source}: ${path}: ${problem.message}` : `${source}: ${problem.message}`;
}
