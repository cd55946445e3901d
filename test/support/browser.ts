import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";
import { inject } from "vitest";
import { launchOfflineChromium } from "../../scripts/chromium.js";
import { CHROMIUM_PATH } from "./run-services.js";

export interface OfflineBrowser {
  /** A context of this caller's own: its pages, cookies and storage are nobody else's. */
  context: BrowserContext;
  /** Closes the context and lets go of the browser (which the run stops at its end). */
  close(): Promise<void>;
}

/**
 * A context in the run's one offline Chromium, started by the lock service on first use (see
 * global-setup.ts): a browser costs seconds of CPU to start, and two files use one. Where the run's
 * setup provided no lock service (a file run under another config), a Chromium of the caller's
 * own with its profile in `dir`.
 */
export async function offlineBrowser(dir: string): Promise<OfflineBrowser> {
  const service = inject("lockService");
  if (service === undefined) {
    const context = await launchOfflineChromium(join(dir, "profile"));
    return { context, close: () => context.close() };
  }
  const answer = await fetch(`${service}${CHROMIUM_PATH}`, { method: "POST" });
  const endpoint = await answer.text();
  if (!answer.ok) throw new Error(`the run's Chromium did not start: ${endpoint}`);
  const browser = await chromium.connect(endpoint);
  const context = await browser.newContext();
  return {
    context,
    close: async () => {
      await context.close();
      await browser.close();
    },
  };
}
