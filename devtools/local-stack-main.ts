import { exportLines, startLocalStack } from "./local-stack.js";

/**
 * `npm run local`: the local stack until Ctrl-C (SIGINT) or SIGTERM, then everything it started
 * is stopped and it exits 0. It prints the environment for a second terminal.
 *
 * package.json starts it with `exec`, so no shell sits between npm and it: Ctrl-C signals the whole
 * process group, and a shell waiting on a child dies of that SIGINT itself, which npm would report
 * instead of this process's exit 0. And with `node --import tsx`, not the tsx command: that one
 * runs the script in a child process and, when the child has not acknowledged a signal within
 * 30 ms (a busy machine), kills it with SIGKILL and exits 130, leaving the servers running.
 */
const write = (text: string) => process.stdout.write(`${text}\n`);

process.stdout.write(
  "starting the local Organizations emulator, DynamoDB Local and the checkpoint bucket's S3 endpoint (127.0.0.1 only)…\n",
);
const stack = await startLocalStack().catch((error: unknown) => {
  process.stderr.write(`local stack: ${error instanceof Error ? error.message.split("\n")[0] : error}\n`);
  process.exit(1);
});

const handshakes = stack.organizations.handshakes().length;
write(
  [
    "",
    `Organizations emulator  ${stack.organizations.endpoint}  (sample organization, ${handshakes} handshakes)`,
    `DynamoDB Local          ${stack.dynamodb.endpoint}  (java pid ${stack.dynamodb.pid}, in memory)`,
    `S3 (checkpoints)        ${stack.s3.endpoint}  (bucket ${stack.s3.bucket}, Object Lock in compliance mode)`,
    `audit table             ${stack.tableName}`,
    "",
    "In a second terminal, in this directory, paste:",
    "",
    "unset AWS_PROFILE AWS_SESSION_TOKEN",
    ...exportLines(stack.env),
    "",
    "then try: npm run janitor -- run --dry-run   ·   npm run janitor -- run   ·   npm run janitor -- audit query",
    "Ctrl-C here stops both servers; everything they hold is gone.",
  ].join("\n"),
);

let stopping = false;
const shutdown = (signal: NodeJS.Signals) => {
  if (stopping) return;
  stopping = true;
  write(`\n${signal}: stopping…`);
  stack.stop().then(
    () => {
      write(`stopped. In the other terminal: unset ${Object.keys(stack.env).join(" ")}`);
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`could not stop cleanly: ${error instanceof Error ? error.message : error}\n`);
      process.exit(1);
    },
  );
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
