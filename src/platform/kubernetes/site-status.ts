import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  type CoreV1Event,
  type KubeConfig,
  type V1Lease,
  type V1Pod,
} from "@kubernetes/client-node";
import type { Spec } from "../../spec/schema.js";
import { endpointServerLimit, MYSQL_PORT } from "../../topology/topology.js";
import { controllerActivity, type PodStatus, type SiteStatus } from "../../status/site-status.js";
import { apiMessage, apiStatus } from "./cluster.js";
import {
  OBSERVED_CONFIGMAP,
  parsePrimaryRecord,
  parseSavedMemory,
  STATE_CONFIGMAP,
} from "./cluster-state.js";
import { parseObserved, type ObservedState } from "./observed-state.js";
import { siteSelector } from "./apply-plan.js";
import { ROLE_LABEL } from "./render.js";
import { HapressError } from "../../errors.js";

/** Everything `hapress status` reads from the cluster, read once (so the mapping below is pure). */
export interface ClusterSnapshot {
  context: string;
  namespace: string;
  statefulSet: {
    replicas: number;
    readyReplicas: number;
    /** Pods made from the update revision (the rest are rolled by the controller). */
    updatedReplicas?: number;
    updateRevision?: string;
  } | null;
  wordpress: { replicas: number; available: number } | null;
  pods: V1Pod[];
  state: Record<string, string> | null;
  observed: ObservedState | null;
  lease: V1Lease | null;
  events: CoreV1Event[];
}

/** The controller leader election's Lease. */
export const LEASE_NAME = "hapress-controller";

const COMPONENTS: Record<string, PodStatus["component"]> = {
  database: "mysql",
  web: "wordpress",
  controller: "controller",
};

const PORTS: Record<PodStatus["component"], number | null> = {
  mysql: MYSQL_PORT,
  wordpress: 80,
  controller: 8081,
  loadbalancer: null,
};

function isReady(pod: V1Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
}

/** The pod's phase in the words of the local target's status (running, initializing, crashloop...). */
function podPhase(pod: V1Pod): { phase: string; message: string | null } {
  if (pod.metadata?.deletionTimestamp) return { phase: "stopping", message: "being deleted" };
  const inits = pod.status?.initContainerStatuses ?? [];
  const running = inits.find((s) => s.state?.running);
  if (running) return { phase: running.name === "clone" ? "cloning" : "initializing", message: null };
  const statuses = [...inits, ...(pod.status?.containerStatuses ?? [])];
  const waiting = statuses.find((s) => s.state?.waiting);
  if (waiting?.state?.waiting) {
    const reason = waiting.state.waiting.reason ?? "waiting";
    return {
      phase: reason === "CrashLoopBackOff" ? "crashloop" : "waiting",
      message: `${waiting.name}: ${reason}${waiting.state.waiting.message ? ` (${waiting.state.waiting.message})` : ""}`,
    };
  }
  if (pod.status?.phase === "Pending") return { phase: "pending", message: "not started yet" };
  if (pod.status?.phase === "Running") return { phase: isReady(pod) ? "running" : "starting", message: null };
  return { phase: (pod.status?.phase ?? "unknown").toLowerCase(), message: pod.status?.message ?? null };
}

/** When an Event happened, to the millisecond when the reporter gave its eventTime (ISO 8601; "" when unknown). */
export function eventTime(event: CoreV1Event): string {
  const time =
    event.eventTime ?? event.lastTimestamp ?? event.firstTimestamp ?? event.metadata.creationTimestamp;
  return time ? new Date(time).toISOString() : "";
}

/** The Lease is held and was renewed within its duration (by the reader's clock, so approximate). */
function leaderLive(lease: V1Lease | null, now: Date): boolean {
  const holder = lease?.spec?.holderIdentity;
  const renewed = lease?.spec?.renewTime;
  if (!holder || !renewed) return false;
  const durationMs = (lease.spec?.leaseDurationSeconds ?? 10) * 1000;
  return now.getTime() - new Date(renewed).getTime() < 2 * durationMs;
}

