/**
 * Where the run's lock service (test/support/global-setup.ts) hands out the address of the run's
 * one offline Chromium, which it starts on the first request; see offlineBrowser in browser.ts.
 */
export const CHROMIUM_PATH = "/.chromium";
