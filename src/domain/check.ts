/**
 * Small composable checkers for the config and the events: each takes an unknown value, returns
 * it typed and collects every problem with its path, and the types are inferred from the one
 * schema (`Infer`). Written here rather than taken from a validation library because a cold start
 * parses whatever the handler imports, and a library's schema machinery was most of the import
 * (docs/performance.md).
 *
 * The semantics are the ones the janitor's messages were written against:
 * - a problem with a value's kind (wrong type, not one of the allowed values) is fatal for that
 *   value: its other checks do not run; a failed check (too short, no match, a refinement) is not,
 *   so a value reports every check it fails;
 * - an object checks its fields in the order of its shape, then reports its unknown keys, then
 *   runs its own checks;
 * - a list longer than its limit is reported alone, without checking its elements;
 * - a transform runs only on a value with no problems.
 */

export type IssueCode =
  | "invalid_type"
  | "invalid_value"
  | "invalid_format"
  | "invalid_union"
  | "too_small"
  | "too_big"
  | "unrecognized_keys"
  | "custom";

/** One problem, with what a message needs to describe it. */
export interface Issue {
  code: IssueCode;
  path: PropertyKey[];
  message: string;
  input?: unknown;
  /** invalid_type: the kind expected ("string", "int", "object", …). */
  expected?: string;
  /** invalid_value: the values allowed. */
  values?: readonly unknown[];
  /** too_small / too_big: what was measured ("string" in characters, "array" in items, "number"). */
  origin?: string;
  minimum?: number;
  maximum?: number;
  inclusive?: boolean;
  /** too_big from an exact length. */
  exact?: boolean;
  /** unrecognized_keys: the keys the shape does not name. */
  keys?: string[];
}

/** An issue before its message is decided. */
export type IssueDraft = Omit<Issue, "message" | "path"> & { path?: PropertyKey[]; message?: string };

/** A message for an issue, or undefined to leave it to the next in line. */
export type MessageMap = (issue: Omit<Issue, "message">) => string | undefined;
/** What a schema says instead of the default: a fixed message, or one per issue. */
export type ErrorSpec = string | MessageMap;

interface Raw extends IssueDraft {
  path: PropertyKey[];
  error?: ErrorSpec | undefined;
  /** Fatal for the value it is about: its later checks do not run. */
  fatal: boolean;
}

/** Where a value sits while it is checked: its path, and the issues of the whole parse. */
export interface Context {
  readonly path: PropertyKey[];
  readonly issues: Raw[];
}

/** What a check or transform reports through: issues at the value's path (or below it). */
export interface Reporter {
  issue(draft: IssueDraft, error?: ErrorSpec): void;
}

export type SafeResult<T> =
  | { success: true; data: T; error?: undefined }
  | { success: false; data?: undefined; error: { issues: Issue[] } };

type Presence = "required" | "optional" | "default";

/** Whether a check runs, given the value and the issues found in it so far. */
export type When = (value: unknown, issues: readonly Issue[]) => boolean;

/** A check of a value: reports problems as data and never changes the value. */
export interface Check<T> {
  (value: T, report: Reporter): void;
  /** When the check runs, if not when the value has no fatal problem. */
  when?: When;
}

export class Schema<Out, In = Out> {
  declare readonly _in: In;

  constructor(
    readonly run: (input: unknown, ctx: Context) => Out,
    readonly presence: Presence = "required",
  ) {}

  /** A check of the parsed value; it reports problems as data and never changes the value. */
  check(check: Check<Out>, options: { when?: When } = {}): Schema<Out, In> {
    const when = options.when ?? check.when;
    return new Schema((input, ctx) => {
      const start = ctx.issues.length;
      const value = this.run(input, ctx);
      const runs =
        when === undefined
          ? !ctx.issues.slice(start).some((issue) => issue.fatal)
          : when(value, relative(ctx, start));
      if (runs) check(value, reporter(ctx));
      return value;
    }, this.presence);
  }

