import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { type BrowserContext, type BrowserServer, chromium } from "playwright-core";

const execFileAsync = promisify(execFile);

/** Chromium's own background traffic (updates, sync, QUIC probes) off, and headless. */
const OFFLINE_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The directory of the installed @sparticuz/chromium package (its package.json beside bin/). */
function packageDir(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve("@sparticuz/chromium");
  let dir = dirname(main);
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  return dir;
}

export interface Chromium {
  executablePath: string;
  /** The variables Chromium needs: its fontconfig file (the system's fonts, then the package's). */
  env: Record<string, string>;
}

let unpacking: Promise<Chromium> | undefined;

/**
 * The Chromium shipped inside the @sparticuz/chromium npm package (a brotli-compressed headless
 * build), unpacked once into node_modules/.cache and kept for later runs: nothing is downloaded,
 * and no system browser is needed. CHROMIUM_PATH names another Chromium instead.
 */
export function offlineChromium(): Promise<Chromium> {
  const chosen = process.env.CHROMIUM_PATH;
  if (chosen) return Promise.resolve({ executablePath: chosen, env: {} });
  unpacking ??= unpack();
  return unpacking;
}

async function unpack(): Promise<Chromium> {
  const pkg = packageDir();
  const { version } = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")) as { version: string };
  const cache = join(dirname(dirname(pkg)), ".cache", "handshake-janitor");
  const dir = join(cache, `chromium-${version}`);
  const found = { executablePath: join(dir, "chromium"), env: { FONTCONFIG_FILE: join(dir, "fonts.conf") } };
  if (existsSync(found.env.FONTCONFIG_FILE)) return found;
  mkdirSync(cache, { recursive: true });
  // Unpacked aside by the package's own code (into its TMPDIR) and renamed into place, so no
  // process ever starts half a browser; of two processes unpacking at once, the first rename wins.
  const staging = mkdtempSync(`${dir}-`);
  try {
    await execFileAsync(
      process.execPath,
      ["--input-type=module", "-e", 'await (await import("@sparticuz/chromium")).default.executablePath();'],
      // Lambda's variables would make it unpack Amazon Linux's libraries too; none is wanted here.
      { cwd: dirname(pkg), env: { PATH: process.env.PATH ?? "", HOME: staging, TMPDIR: staging } },
    );
    // The system's fonts as any program sees them, then the package's Open Sans for a machine
    // that has none: Chromium's text is never drawn without a font.
    writeFileSync(
      join(staging, "fonts.conf"),
      [
        '<?xml version="1.0"?>',
        '<!DOCTYPE fontconfig SYSTEM "fonts.dtd">',
        "<fontconfig>",
        '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>',
        `  <dir>${join(dir, "fonts")}</dir>`,
        `  <cachedir>${join(dir, "fonts-cache")}</cachedir>`,
        "</fontconfig>",
        "",
      ].join("\n"),
    );
    try {
      renameSync(staging, dir);
    } catch (error) {
      if (!existsSync(found.env.FONTCONFIG_FILE)) throw error;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return found;
}

/**
 * Headless Chromium with its own background traffic (updates, sync, QUIC probes) turned off, so
 * that every request a page makes is the page's.
 */
export async function launchOfflineChromium(
  profileDir: string,
  viewport?: { width: number; height: number },
): Promise<BrowserContext> {
  const { executablePath, env } = await offlineChromium();
  return chromium.launchPersistentContext(profileDir, {
    executablePath,
    env: { ...process.env, ...env },
    headless: true,
    ...(viewport ? { viewport } : {}),
    args: OFFLINE_ARGS,
  });
}

/**
 * The same offline Chromium as a server that several processes connect to (`chromium.connect`),
 * each with contexts of its own: one browser for a whole test run.
 */
export async function launchOfflineChromiumServer(): Promise<BrowserServer> {
  const { executablePath, env } = await offlineChromium();
  return chromium.launchServer({
    executablePath,
    env: { ...process.env, ...env },
    headless: true,
    args: OFFLINE_ARGS,
  });
}
