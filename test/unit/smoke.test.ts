import { expect, test } from "vitest";
import { CANDIDATE_STATES } from "../../src/core/handshake.js";
test("candidates", () => { expect(CANDIDATE_STATES).toContain("OPEN"); });
