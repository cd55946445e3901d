/**
 * A fault-injecting HTTP proxy for the tests: it forwards every request to one target endpoint
 * (DynamoDB Local, the Organizations emulator) and, for requests a rule matches, misbehaves the
 * way a struggling AWS endpoint does instead. DynamoDB Local never throttles or fails, and the
 * audit store's retries and the sweep's fail-closed paths are only exercised by a server that does.
 *
 * Rules match on the X-Amz-Target header (`DynamoDB_20120810.PutItem`) and a piece of the body,
 * and fault at most `times` of the matching requests, each with probability `rate` drawn from a
 * seeded stream: "the first three action writes are throttled" means exactly that, every run.
 */
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { seededRandom } from "./org-emulator/index.js";

export type Fault =
  /** An answer the proxy makes up, in the target service's JSON dialect. */
  | { kind: "error"; status: number; body: Record<string, string> }
  /** The connection is destroyed before forwarding: the target never sees the request. */
  | { kind: "reset" }
  /** Forwarded and carried out, then the connection is destroyed: the answer is what was lost. */
  | { kind: "lose-answer" }
  /** Held `ms` before forwarding; past the client's request timeout it arrives after the client gave up. */
  | { kind: "delay"; ms: number };

export type FaultKind = Fault["kind"];

export interface FaultRule {
  /** X-Amz-Target values, whole (`DynamoDB_20120810.UpdateItem`); absent: every request. */
  targets?: readonly string[];
  /** Only requests whose body contains this text, such as `"ACTION#` for action items. */
  bodyIncludes?: string;
  /** Only requests this says yes to, given the body and the X-Amz-Target (after `bodyIncludes`). */
  bodyMatches?: (body: string, target: string) => boolean;
  fault: Fault;
  /** Faults at most this many matching requests; default no limit. */
  times?: number;
  /** Probability (0..1) that a matching request is faulted; default 1. */
  rate?: number;
}

export interface FaultProxyOptions {
  /** Where requests are forwarded: `http://127.0.0.1:PORT`. */
  target: string;
  rules?: readonly FaultRule[];
  /** Seeds the `rate` draws; default 1. */
  seed?: number;
  /** Sees each request and each answer as it passes; see ProxyObserver. */
  observe?: ProxyObserver;
}

/** A request as it arrives (`request`), or its answer just before it goes back (`answer`). */
export interface ProxyEvent {
  phase: "request" | "answer";
  /** X-Amz-Target, as the rules match it. */
  target: string;
  /** The request's body (for both phases). */
  body: string;
  /** The answer's HTTP status (phase `answer`). */
  status?: number;
}

/**
 * Called for every request before it is forwarded or faulted, and for every answer before it is
 * written back, and awaited: a test can stop the client process at an exact point of its work (a
 * SIGSTOP here lands before the client has seen that answer) or hold the request meanwhile.
 */
export type ProxyObserver = (event: ProxyEvent) => void | Promise<void>;

export interface FaultProxyStats {
  /** Requests received, per X-Amz-Target. */
  requests: Record<string, number>;
  /** Faults injected, per X-Amz-Target and kind. */
  faults: Record<string, Partial<Record<FaultKind, number>>>;
}

export interface FaultProxy {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  /** Replaces the rules; their `times` count starts over. */
  setRules(rules: readonly FaultRule[]): void;
  /** Replaces the observer; undefined removes it. */
  observe(observer: ProxyObserver | undefined): void;
  stats(): FaultProxyStats;
  /** Faults injected in all. */
  injected(): number;
  /** Closes the server and every connection, held ones included. */
  stop(): Promise<void>;
}

/** DynamoDB's throttling answer, as the service sends it. */
export function dynamoDbThrottle(): Fault {
  return {
    kind: "error",
    status: 400,
    body: {
      __type: "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
      message: "The level of configured provisioned throughput for the table was exceeded.",
    },
  };
}

/** DynamoDB's HTTP 500. */
export function dynamoDbServerError(): Fault {
  return {
    kind: "error",
    status: 500,
    body: {
      __type: "com.amazonaws.dynamodb.v20120810#InternalServerError",
      message: "Internal server error",
    },
  };
}