/** The `status --json` contract, filled from a cluster snapshot (pure). */
export function clusterSiteStatus(spec: Spec, snapshot: ClusterSnapshot, now: Date): SiteStatus {
  const record = snapshot.state ? parsePrimaryRecord(snapshot.state) : null;
  const memory = snapshot.state ? parseSavedMemory(snapshot.state) : null;
  const seen = new Map((snapshot.observed?.instances ?? []).map((i) => [i.name, i]));
  const pods = snapshot.pods
    .map((pod): PodStatus | null => {
      const component = COMPONENTS[pod.metadata?.labels?.["app.kubernetes.io/component"] ?? ""];
      const name = pod.metadata?.name ?? "";
      if (!component || pod.metadata?.ownerReferences?.some((o) => o.kind === "Job")) return null;
      const { phase, message } = podPhase(pod);
      const observed = component === "mysql" ? seen.get(name) : undefined;
      const label = pod.metadata?.labels?.[ROLE_LABEL];
      return {
        name,
        component,
        role:
          component === "mysql"
            ? label === "primary"
              ? "primary"
              : label === "replica"
                ? "replica"
                : null
            : null,
        address: pod.status?.podIP ?? "",
        port: PORTS[component],
        pids: [],
        ready: isReady(pod),
        restarts: (pod.status?.containerStatuses ?? []).reduce((sum, c) => sum + c.restartCount, 0),
        phase,
        gtid: observed?.gtid ?? null,
        // The controller's view (a few seconds old at most): what "whole again" waits for.
        lagSeconds: observed?.lagSeconds ?? null,
        semiSync: observed?.semiSync ?? null,
        readOnly: observed?.readOnly ?? null,
        message: message ?? observed?.error ?? null,
      };
    })
    .filter((p): p is PodStatus => p !== null)
    .sort((a, b) => a.component.localeCompare(b.component) || a.name.localeCompare(b.name));

  const primarySeen = record ? seen.get(record.primary) : undefined;
  const replicas = snapshot.statefulSet?.replicas ?? 0;
  const labelled = pods.filter((p) => p.role === "primary");
  const live = leaderLive(snapshot.lease, now);
  const ready =
    snapshot.statefulSet !== null &&
    snapshot.statefulSet.readyReplicas >= replicas &&
    pods.filter((p) => p.component === "mysql").every((p) => p.ready) &&
    !memory?.failover &&
    labelled.length === 1 &&
    labelled[0]?.name === record?.primary &&
    live &&
    (snapshot.wordpress === null || snapshot.wordpress.available >= snapshot.wordpress.replicas);
  const last = snapshot.events
    .filter(
      (e) => e.source?.component === "hapress-controller" || e.reportingComponent === "hapress-controller",
    )
    .map((e) => ({ time: eventTime(e), kind: e.reason ?? "", message: e.message ?? "" }))
    .sort((a, b) => a.time.localeCompare(b.time))
    .at(-1);
  const semiSyncOn = primarySeen?.semiSync === true;
  const host = spec.kubernetes.ingress.host;
  const svc = (name: string) => `${name}.${snapshot.namespace}.svc:${MYSQL_PORT}`;
  return {
    site: spec.name,
    // Not a folder on this target: where the site lives, for people and scripts alike.
    stateDir: `kubernetes:${snapshot.context}/${snapshot.namespace}`,
    running: snapshot.statefulSet !== null,
    ready,
    supervisorPid: null,
    primary: record?.primary ?? null,
    primaryEpoch: record?.epoch ?? null,
    endpoints: {
      mysqlPrimary: svc("mysql-primary"),
      mysqlReplicas: svc("mysql-replicas"),
      ...(snapshot.wordpress !== null && host
        ? { http: `${spec.kubernetes.ingress.tlsSecret ? "https" : "http"}://${host}` }
        : {}),
    },
    database: {
      replicas,
      semiSync: semiSyncOn ? "on" : "off",
      semiSyncDetail:
        replicas <= 1
          ? "single instance: nobody to acknowledge, writes are asynchronous"
          : primarySeen === undefined
            ? "unknown: no observation from the controller yet"
            : semiSyncOn
              ? `primary waits for a replica's acknowledgement (AFTER_SYNC; as seen by the controller at ${snapshot.observed?.observedAt ?? "?"})`
              : "primary is not semi-synchronous right now",
      maxConnections: spec.database.maxConnections,
      // No proxy queues in the cluster: the server refuses the app's sessions beyond its user limit.
      endpointLimits: { maxConnectionsPerServer: endpointServerLimit(spec.database), queueTimeoutMs: 0 },
      ...rolloutOf(snapshot.statefulSet),
    },
    controller: {
      running: live,
      state: controllerActivity(
        memory,
        live ? `watching (leader ${snapshot.lease?.spec?.holderIdentity ?? "?"})` : "no leader",
      ),
      lastEvent: last ?? null,
    },
    pods,
  };
}

