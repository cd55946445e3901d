import {
  CancelHandshakeCommand,
  DescribeHandshakeCommand,
  type HandshakeResource,
  ListHandshakesForOrganizationCommand,
  type OrganizationsClient,
  type Handshake as SdkHandshake,
} from "@aws-sdk/client-organizations";
import { describeError, JanitorError, ServiceAnswerError } from "../domain/errors.js";
import type { Handshake, HandshakeTarget } from "../domain/handshake.js";
import type { CancelResult } from "../domain/outcomes.js";
import type { OrganizationsPort } from "../ports/organizations.js";
import {
  type BackoffPolicy,
  backoffDelay,
  DEFAULT_BACKOFF,
  RetriesExhaustedError,
  retry,
  type Sleep,
} from "../resilience/backoff.js";
import { createPacer, type Pacer } from "../resilience/pacer.js";
import { FencedOutcomeUnknownError, FenceRefusedError } from "../sweep/fence.js";
import { errorName, httpStatus, isAmbiguous, isRetryable, isThrottle } from "./errors.js";

/** The service's page limit for ListHandshakesForOrganization (MaxResults 1..20 in the model). */
const PAGE_SIZE = 20;
/** A guard against a service that keeps answering with tokens: 20 * 50,000 handshakes. */
const MAX_PAGES = 50_000;

export interface OrganizationsAdapterOptions {
  /** Built by the composition root with maxAttempts: 1, so that the retries here are the only ones. */
  client: OrganizationsClient;
  /** Shared by every CancelHandshake of the run; one is made when absent. */
  pacer?: Pacer;
  /** Paces list calls separately: Organizations throttles each operation on its own. */
  listPacer?: Pacer;
  policy?: BackoffPolicy;
  sleep?: Sleep;
  random?: () => number;
  /** Epoch milliseconds, the clock deadlines are given in. */
  now?: () => number;
  /** Called on each retried throttle, for metrics. */
  onThrottle?: (operation: string) => void;
}

export function createOrganizationsAdapter(options: OrganizationsAdapterOptions): OrganizationsPort {
  const { client } = options;
  const pacer = options.pacer ?? createPacer();
  // Pages are fetched one after another, so the round trip already bounds the rate; a start as
  // cautious as the cancels' would only add waits to an unthrottled listing. 50 calls a second is
  // one every 20 ms, less than a round trip to the service: a listing nobody throttles never waits.
  const listPacer = options.listPacer ?? createPacer({ initialRate: 50 });

  const policy = options.policy ?? DEFAULT_BACKOFF;
  const now = options.now ?? Date.now;

  async function paced<T>(
    operation: string,
    gate: Pacer,
    call: () => Promise<T>,
    deadline?: number,
    beforeAttempt?: (turn: () => Promise<boolean>) => Promise<boolean>,
  ): Promise<T> {
    let lastError: unknown;
    return retry(
      async (attempt) => {
        const slot = await gate.acquire(deadline === undefined ? undefined : deadline - now());
        if (slot === undefined) {
          const cause = lastError ?? new Error(`${operation}: no call slot before the deadline`);
          throw new RetriesExhaustedError(cause, attempt, "deadline");
        }
        // The fence, after any wait for a slot and right before the call: a retry is a new call.
        // It waits for the call's turn once confirmed, so that its time limit counts that wait.
        let went: number | undefined;
        const turn = async () => {
          went = await gate.turn(deadline === undefined ? undefined : deadline - now());
          return went !== undefined;
        };
        if (beforeAttempt !== undefined && !(await beforeAttempt(turn))) {
          throw new FenceRefusedError({
            reason: `${operation}: attempt ${attempt + 1} not made, the fence refused it`,
            lost: false,
          });
        }
        // When the call goes, on the pacer's clock: after the fence and its turn, not at the slot.
        const sentAt = beforeAttempt === undefined ? slot : (went ?? gate.now());
        try {
          const result = await call();
          gate.onSuccess(sentAt);
          return result;
        } catch (error) {
          lastError = error;
          if (isThrottle(error)) {
            gate.onThrottle(sentAt);
            options.onThrottle?.(operation);
          } else if (httpStatus(error) !== undefined) {
            // Any other answer (already canceled, a conflict, a 500) still took a call of the budget.
            gate.onSuccess(sentAt);
          }
          throw error;
        }
      },
      {
        isRetryable,
        policy,
        // After a throttle the pacer has already slowed every caller down and spaced the next
        // slots; a long sleep on top would leave slots of the budget unused. The pause is jittered
        // and doubles per attempt as usual, but in units of the pacer's interval, not of 100 ms.
        delay: (error, attempt) =>
          backoffDelay(
            attempt,
            isThrottle(error) ? { ...policy, baseMs: gate.interval() } : policy,
            options.random,
          ),
        now,
        ...(options.sleep ? { sleep: options.sleep } : {}),
        ...(deadline !== undefined ? { deadline } : {}),
      },
    );
  }

  return {
    async *listHandshakes() {
      const seenTokens = new Set<string>();
      let nextToken: string | undefined;
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const input = { MaxResults: PAGE_SIZE, ...(nextToken ? { NextToken: nextToken } : {}) };
        const output = await paced("ListHandshakesForOrganization", listPacer, () =>
          client.send(new ListHandshakesForOrganizationCommand(input)),
        );
        // Pages may be short or empty and still carry a token: only its absence ends the list.
        const handshakes = (output.Handshakes ?? []).map(toHandshake);
        if (handshakes.length > 0) yield handshakes;
        nextToken = output.NextToken;
        if (!nextToken) return;
        if (seenTokens.has(nextToken)) {
          throw new ServiceAnswerError(
            `ListHandshakesForOrganization returned the same NextToken twice (page ${page + 1})`,
          );
        }
        seenTokens.add(nextToken);
      }
      throw new ServiceAnswerError(`ListHandshakesForOrganization did not end within ${MAX_PAGES} pages`);
    },

    async describeHandshake(id) {
      try {
        const output = await paced("DescribeHandshake", listPacer, () =>
          client.send(new DescribeHandshakeCommand({ HandshakeId: id })),
        );
        return output.Handshake ? toHandshake(output.Handshake) : undefined;
      } catch (error) {
        if (errorName(error) === "HandshakeNotFoundException") return undefined;
        throw unwrap(error);
      }
    },

    async cancelHandshake(id, cancelOptions = {}): Promise<CancelResult> {
      let attempts = 0;
      let ambiguous = false;
      try {
        await paced(
          "CancelHandshake",
          pacer,
          async () => {
            attempts += 1;
            try {
              return await client.send(new CancelHandshakeCommand({ HandshakeId: id }));
            } catch (error) {
              if (isAmbiguous(error)) ambiguous = true;
              throw error;
            }
          },
          cancelOptions.deadline,
          cancelOptions.beforeAttempt,
        );
        return { outcome: "CANCELED", attempts };
      } catch (caught) {
        if (caught instanceof FenceRefusedError) {
          if (ambiguous) {
            // An earlier attempt, made under its own confirmation, may have canceled it.
            throw new FencedOutcomeUnknownError(
              `CancelHandshake ${id}: outcome unknown after ${attempts} attempt(s), an answer was lost and no further attempt was allowed (${caught.message})`,
              attempts,
              { cause: caught },
            );
          }
          return { outcome: "DEFERRED", attempts, error: caught.message };
        }
        const error = unwrap(caught);
        const name = errorName(error);
        const detail = describeError(error);
        switch (name) {
          case "HandshakeAlreadyInStateException":
            // After an attempt whose answer was lost, "already canceled" is most likely our own doing.
            return ambiguous
              ? { outcome: "CANCELED", attempts }
              : { outcome: "ALREADY_CLOSED", attempts, error: detail };
          case "HandshakeNotFoundException":
            return { outcome: "ALREADY_CLOSED", attempts, error: detail };
          case "InvalidHandshakeTransitionException":
            return { outcome: "STATE_CHANGED", attempts, error: detail };
        }
        if (caught instanceof RetriesExhaustedError) {
          if (ambiguous) {
            // An earlier attempt may have canceled it and no attempt was left to find out:
            // DEFERRED would claim it was not done. The sweep leaves the intent pending instead,
            // and the next run looks the handshake up.
            throw new JanitorError(
              `CancelHandshake ${id}: outcome unknown after ${attempts} attempt(s), an answer was lost: ${detail} (${caught.reason} exhausted)`,
              { cause: caught },
            );
          }
          return { outcome: "DEFERRED", attempts, error: `${detail} (${caught.reason} exhausted)` };
        }
        return { outcome: "FAILED", attempts, error: detail };
      }
    },
  };
}

