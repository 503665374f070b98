// What the leading controller publishes of each round (pure: no API client, so the database pods'
// init step can read it without loading one; the publisher is in observed.ts).
import { z } from "zod";
import type { Observation } from "../../controller/types.js";

/** The ConfigMap key (and, mounted, the file) holding the summary. */
export const OBSERVED_KEY = "observation";

/** Content changes are published at most this often; an unchanged observation is refreshed this often. */
export const PUBLISH_MIN_INTERVAL_MS = 2_000;
export const PUBLISH_REFRESH_MS = 15_000;

const observedInstanceSchema = z.object({
  name: z.string(),
  reachable: z.boolean(),
  readOnly: z.boolean().nullable(),
  gtid: z.string().nullable(),
  semiSync: z.boolean().nullable(),
  replicating: z.boolean().nullable(),
  /** Seconds behind the primary while replicating (absent in what earlier versions published). */
  lagSeconds: z.number().nullable().default(null),
  error: z.string().nullable(),
});

export const observedStateSchema = z.object({
  observedAt: z.string(),
  controller: z.string(),
  instances: z.array(observedInstanceSchema),
});

export type ObservedState = z.infer<typeof observedStateSchema>;

/** The published summary of one round's observation (pure). */
export function summarizeObservation(observation: Observation, controller: string, at: Date): ObservedState {
  return {
    observedAt: at.toISOString(),
    controller,
    instances: observation.instances.map((i) => {
      const answered = i.reachable && !i.busy;
      const replica = answered && i.name !== observation.primary;
      const replicating =
        replica && i.replication !== null && i.replication.ioRunning === "Yes" && i.replication.sqlRunning;
      return {
        name: i.name,
        reachable: i.reachable,
        readOnly: answered ? i.readOnly : null,
        gtid: answered ? i.gtidCurrent : null,
        semiSync: answered && i.name === observation.primary ? i.semiSyncMasterEnabled : null,
        replicating: replica ? replicating : null,
        lagSeconds: replicating ? (i.replication?.secondsBehind ?? null) : null,
        error: i.error,
      };
    }),
  };
}

/**
 * Whether to write now: a changed observation at most every PUBLISH_MIN_INTERVAL_MS (a busy site's
 * GTID changes every round), an unchanged one every PUBLISH_REFRESH_MS so readers can judge its age.
 */
export function publishDue(
  last: { content: string; at: number } | null,
  content: string,
  now: number,
): boolean {
  if (last === null) return true;
  const elapsed = now - last.at;
  return last.content !== content ? elapsed >= PUBLISH_MIN_INTERVAL_MS : elapsed >= PUBLISH_REFRESH_MS;
}

/** Parses the ConfigMap's data; null when absent or unreadable (status then shows no SQL details). */
export function parseObserved(data: Record<string, string> | undefined): ObservedState | null {
  const text = data?.[OBSERVED_KEY];
  if (!text) return null;
  try {
    const parsed = observedStateSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
