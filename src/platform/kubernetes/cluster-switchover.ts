import type { CoreV1Api, V1ConfigMap } from "@kubernetes/client-node";
import { HapressError } from "../../errors.js";
import {
  busyReason,
  switchoverProgressSchema,
  switchoverRequestSchema,
  withStep,
  type SwitchoverOutcome,
  type SwitchoverProgress,
  type SwitchoverRequest,
} from "../../state/switchover-request.js";
import type { SwitchoverStore } from "../../state/switchover-store.js";
import {
  parseKey,
  STATE_CONFIGMAP,
  SWITCHOVER_PROGRESS_KEY,
  SWITCHOVER_REQUEST_KEY,
} from "./cluster-state.js";
import { apiMessage, apiStatus } from "./cluster.js";

/** Writers that lose a race (409 Conflict) read again and retry this many times. */
const CONFLICT_RETRIES = 5;

/**
 * The Kubernetes target's switchover store: two keys of the site's state ConfigMap, where the
 * controller's memory lives. Every write is a replace carrying the resourceVersion it was computed
 * from, so the requester and the controller never overwrite each other's change.
 */
export class ClusterSwitchoverStore implements SwitchoverStore {
  constructor(
    private readonly core: CoreV1Api,
    private readonly namespace: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private async configMap(): Promise<V1ConfigMap> {
    try {
      return await this.core.readNamespacedConfigMap({ name: STATE_CONFIGMAP, namespace: this.namespace });
    } catch (error) {
      throw new HapressError(
        `cannot read ConfigMap ${this.namespace}/${STATE_CONFIGMAP}${apiStatus(error) === 404 ? " (is the site applied to this namespace?)" : ""}: ${apiMessage(error)}`,
        { cause: error },
      );
    }
  }

  private static parse(map: V1ConfigMap): {
    request: SwitchoverRequest | null;
    progress: SwitchoverProgress | null;
  } {
    const data = map.data ?? {};
    return {
      request: parseKey(data, SWITCHOVER_REQUEST_KEY, switchoverRequestSchema),
      progress: parseKey(data, SWITCHOVER_PROGRESS_KEY, switchoverProgressSchema),
    };
  }

  async read(): Promise<{ request: SwitchoverRequest | null; progress: SwitchoverProgress | null }> {
    return ClusterSwitchoverStore.parse(await this.configMap());
  }

  /** Reads, computes one key's new value (or null: nothing to write) and replaces, retrying on conflict. */
  private async change(
    key: string,
    compute: (current: ReturnType<typeof ClusterSwitchoverStore.parse>) => string | null | undefined,
  ): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const map = await this.configMap();
      const value = compute(ClusterSwitchoverStore.parse(map));
      if (value === undefined) return;
      const data = { ...(map.data ?? {}) };
      if (value === null) delete data[key];
      else data[key] = value;
      try {
        await this.core.replaceNamespacedConfigMap({
          name: STATE_CONFIGMAP,
          namespace: this.namespace,
          body: { ...map, data },
        });
        return;
      } catch (error) {
        if (apiStatus(error) !== 409 || attempt >= CONFLICT_RETRIES)
          throw new HapressError(
            `cannot write key '${key}' of ConfigMap ${this.namespace}/${STATE_CONFIGMAP}: ${apiMessage(error)}`,
            { cause: error },
          );
      }
    }
  }

  async submit(request: SwitchoverRequest): Promise<void> {
    await this.change(SWITCHOVER_REQUEST_KEY, ({ request: open, progress }) => {
      const busy = busyReason(open, progress, this.now());
      if (busy) throw new HapressError(`${busy}: wait for it to end`);
      return JSON.stringify(request);
    });
  }

  async withdraw(id: string): Promise<boolean> {
    let withdrawn = true;
    await this.change(SWITCHOVER_REQUEST_KEY, ({ request, progress }) => {
      withdrawn = progress?.id !== id;
      return withdrawn && request?.id === id ? null : undefined;
    });
    return withdrawn;
  }

  async report(id: string, step: { at: string; message: string }, outcome: SwitchoverOutcome): Promise<void> {
    await this.change(SWITCHOVER_PROGRESS_KEY, ({ progress }) =>
      JSON.stringify(withStep(progress, id, step, outcome)),
    );
  }
}