  /** A refinement: `ok` or one issue with the message. */
  refine(ok: (value: Out) => boolean, message: string): Schema<Out, In> {
    return this.check((value, report) => {
      if (!ok(value)) report.issue({ code: "custom", message });
    });
  }

  /** A new value from a value without problems; the transform may report problems of its own. */
  transform<N>(transform: (value: Out, report: Reporter) => N): Schema<N, In> {
    return new Schema<N, In>((input, ctx) => {
      const start = ctx.issues.length;
      const value = this.run(input, ctx);
      if (ctx.issues.length > start) return value as unknown as N;
      return transform(value, reporter(ctx));
    }, this.presence);
  }

  /** Absent (undefined) is accepted and stays absent. */
  optional(): Schema<Out | undefined, In | undefined> {
    return new Schema<Out | undefined, In | undefined>(
      (input, ctx) => (input === undefined ? undefined : this.run(input, ctx)),
      "optional",
    );
  }

  /** Absent (undefined) becomes the default, unchecked. */
  default(
    value: Exclude<Out, undefined> | (() => Exclude<Out, undefined>),
  ): Schema<Exclude<Out, undefined>, In | undefined> {
    const fallback = typeof value === "function" ? (value as () => Exclude<Out, undefined>) : () => value;
    return new Schema<Exclude<Out, undefined>, In | undefined>(
      (input, ctx) => (input === undefined ? fallback() : (this.run(input, ctx) as Exclude<Out, undefined>)),
      "default",
    );
  }

  nullable(): Schema<Out | null, In | null> {
    return new Schema<Out | null, In | null>(
      (input, ctx) => (input === null ? null : this.run(input, ctx)),
      this.presence,
    );
  }

  /** Checks a value; `messages` words the issues the schema leaves to its caller. */
  safeParse(input: unknown, options: { messages?: MessageMap } = {}): SafeResult<Out> {
    const ctx: Context = { path: [], issues: [] };
    const data = this.run(input, ctx);
    if (ctx.issues.length === 0) return { success: true, data };
    return { success: false, error: { issues: ctx.issues.map((raw) => finalize(raw, options.messages)) } };
  }

  parse(input: unknown): Out {
    const result = this.safeParse(input);
    if (result.success) return result.data;
    throw new TypeError(
      result.error.issues.map((issue) => `${issue.path.map(String).join(".")}: ${issue.message}`).join("; "),
    );
  }
}

export type Infer<S> = S extends Schema<infer O, unknown> ? O : never;
export type InferInput<S> = S extends Schema<unknown, infer I> ? I : never;

function relative(ctx: Context, start: number): Issue[] {
  return ctx.issues
    .slice(start)
    .map((raw) => ({ ...finalize(raw, undefined), path: raw.path.slice(ctx.path.length) }));
}

function reporter(ctx: Context): Reporter {
  return {
    issue(draft, error) {
      ctx.issues.push({ ...draft, path: [...ctx.path, ...(draft.path ?? [])], error, fatal: false });
    },
  };
}

function push(ctx: Context, draft: IssueDraft, error: ErrorSpec | undefined, fatal: boolean): void {
  ctx.issues.push({ ...draft, path: [...ctx.path, ...(draft.path ?? [])], error, fatal });
}

function child(ctx: Context, key: PropertyKey): Context {
  return { path: [...ctx.path, key], issues: ctx.issues };
}

function finalize(raw: Raw, messages: MessageMap | undefined): Issue {
  const { error, fatal: _fatal, message, ...issue } = raw;
  const worded =
    message ??
    (typeof error === "string" ? error : error?.(issue)) ??
    messages?.(issue) ??
    defaultMessage(issue);
  return { ...issue, message: worded };
}

