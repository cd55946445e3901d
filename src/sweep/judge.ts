import type { JanitorConfig } from "../config/config.js";
import { describeError } from "../domain/errors.js";
import type { Handshake } from "../domain/handshake.js";
import { marksByHandshake } from "../policy/grace.js";
import { plan } from "../policy/plan.js";
import type { ClaimResult, HandshakeClaims } from "../ports/claims.js";
import type { OrganizationsPort } from "../ports/organizations.js";
import type { OpenMark } from "../ports/records.js";
import { sleep as realSleep, type Sleep } from "../resilience/backoff.js";
import { handshakeScope } from "./scope.js";
import { type RunSummary, type SweepDeps, type SweepRequest, silentLogger, sweep } from "./sweep.js";

/** An OrganizationsPort whose listing is exactly the given handshakes, as DescribeHandshake tells them. */
export interface DescribedHandshakes extends OrganizationsPort {
  /** The service's answer for one handshake, asked once and remembered; undefined when it is gone. */
  described(id: string): Promise<Handshake | undefined>;
}

/**
 * Wraps a port so that the sweep "lists" only these handshakes, each described afresh (once),
 * instead of the whole organization. A handshake the service no longer knows is left out, as a
 * listing would leave it out. Cancelling goes to the wrapped port unchanged.
 */
export function describedHandshakes(port: OrganizationsPort, ids: readonly string[]): DescribedHandshakes {
  const answers = new Map<string, Promise<Handshake | undefined>>();
  const described = (id: string) => {
    let answer = answers.get(id);
    if (answer === undefined) {
      answer = port.describeHandshake(id);
      answers.set(id, answer);
    }
    return answer;
  };
  return {
    async *listHandshakes() {
      const page: Handshake[] = [];
      for (const id of ids) {
        const handshake = await described(id);
        if (handshake !== undefined) page.push(handshake);
      }
      if (page.length > 0) yield page;
    },
    describeHandshake: (id) => port.describeHandshake(id),
    cancelHandshake: (id, options) => port.cancelHandshake(id, options),
    described,
  };
}

export interface JudgeRequest {
  config: JanitorConfig;
  /** `event-<EventBridge event id>`: a redelivered event finds its run and does nothing twice. */
  runId: string;
  /** Who sent the invitation (the CloudTrail event's userIdentity). */
  actor: string;
  handshakeId: string;
  /** Forces a dry run, as for the sweep; never the other way round. */
  dryRun?: boolean;
  /** Epoch ms after which no cancellation starts (it is DEFERRED to the next sweep). */
  deadline?: number;
  /**
   * Who holds the handshake's claim while this judgement acts: the run id and the invocation
   * (Lambda's request id, which its own retries keep), so that a second delivery of the same
   * event, running at the same time, is told apart from a retry of this one.
   */
  holder: string;
  /** How long the claim lasts: longer than this judgement can take, so it never lapses while held. */
  claimTtlMs: number;
  /** How long to wait for a claim another run holds before deferring to the next sweep; default 0. */
  claimWaitMs?: number;
  /**
   * Under four eyes (docs/approval.md): who the janitor's credentials say it is, the maker of the
   * plan this judgement records instead of cancelling.
   */
  identity?: SweepRequest["identity"];
}

export interface JudgeDeps extends SweepDeps {
  claims: HandshakeClaims;
  sleep?: Sleep;
}

/** The same event's run is already acting on the handshake in another invocation. */
export interface InProgress {
  inProgress: { runId: string; holder: string; until: string };
}

/**
 * Judges one handshake now, as the sweep would judge it: the same config, rules, exemptions,
 * dry run and safety cap, the same intent / cancel / outcome records (it *is* the sweep, over a
 * listing of that one handshake, described afresh). The trigger is `event`.
 *
 * Around a cancellation it holds the handshake's claim (HandshakeClaims): taken before the
 * intent, released after the outcome. A claim another run holds is waited for up to
 * `claimWaitMs`; if it is still held, the decision is recorded DEFERRED without calling
 * CancelHandshake, and the next sweep decides the handshake again (it is still open unless the
 * holder canceled it). A claim this run holds under another invocation means a second delivery
 * of the same event while the first is still at work: nothing is done or written here.
 *
 * It does not reconcile other runs' pending intents: with several invocations at once, one of
 * them could complete another's intent while that one's cancel is in flight. The scheduled
 * sweep reconciles.
 */
