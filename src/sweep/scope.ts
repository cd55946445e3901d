/**
 * What a run acts on, as a strategy the caller supplies (docs/how-it-works.md). A sweep of the
 * organization (schedule, manual invoke, CLI) takes the organization's lease when live, completes
 * the intents interrupted runs left pending, and claims each handshake while cancelling it. The
 * real-time path judges one handshake whose claim its caller took (or could not take): no lease
 * (an invitation must not wait for a whole sweep) and no reconciling (many such runs go at once;
 * none may complete another's intent while that one's cancel is in flight).
 */
import { describeError } from "../domain/errors.js";
import type { ClaimResult, HandshakeClaims } from "../ports/claims.js";
import { takeClaim } from "./claims.js";
import type { RunState, SweepScope } from "./types.js";

const NOTHING_TO_RELEASE = async () => {};

/** The sweep of the organization: the default scope. */
export const ORGANIZATION_SCOPE: SweepScope = {
  kind: "organization",
  takesLease: true,
  reconciles: true,
  holder: (runId) => runId,
  async admit(run, handshakeId) {
    const claims = run.deps.claims;
    // Without claims (unit tests of the loop alone) nothing is claimed.
    if (claims === undefined) return { go: true, release: NOTHING_TO_RELEASE };
    let claim: ClaimResult;
    try {
      claim = await takeClaim(claims, handshakeId, run.request.runId, claimTtl(run), run.deps);
    } catch (failure) {
      // Unsure whether another run acts on it: no intent, no cancel; the next run decides it again.
      return { go: false, reason: `its claim could not be taken (${describeError(failure)})` };
    }
    if (!claim.taken) {
      return { go: false, reason: `claimed by ${claim.holder} until ${claim.until.toISOString()}` };
    }
    return { go: true, release: () => releaseClaim(claims, handshakeId, run) };
  },
};

/**
 * One handshake judged in real time. `holder` is the caller's claim holder (`<run id>/<invocation>`);
 * `heldBy`, when the caller could not take the claim, names who holds it: the decision is then
 * skipped, as another run is acting on the handshake. The caller releases its own claim.
 */
export function handshakeScope(holder: string, heldBy?: { holder: string; until: Date }): SweepScope {
  return {
    kind: "handshake",
    takesLease: false,
    reconciles: false,
    holder: () => holder,
    async admit() {
      if (heldBy === undefined) return { go: true, release: NOTHING_TO_RELEASE };
      return {
        go: false,
        reason: `claimed by ${heldBy.holder} until ${heldBy.until.toISOString()}: another run is acting on this handshake`,
      };
    },
  };
}

/** How long a sweep holds a handshake's claim: through the run's deadline, or ten minutes. */
function claimTtl(run: RunState): number {
  const { deadline } = run.request;
  const left = deadline === undefined ? 10 * 60_000 : Math.max(0, deadline - run.deps.now().getTime());
  return left + 60_000;
}

async function releaseClaim(claims: HandshakeClaims, handshakeId: string, run: RunState): Promise<void> {
  try {
    await claims.releaseHandshake(handshakeId, run.request.runId);
  } catch (failure) {
    // Nothing is lost: the claim expires by itself.
    run.log.warn("could not release a handshake's claim; it expires by itself", {
      handshakeId,
      error: describeError(failure),
    });
  }
}
