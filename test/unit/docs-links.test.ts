import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * The README is the door and docs/ the rooms: every relative link in them must lead somewhere,
 * down to the heading an anchor names, and every page of docs/ must be reachable from the README.
 */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PAGES = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

/** The text outside fenced code blocks, where a link is a link. */
function prose(text: string): string {
  return text.replace(/^```[\s\S]*?^```/gm, "");
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, "")
    .replace(/[^\p{L}\p{N} -]/gu, "")
    .replace(/ /g, "-");
}

function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const found = new Set<string>();
  for (const match of prose(readFileSync(file, "utf8")).matchAll(/^#{1,6} (.+)$/gm)) {
    const base = slug(match[1] ?? "");
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    found.add(count === 0 ? base : `${base}-${count}`);
  }
  return found;
}

function links(page: string): { target: string; anchor: string | undefined }[] {
  const out: { target: string; anchor: string | undefined }[] = [];
  for (const match of prose(readFileSync(join(ROOT, page), "utf8")).matchAll(/\]\(([^)\s]+)\)/g)) {
    const href = match[1] ?? "";
    if (/^[a-z]+:/i.test(href)) continue;
    const [path, anchor] = href.split("#", 2);
    const target = path === "" ? join(ROOT, page) : resolve(dirname(join(ROOT, page)), path ?? "");
    out.push({ target, anchor });
  }
  return out;
}

describe("documentation links", () => {
  it("finds the pages it checks", () => {
    expect(PAGES.length).toBeGreaterThan(5);
  });

  it.each(PAGES)("every relative link in %s leads to a file and heading that exist", (page) => {
    const broken: string[] = [];
    for (const { target, anchor } of links(page)) {
      const shown = relative(ROOT, target) + (anchor === undefined ? "" : `#${anchor}`);
      if (!existsSync(target)) broken.push(`${shown}: no such file`);
      else if (anchor !== undefined && target.endsWith(".md") && !anchors(target).has(anchor))
        broken.push(`${shown}: no such heading`);
    }
    expect(broken).toEqual([]);
  });

  it("reaches every page of docs/ from the README", () => {
    const linked = new Set(links("README.md").map(({ target }) => relative(ROOT, target)));
    expect(PAGES.filter((page) => page.startsWith("docs/") && !linked.has(page))).toEqual([]);
  });

  it("keeps the README a front door of at most 12 KB", () => {
    expect(readFileSync(join(ROOT, "README.md")).length).toBeLessThanOrEqual(12 * 1024);
  });

  it("makes anchors as GitHub does", () => {
    expect(slug("Node 24")).toBe("node-24");
    expect(slug("Scale: 10,000 handshakes")).toBe("scale-10000-handshakes");
    expect(slug("`audit verify` and exports")).toBe("audit-verify-and-exports");
  });
});