/** The rolling update of the database pods, while one is under way. */
function rolloutOf(statefulSet: ClusterSnapshot["statefulSet"]): Pick<SiteStatus["database"], "rollout"> {
  if (!statefulSet || statefulSet.updatedReplicas === undefined || !statefulSet.updateRevision) return {};
  if (statefulSet.updatedReplicas >= statefulSet.replicas) return {};
  return {
    rollout: {
      updated: statefulSet.updatedReplicas,
      of: statefulSet.replicas,
      revision: `revision ${statefulSet.updateRevision}`,
    },
  };
}

/** Reads what `clusterSiteStatus` needs; a missing object is null, an unreachable cluster an error. */
export async function readClusterSnapshot(
  kc: KubeConfig,
  site: string,
  namespace: string,
): Promise<ClusterSnapshot> {
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const coordination = kc.makeApiClient(CoordinationV1Api);
  const orNull = async <T>(read: () => Promise<T>): Promise<T | null> => {
    try {
      return await read();
    } catch (error) {
      if (apiStatus(error) === 404) return null;
      throw new HapressError(
        `cannot read the site from the cluster of context '${kc.getCurrentContext()}': ${apiMessage(error)}`,
        { cause: error },
      );
    }
  };
  const [statefulSet, wordpress, pods, state, observed, lease, events] = await Promise.all([
    orNull(() => apps.readNamespacedStatefulSet({ name: "mysql", namespace })),
    orNull(() => apps.readNamespacedDeployment({ name: "wordpress", namespace })),
    orNull(() => core.listNamespacedPod({ namespace, labelSelector: siteSelector(site) })),
    orNull(() => core.readNamespacedConfigMap({ name: STATE_CONFIGMAP, namespace })),
    orNull(() => core.readNamespacedConfigMap({ name: OBSERVED_CONFIGMAP, namespace })),
    orNull(() => coordination.readNamespacedLease({ name: LEASE_NAME, namespace })),
    orNull(() => core.listNamespacedEvent({ namespace, fieldSelector: "source=hapress-controller" })),
  ]);
  return {
    context: kc.getCurrentContext(),
    namespace,
    statefulSet: statefulSet
      ? {
          replicas: statefulSet.spec?.replicas ?? 0,
          readyReplicas: statefulSet.status?.readyReplicas ?? 0,
          updatedReplicas: statefulSet.status?.updatedReplicas ?? 0,
          updateRevision: statefulSet.status?.updateRevision ?? "",
        }
      : null,
    wordpress: wordpress
      ? { replicas: wordpress.spec?.replicas ?? 0, available: wordpress.status?.availableReplicas ?? 0 }
      : null,
    pods: pods?.items ?? [],
    state: state ? (state.data ?? {}) : null,
    observed: parseObserved(observed?.data),
    lease,
    events: events?.items ?? [],
  };
}
