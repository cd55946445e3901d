/**
 * Seed data for the emulator: a realistic organization for the demo and tests, and a large
 * cheap one for benchmarks. Both return the handshakes startOrganizationsEmulator takes, e.g.
 * `startOrganizationsEmulator({ handshakes: sampleOrganization(new Date()) })`; they belong to
 * the emulator's default organization (DEFAULT_ORGANIZATION).
 */
import {
  DEFAULT_ORGANIZATION,
  type EmulatorHandshake,
  type EmulatorHandshakeParty,
  type EmulatorHandshakeResource,
  handshakeArn,
  inviteResources,
  randomHandshakeId,
  seededRandom,
} from "./org-emulator/index.js";

type Action = EmulatorHandshake["Action"];
type State = EmulatorHandshake["State"];

interface Scenario {
  action: Action;
  state: State;
  /** Whole days before `now`; a few hours of jitter are added, never a whole day. */
  ageDays: number;
  target: EmulatorHandshakeParty;
  notes?: string;
}

const DAY_MS = 86_400_000;

const ORGANIZATION = DEFAULT_ORGANIZATION;

const email = (Id: string): EmulatorHandshakeParty => ({ Id, Type: "EMAIL" });
const account = (Id: string): EmulatorHandshakeParty => ({ Id, Type: "ACCOUNT" });

/**
 * One of each situation the rules and the sweep must handle, so a small organization still
 * covers every state, every action, stale and fresh, inside and outside email, allowed and
 * exempt accounts, notes with and without a ticket.
 */
const SCENARIOS: readonly Scenario[] = [
  { action: "INVITE", state: "OPEN", ageDays: 10, target: email("j.doe1987@gmail.com") },
  {
    action: "INVITE",
    state: "OPEN",
    ageDays: 2,
    target: email("alice@example.com"),
    notes: "CHG-1234 onboarding",
  },
  {
    action: "INVITE",
    state: "REQUESTED",
    ageDays: 1,
    target: email("data-platform@dev.example.com"),
    notes: "CHG-2201 data platform sandbox",
  },
  {
    action: "INVITE",
    state: "OPEN",
    ageDays: 12,
    target: email("sre@prod.example.com"),
    notes: "CHG-1877 SRE tooling account",
  },
  {
    action: "INVITE",
    state: "OPEN",
    ageDays: 3,
    target: email("onboarding@partner.example"),
    notes: "CHG-3050 acquisition onboarding",
  },
  { action: "INVITE", state: "OPEN", ageDays: 4, target: email("billing@unknown-vendor.io") },
  {
    action: "INVITE",
    state: "REQUESTED",
    ageDays: 9,
    target: account("111122223333"),
    notes: "CHG-1402 shared services",
  },
  { action: "INVITE", state: "OPEN", ageDays: 5, target: account("222222222222") },
  { action: "INVITE", state: "OPEN", ageDays: 11, target: account("444455556666") },
  {
    action: "INVITE",
    state: "OPEN",
    ageDays: 6,
    target: email("ml-research@labs.example.com"),
    notes: "please join",
  },
  { action: "INVITE", state: "CANCELED", ageDays: 20, target: email("old-sandbox@example.com") },
  {
    action: "INVITE",
    state: "ACCEPTED",
    ageDays: 18,
    target: email("finance@eu.example.com"),
    notes: "CHG-0999 finance",
  },
  { action: "INVITE", state: "DECLINED", ageDays: 7, target: email("contractor@gmail.com") },
  { action: "INVITE", state: "EXPIRED", ageDays: 25, target: account("987654321098") },
  { action: "INVITE", state: "CANCELED", ageDays: 3, target: account("222222222222") },
  { action: "ENABLE_ALL_FEATURES", state: "OPEN", ageDays: 13, target: account("333344445555") },
  { action: "ENABLE_ALL_FEATURES", state: "ACCEPTED", ageDays: 13, target: account("111122223333") },
  {
    action: "APPROVE_ALL_FEATURES",
    state: "REQUESTED",
    ageDays: 1,
    target: account(ORGANIZATION.MasterAccountId),
  },
  {
    action: "ADD_ORGANIZATIONS_SERVICE_LINKED_ROLE",
    state: "OPEN",
    ageDays: 8,
    target: account("555566667777"),
  },
  {
    action: "ADD_ORGANIZATIONS_SERVICE_LINKED_ROLE",
    state: "EXPIRED",
    ageDays: 28,
    target: account("555566667777"),
  },
  { action: "TRANSFER_RESPONSIBILITY", state: "REQUESTED", ageDays: 2, target: account("666677778888") },
  { action: "TRANSFER_RESPONSIBILITY", state: "DECLINED", ageDays: 9, target: account("777788889999") },
];

