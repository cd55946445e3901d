import { describe, expect, test } from "vitest";
import {
  array,
  atMost,
  boolean,
  custom,
  greaterThan,
  int,
  lazy,
  literal,
  looseObject,
  matches,
  maxLength,
  minLength,
  number,
  oneOf,
  type Schema,
  strictObject,
  string,
  trimmed,
  union,
  unknown,
} from "../../src/domain/check.js";

type Case = { name: string; schema: Schema<unknown, unknown>; input: unknown };
type Accepted = Case & { data: unknown };
type Rejected = Case & { issues: [path: PropertyKey[], code: string, message: string][] };

interface Tree {
  name: string;
  children?: Tree[] | undefined;
}
const tree: Schema<Tree> = lazy(() =>
  strictObject({ name: string(), children: array(tree, { max: [2, "at most two children"] }).optional() }),
);

describe("checkers accept", () => {
  const cases: Accepted[] = [
    { name: "a string", schema: string(), input: "x", data: "x" },
    { name: "a trimmed string", schema: trimmed(), input: "  x ", data: "x" },
    { name: "a finite number", schema: number(), input: -2.5, data: -2.5 },
    { name: "a whole number", schema: int(), input: 42, data: 42 },
    { name: "a boolean", schema: boolean(), input: false, data: false },
    { name: "anything as unknown", schema: unknown(), input: [1, "a"], data: [1, "a"] },
    { name: "the literal", schema: literal(1), input: 1, data: 1 },
    { name: "one of the values", schema: oneOf(["a", "b"]), input: "b", data: "b" },
    { name: "absent, when optional", schema: string().optional(), input: undefined, data: undefined },
    { name: "null, when nullable", schema: string().nullable(), input: null, data: null },
    { name: "absent, as the default", schema: boolean().default(true), input: undefined, data: true },
    {
      name: "a default from a function",
      schema: array(string()).default(() => ["d"]),
      input: undefined,
      data: ["d"],
    },
    { name: "a list of strings", schema: array(string(), { min: [1] }), input: ["a", "b"], data: ["a", "b"] },
    {
      name: "an object, with defaults applied and absent optionals left out",
      schema: strictObject({ a: string(), b: number().optional(), c: boolean().default(false) }),
      input: { a: "x" },
      data: { a: "x", c: false },
    },
    {
      name: "a loose object's other keys, unchecked",
      schema: looseObject({ a: string() }),
      input: { a: "x", other: 5 },
      data: { a: "x", other: 5 },
    },
    { name: "the first alternative that fits", schema: union([number(), string()]), input: "7", data: "7" },
    {
      name: "a transformed value",
      schema: string().transform((text) => text.length),
      input: "abcd",
      data: 4,
    },
    {
      name: "a tree through lazy",
      schema: tree,
      input: { name: "root", children: [{ name: "leaf" }] },
      data: { name: "root", children: [{ name: "leaf" }] },
    },
    {
      name: "a string that passes its checks",
      schema: string().check(minLength(2)).check(maxLength(3)),
      input: "ab",
      data: "ab",
    },
    {
      name: "a number in its range",
      schema: number().check(greaterThan(0)).check(atMost(5)),
      input: 5,
      data: 5,
    },
  ];

  test.each(cases)("$name", ({ schema, input, data }) => {
    const result = schema.safeParse(input);

    expect(result).toEqual({ success: true, data });
  });
});

