import { randomBytes } from "node:crypto";
import {
  AppsV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1ConfigMap,
  type V1Pod,
  type V1StatefulSet,
} from "@kubernetes/client-node";
import type { DatabaseInstance, Platform } from "../../controller/platform.js";
import type { ControllerEvent } from "../../controller/types.js";
import { HapressError } from "../../errors.js";
import type { SavedMemory } from "../../state/controller-memory.js";
import type { PrimaryRecord } from "../../state/primary.js";
import type { SwitchoverOutcome, SwitchoverRequest } from "../../state/switchover-request.js";
import { openRequest } from "../../state/switchover-store.js";
import { ClusterSwitchoverStore } from "./cluster-switchover.js";
import { ADMIN_PORT, MYSQL_PORT } from "../../topology/topology.js";
import {
  MEMORY_KEY,
  parsePrimaryRecord,
  parseSavedMemory,
  PRIMARY_KEY,
  recloneKey,
  STATE_CONFIGMAP,
} from "./cluster-state.js";
import { apiMessage, apiStatus } from "./cluster.js";
import { listDatabasePods } from "./database-pods.js";
import { ROLE_LABEL } from "./render.js";

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/** How long one read of the StatefulSet serves (see statefulSet()). */
const STATEFULSET_READ_REUSE_MS = 200;

/** The instance that bootstraps an empty site (the init step of ordinal 0 with no primary recorded). */
const BOOTSTRAP_PRIMARY = "mysql-0";

export interface KubernetesPlatformOptions {
  namespace: string;
  /** The site's name: its pods carry app.kubernetes.io/instance=<site>. */
  site: string;
  /** Who acts, for the events' source (the controller pod's name). */
  identity: string;
  now?: () => Date;
}

function ordinalOf(pod: V1Pod): number {
  const match = /-(\d+)$/.exec(pod.metadata?.name ?? "");
  return match ? Number(match[1]) : -1;
}

function isReady(pod: V1Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
}

/** Its init step (clone or re-clone) has not finished: the controller must not touch it yet. */
function isInitializing(pod: V1Pod): boolean {
  const inits = pod.spec?.initContainers ?? [];
  if (inits.length === 0) return false;
  const statuses = pod.status?.initContainerStatuses ?? [];
  return !inits.every((c) => statuses.find((s) => s.name === c.name)?.state?.terminated?.exitCode === 0);
}

/**
 * The controller's view of a site on Kubernetes: the StatefulSet's pods are the instances, the role
 * label is the route (the `mysql-primary` Service selects on it), a ConfigMap holds the durable primary
 * record and the controller's memory, and fencing deletes a pod. Every write that must not race
 * another writer carries the resourceVersion it was computed from.
 */
export class KubernetesPlatform implements Platform {
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly now: () => Date;
  private statefulSetRead: { at: number; value: Promise<V1StatefulSet | null> } | null = null;

  constructor(
    kc: KubeConfig,
    private readonly options: KubernetesPlatformOptions,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.now = options.now ?? (() => new Date());
  }

  private get namespace(): string {
    return this.options.namespace;
  }

  /**
   * The database StatefulSet, read once for the instances and the desired count of one round (both
   * ask within milliseconds); null when it cannot be read (then nothing is rolled).
   */
  private statefulSet(): Promise<V1StatefulSet | null> {
    const now = Date.now();
    if (!this.statefulSetRead || now - this.statefulSetRead.at > STATEFULSET_READ_REUSE_MS) {
      const value = this.apps
        .readNamespacedStatefulSet({ name: "mysql", namespace: this.namespace })
        .catch(() => null);
      this.statefulSetRead = { at: now, value };
    }
    return this.statefulSetRead.value;
  }

  async desiredInstances(): Promise<number | null> {
    return (await this.statefulSet())?.spec?.replicas ?? null;
  }

  /** Deletes the pod gracefully: the StatefulSet makes it again from its update revision. */
  async restartInstance(instance: string): Promise<void> {
    await this.deletePod(instance);
  }

  private pods(): Promise<V1Pod[]> {
    return listDatabasePods(this.core, this.namespace, this.options.site);
  }

