import type { DatabaseInstance } from "./platform.js";

/** What the controller sees of one database instance in one round of probes. */
export interface ReplicationView {
  masterHost: string;
  /** "Yes", "No" or "Connecting". */
  ioRunning: string;
  sqlRunning: boolean;
  lastIoErrno: number;
  lastSqlErrno: number;
  /** GTID position of the last event the IO thread received. */
  gtidIoPos: string;
  /** The SQL thread has applied everything the IO thread received. */
  relayApplied: boolean;
}

/** An instance as the platform lists it, with what this round's probe found. */
export interface InstanceView extends DatabaseInstance {
  reachable: boolean;
  /**
   * Answered, but refused the session for lack of slots (too many connections): alive, its state
   * unknown this round. Evidence of life, never a failed probe.
   */
  busy: boolean;
  /**
   * How its server process ended, when its owner (the supervisor, or on Kubernetes the pod's agent)
   * reported that it exited since it last answered: unambiguous evidence of death; null otherwise.
   */
  exited: string | null;
  error: string | null;
  readOnly: boolean;
  gtidCurrent: string;
  gtidBinlog: string;
  replication: ReplicationView | null;
  semiSyncMasterEnabled: boolean;
}

export interface Observation {
  /** Milliseconds on the controller's clock. */
  at: number;
  primary: string;
  instances: InstanceView[];
}

/** What the controller remembers between rounds; `failover` is kept durably so a restart resumes it. */
export interface Memory {
  failures: Record<string, number>;
  lastRecoveryAt: number | null;
  failover: { from: string; startedAt: number } | null;
  /** The last reason given for not acting, so the same event is not repeated every round. */
  lastNotice: string | null;
}

export interface ControllerConfig {
  /** Consecutive failed probes before the primary is suspected dead. */
  failureThreshold: number;
  /** Extra failed probes that confirm a failure when a replica still reports a live connection. */
  confirmationProbes: number;
  /** No new failover this soon after a recovery. */
  cooldownMs: number;
  /**
   * False (`--no-automatic-failover`): a dead primary is reported, never replaced on the controller's
   * own; everything else (fencing rogue writers, repairing replicas, routing, switchover) still runs.
   */
  automaticFailover: boolean;
}

export type Action =
  | { kind: "fence"; instance: string; how: "read-only" | "kill"; reason: string }
  | { kind: "release"; instance: string }
  | { kind: "stopReplicationIo"; instances: string[] }
  | { kind: "promote"; instance: string; semiSync: boolean }
  | { kind: "repoint"; instance: string; to: string; usePos: "slave_pos" | "current_pos" }
  | { kind: "startReplication"; instance: string }
  | { kind: "recordPrimary"; instance: string; reason: string }
  | { kind: "route"; instance: string }
  | { kind: "setWritable"; instance: string }
  | { kind: "setSemiSync"; instance: string; enabled: boolean }
  | { kind: "reclone"; instance: string; reason: string };

export interface ControllerEvent {
  kind: string;
  instance: string | null;
  message: string;
}

export interface Decision {
  actions: Action[];
  memory: Memory;
  events: ControllerEvent[];
}

export function emptyMemory(): Memory {
  return { failures: {}, lastRecoveryAt: null, failover: null, lastNotice: null };
}
