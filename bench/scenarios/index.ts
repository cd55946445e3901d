import type { Scenario } from "../lib.js";

/** Every benchmark scenario, loaded only when it runs. One line per scenario module. */
export const SCENARIOS: Record<string, () => Promise<{ scenario: Scenario }>> = {
  "audit-scale": () => import("./audit-scale.js"),
  "cold-init": () => import("./cold-init.js"),
  pacing: () => import("./pacing.js"),
  realtime: () => import("./realtime.js"),
  scale: () => import("./scale.js"),
};
