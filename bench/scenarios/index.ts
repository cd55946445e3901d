import type { Scenario } from "../lib.js";

/** Every benchmark scenario, loaded only when it runs. One line per scenario module. */
export const SCENARIOS: Record<string, () => Promise<{ scenario: Scenario }>> = {};
