import {
  type CoreV1Api,
  type NetworkingV1Api,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";
import { HapressError } from "../errors.js";
import { apiMessage, apiStatus } from "../platform/kubernetes/cluster.js";
import { asTypedModel } from "../platform/kubernetes/apply.js";
import { PARTITION_POLICY, partitionPolicy } from "../platform/kubernetes/chaos-objects.js";
import { CHAOS_PARTITION_LABEL } from "../platform/kubernetes/render/common.js";

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/**
 * A database pod cut off by a NetworkPolicy: the pod labelled CHAOS_PARTITION_LABEL (which the
 * site's own policies leave out), and the partition policy added (see partitionPolicy), so that only
 * the WordPress path reaches it. Whether connections already open survive is the network plugin's
 * choice (kube-router's and Calico's keep them). Healing removes both; a pod made again since carries
 * no label.
 */
export class KubePartition {
  constructor(
    private readonly core: CoreV1Api,
    private readonly networking: NetworkingV1Api,
    private readonly site: string,
    private readonly namespace: string,
  ) {}

  /**
   * Why no pod can be cut off here, or null: the site's `mysql` policy must leave out the labelled
   * pods (a site applied by an older hapress does not).
   */
  async problem(): Promise<string | null> {
    try {
      const policy = await this.networking.readNamespacedNetworkPolicy({
        name: "mysql",
        namespace: this.namespace,
      });
      const leftOut = (policy.spec?.podSelector?.matchExpressions ?? []).some(
        (e) => e.key === CHAOS_PARTITION_LABEL && e.operator === "DoesNotExist",
      );
      return leftOut
        ? null
        : `the site's NetworkPolicy mysql does not leave out pods labelled ${CHAOS_PARTITION_LABEL} (applied by an older hapress: run 'hapress apply')`;
    } catch (error) {
      return `cannot read the site's NetworkPolicy mysql: ${apiMessage(error)}`;
    }
  }

  async isolate(pod: string): Promise<void> {
    await this.heal();
    try {
      await this.networking.createNamespacedNetworkPolicy({
        namespace: this.namespace,
        // As the typed model: a plain object's `from` would be dropped (see asTypedModel).
        body: asTypedModel(partitionPolicy(this.site, this.namespace)),
      });
      await this.label(pod, "true");
    } catch (error) {
      await this.heal();
      throw new HapressError(`cannot cut ${pod} off: ${apiMessage(error)}`, { cause: error });
    }
  }

  /** No pod labelled and no partition policy (one left by an interrupted run included). */
  async heal(): Promise<void> {
    const labelled = await this.core.listNamespacedPod({
      namespace: this.namespace,
      labelSelector: CHAOS_PARTITION_LABEL,
    });
    for (const pod of labelled.items)
      await this.label(pod.metadata?.name ?? "", null).catch((error: unknown) => {
        if (apiStatus(error) !== 404) throw error;
      });
    await this.networking
      .deleteNamespacedNetworkPolicy({ name: PARTITION_POLICY, namespace: this.namespace })
      .catch((error: unknown) => {
        if (apiStatus(error) !== 404)
          throw new HapressError(`cannot delete NetworkPolicy ${PARTITION_POLICY}: ${apiMessage(error)}`, {
            cause: error,
          });
      });
  }

  private async label(pod: string, value: "true" | null): Promise<void> {
    await this.core.patchNamespacedPod(
      {
        name: pod,
        namespace: this.namespace,
        body: { metadata: { labels: { [CHAOS_PARTITION_LABEL]: value } } },
      },
      mergePatch,
    );
  }
}
