// How the in-cluster runner hands its runs back: one line of its output, the runs compressed and in
// base64 (its progress lines share the same log, and a line survives the log's transport whole).
import { gunzipSync, gzipSync } from "node:zlib";
import { HapressError } from "../errors.js";
import type { RunSet } from "./report.js";
import { parseSavedRuns } from "./saved-runs.js";

const MARKER = "hapress-chaos-result ";

export function resultLine(set: RunSet): string {
  return MARKER + gzipSync(JSON.stringify(set)).toString("base64");
}

export function isResultLine(line: string): boolean {
  return line.startsWith(MARKER);
}

/** The runs a result line carries; `source` names the runner in an error. */
export function readResultLine(line: string, source: string): RunSet {
  let value: unknown;
  try {
    value = JSON.parse(gunzipSync(Buffer.from(line.slice(MARKER.length).trim(), "base64")).toString("utf8"));
  } catch (error) {
    throw new HapressError(`${source}: its result line does not decode (cut short?)`, { cause: error });
  }
  return parseSavedRuns(value, source);
}
