/** The reader of configs written in YAML, loaded only for them (loadYamlReader in ./config.ts). */
import { LineCounter, parseDocument } from "yaml";
import { ConfigError } from "../domain/errors.js";
import { oneLine } from "./messages.js";

export function readYaml(text: string, source: string): unknown {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((error) => {
        const { line, col } = lineCounter.linePos(error.pos[0]);
        return `${source}: line ${line}, column ${col}: ${oneLine(error.message)}`;
      }),
    );
  }
  try {
    return doc.toJS();
  } catch (error) {
    // toJS refuses alias bombs and similar; that is a problem of the file, not a crash.
    throw new ConfigError([`${source}: ${oneLine(error instanceof Error ? error.message : String(error))}`]);
  }
}
