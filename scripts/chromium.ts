import { type BrowserContext, type BrowserServer, chromium } from "playwright-core";

/** Debian's Chromium; playwright-core drives it and never downloads a browser of its own. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

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

/**
 * Headless Chromium with its own background traffic (updates, sync, QUIC probes) turned off, so
 * that every request a page makes is the page's.
 */
export function launchOfflineChromium(
  profileDir: string,
  viewport?: { width: number; height: number },
): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    ...(viewport ? { viewport } : {}),
    args: OFFLINE_ARGS,
  });
}

/**
 * The same offline Chromium as a server that several processes connect to (`chromium.connect`),
 * each with contexts of its own: one browser for a whole test run.
 */
export function launchOfflineChromiumServer(): Promise<BrowserServer> {
  return chromium.launchServer({ executablePath: CHROMIUM, headless: true, args: OFFLINE_ARGS });
}
