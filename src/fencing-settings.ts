/**
 * The fencing settings (docs/fencing.md): the margin M, the SDK's timeouts that M must outlast,
 * and the organization's lease length. Parsed by src/settings.ts with the rest of the environment.
 */

export interface FencingSettings {
  /**
   * JANITOR_FENCE_MARGIN_MS, M: a confirmation of a claim lasts M, a CancelHandshake attempt starts
   * only while it lasts, and nobody takes a claim over until its holder's last confirmation has
   * lapsed by more than M. It exceeds the longest one attempt may take (connect + request timeout).
   */
  marginMs: number;
  /** JANITOR_CONNECT_TIMEOUT_MS: the SDK clients' connection timeout. */
  connectTimeoutMs: number;
  /** JANITOR_REQUEST_TIMEOUT_MS: the SDK clients' whole-request timeout (it throws, never only warns). */
  requestTimeoutMs: number;
  /** JANITOR_LEASE_MS: how long the organization's lease lasts unless renewed; at least 2 M. */
  leaseMs: number;
}

export const DEFAULT_FENCING: FencingSettings = {
  marginMs: 20_000,
  connectTimeoutMs: 3_000,
  requestTimeoutMs: 10_000,
  leaseMs: 60_000,
};

const VARIABLES = {
  marginMs: "JANITOR_FENCE_MARGIN_MS",
  connectTimeoutMs: "JANITOR_CONNECT_TIMEOUT_MS",
  requestTimeoutMs: "JANITOR_REQUEST_TIMEOUT_MS",
  leaseMs: "JANITOR_LEASE_MS",
} as const satisfies Record<keyof FencingSettings, string>;

/** The longest one CancelHandshake attempt may take under these timeouts. */
export function attemptBoundMs(
  settings: Pick<FencingSettings, "connectTimeoutMs" | "requestTimeoutMs">,
): number {
  return settings.connectTimeoutMs + settings.requestTimeoutMs;
}

/**
 * The fencing settings from `read` (a variable's trimmed value, undefined when unset or blank);
 * each problem is one line naming its variable. A variable in error keeps its default.
 */
export function parseFencing(read: (name: string) => string | undefined, issues: string[]): FencingSettings {
  const settings = { ...DEFAULT_FENCING };
  const wrong = new Set<keyof FencingSettings>();
  for (const [field, name] of Object.entries(VARIABLES) as [keyof FencingSettings, string][]) {
    const raw = read(name);
    if (raw === undefined) continue;
    if (/^[1-9][0-9]{0,8}$/.test(raw)) settings[field] = Number(raw);
    else {
      issues.push(`${name}: '${raw.slice(0, 40)}' is not a whole number of milliseconds greater than 0`);
      wrong.add(field);
    }
  }
  if (wrong.size > 0) return settings;
  const attempt = attemptBoundMs(settings);
  if (settings.marginMs <= attempt) {
    issues.push(
      `${VARIABLES.marginMs}: ${settings.marginMs} must exceed ${VARIABLES.connectTimeoutMs} + ${VARIABLES.requestTimeoutMs} (${attempt}), the longest one CancelHandshake attempt may take`,
    );
  }
  if (settings.leaseMs < 2 * settings.marginMs) {
    issues.push(
      `${VARIABLES.leaseMs}: ${settings.leaseMs} must be at least twice ${VARIABLES.marginMs} (${2 * settings.marginMs}), or a renewed lease would not have M left`,
    );
  }
  return settings;
}
