import { readFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { auditTableResource } from "../../scripts/template-parts.js";
import { AUDIT_INDEXES } from "../../src/aws/audit-table.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The modules a file loads when it runs: type-only imports are erased, so left out. */
function runtimeImports(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/^(?:import|export)\s+([\s\S]*?)\s+from\s+"([^"]+)";/gm)) {
    const [, clause = "", specifier = ""] = match;
    if (/^type\s/.test(clause)) continue;
    const names = /^\{([\s\S]*)\}$/.exec(clause.trim())?.[1];
    const allTypes = names
      ?.split(",")
      .map((name) => name.trim())
      .filter(Boolean)
      .every((name) => name.startsWith("type "));
    if (!allTypes) found.push(specifier);
  }
  for (const match of text.matchAll(/^import\s+"([^"]+)";/gm)) found.push(match[1] ?? "");
  return found;
}

describe("the deployment template's parts", () => {
  // serverless.yml reads scripts/template-parts.ts at every package and deploy; an SDK client or
  // Powertools behind it costs each of them most of a second of loading, for constants.
  test("load none of the SDK or other packages, only the repository's own modules", async () => {
    const seen = new Set<string>();
    const packages: string[] = [];
    const queue = [join(ROOT, "scripts/template-parts.ts")];
    while (queue.length > 0 && seen.size < 200) {
      const file = queue.pop() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const specifier of runtimeImports(await readFile(file, "utf8"))) {
        if (specifier.startsWith(".")) queue.push(resolve(dirname(file), specifier.replace(/\.js$/, ".ts")));
        else if (!specifier.startsWith("node:")) packages.push(`${relative(ROOT, file)}: ${specifier}`);
      }
    }
    expect(packages).toEqual([]);
    // The walk did follow the imports: the parts take the table and the action lists from src/aws.
    expect([...seen].map((file) => relative(ROOT, file))).toEqual(
      expect.arrayContaining(["src/aws/audit-table.ts", "src/aws/iam-actions.ts"]),
    );
  });

  test("the import reader sees value imports and skips type-only ones", () => {
    const text = [
      'import type { A } from "type-only";',
      'import { type B, type C } from "types-by-name";',
      'import { type D, e } from "one-value";',
      'import {\n  f,\n  g,\n} from "multi-line";',
      'export { h } from "re-export";',
      'import "side-effect";',
    ].join("\n");
    expect(runtimeImports(text).sort()).toEqual(["multi-line", "one-value", "re-export", "side-effect"]);
  });
});

describe("the audit table's indexes over several deploys", () => {
  type Table = {
    Properties: {
      GlobalSecondaryIndexes: { IndexName: string; KeySchema: { AttributeName: string }[] }[];
      AttributeDefinitions: { AttributeName: string }[];
      KeySchema: { AttributeName: string }[];
    };
  };
  const table = (indexCount?: string | number) =>
    auditTableResource({ tableName: "t", ...(indexCount === undefined ? {} : { indexCount }) }) as Table;
  const names = (t: Table) => t.Properties.GlobalSecondaryIndexes.map((index) => index.IndexName);

  test("holds every index by default, and only the first N, in the order they were introduced, when told", () => {
    const all = Object.values(AUDIT_INDEXES);
    expect(names(table())).toEqual(all);
    expect(names(table(""))).toEqual(all);
    for (let n = 1; n <= all.length; n += 1) expect(names(table(String(n)))).toEqual(all.slice(0, n));
  });

  test("defines exactly the attributes its keys use, as CloudFormation requires", () => {
    for (let n = 1; n <= Object.keys(AUDIT_INDEXES).length; n += 1) {
      const { Properties } = table(n);
      const keyed = new Set(
        [
          ...Properties.KeySchema,
          ...Properties.GlobalSecondaryIndexes.flatMap((index) => index.KeySchema),
        ].map((key) => key.AttributeName),
      );
      expect(Properties.AttributeDefinitions.map((a) => a.AttributeName).sort()).toEqual([...keyed].sort());
    }
  });

  const all = Object.keys(AUDIT_INDEXES).length;
  test.each(["0", String(all + 1), "two", "1.5"])(
    "refuses auditIndexCount '%s' with a line naming it",
    (value) => {
      expect(() => table(value)).toThrow(`auditIndexCount: must be a whole number from 1 to ${all}`);
    },
  );
});
