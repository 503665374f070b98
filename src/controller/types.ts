import type { SwitchoverOutcome, SwitchoverRequest } from "../state/switchover-request.js";
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
  /** How far behind the primary the applier is, in seconds (Seconds_Behind_Master); null when unknown. */
  secondsBehind: number | null;
  /**
   * Changes whenever the primary sends this replica anything (an event, or a heartbeat when it has
   * nothing to send): the position the IO thread read up to and the count of heartbeats received.
   */
  progress: string;
  /** How often the primary sends a heartbeat when idle (MASTER_HEARTBEAT_PERIOD), in ms; 0: never. */
  heartbeatPeriodMs: number;
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
  /**
   * When its server started, on the controller's clock (from its uptime; null when it did not answer
   * or did not say). A replica whose server started after the primary was lost may have dropped what
   * it had received and acknowledged but not applied (relay-log-recovery discards it at start).
   */
  serverStartedAt: number | null;
}

export interface Observation {
  /** Milliseconds on the controller's clock. */
  at: number;
  primary: string;
  instances: InstanceView[];
  /** A planned switchover requested and not finished yet (see state/switchover-request.ts). */
  switchoverRequest: SwitchoverRequest | null;
  /** How many instances the tier should have, when the platform knows (see Platform.desiredInstances). */
  desiredInstances: number | null;
}

/** A planned switchover under way: the old primary is read-only until the target has applied everything. */
export interface ActiveSwitchover {
  /** The request's id; null for a switchover the controller began itself (a rolling update). */
  id: string | null;
  from: string;
  to: string;
  requestedBy: string;
  /** When the old primary was made read-only (writes stop here). */
  startedAt: number;
  /** Past this, the switchover is rolled back: the old primary is made writable again. */
  deadlineAt: number;
}

/** What the controller remembers between rounds; `failover` is kept durably so a restart resumes it. */
export interface Memory {
  failures: Record<string, number>;
  lastRecoveryAt: number | null;
  failover: {
    from: string;
    startedAt: number;
    /**
     * Saved before the fence, so no fence is ever done that nobody remembers: true until the fence is
     * done. A controller resuming a failover whose fence may not have happened fences again (it is
     * idempotent) before anything else.
     */
    fencePending?: boolean;
    /** When the primary was first seen down (absent in what earlier versions saved: `startedAt`). */
    lostAt?: number;
    /**
     * Set when a replica's server started after `lostAt`: only the old primary surely has every
     * acknowledged write, so it is released, probed again, and heard before anyone is promoted.
     */
    awaitingFrom?: boolean;
  } | null;
  /** Kept durably, like `failover`: a restarted controller finishes or rolls back the switchover. */
  switchover: ActiveSwitchover | null;
  /** The last switchover request finished (done, rolled back or refused): never acted on again. */
  lastSwitchoverId: string | null;
  /** When a switchover last failed (rolled back or abandoned): a rolling update waits before the next. */
  lastSwitchoverFailedAt: number | null;
  /** The last reason given for not acting, so the same event is not repeated every round. */
  lastNotice: string | null;
  /**
   * Per replica: the last progress marker seen (see ReplicationView.progress) and when it was first
   * seen. A replica whose marker has not moved for several heartbeat periods hears nothing from its
   * primary: evidence that the primary hangs, from a vantage point other than our probe.
   */
  progress: Record<string, { marker: string; since: number }>;
  /**
   * The recorded primary stopped answering at `since` and has not been failed over (yet): when it
   * answers again, the event that says so gives the outage. Not saved: a restarted controller that
   * missed the start cannot tell how long it lasted.
   */
  primaryDown: { instance: string; since: number } | null;
}

export interface ControllerConfig {
  /**
   * A primary that failed a probe is hung when every replica streaming from it has heard nothing
   * (no event, no heartbeat) for this long, and at least 3 of its heartbeat periods.
   */
  replicaSilenceMs: number;
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
  | { kind: "reclone"; instance: string; reason: string }
  | { kind: "restart"; instance: string; reason: string }
  | { kind: "reportSwitchover"; id: string; message: string; outcome: SwitchoverOutcome };

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
  return {
    failures: {},
    lastRecoveryAt: null,
    failover: null,
    switchover: null,
    lastSwitchoverId: null,
    lastSwitchoverFailedAt: null,
    lastNotice: null,
    progress: {},
    primaryDown: null,
  };
}