const INTERNAL_USERS = ["bob", "carol", "dev-team", "security", "analytics", "payments", "sandbox", "qa"];
const INTERNAL_DOMAINS = [
  "example.com",
  "dev.example.com",
  "prod.example.com",
  "eu.example.com",
  "labs.example.com",
];
const OUTSIDE_EMAILS = [
  "someone.personal@gmail.com",
  "it@acme-widgets.net",
  "ops@partner.example",
  "admin@contoso-cloud.biz",
];
const TICKET_NOTES = [
  "CHG-1234 onboarding",
  "CHG-2310 new workload account",
  "CHG-4121 team sandbox",
  "CHG-87 migration",
];
const FREE_NOTES = ["please join", "Welcome aboard!", "as discussed on the call"];

/** Days an action's handshake stays open before it expires. */
function lifetimeDays(action: Action): number {
  return action === "ENABLE_ALL_FEATURES" || action === "APPROVE_ALL_FEATURES" ? 90 : 15;
}

/**
 * About `count` (default 40) handshakes. The curated scenarios come first in the seed list
 * (all of them when count allows, else the first `count`), the rest are drawn at random; the
 * result is shuffled. The same `now` and `seed` always give the same organization.
 */
export function sampleOrganization(
  now: Date,
  options: { count?: number; seed?: number } = {},
): EmulatorHandshake[] {
  const count = options.count ?? 40;
  const random = seededRandom(options.seed ?? 1);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

  const scenarios = SCENARIOS.slice(0, count);
  for (let i = scenarios.length; i < count; i += 1) scenarios.push(randomScenario(random, pick));

  const ids = new Set<string>();
  const handshakes: EmulatorHandshake[] = [];
  let parentId: string | undefined;
  for (const scenario of scenarios) {
    let id = randomHandshakeId(random);
    while (ids.has(id)) id = randomHandshakeId(random);
    ids.add(id);
    const jitterMs = Math.floor(random() * 20 * 3_600_000);
    const requested = new Date(now.getTime() - scenario.ageDays * DAY_MS - jitterMs);
    const handshake = buildHandshake(id, scenario, requested, parentId);
    if (scenario.action === "ENABLE_ALL_FEATURES") parentId ??= id;
    handshakes.push(handshake);
  }
  for (let i = handshakes.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [handshakes[i], handshakes[j]] = [handshakes[j] as EmulatorHandshake, handshakes[i] as EmulatorHandshake];
  }
  return handshakes;
}

function randomScenario(random: () => number, pick: <T>(items: readonly T[]) => T): Scenario {
  const roll = random();
  const action: Action =
    roll < 0.7
      ? "INVITE"
      : pick(["ENABLE_ALL_FEATURES", "ADD_ORGANIZATIONS_SERVICE_LINKED_ROLE", "TRANSFER_RESPONSIBILITY"]);
  const state: State = pick([
    "OPEN",
    "OPEN",
    "OPEN",
    "REQUESTED",
    "CANCELED",
    "ACCEPTED",
    "ACCEPTED",
    "DECLINED",
    "EXPIRED",
  ]);
  const ageDays =
    state === "EXPIRED"
      ? lifetimeDays(action) + 1 + Math.floor(random() * 13)
      : state === "OPEN" || state === "REQUESTED"
        ? Math.floor(random() * 14)
        : Math.floor(random() * 29);
  if (action !== "INVITE") return { action, state, ageDays, target: account(randomAccountId(random)) };
  const kind = random();
  const target =
    kind < 0.65
      ? email(`${pick(INTERNAL_USERS)}${Math.floor(random() * 100)}@${pick(INTERNAL_DOMAINS)}`)
      : kind < 0.8
        ? email(pick(OUTSIDE_EMAILS))
        : account(randomAccountId(random));
  const notesRoll = random();
  const notes = notesRoll < 0.5 ? pick(TICKET_NOTES) : notesRoll < 0.65 ? pick(FREE_NOTES) : undefined;
  return notes === undefined ? { action, state, ageDays, target } : { action, state, ageDays, target, notes };
}

