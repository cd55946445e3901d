/**
 * The emulator's HTTP server and its awsJson1_1 protocol layer: reads and parses each request,
 * routes it by X-Amz-Target, answers in the service's wire format (x-amzn-RequestId,
 * x-amzn-ErrorType, `__type` bodies), counts every exchange per operation, tracks connections so
 * that stop closes them all, and composes the fault injector (faults.ts) with the handshake
 * service (handshakes.ts) into startOrganizationsEmulator. Listens on 127.0.0.1 only.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { performance } from "node:perf_hooks";
import type { CloudTrailApiCallEvent, CloudTrailUserIdentity } from "../cloudtrail.js";
import { createFaultInjector, type EmulatorFaults } from "./faults.js";
import { createHandshakeService } from "./handshakes.js";
import {
  type EmulatorHandshake,
  type EmulatorOrganization,
  type HandshakeState,
  isOperationName,
  isRecord,
  OPERATION_ERRORS,
  PROTOCOL_ERRORS,
  TARGET_PREFIX,
  WireError,
} from "./model.js";
import { randomRequestId, seededRandom } from "./random.js";
import { isStsRequest, stsAnswer } from "./sts.js";

const MAX_BODY_BYTES = 1_000_000;

export interface EmulatorExchange {
  operation: string;
  status: number;
  /** The JSON body as sent; undefined when the connection was reset. */
  body: unknown;
}

export interface EmulatorOptions {
  /** 0 (the default) picks a free port. The server listens on 127.0.0.1 only. */
  port?: number;
  /** Seeds every random choice (faults, page sizes, ids, tokens); default 1. */
  seed?: number;
  organization?: Partial<EmulatorOrganization>;
  handshakes?: readonly EmulatorHandshake[];
  faults?: EmulatorFaults;
  /** Clock for new handshakes' timestamps; default the system clock. */
  now?: () => Date;
  /** Monotonic milliseconds for the token buckets; default performance.now(). */
  clock?: () => number;
  /** Sees every answer, for tests that check the wire format. */
  onResponse?: (exchange: EmulatorExchange) => void;
  /**
   * Who CloudTrail says made the calls, in the events of `events()`; by default an IAM user of the
   * management account, with the access key id the request was signed with.
   */
  caller?: Partial<CloudTrailUserIdentity>;
  /** Sees the EventBridge event of each successful InviteAccountToOrganization, as it is recorded. */
  onEvent?: (event: CloudTrailApiCallEvent) => void;
}

export interface OperationStats {
  requests: number;
  successes: number;
  /** Error name to count, including protocol errors. */
  errors: Record<string, number>;
  /** Connections destroyed without an answer. */
  resets: number;
}

export interface OrganizationsEmulator {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  port: number;
  organization: Readonly<Required<EmulatorOrganization>>;
  /** Replaces the faults; token buckets, the empty-page count and acceptBeforeCancel start over. */
  setFaults(faults: EmulatorFaults): void;
  /** Sets a handshake's state as if someone else acted on it. */
  mutate(id: string, state: HandshakeState): void;
  /** Every handshake, in list order, as deep copies. */
  handshakes(): EmulatorHandshake[];
  /** Counters keyed by operation name (or by the raw target when it names no operation). */
  stats(): Record<string, OperationStats>;
  /**
   * The EventBridge "AWS API Call via CloudTrail" event of every successful
   * InviteAccountToOrganization so far, oldest first, as deep copies (devtools/cloudtrail.ts).
   */
  events(): CloudTrailApiCallEvent[];
  resetStats(): void;
  /** Closes the server and every open connection, idle or not. */
  stop(): Promise<void>;
}

