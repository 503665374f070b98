import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from "@kubernetes/client-node";
import type { Observation } from "../../controller/types.js";
import { OBSERVED_CONFIGMAP } from "./cluster-state.js";
import { OBSERVED_KEY, publishDue, summarizeObservation } from "./observed-state.js";

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

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