/** The wording where neither the schema nor the caller chose one. */
export function defaultMessage(issue: Omit<Issue, "message">): string {
  switch (issue.code) {
    case "invalid_type":
      return `Invalid input: expected ${issue.expected}, received ${receivedOf(issue.input)}`;
    case "invalid_value":
      return `Invalid input: expected ${(issue.values ?? []).map((v) => JSON.stringify(v)).join(" or ")}`;
    case "too_small": {
      const adj = issue.exact ? "exactly " : issue.inclusive ? ">=" : ">";
      const unit = UNITS[issue.origin ?? ""];
      return unit
        ? `Too small: expected ${issue.origin} to have ${adj}${issue.minimum} ${unit}`
        : `Too small: expected ${issue.origin} to be ${adj}${issue.minimum}`;
    }
    case "too_big": {
      const adj = issue.exact ? "exactly " : issue.inclusive ? "<=" : "<";
      const unit = UNITS[issue.origin ?? ""];
      return unit
        ? `Too big: expected ${issue.origin} to have ${adj}${issue.maximum} ${unit}`
        : `Too big: expected ${issue.origin} to be ${adj}${issue.maximum}`;
    }
    case "unrecognized_keys":
      return `Unrecognized key${(issue.keys ?? []).length > 1 ? "s" : ""}: ${(issue.keys ?? []).map((k) => JSON.stringify(k)).join(", ")}`;
    case "invalid_format":
      return "Invalid string";
    default:
      return "Invalid input";
  }
}

const UNITS: Record<string, string> = { string: "characters", array: "items" };

function receivedOf(input: unknown): string {
  if (input === null) return "null";
  if (Array.isArray(input)) return "array";
  if (typeof input === "number")
    return Number.isNaN(input) ? "NaN" : Number.isFinite(input) ? "number" : String(input);
  return typeof input;
}

function typed<T>(expected: string, is: (input: unknown) => input is T, error?: ErrorSpec): Schema<T> {
  return new Schema((input, ctx) => {
    if (!is(input)) push(ctx, { code: "invalid_type", expected, input }, error, true);
    return input as T;
  });
}

// ---------------------------------------------------------------------------------------------
// Primitives

export function string(error?: ErrorSpec): Schema<string> {
  return typed("string", (input): input is string => typeof input === "string", error);
}

/** A string with its surrounding white space removed before any check. */
export function trimmed(error?: ErrorSpec): Schema<string> {
  const plain = string(error);
  return new Schema((input, ctx) => {
    const start = ctx.issues.length;
    const value = plain.run(input, ctx);
    return ctx.issues.length > start ? value : value.trim();
  });
}

/** A finite number (NaN and the infinities are not numbers here). */
export function number(error?: ErrorSpec): Schema<number> {
  return typed(
    "number",
    (input): input is number => typeof input === "number" && Number.isFinite(input),
    error,
  );
}

/** A whole number within JavaScript's safe range. */
export function int(error?: ErrorSpec): Schema<number> {
  const finite = number(error);
  return new Schema((input, ctx) => {
    const start = ctx.issues.length;
    const value = finite.run(input, ctx);
    if (ctx.issues.length > start) return value;
    if (!Number.isInteger(value)) {
      push(ctx, { code: "invalid_type", expected: "int", input }, error, true);
    } else if (value > Number.MAX_SAFE_INTEGER) {
      const maximum = Number.MAX_SAFE_INTEGER;
      push(ctx, { code: "too_big", origin: "int", maximum, inclusive: true, input }, error, false);
    } else if (value < Number.MIN_SAFE_INTEGER) {
      const minimum = Number.MIN_SAFE_INTEGER;
      push(ctx, { code: "too_small", origin: "int", minimum, inclusive: true, input }, error, false);
    }
    return value;
  });
}

export function boolean(error?: ErrorSpec): Schema<boolean> {
  return typed("boolean", (input): input is boolean => typeof input === "boolean", error);
}

export function unknown(): Schema<unknown> {
  return new Schema((input) => input);
}

type Literal = string | number | boolean;

export function literal<const T extends Literal>(value: T, error?: ErrorSpec): Schema<T> {
  return oneOf([value], error);
}

/** One of a few values (an enum). */
export function oneOf<const T extends Literal>(values: readonly T[], error?: ErrorSpec): Schema<T> {
  return new Schema((input, ctx) => {
    if (!(values as readonly unknown[]).includes(input))
      push(ctx, { code: "invalid_value", values, input }, error, true);
    return input as T;
  });
}

