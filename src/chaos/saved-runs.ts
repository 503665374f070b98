import { readFile } from "node:fs/promises";
import { z } from "zod";
import { InputError } from "../errors.js";
import type { RunSet } from "./report.js";
import type { ScenarioRun } from "./runner.js";

/**
 * The runs `hapress chaos --json` printed, read back to report them again, alone or beside another
 * target's (`hapress chaos --from local.json --from kubernetes.json --report both.html`).
 */

const channel = z.object({ availability: z.number(), longestOutageMs: z.number() }).passthrough();
const savedRun = z
  .object({
    scenario: z.string(),
    run: z.number().int(),
    skipped: z.string().nullable(),
    reads: channel,
    writes: channel,
    posts: channel,
    marks: z.array(z.object({ at: z.number(), label: z.string() })),
    events: z.array(z.object({ time: z.string(), kind: z.string(), message: z.string() })),
    timeline: z.object({ start: z.number(), end: z.number() }).passthrough(),
    problems: z.array(z.string()),
  })
  .passthrough();
const savedRuns = z.object({
  target: z.string().min(1),
  site: z.string(),
  runs: z.array(savedRun),
});

const EXAMPLE = "hapress chaos --runs 5 --json > local.json";

/** One saved file as a set of runs; an unreadable or foreign file is refused with its field named. */
export async function readSavedRuns(path: string): Promise<RunSet> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new InputError(`--from ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? "?"})`, {
      cause: error,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InputError(`--from ${path}: not a JSON file of chaos runs; make one with: ${EXAMPLE}`, {
      cause: error,
    });
  }
  return parseSavedRuns(value, `--from ${path}`);
}

/** Runs as `hapress chaos --json` prints them (`source` names where they came from in an error). */
export function parseSavedRuns(value: unknown, source: string): RunSet {
  const parsed = savedRuns.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.length ? `field '${issue.path.join(".")}'` : "the document";
    throw new InputError(
      `${source}: ${field}: ${issue?.message ?? "does not fit"}; the file must be what 'hapress chaos --json' printed, e.g. ${EXAMPLE}`,
    );
  }
  // Checked above for what the report reads; the rest of each run is carried as it was printed.
  return { ...parsed.data, runs: parsed.data.runs as unknown as ScenarioRun[] };
}
