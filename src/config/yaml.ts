/**
 * The reader of configs written in YAML, loaded only for them (loadYamlReader in ./config.ts).
 * It imports nothing of the janitor's own: a module that a lazily loaded one shares with the
 * handlers goes to a chunk of its own, one more file every cold start loads
 * (scripts/build.ts, SPLIT_POINTS). Its problems come back as text; config.ts words them.
 */
import { LineCounter, parseDocument } from "yaml";

/** The document's value, or what is wrong with the text: each problem with its position when known. */
export type YamlRead = { data: unknown } | { problems: { message: string; line?: number; col?: number }[] };

export function readYaml(text: string): YamlRead {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((error) => ({ message: error.message, ...lineCounter.linePos(error.pos[0]) })),
    };
  }
  try {
    return { data: doc.toJS() };
  } catch (error) {
    // toJS refuses alias bombs and similar; that is a problem of the file, not a crash.
    return { problems: [{ message: error instanceof Error ? error.message : String(error) }] };
  }
}