function unwrap(error: unknown): unknown {
  return error instanceof RetriesExhaustedError ? error.cause : error;
}

/** SDK shape to the project's own, at the boundary; unknown enum values pass through as strings. */
export function toHandshake(item: SdkHandshake): Handshake {
  const handshake: Handshake = {
    id: item.Id ?? "",
    state: item.State ?? "UNKNOWN",
    action: item.Action ?? "UNKNOWN",
  };
  if (item.Arn) handshake.arn = item.Arn;
  if (item.RequestedTimestamp) handshake.requestedAt = new Date(item.RequestedTimestamp);
  if (item.ExpirationTimestamp) handshake.expiresAt = new Date(item.ExpirationTimestamp);
  const target = findTarget(item);
  if (target) handshake.target = target;
  const notes = findResource(item.Resources ?? [], "NOTES");
  if (notes?.Value !== undefined) handshake.notes = notes.Value;
  const requester = (item.Parties ?? []).find((p) => p.Type === "ORGANIZATION" && p.Id);
  if (requester?.Type && requester.Id) handshake.requester = { type: requester.Type, value: requester.Id };
  return handshake;
}

/**
 * The party the handshake is addressed to: the one that is not the organization. Invitations to
 * an email address name it as an EMAIL party; the model also lists the invited account or email
 * as a resource, used when the parties say nothing useful.
 */
function findTarget(item: SdkHandshake): HandshakeTarget | undefined {
  const party = (item.Parties ?? []).find((p) => p.Type !== "ORGANIZATION" && p.Id);
  if (party?.Type && party.Id) return { type: party.Type, value: party.Id };
  const resources = item.Resources ?? [];
  const email = findResource(resources, "EMAIL");
  if (email?.Value) return { type: "EMAIL", value: email.Value };
  const account = findResource(resources, "ACCOUNT");
  if (account?.Value) return { type: "ACCOUNT", value: account.Value };
  return undefined;
}

/** Resources nest (an ORGANIZATION resource holds MASTER_EMAIL …), so the search goes down. */
function findResource(resources: HandshakeResource[], type: string): HandshakeResource | undefined {
  for (const resource of resources) {
    if (resource.Type === type) return resource;
    const inner = findResource(resource.Resources ?? [], type);
    if (inner) return inner;
  }
  return undefined;
}