function randomAccountId(random: () => number): string {
  return String(100_000_000_000 + Math.floor(random() * 899_999_999_999));
}

function buildHandshake(
  id: string,
  scenario: Scenario,
  requested: Date,
  parentId?: string,
): EmulatorHandshake {
  const { action, state, target, notes } = scenario;
  let resources: EmulatorHandshakeResource[];
  if (action === "INVITE") {
    resources = inviteResources(ORGANIZATION, target, notes);
  } else {
    // Non-invite handshakes carry the sender organization plus action-specific details.
    const [sender] = inviteResources(ORGANIZATION, target);
    resources = sender === undefined ? [] : [sender];
    if (action === "APPROVE_ALL_FEATURES" && parentId !== undefined) {
      resources.push({ Type: "PARENT_HANDSHAKE", Value: parentId });
    }
    if (action === "TRANSFER_RESPONSIBILITY") {
      resources.push(
        { Type: "RESPONSIBILITY_TRANSFER", Value: `rt-${id.slice(2, 14)}` },
        { Type: "TRANSFER_TYPE", Value: "BILLING" },
        {
          Type: "TRANSFER_START_TIMESTAMP",
          Value: new Date(requested.getTime() + 30 * DAY_MS).toISOString(),
        },
      );
    }
  }
  return {
    Id: id,
    Arn: handshakeArn(ORGANIZATION, action, id),
    Parties: [{ Id: ORGANIZATION.Id, Type: "ORGANIZATION" }, { ...target }],
    State: state,
    RequestedTimestamp: requested,
    ExpirationTimestamp: new Date(requested.getTime() + lifetimeDays(action) * DAY_MS),
    Action: action,
    Resources: resources,
  };
}

const LARGE_ACTIONS: readonly Action[] = [
  "INVITE",
  "INVITE",
  "INVITE",
  "INVITE",
  "INVITE",
  "INVITE",
  "INVITE",
  "ENABLE_ALL_FEATURES",
  "ADD_ORGANIZATIONS_SERVICE_LINKED_ROLE",
  "TRANSFER_RESPONSIBILITY",
];
const LARGE_STATES: readonly State[] = [
  "OPEN",
  "REQUESTED",
  "ACCEPTED",
  "OPEN",
  "CANCELED",
  "DECLINED",
  "EXPIRED",
];
const LARGE_DOMAINS = ["example.com", "dev.example.com", "gmail.com", "partner.example", "prod.example.com"];

/**
 * `n` handshakes from arithmetic on the index, with no random draws, so benchmarks can build
 * tens of thousands cheaply and identically every time.
 */
export function largeOrganization(now: Date, n: number): EmulatorHandshake[] {
  const handshakes: EmulatorHandshake[] = [];
  for (let i = 0; i < n; i += 1) {
    const action = LARGE_ACTIONS[i % LARGE_ACTIONS.length] as Action;
    const state = LARGE_STATES[i % LARGE_STATES.length] as State;
    const ageDays =
      state === "EXPIRED"
        ? lifetimeDays(action) + 1 + (i % 13)
        : state === "OPEN" || state === "REQUESTED"
          ? (i * 7) % 14
          : i % 29;
    const target =
      action === "INVITE" && i % 5 !== 0
        ? email(`user${i}@${LARGE_DOMAINS[i % LARGE_DOMAINS.length]}`)
        : account(String(100_000_000_000 + ((i * 7919) % 899_999_999_999)));
    const notes = action === "INVITE" && i % 3 === 0 ? `CHG-${1000 + (i % 9000)} bulk onboarding` : undefined;
    const scenario: Scenario =
      notes === undefined ? { action, state, ageDays, target } : { action, state, ageDays, target, notes };
    const requested = new Date(now.getTime() - ageDays * DAY_MS - (i % 1000) * 60_000);
    handshakes.push(buildHandshake(`h-${i.toString(36).padStart(16, "0")}`, scenario, requested));
  }
  return handshakes;
}