describe("checkers reject", () => {
  const cases: Rejected[] = [
    {
      name: "a number for a string",
      schema: string(),
      input: 5,
      issues: [[[], "invalid_type", "Invalid input: expected string, received number"]],
    },
    {
      name: "NaN and the infinities as numbers",
      schema: array(number()),
      input: [Number.NaN, Number.POSITIVE_INFINITY],
      issues: [
        [[0], "invalid_type", "Invalid input: expected number, received NaN"],
        [[1], "invalid_type", "Invalid input: expected number, received Infinity"],
      ],
    },
    {
      name: "a fraction as a whole number, without its later checks",
      schema: int().check(greaterThan(0)),
      input: -2.5,
      issues: [[[], "invalid_type", "Invalid input: expected int, received number"]],
    },
    {
      name: "a whole number beyond the safe range, with its later checks",
      schema: int().check(greaterThan(0)),
      input: -1e300,
      issues: [
        [[], "too_small", "Too small: expected int to be >=-9007199254740991"],
        [[], "too_small", "Too small: expected number to be >0"],
      ],
    },
    {
      name: "a value not among the allowed",
      schema: oneOf(["required", "none"]),
      input: "maybe",
      issues: [[[], "invalid_value", 'Invalid input: expected "required" or "none"']],
    },
    {
      name: "with the schema's own message first",
      schema: literal("0", 'must be "0"'),
      input: "1",
      issues: [[[], "invalid_value", 'must be "0"']],
    },
    {
      name: "with a message chosen per issue, else the default",
      schema: array(string((issue) => (typeof issue.input === "number" ? "quote it" : undefined))),
      input: [5, true],
      issues: [
        [[0], "invalid_type", "quote it"],
        [[1], "invalid_type", "Invalid input: expected string, received boolean"],
      ],
    },
    {
      name: "every failed check of a string, in order",
      schema: string().check(minLength(5, "too short")).check(matches(/^\d+$/, "digits only")),
      input: "ab",
      issues: [
        [[], "too_small", "too short"],
        [[], "invalid_format", "digits only"],
      ],
    },
    {
      name: "a list where a string belongs, and its length",
      schema: string().check(minLength(1)),
      input: [],
      issues: [
        [[], "invalid_type", "Invalid input: expected string, received array"],
        [[], "too_small", "Too small: expected array to have >=1 items"],
      ],
    },
    {
      name: "a refinement only of a value of the right kind",
      schema: string().refine((text) => text === "ok", "must be ok"),
      input: 3,
      issues: [[[], "invalid_type", "Invalid input: expected string, received number"]],
    },
    {
      name: "an empty list under its minimum",
      schema: array(string(), { min: [1, "must not be empty"] }),
      input: [],
      issues: [[[], "too_small", "must not be empty"]],
    },
    {
      name: "a list over its maximum alone, its elements unchecked",
      schema: array(string(), { max: [1] }),
      input: [1, 2],
      issues: [[[], "too_big", "Too big: expected array to have <=1 items"]],
    },
    {
      name: "a list of the wrong length, exactly",
      schema: array(string(), { length: [1] }),
      input: [],
      issues: [[[], "too_small", "Too small: expected array to have exactly 1 items"]],
    },
    {
      name: "each bad element at its index",
      schema: array(string().check(matches(/^[A-Z]+$/, "upper case"))),
      input: ["OK", "no", 3],
      issues: [
        [[1], "invalid_format", "upper case"],
        [[2], "invalid_type", "Invalid input: expected string, received number"],
      ],
    },
    {
      name: "an object's fields in shape order, then its unknown keys, then its own checks",
      schema: strictObject({ a: string(), b: number() }).check(
        (value, report) => report.issue({ code: "custom", message: `saw ${Object.keys(value).join(",")}` }),
        { when: () => true },
      ),
      input: { z: 1, b: "x", y: 2 },
      issues: [
        [["a"], "invalid_type", "Invalid input: expected string, received undefined"],
        [["b"], "invalid_type", "Invalid input: expected number, received string"],
        [[], "unrecognized_keys", 'Unrecognized keys: "z", "y"'],
        [[], "custom", "saw b"],
      ],
    },
    {
      name: "an object's own check not after a fatal problem of a field",
      schema: strictObject({ a: string() }).refine(() => false, "never seen"),
      input: { a: 1 },
      issues: [[["a"], "invalid_type", "Invalid input: expected string, received number"]],
    },
    {
      name: "a list for an object",
      schema: strictObject({}),
      input: [],
      issues: [[[], "invalid_type", "Invalid input: expected object, received array"]],
    },
    {
      name: "a value no alternative accepts, once",
      schema: union([number(), string()], "a number or a string"),
      input: true,
      issues: [[[], "invalid_union", "a number or a string"]],
    },
    {
      name: "a problem a transform reports, below the value's path",
      schema: strictObject({
        n: string().transform((text, report) =>
          report.issue({ code: "custom", message: `bad ${text}`, path: [0] }),
        ),
      }),
      input: { n: "x" },
      issues: [[["n", 0], "custom", "bad x"]],
    },
    {
      name: "a value a hand-written schema refuses",
      schema: custom((input, report) => {
        if (input !== "yes") report.issue({ code: "custom", message: "say yes" });
        return input;
      }),
      input: "no",
      issues: [[[], "custom", "say yes"]],
    },
    {
      name: "a tree's deep problem at its full path",
      schema: tree,
      input: { name: "root", children: [{ name: "a" }, { name: 5 }] },
      issues: [[["children", 1, "name"], "invalid_type", "Invalid input: expected string, received number"]],
    },
  ];

  test.each(cases)("$name", ({ schema, input, issues }) => {
    const result = schema.safeParse(input);

    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => [issue.path, issue.code, issue.message])).toEqual(issues);
  });
});

describe("a caller's messages", () => {
  test("word the issues the schema leaves open, and no others", () => {
    const schema = strictObject({ a: string(), b: literal(1, "must be one") });

    const result = schema.safeParse({ a: 1, b: 2 }, { messages: (issue) => `caller: ${issue.code}` });

    expect(result.error?.issues.map((issue) => issue.message)).toEqual([
      "caller: invalid_type",
      "must be one",
    ]);
  });

  test("fall back to the default wording when they return nothing", () => {
    const result = number().safeParse("x", { messages: () => undefined });

    expect(result.error?.issues[0]?.message).toBe("Invalid input: expected number, received string");
  });
});

describe("parse", () => {
  test("returns the value it accepts", () => {
    expect(strictObject({ a: int() }).parse({ a: 3 })).toEqual({ a: 3 });
  });

  test("throws naming each problem's path", () => {
    expect(() => strictObject({ a: int() }).parse({ a: "3" })).toThrow(
      "a: Invalid input: expected number, received string",
    );
  });
});
