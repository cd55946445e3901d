import { createHash } from "node:crypto";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import { type PackageOptions, type PackageResult, packageService } from "../../scripts/package.js";
import { exclusively } from "./stack.js";

/**
 * The service packaged as `npm run package` does, once per test run for each set of options: the
 * first file to ask packages it into the run's directory (under the dist/sweep lock, which every
 * packaging takes), and later files read the same template and zip. A failed packaging is not kept.
 * The files are shared: a test unpacks or edits copies, never the originals.
 */
export async function packagedOnce(options: Omit<PackageOptions, "outDir">): Promise<PackageResult> {
  const runDir = inject("runDir");
  const key = createHash("sha256").update(JSON.stringify(options)).digest("hex").slice(0, 16);
  const outDir =
    runDir === undefined ? await mkdtemp(join(tmpdir(), "janitor-package-")) : join(runDir, `package-${key}`);
  const done = join(outDir, "packaged.json");
  return exclusively("dist/sweep", async () => {
    const earlier = await readFile(done, "utf8").catch(() => undefined);
    if (earlier !== undefined) return JSON.parse(earlier) as PackageResult;
    const result = await packageService({ ...options, outDir });
    if (result.code === 0) await writeFile(done, JSON.stringify(result));
    return result;
  });
}

/** packagedOnce that fails with the packager's output, and the template it wrote, parsed. */
export async function packagedTemplate<T>(
  options: Omit<PackageOptions, "outDir">,
): Promise<{ packaged: PackageResult; template: T }> {
  const packaged = await packagedOnce(options);
  if (packaged.code !== 0) throw new Error(`packaging failed:\n${packaged.output}`);
  return { packaged, template: JSON.parse(await readFile(packaged.templatePath, "utf8")) as T };
}
