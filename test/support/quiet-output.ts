/**
 * Setup file of every test file: what code under test writes straight to process.stdout or
 * process.stderr (the Powertools logger and the EMF metrics write through Console objects of their
 * own, not through the global console) goes to the console that Vitest intercepts instead. With
 * `silent: "passed-only"` (vitest.config.ts) Vitest then prints it under the test that wrote it,
 * and only when that test failed. A test that asserts on such output spies on
 * process.stdout.write itself and sees it first.
 */
type Write = typeof process.stdout.write;

function routeToConsole(stream: NodeJS.WriteStream, log: (text: string) => void): void {
  const original: Write = stream.write.bind(stream);
  let inside = false;
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    // Vitest's console may fall back to the real stream; never loop back into it.
    if (inside) return (original as (...args: unknown[]) => boolean)(chunk, ...rest);
    inside = true;
    try {
      const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
      log(text.endsWith("\n") ? text.slice(0, -1) : text);
    } finally {
      inside = false;
    }
    const callback = rest.find((arg) => typeof arg === "function") as (() => void) | undefined;
    callback?.();
    return true;
  }) as Write;
}

// Files that share a worker (isolate: false) run this once each; the streams are routed once.
const ROUTED = Symbol.for("handshake-janitor.quiet-output");
const routed = globalThis as { [ROUTED]?: true };
if (!routed[ROUTED]) {
  routed[ROUTED] = true;
  routeToConsole(process.stdout, (text) => console.log(text));
  routeToConsole(process.stderr, (text) => console.error(text));
}
