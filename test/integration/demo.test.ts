import { expect, test } from "vitest";
import { runCliProcess } from "../support/stack.js";

test("the demo starts its own stack, does a dry run then a live run, prints the trail and exits 0", async () => {
  const result = await runCliProcess(["demo"], {});

  expect(result.code, result.stderr).toBe(0);
  const dry = /dry run, cli by demo\): (\w+)\n.*DRY_RUN (\d+)/.exec(result.stdout);
  const live = /live run, cli by demo\): (\w+)\n.*CANCELED (\d+)/.exec(result.stdout);
  expect(dry?.[1]).toBe("COMPLETED");
  expect(live?.[1]).toBe("COMPLETED");
  // What the dry run said it would do is what the live run did.
  expect(Number(live?.[2])).toBe(Number(dry?.[2]));
  const realtime = result.stdout.indexOf("== real time");
  const trail = result.stdout.slice(result.stdout.indexOf("== audit trail"), realtime);
  expect(trail.match(/ CANCELED /g)?.length).toBe(Number(live?.[2]));
  // Then an invitation to a denied address, judged from its CloudTrail event by the realtime handler.
  const step = result.stdout.slice(realtime);
  expect(realtime).toBeGreaterThan(0);
  const handshake = /handshake (h-[0-9a-z]+) OPEN; CloudTrail event ([0-9a-f-]+)/.exec(step);
  expect(step).toMatch(
    /realtime handler: CANCELED by rule outside-email in \d+ ms; the handshake is now CANCELED/,
  );
  const row = step.split("\n").find((line) => line.includes(`event-${handshake?.[2]}`));
  expect(row?.split(/\s+/).slice(2, 6)).toEqual([handshake?.[1], "CANCELED", "outside-email", "event"]);
  // Then four eyes: a plan by one person, approved by another, applied exactly.
  const eyesStart = result.stdout.indexOf("== four eyes");
  const eyes = result.stdout.slice(eyesStart, result.stdout.indexOf("\n== ", eyesStart + 1));
  const planned = /invited weekend\.project@gmail\.com \((h-[0-9a-z]+)\)/.exec(eyes);
  const plan = /plan (plan-[0-9a-f]{16}): made by (\S+), approved by (\S+) /.exec(eyes);
  expect(eyes).toMatch(/live run, cli by arn:aws:iam::123456789012:user\/local\): COMPLETED\n.* PLANNED 1/);
  expect(plan?.slice(2)).toEqual([
    "arn:aws:iam::123456789012:user/local",
    "arn:aws:iam::123456789012:user/approver",
  ]);
  expect(eyes).toMatch(
    new RegExp(`run apply-${plan?.[1]} \\(live run, cli by \\S+\\): COMPLETED\n.* CANCELED 1`),
  );
  expect(
    eyes
      .split("\n")
      .filter((line) => line.startsWith(`${planned?.[1]} `))
      .map((line) => line.split(/\s+/)[3]),
  ).toEqual(["PLANNED", "CANCELED"]);
}, 180_000);
