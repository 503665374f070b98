import { readdir, readFile } from "node:fs/promises";
import type { Spec } from "../../spec/schema.js";
import { readSavedMemory } from "../../state/controller-memory.js";
import type { StatePaths } from "../../state/files.js";
import type { PrimaryRecord } from "../../state/primary.js";
import { controllerActivity, type PodStatus, type SiteStatus } from "../../status/site-status.js";
import type { InstanceState } from "../../mysql/client.js";
import { mysqlOrdinal, surplusPods, wordpressOrdinal, type Topology } from "../../topology/topology.js";
import type { ProcessInfo } from "./processes.js";
import { endpointLimits, metricsEndpoints } from "./status-endpoints.js";
import { siteUrl } from "./wordpress-tier.js";

// The local site's status contract (SiteStatus), put together from what the supervisor's keepers know:
// the readiness rule and the endpoints are decided here, in one place, from plain inputs.

/** Status of a pod that is one process (the load balancer, the controller). */
export function singleProcessPod(
  name: string,
  component: PodStatus["component"],
  address: string,
  info: ProcessInfo | null,
  healthy: boolean,
): PodStatus {
  return {
    name,
    component,
    role: null,
    address,
    port: null,
    pids: info?.pid ? [info.pid] : [],
    ready: info?.state === "running" && healthy,
    restarts: info?.restarts ?? 0,
    phase: info?.state ?? "stopped",
    gtid: null,
    lagSeconds: null,
    semiSync: null,
    readOnly: null,
    message: info?.lastExit ?? null,
  };
}

/** What the supervisor gathers for one status: each keeper's part, read just before. */
export interface StatusInputs {
  spec: Spec;
  topology: Topology;
  stateDir: string;
  record: PrimaryRecord | null;
  stopping: boolean;
  /** The database and WordPress pods. */
  pods: PodStatus[];
  /** HAProxy's process, and whether it routes to the primary and to every ready WordPress pod. */
  loadBalancer: { info: ProcessInfo | null; routing: boolean };
  controller: SiteStatus["controller"];
  controllerProcess: ProcessInfo | null;
  /** What the recorded primary's server last said of itself. */
  primaryState: InstanceState | null;
  /** Pods of an earlier, larger scale still to be removed. */
  surplus: string[];
  /** Database pods still running an older configuration (a rolling update under way). */
  outdated: string[];
  /** WordPress pods still to restart with the spec's configuration (wordpress-roll.ts). */
  wordpressRollout: { outdated: string[]; surge: string | null } | null;
  wordpressInstalled: boolean;
  backup: NonNullable<SiteStatus["backup"]>;
  pageCache: SiteStatus["pageCache"] | null;
}

/** Ready: every pod ready, nothing left to remove or restart, WordPress installed, and writes semi-synchronous with replicas, asynchronous alone. */
export function assembleSiteStatus(inputs: StatusInputs): SiteStatus {
  const { spec, topology, record, primaryState } = inputs;
  const lb = topology.loadBalancer;
  const pods: PodStatus[] = [
    ...inputs.pods,
    singleProcessPod(
      lb.name,
      "loadbalancer",
      lb.address,
      inputs.loadBalancer.info,
      inputs.loadBalancer.routing,
    ),
    singleProcessPod("controller", "controller", "", inputs.controllerProcess, true),
  ];
  const single = topology.mysql.length === 1;
  const semiSyncOn = primaryState?.semiSyncMasterActive === true;
  const ready =
    !inputs.stopping &&
    inputs.wordpressInstalled &&
    record !== null &&
    inputs.surplus.length === 0 &&
    inputs.outdated.length === 0 &&
    inputs.wordpressRollout === null &&
    pods.every((pod) => pod.ready) &&
    // With replicas, writes wait for one (semi-sync); alone, the controller has switched that off, or
    // the next commit would wait out the semi-sync timeout for a replica that is gone (and `scale
    // mysql 1` returned while status still said "on": found once HAProxy stopped restarting on it).
    (single ? !semiSyncOn : semiSyncOn);
  return {
    site: spec.name,
    stateDir: inputs.stateDir,
    running: !inputs.stopping,
    ready,
    supervisorPid: process.pid,
    primary: record?.primary ?? null,
    primaryEpoch: record?.epoch ?? null,
    endpoints: {
      mysqlPrimary: `${topology.services.mysqlPrimary.address}:${topology.services.mysqlPrimary.port}`,
      mysqlReplicas: `${topology.services.mysqlReplicas.address}:${topology.services.mysqlReplicas.port}`,
      ...(topology.wordpress.length > 0 ? { http: siteUrl(topology) } : {}),
      metrics: metricsEndpoints(topology, spec.metrics.mysqldExporter),
    },
    database: {
      replicas: topology.mysql.length,
      maxConnections: spec.database.maxConnections,
      endpointLimits: endpointLimits(topology),
      ...(inputs.outdated.length > 0
        ? {
            rollout: {
              updated: topology.mysql.length - inputs.outdated.length,
              of: topology.mysql.length,
              revision: "the spec's my.cnf",
            },
          }
        : {}),
      semiSync: semiSyncOn ? "on" : "off",
      semiSyncDetail: single
        ? "single instance: nobody to acknowledge, writes are asynchronous"
        : semiSyncOn
          ? `primary waits for a replica's acknowledgement (AFTER_SYNC, ${primaryState?.semiSyncMasterClients ?? 0} replica(s) connected)`
          : "primary is not semi-synchronous right now: no replica acknowledging",
    },
    ...(inputs.wordpressRollout ? { wordpressRollout: inputs.wordpressRollout } : {}),
    controller: inputs.controller,
    backup: inputs.backup,
    ...(inputs.pageCache ? { pageCache: inputs.pageCache } : {}),
    pods,
  };
}

/** The controller as its files tell: what it is doing (its durable memory) and its last event. */
export async function readControllerStatus(
  paths: StatePaths,
  running: boolean,
): Promise<SiteStatus["controller"]> {
  const memory = await readSavedMemory(paths.controller).catch(() => null);
  const events = await readFile(paths.events, "utf8").catch(() => "");
  const lastLine = events.trimEnd().split("\n").at(-1);
  const lastEvent = lastLine
    ? (JSON.parse(lastLine) as { time: string; kind: string; message: string })
    : null;
  return { running, state: controllerActivity(memory, "watching"), lastEvent };
}

/** Pods whose folders remain from a larger scale (removed by the next rounds). */
export async function surplusPodNames(podsDir: string, topology: Topology): Promise<string[]> {
  try {
    const entries = await readdir(podsDir);
    return [
      ...surplusPods(entries, mysqlOrdinal, topology.mysql.length),
      ...surplusPods(entries, wordpressOrdinal, topology.wordpress.length),
    ];
  } catch {
    return [];
  }
}