function ruleProblems(rules: readonly FaultRule[]): string[] {
  const problems: string[] = [];
  rules.forEach((rule, i) => {
    if (rule.rate !== undefined && !(rule.rate >= 0 && rule.rate <= 1)) {
      problems.push(`rules[${i}].rate: must be between 0 and 1`);
    }
    if (rule.times !== undefined && !(Number.isInteger(rule.times) && rule.times >= 0)) {
      problems.push(`rules[${i}].times: must be a whole number >= 0`);
    }
    if (rule.fault.kind === "delay" && !(rule.fault.ms >= 0)) {
      problems.push(`rules[${i}].fault.ms: must be >= 0`);
    }
  });
  return problems;
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = new URL(options.target);
  const random = seededRandom(options.seed ?? 1);
  let rules: { rule: FaultRule; used: number }[] = [];
  const stats: FaultProxyStats = { requests: {}, faults: {} };
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  // Its own pool of upstream connections, so that stop() leaves none open behind it.
  const agent = new Agent({ keepAlive: true });
  let observer = options.observe;

  function setRules(next: readonly FaultRule[]): void {
    const problems = ruleProblems(next);
    if (problems.length > 0) throw new RangeError(problems.join("\n"));
    rules = next.map((rule) => ({ rule, used: 0 }));
  }
  setRules(options.rules ?? []);

  function faultFor(target: string, body: string): Fault | undefined {
    for (const entry of rules) {
      const { rule } = entry;
      if (rule.targets !== undefined && !rule.targets.includes(target)) continue;
      if (rule.bodyIncludes !== undefined && !body.includes(rule.bodyIncludes)) continue;
      if (rule.bodyMatches !== undefined && !rule.bodyMatches(body, target)) continue;
      if (entry.used >= (rule.times ?? Number.POSITIVE_INFINITY)) continue;
      // One draw per matching request, so which requests fail does not depend on timing.
      if (rule.rate !== undefined && random() >= rule.rate) continue;
      entry.used += 1;
      return rule.fault;
    }
    return undefined;
  }

  /** Tells the observer, if any; a failing observer must not take the proxy down with it. */
  async function tell(event: ProxyEvent): Promise<void> {
    try {
      await observer?.(event);
    } catch {
      // The test that set it learns of its own failure through its own assertions.
    }
  }

  function forward(
    incoming: IncomingMessage,
    body: Buffer,
    response: ServerResponse,
    loseAnswer: boolean,
    target: string,
  ) {
    const outgoing = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        agent,
        method: incoming.method,
        path: incoming.url,
        headers: { ...incoming.headers, host: upstream.host },
      },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on("data", (chunk: Buffer) => chunks.push(chunk));
        answer.on("error", () => incoming.socket.destroy());
        answer.on("end", async () => {
          await tell({
            phase: "answer",
            target,
            body: body.toString("utf8"),
            status: answer.statusCode ?? 502,
          });
          if (loseAnswer || response.destroyed) {
            incoming.socket.destroy();
            return;
          }
          const text = Buffer.concat(chunks);
          const headers = Object.fromEntries(
            Object.entries(answer.headers).filter(
              ([name]) => name !== "transfer-encoding" && name !== "connection",
            ),
          );
          response
            .writeHead(answer.statusCode ?? 502, { ...headers, "content-length": text.length })
            .end(text);
        });
      },
    );
    outgoing.on("error", () => incoming.socket.destroy());
    outgoing.end(body);
  }

  async function handle(incoming: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const target = String(incoming.headers["x-amz-target"] ?? "(no target)");
    stats.requests[target] = (stats.requests[target] ?? 0) + 1;
    await tell({ phase: "request", target, body: body.toString("utf8") });
    const fault = faultFor(target, body.toString("utf8"));
    if (fault !== undefined) {
      const counts = stats.faults[target] ?? {};
      counts[fault.kind] = (counts[fault.kind] ?? 0) + 1;
      stats.faults[target] = counts;
    }
    switch (fault?.kind) {
      case undefined:
        return forward(incoming, body, response, false, target);
      case "lose-answer":
        return forward(incoming, body, response, true, target);
      case "reset":
        incoming.socket.destroy();
        return;
      case "delay": {
        const timer = setTimeout(() => {
          timers.delete(timer);
          forward(incoming, body, response, false, target);
        }, fault.ms);
        timers.add(timer);
        return;
      }
      case "error": {
        await tell({ phase: "answer", target, body: body.toString("utf8"), status: fault.status });
        const text = JSON.stringify(fault.body);
        const json = target.startsWith("DynamoDB_") ? "1.0" : "1.1";
        response
          .writeHead(fault.status, {
            "content-type": `application/x-amz-json-${json}`,
            "content-length": Buffer.byteLength(text),
            "x-amzn-requestid": "fault-proxy",
          })
          .end(text);
        return;
      }
    }
  }

  const server = createServer((incoming, response) => {
    handle(incoming, response).catch(() => incoming.socket.destroy());
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let stopped: Promise<void> | undefined;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    setRules,
    observe(next) {
      observer = next;
    },
    stats: () => structuredClone(stats),
    injected: () =>
      Object.values(stats.faults).reduce(
        (sum, kinds) => sum + Object.values(kinds).reduce((a, b) => a + (b ?? 0), 0),
        0,
      ),
    stop() {
      stopped ??= new Promise<void>((resolve, reject) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        agent.destroy();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      });
      return stopped;
    },
  };
}