export async function judge(request: JudgeRequest, deps: JudgeDeps): Promise<RunSummary | InProgress> {
  const log = deps.logger ?? silentLogger;
  const organizations = describedHandshakes(deps.organizations, [request.handshakeId]);
  const dryRun = request.config.dryRun || request.dryRun === true;

  let claim: ClaimResult | undefined;
  if (!dryRun && (await wouldCancel(organizations, request, deps))) {
    claim = await takeClaim(request, deps);
    if (!claim.taken && claim.holder.startsWith(`${request.runId}/`)) {
      log.info("the same event is being judged by another invocation; nothing done here", {
        holder: claim.holder,
      });
      return {
        inProgress: { runId: request.runId, holder: claim.holder, until: claim.until.toISOString() },
      };
    }
  }
  const held = claim?.taken === false ? claim : undefined;
  try {
    return await sweep(
      {
        config: request.config,
        runId: request.runId,
        trigger: "event",
        actor: request.actor,
        handshakeIds: [request.handshakeId],
        concurrency: 1,
        // Its fence confirms this invocation's claim; a claim another run holds skips the decision.
        scope: handshakeScope(request.holder, held),
        ...(request.dryRun ? { dryRun: true } : {}),
        ...(request.deadline !== undefined ? { deadline: request.deadline } : {}),
        ...(request.identity !== undefined ? { identity: request.identity } : {}),
      },
      { ...deps, organizations },
    );
  } finally {
    if (claim?.taken) {
      try {
        await deps.claims.releaseHandshake(request.handshakeId, request.holder);
      } catch (error) {
        // Nothing is lost: the claim expires by itself after claimTtlMs.
        log.warn("could not release the handshake's claim; it expires by itself", {
          error: describeError(error),
        });
      }
    }
  }
}

/**
 * Whether the sweep would cancel the handshake now, from the same description it will plan on
 * and the handshake's open mark, as the sweep plans with it: a mark that is due is cancelled, and
 * under this judgement's claim, as a sweep's cancel is under its own (one actor per handshake).
 * A description or a read of the marks that fails is left for the sweep, which records it.
 */
async function wouldCancel(
  organizations: DescribedHandshakes,
  request: JudgeRequest,
  deps: JudgeDeps,
): Promise<boolean> {
  let handshake: Handshake | undefined;
  let marks: ReadonlyMap<string, OpenMark>;
  try {
    handshake = await organizations.described(request.handshakeId);
    marks = marksByHandshake(
      (await deps.marks.listOpenMarks()).filter((mark) => mark.handshakeId === request.handshakeId),
    );
  } catch {
    return false;
  }
  if (handshake === undefined) return false;
  const decided = plan({
    handshakes: [handshake],
    config: request.config,
    now: deps.now(),
    only: { handshakeIds: [request.handshakeId] },
    marks,
  });
  return decided.selected > 0 && !decided.blocked;
}

/** The claim, waiting for another holder up to claimWaitMs with doubling pauses. */
async function takeClaim(request: JudgeRequest, deps: JudgeDeps): Promise<ClaimResult> {
  const wait = deps.sleep ?? realSleep;
  const giveUpAt = deps.now().getTime() + (request.claimWaitMs ?? 0);
  let pause = 50;
  for (;;) {
    const result = await deps.claims.claimHandshake(request.handshakeId, request.holder, request.claimTtlMs);
    if (result.taken) return result;
    if (result.holder.startsWith(`${request.runId}/`)) return result;
    const left = giveUpAt - deps.now().getTime();
    if (left <= 0) return result;
    await wait(Math.min(pause, left));
    pause *= 2;
  }
}
