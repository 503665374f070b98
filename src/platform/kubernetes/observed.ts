import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from "@kubernetes/client-node";
import { z } from "zod";
import type { Observation } from "../../controller/types.js";

import { OBSERVED_CONFIGMAP } from "./cluster-state.js";

/** The ConfigMap key (and, mounted, the file) holding the summary. */
export const OBSERVED_KEY = "observation";
const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

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

/** Writes the leader's observations into the rendered `hapress-observed` ConfigMap, rate-limited. */
export class ObservationPublisher {
  private readonly core: CoreV1Api;
  private last: { content: string; at: number } | null = null;
  private writing = false;

  constructor(
    kc: KubeConfig,
    private readonly namespace: string,
    private readonly controller: string,
    private readonly onError: (error: unknown) => void,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
  }

  /** Starts a write when one is due and none is in flight; never waits for it. */
  offer(observation: Observation): void {
    if (this.writing) return;
    this.writing = true;
    this.publish(observation)
      .catch(this.onError)
      .finally(() => {
        this.writing = false;
      });
  }

  private async publish(observation: Observation): Promise<void> {
    const now = this.now();
    const summary = summarizeObservation(observation, this.controller, now);
    // Compared without its timestamp: only a change in what was seen makes a write due early.
    const content = JSON.stringify({ ...summary, observedAt: "" });
    if (!publishDue(this.last, content, now.getTime())) return;
    // A merge patch of the data alone: the rendered labels (apply's prune, `down`) stay as they are.
    await this.core.patchNamespacedConfigMap(
      {
        name: OBSERVED_CONFIGMAP,
        namespace: this.namespace,
        body: { data: { [OBSERVED_KEY]: JSON.stringify(summary) } },
      },
      mergePatch,
    );
    this.last = { content, at: now.getTime() };
  }
}