// ---------------------------------------------------------------------------------------------
// Checks, for Schema.check

function lengthOf(value: unknown): { origin: string; size: number } | undefined {
  if (typeof value === "string") return { origin: "string", size: value.length };
  if (Array.isArray(value)) return { origin: "array", size: value.length };
  return undefined;
}

const hasLength: When = (value) => lengthOf(value) !== undefined;

function lengthCheck(code: "too_small" | "too_big", limit: number, error?: ErrorSpec): Check<unknown> {
  const check: Check<unknown> = (value, report) => {
    const measured = lengthOf(value);
    if (measured === undefined) return;
    if (code === "too_small" ? measured.size >= limit : measured.size <= limit) return;
    const bound = code === "too_small" ? { minimum: limit } : { maximum: limit };
    report.issue({ code, origin: measured.origin, ...bound, inclusive: true, input: value }, error);
  };
  check.when = hasLength;
  return check;
}

/** At least `minimum` characters of a string (or items, of a list where a string belongs). */
export function minLength(minimum: number, error?: ErrorSpec): Check<unknown> {
  return lengthCheck("too_small", minimum, error);
}

/** At most `maximum` characters of a string (or items, of a list where a string belongs). */
export function maxLength(maximum: number, error?: ErrorSpec): Check<unknown> {
  return lengthCheck("too_big", maximum, error);
}

export function matches(pattern: RegExp, error?: ErrorSpec): Check<string> {
  return (value, report) => {
    if (!pattern.test(value)) report.issue({ code: "invalid_format", input: value }, error);
  };
}

export function greaterThan(minimum: number, error?: ErrorSpec): Check<number> {
  return (value, report) => {
    if (!(value > minimum))
      report.issue({ code: "too_small", origin: "number", minimum, inclusive: false, input: value }, error);
  };
}

export function atMost(maximum: number, error?: ErrorSpec): Check<number> {
  return (value, report) => {
    if (!(value <= maximum))
      report.issue({ code: "too_big", origin: "number", maximum, inclusive: true, input: value }, error);
  };
}

// ---------------------------------------------------------------------------------------------
// Lists and objects

interface ArrayLimits {
  min?: [number, ErrorSpec?];
  max?: [number, ErrorSpec?];
  length?: [number, ErrorSpec?];
}

/**
 * A list of elements. Over `max` (or `length`), it is reported alone and its elements are not
 * checked; the limits are checked whatever the elements' problems, and on a string in its place.
 */
export function array<O, I>(element: Schema<O, I>, limits: ArrayLimits = {}): Schema<O[], I[]> {
  const exact = limits.length !== undefined ? { exact: true } : {};
  const cap = limits.length ?? limits.max;
  const floor = limits.length ?? limits.min;
  const checkSize = (input: unknown, size: number, origin: string, ctx: Context, fatal: boolean) => {
    if (floor !== undefined && size < floor[0]) {
      const draft: IssueDraft = {
        code: "too_small",
        origin,
        minimum: floor[0],
        inclusive: true,
        ...exact,
        input,
      };
      push(ctx, draft, floor[1], false);
    }
    if (cap !== undefined && size > cap[0]) {
      const draft: IssueDraft = {
        code: "too_big",
        origin,
        maximum: cap[0],
        inclusive: true,
        ...exact,
        input,
      };
      push(ctx, draft, cap[1], fatal);
    }
  };
  return new Schema<O[], I[]>((input, ctx) => {
    if (!Array.isArray(input)) {
      push(ctx, { code: "invalid_type", expected: "array", input }, undefined, true);
      if (typeof input === "string") checkSize(input, input.length, "string", ctx, false);
      return input as O[];
    }
    if (cap !== undefined && input.length > cap[0]) {
      checkSize(input, input.length, "array", ctx, true);
      return input as O[];
    }
    const out = input.map((item, index) => element.run(item, child(ctx, index)));
    checkSize(input, input.length, "array", ctx, false);
    return out;
  });
}