  async listInstances(): Promise<DatabaseInstance[]> {
    const [pods, record, statefulSet] = await Promise.all([
      this.pods(),
      this.readRecord(),
      this.statefulSet(),
    ]);
    // With updateStrategy OnDelete the StatefulSet only labels what it wants; a pod made from an
    // older template keeps its older controller-revision-hash until the controller restarts it.
    const wanted = statefulSet?.status?.updateRevision;
    return pods
      .map((pod): DatabaseInstance => {
        const name = pod.metadata?.name ?? "";
        const address = pod.status?.podIP ?? "";
        return {
          name,
          ordinal: ordinalOf(pod),
          address,
          port: MYSQL_PORT,
          adminPort: ADMIN_PORT,
          // A replica being deleted, any pod without an address yet or still cloning in its init step,
          // and a replica not ready yet (its agent reports ready only once a fresh clone has its GTID
          // position). The recorded primary is never provisioning for not being ready (a dead primary
          // looks like that) nor for being deleted: it is then `stopping`, and failed over at once.
          provisioning:
            (Boolean(pod.metadata?.deletionTimestamp) && name !== record?.primary) ||
            address === "" ||
            isInitializing(pod) ||
            (name !== record?.primary && !isReady(pod)),
          routed: pod.metadata?.labels?.[ROLE_LABEL] === "primary",
          outdated: wanted !== undefined && pod.metadata?.labels?.["controller-revision-hash"] !== wanted,
          // Only the recorded primary: a replica being replaced still counts towards the majority
          // while it answers.
          ...(pod.metadata?.deletionTimestamp && name === record?.primary
            ? { stopping: "is stopping: its pod is being deleted" }
            : {}),
        };
      })
      .sort((a, b) => a.ordinal - b.ordinal);
  }

  private async state(): Promise<V1ConfigMap> {
    try {
      return await this.core.readNamespacedConfigMap({ name: STATE_CONFIGMAP, namespace: this.namespace });
    } catch (error) {
      throw new HapressError(
        `cannot read ConfigMap ${this.namespace}/${STATE_CONFIGMAP} (rendered by hapress): ${apiMessage(error)}`,
        { cause: error },
      );
    }
  }

  /**
   * Changes keys of the state ConfigMap as of the version `change` read; a concurrent writer makes the
   * replace fail with 409 (Conflict) and nothing is written.
   */
  private async writeState(
    change: (data: Record<string, string>) => Record<string, string | null>,
  ): Promise<void> {
    const current = await this.state();
    const data = { ...(current.data ?? {}) };
    const changes = Object.entries(change(data));
    if (changes.length === 0) return;
    for (const [key, value] of changes) {
      if (value === null) delete data[key];
      else data[key] = value;
    }
    await this.core.replaceNamespacedConfigMap({
      name: STATE_CONFIGMAP,
      namespace: this.namespace,
      body: { ...current, data },
    });
  }

  async readRecord(): Promise<PrimaryRecord | null> {
    return parsePrimaryRecord((await this.state()).data ?? {});
  }

  async readPrimary(): Promise<string> {
    const record = await this.readRecord();
    if (record) return record.primary;
    // An empty site: ordinal 0 bootstraps it (its init step does so only while nothing is recorded), so
    // it is the first primary. Recorded once that step has run, so a lost mysql-0 volume can never
    // bootstrap a second time; not before: on a real node its volume is still being provisioned when
    // the controller first looks, and a step that found itself recorded with no data would wait forever.
    if (await this.bootstrapStepDone()) {
      await this.recordPrimary(BOOTSTRAP_PRIMARY, "the first instance bootstrapped the site");
    }
    return BOOTSTRAP_PRIMARY;
  }

  /** Whether ordinal 0's init step has completed (it bootstrapped the site, or found data). */
  private async bootstrapStepDone(): Promise<boolean> {
    const pod = (await this.pods()).find((p) => p.metadata?.name === BOOTSTRAP_PRIMARY);
    return (pod?.status?.initContainerStatuses ?? []).some(
      (status) => status.name === "init" && status.state?.terminated?.exitCode === 0,
    );
  }

  async recordPrimary(instance: string, reason: string): Promise<void> {
    await this.writeState((data): Record<string, string> => {
      const previous = parsePrimaryRecord(data);
      if (previous?.primary === instance) return {};
      const record: PrimaryRecord = {
        primary: instance,
        epoch: (previous?.epoch ?? 0) + 1,
        changedAt: this.now().toISOString(),
        reason,
      };
      return { [PRIMARY_KEY]: JSON.stringify(record) };
    });
  }

