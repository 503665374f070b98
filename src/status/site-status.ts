import type { Memory } from "../controller/types.js";
import type { ArchiveGap } from "../backup/archive-gaps.js";

/** The `hapress status --json` contract. Keep it stable: scripts depend on it (see README). */
export interface PodStatus {
  name: string;
  component: "mysql" | "wordpress" | "loadbalancer" | "controller";
  role: "primary" | "replica" | null;
  address: string;
  port: number | null;
  pids: number[];
  ready: boolean;
  restarts: number;
  /** What the pod is doing: running, cloning, initializing, starting, waiting, stopped, crashloop. */
  phase: string;
  gtid: string | null;
  lagSeconds: number | null;
  semiSync: boolean | null;
  readOnly: boolean | null;
  message: string | null;
  /**
   * Database pods that answered: client sessions in use against max_connections, and connections
   * refused for lack of a slot since the server started (saturation shows here first).
   */
  connections?: { inUse: number; limit: number; refused: number };
}

export interface SiteStatus {
  site: string;
  stateDir: string;
  running: boolean;
  ready: boolean;
  supervisorPid: number | null;
  /**
   * Set when the site's processes run but its supervisor does not (it crashed): they serve, the
   * controller still fails over, but nothing restarts a crashed process until `hapress up` (or the
   * service manager) starts a supervisor that adopts them.
   */
  unsupervised?: { processes: number };
  primary: string | null;
  primaryEpoch: number | null;
  endpoints: {
    mysqlPrimary: string;
    mysqlReplicas: string;
    http?: string;
    /** Where Prometheus scrapes the site (locally on loopback): the controller, the supervisor, HAProxy's exporter. */
    metrics?: {
      controller: string;
      supervisor: string;
      loadBalancer: string;
      /** Each database pod's mysqld_exporter, when the spec asks for it (metrics.mysqldExporter). */
      mysqld?: string[];
    };
  };
  database: {
    replicas: number;
    semiSync: "on" | "off";
    semiSyncDetail: string;
    /** Each instance's client limit, and what the endpoints open to one instance at most. */
    maxConnections: number;
    endpointLimits: { maxConnectionsPerServer: number; queueTimeoutMs: number };
    /**
     * A rolling update under way (Kubernetes: the StatefulSet's pods not yet on its update revision,
     * which the controller restarts one at a time); absent when every pod is on it.
     */
    rollout?: {
      updated: number;
      of: number;
      /** What the updated ones run: `revision <StatefulSet revision>`, or locally "the spec's my.cnf". */
      revision: string;
    };
  };
  /**
   * A rolling update of the WordPress tier under way (local target): the pods still on an older
   * configuration, and the spare pod serving beside them; absent when every pod runs the spec's.
   */
  wordpressRollout?: { outdated: string[]; surge: string | null };
  controller: {
    running: boolean;
    /** "watching", "failing over from mysql-N", "switching over from mysql-N to mysql-M (…)". */
    state: string;
    lastEvent: { time: string; kind: string; message: string } | null;
  };
  /**
   * The WordPress pods' page cache (sites with WordPress): its settings, and what it did since the
   * supervisor started (HIT and STALE answered from the cache; EXPIRED counts as a miss).
   */
  pageCache?: {
    enabled: boolean;
    ttlSeconds: number;
    hit: number;
    stale: number;
    miss: number;
    bypass: number;
    /** (hit + stale) / (hit + stale + miss), or null before any cacheable request. */
    hitRatio: number | null;
  };
  pods: PodStatus[];
  /** Where backups go, and the binary-log archive's segment being written (null: not archiving now). */
  backup?: { path: string; archiving: string | null; gaps: ArchiveGap[] };
  credentials?: {
    app: { user: string; password: string; database: string };
    replication: { user: string; password: string };
    admin: { user: string; password: string };
  };
}

export interface ProgressEvent {
  seq: number;
  time: string;
  level: "info" | "error";
  pod: string | null;
  message: string;
}

/**
 * What the controller is doing, from its durable memory: a failover or a switchover in progress,
 * else `idle` (what each target says of a controller with nothing under way).
 */
export function controllerActivity(
  memory: Pick<Memory, "failover" | "switchover"> | null | undefined,
  idle: string,
): string {
  if (memory?.failover) return `failing over from ${memory.failover.from}`;
  const switchover = memory?.switchover;
  if (switchover)
    return `switching over from ${switchover.from} to ${switchover.to} (requested by ${switchover.requestedBy})`;
  return idle;
}