// biome-ignore lint/suspicious/noExplicitAny: a shape holds schemas of any type
type Shape = Record<string, Schema<any, any>>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
type OptionalKeys<S extends Shape, Which extends "out" | "in"> = {
  [K in keyof S]: undefined extends (Which extends "out" ? Infer<S[K]> : InferInput<S[K]>) ? K : never;
}[keyof S];
export type ObjectOut<S extends Shape> = Simplify<
  { [K in Exclude<keyof S, OptionalKeys<S, "out">>]: Infer<S[K]> } & {
    [K in OptionalKeys<S, "out">]?: Infer<S[K]>;
  }
>;
export type ObjectIn<S extends Shape> = Simplify<
  { [K in Exclude<keyof S, OptionalKeys<S, "in">>]: InferInput<S[K]> } & {
    [K in OptionalKeys<S, "in">]?: InferInput<S[K]>;
  }
>;

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function objectOf<S extends Shape>(shape: S, strict: boolean): Schema<ObjectOut<S>, ObjectIn<S>> {
  const keys = Object.keys(shape);
  const known = new Set(keys);
  return new Schema((input, ctx) => {
    if (!isRecord(input)) {
      push(ctx, { code: "invalid_type", expected: "object", input }, undefined, true);
      return input as ObjectOut<S>;
    }
    const out: Record<string, unknown> = strict ? {} : { ...input };
    for (const key of keys) {
      const field = shape[key] as Schema<unknown>;
      const present = Object.hasOwn(input, key);
      if (!present && field.presence === "optional") continue;
      const value = field.run(present ? input[key] : undefined, child(ctx, key));
      if (present || value !== undefined) out[key] = value;
    }
    if (strict) {
      const unknownKeys: string[] = [];
      for (const key in input) if (!known.has(key)) unknownKeys.push(key);
      if (unknownKeys.length > 0)
        push(ctx, { code: "unrecognized_keys", keys: unknownKeys, input }, undefined, false);
    }
    return out as ObjectOut<S>;
  });
}

/** An object of exactly these keys: any other key is a problem (it is most often a typo). */
export function strictObject<S extends Shape>(shape: S): Schema<ObjectOut<S>, ObjectIn<S>> {
  return objectOf(shape, true);
}

/** An object with at least these keys checked; other keys pass through unchecked. */
export function looseObject<S extends Shape>(
  shape: S,
): Schema<ObjectOut<S> & Record<string, unknown>, ObjectIn<S> & Record<string, unknown>> {
  return objectOf(shape, false) as Schema<
    ObjectOut<S> & Record<string, unknown>,
    ObjectIn<S> & Record<string, unknown>
  >;
}

/** A schema that refers to itself (a tree), resolved on first use. */
export function lazy<O, I = O>(get: () => Schema<O, I>): Schema<O, I> {
  let resolved: Schema<O, I> | undefined;
  return new Schema<O, I>((input, ctx) => {
    resolved ??= get();
    return resolved.run(input, ctx);
  });
}

/** The first alternative that accepts the value; if none does, one issue for the whole. */
// biome-ignore lint/suspicious/noExplicitAny: alternatives of any types
export function union<const S extends readonly Schema<any, any>[]>(
  alternatives: S,
  error?: ErrorSpec,
): Schema<Infer<S[number]>, InferInput<S[number]>> {
  return new Schema((input, ctx) => {
    for (const alternative of alternatives) {
      const trial: Context = { path: ctx.path, issues: [] };
      const value = alternative.run(input, trial);
      if (trial.issues.length === 0) return value;
    }
    push(ctx, { code: "invalid_union", input }, error, true);
    return input as Infer<S[number]>;
  });
}

/** A schema written by hand: `run` checks the value and reports through the reporter. */
export function custom<O, I = O>(run: (input: unknown, report: Reporter) => O): Schema<O, I> {
  return new Schema<O, I>((input, ctx) => run(input, fatalReporter(ctx)));
}

function fatalReporter(ctx: Context): Reporter {
  return { issue: (draft, error) => push(ctx, draft, error, true) };
}