  /** Sets a pod's role label, as of the pod's version: a pod that changed since it was read is not touched. */
  private async label(pod: V1Pod, role: "primary" | "replica"): Promise<void> {
    await this.core.patchNamespacedPod(
      {
        name: pod.metadata?.name ?? "",
        namespace: this.namespace,
        body: {
          metadata: { resourceVersion: pod.metadata?.resourceVersion, labels: { [ROLE_LABEL]: role } },
        },
      },
      mergePatch,
    );
  }

  /**
   * Moves the role label: onto the recorded primary first, then off every other pod. Never the other
   * way round: between the two patches `mysql-primary` had no endpoint, and kube-proxy rejected every
   * new connection, reads included, until its next sync (up to its 1 s minimum period): WordPress
   * answered "Database Error" to uncached page reads during a switchover (the real-node database roll
   * test). Two endpoints for a moment route no write astray: every other instance is read-only (the
   * controller routes only after the fence, and an instance always starts read-only).
   */
  async routePrimary(instance: string): Promise<void> {
    const record = await this.readRecord();
    if (record?.primary !== instance) {
      throw new HapressError(
        `refusing to route mysql-primary to ${instance}: the recorded primary is ${record?.primary ?? "nobody"}`,
      );
    }
    const pods = await this.pods();
    const target = pods.find((p) => p.metadata?.name === instance);
    if (!target) throw new HapressError(`no pod ${instance} to route mysql-primary to`);
    if (target.metadata?.labels?.[ROLE_LABEL] !== "primary") await this.label(target, "primary");
    for (const pod of pods) {
      if (pod.metadata?.name !== instance && pod.metadata?.labels?.[ROLE_LABEL] !== "replica")
        await this.label(pod, "replica");
    }
  }

  /**
   * Fencing: the pod is deleted at once (grace period 0). Its StatefulSet recreates it; it starts
   * read-only and the controller rejoins it as a replica or re-clones it.
   */
  async killInstance(instance: string): Promise<void> {
    await this.deletePod(instance, 0);
  }

  /** Deletes a pod (already gone is fine); `gracePeriodSeconds` absent: the pod's own grace period. */
  private async deletePod(name: string, gracePeriodSeconds?: number): Promise<void> {
    try {
      await this.core.deleteNamespacedPod({ name, namespace: this.namespace, gracePeriodSeconds });
    } catch (error) {
      if (apiStatus(error) !== 404) throw error;
    }
  }

  /** Nothing holds a pod down on Kubernetes: the recreated pod starts fenced (read-only). */
  async releaseInstance(): Promise<void> {}

  /** A new re-clone token for the pod, then the pod deleted: its init step sees the token and clones. */
  async recloneInstance(instance: string, reason: string): Promise<void> {
    const token = `${this.now().toISOString()}-${randomBytes(4).toString("hex")}`;
    await this.writeState(() => ({ [recloneKey(instance)]: token }));
    await this.recordEvent({ kind: "reclone", instance, message: `re-cloning ${instance}: ${reason}` });
    await this.deletePod(instance);
  }

  async recordEvent(event: ControllerEvent): Promise<void> {
    const now = this.now();
    const involved = event.instance
      ? { kind: "Pod", name: event.instance }
      : { kind: "StatefulSet", name: "mysql", apiVersion: "apps/v1" };
    await this.core.createNamespacedEvent({
      namespace: this.namespace,
      body: {
        metadata: {
          name: `${involved.name}.hapress.${now.getTime().toString(16)}${randomBytes(2).toString("hex")}`,
          namespace: this.namespace,
        },
        involvedObject: { ...involved, namespace: this.namespace },
        reason: event.kind,
        message: event.message,
        type: /failed|refused|quarantined|disabled/.test(event.kind) ? "Warning" : "Normal",
        source: { component: "hapress-controller", host: this.options.identity },
        reportingComponent: "hapress.io/controller",
        reportingInstance: this.options.identity,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  }

  async loadMemory(): Promise<SavedMemory | null> {
    return parseSavedMemory((await this.state()).data ?? {});
  }

  async saveMemory(memory: SavedMemory): Promise<void> {
    await this.writeState(() => ({ [MEMORY_KEY]: JSON.stringify(memory) }));
  }

  private get switchover(): ClusterSwitchoverStore {
    return new ClusterSwitchoverStore(this.core, this.namespace, this.now);
  }

  readSwitchoverRequest(): Promise<SwitchoverRequest | null> {
    return openRequest(this.switchover);
  }

  async reportSwitchover(id: string, message: string, outcome: SwitchoverOutcome): Promise<void> {
    await this.switchover.report(id, { at: this.now().toISOString(), message }, outcome);
  }
}