export async function startOrganizationsEmulator(
  options: EmulatorOptions = {},
): Promise<OrganizationsEmulator> {
  const seed = options.seed ?? 1;
  const now = options.now ?? (() => new Date());
  // One stream per purpose, so that e.g. turning on short pages does not shift which calls fail.
  // The page stream decides both the short pages' sizes and the NextToken nonces.
  const pageRandom = seededRandom(seed ^ 0x2545f491);
  const requestIdRandom = seededRandom(seed ^ 0x1b873593);
  const faults = createFaultInjector({
    random: seededRandom(seed ^ 0x51ed270b),
    pageRandom,
    clock: options.clock ?? (() => performance.now()),
  });
  const service = createHandshakeService({
    seed,
    pageRandom,
    faults,
    now,
    ...(options.organization !== undefined ? { organization: options.organization } : {}),
    ...(options.handshakes !== undefined ? { handshakes: options.handshakes } : {}),
    ...(options.caller !== undefined ? { caller: options.caller } : {}),
    ...(options.onEvent !== undefined ? { onEvent: options.onEvent } : {}),
  });
  faults.set(options.faults ?? {});

  let counters: Record<string, OperationStats> = {};
  const stopping = new AbortController();

  function counter(operation: string): OperationStats {
    counters[operation] ??= { requests: 0, successes: 0, errors: {}, resets: 0 };
    return counters[operation];
  }

  // Outside the request's try/catch: a failing hook must surface as an error of its own, never
  // turn into a different answer on the wire.
  function notify(exchange: EmulatorExchange): void {
    const hook = options.onResponse;
    if (hook !== undefined) queueMicrotask(() => hook(exchange));
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const target = headerValue(request, "x-amz-target");
    const named = target?.startsWith(`${TARGET_PREFIX}.`)
      ? target.slice(TARGET_PREFIX.length + 1)
      : undefined;
    const operation = named !== undefined && isOperationName(named) ? named : undefined;
    const label = operation ?? target ?? "(no target)";
    const stats = counter(label);
    stats.requests += 1;
    const reply = (status: number, body: unknown, errorName?: string) => {
      if (response.destroyed || response.writableEnded) return;
      const text = JSON.stringify(body);
      const headers: Record<string, string | number> = {
        "content-type": "application/x-amz-json-1.1",
        "content-length": Buffer.byteLength(text),
        "x-amzn-requestid": randomRequestId(requestIdRandom),
      };
      if (errorName !== undefined) headers["x-amzn-errortype"] = errorName;
      response.writeHead(status, headers).end(text);
      if (errorName === undefined) stats.successes += 1;
      else stats.errors[errorName] = (stats.errors[errorName] ?? 0) + 1;
      notify({ operation: label, status, body: structuredClone(body) });
    };
    const replyError = (error: WireError) => {
      const declared: readonly string[] = operation === undefined ? [] : OPERATION_ERRORS[operation];
      if (
        !declared.includes(error.errorName) &&
        !(PROTOCOL_ERRORS as readonly string[]).includes(error.errorName)
      ) {
        // An undeclared error would be invisible to the model check, so it is a bug here.
        error = new WireError("ServiceException", `emulator bug: undeclared ${error.errorName} for ${label}`);
      }
      const status = error.errorName === "ServiceException" ? 500 : 400;
      reply(status, { __type: error.errorName, Message: error.message, ...error.fields }, error.errorName);
    };

    try {
      // Read the whole body first so a keep-alive connection stays usable after an error.
      const body = await readBody(request);
      if (request.method === "POST" && isStsRequest(target, headerValue(request, "content-type"))) {
        const answer = stsAnswer(
          body,
          headerValue(request, "authorization"),
          service.organization.MasterAccountId,
          randomRequestId(requestIdRandom),
        );
        response
          .writeHead(answer.status, {
            "content-type": "text/xml",
            "content-length": Buffer.byteLength(answer.xml),
          })
          .end(answer.xml);
        if (answer.status === 200) stats.successes += 1;
        return;
      }
      if (request.headers.authorization === undefined) {
        throw new WireError("MissingAuthenticationTokenException", "Missing Authentication Token");
      }
      if (request.method !== "POST" || operation === undefined) {
        throw new WireError(
          "UnknownOperationException",
          `Unknown operation ${target ?? "(no X-Amz-Target)"}`,
        );
      }
      const input = parseInput(body);
      await faults.latency(stopping.signal);
      if (faults.beforeOperation(operation) === "reset") {
        stats.resets += 1;
        request.socket.destroy();
        notify({ operation: label, status: 0, body: undefined });
        return;
      }
      const answer = service.call(operation, input);
      reply(200, answer);
      if (operation === "InviteAccountToOrganization") {
        service.recordInvite(input, answer, {
          authorization: headerValue(request, "authorization"),
          userAgent: headerValue(request, "user-agent"),
        });
      }
    } catch (error) {
      if (stopping.signal.aborted) {
        request.socket.destroy();
        return;
      }
      replyError(
        error instanceof WireError
          ? error
          : new WireError(
              "ServiceException",
              `emulator bug: ${error instanceof Error ? error.message : String(error)}`,
            ),
      );
    }
  }

  const server = createServer((request, response) => {
    void handle(request, response);
  });
  const sockets = new Set<Socket>();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let stopped: Promise<void> | undefined;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    organization: service.organization,
    setFaults: (next) => faults.set(next),
    mutate: (id, state) => service.mutate(id, state),
    handshakes: () => service.handshakes(),
    stats: () => structuredClone(counters),
    events: () => service.events(),
    resetStats() {
      counters = {};
    },
    stop() {
      // Idempotent, so a caller's cleanup can run after a failed start or a second time.
      stopped ??= new Promise<void>((resolve, reject) => {
        stopping.abort();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      });
      return stopped;
    },
  };
}

function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new WireError("SerializationException", "Request body too large.");
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function parseInput(body: string): Record<string, unknown> {
  if (body.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new WireError("SerializationException", "Request body is not valid JSON.");
  }
  if (!isRecord(parsed)) throw new WireError("SerializationException", "Request body must be a JSON object.");
  return parsed;
}
