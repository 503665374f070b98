import { gtidProgress, hasErrantTransactions } from "./gtid.js";
import type {
  Action,
  ControllerConfig,
  ControllerEvent,
  Decision,
  InstanceView,
  Memory,
  Observation,
} from "./types.js";

/** MariaDB: the replica asked for a position the primary's binary logs no longer (or never) had. */
const ER_MASTER_FATAL_ERROR_READING_BINLOG = 1236;

export const defaultControllerConfig: ControllerConfig = {
  // With heartbeats every 250 ms (MASTER_HEARTBEAT_PERIOD in sql-actions.ts), 750 ms is 3 missed in a
  // row; a live primary's heartbeat thread is scheduled within milliseconds even on a saturated machine.
  replicaSilenceMs: 750,
  failureThreshold: 3,
  confirmationProbes: 2,
  cooldownMs: 3000,
  automaticFailover: true,
};

/**
 * The controller's whole judgement, as a pure function of what it observed and what it remembers.
 * Every action it returns is idempotent, so a controller that dies mid-way and runs again is safe.
 */
export function decide(observation: Observation, memory: Memory, config: ControllerConfig): Decision {
  const failures: Record<string, number> = {};
  for (const instance of observation.instances) {
    failures[instance.name] = isAlive(instance) ? 0 : (memory.failures[instance.name] ?? 0) + 1;
  }
  const next: Memory = { ...memory, failures, progress: trackProgress(observation, memory) };
  if (next.failover) return continueFailover(observation, next);
  const primary = observation.instances.find((i) => i.name === observation.primary);
  if (!primary)
    return notice(next, null, "no-primary", `the recorded primary ${observation.primary} is not an instance`);
  if (primary.provisioning) return { actions: [], memory: next, events: [] };
  if (!primary.reachable && primary.busy) {
    // A server refusing sessions for lack of slots is alive and must never be failed over; its state
    // is unknown this round, so nothing else is decided either.
    return notice(
      next,
      primary.name,
      "primary-busy",
      `${primary.name} refuses new sessions (${primary.error ?? "too many connections"}): alive and busy, not failing over`,
    );
  }
  // A primary whose owner reported its exit is gone even if this round's probe got an answer (it
  // was in flight when the process died; what it read predates the crash).
  if (!primary.reachable || primary.exited !== null) {
    const down =
      next.primaryDown?.instance === primary.name
        ? next.primaryDown
        : { instance: primary.name, since: observation.at };
    return decideOnUnreachablePrimary(observation, primary, { ...next, primaryDown: down }, config);
  }
  return keepHealthy(observation, primary, next);
}

/** Remembers, per replica, when its progress marker last moved. */
function trackProgress(observation: Observation, memory: Memory): Memory["progress"] {
  const progress: Memory["progress"] = {};
  for (const instance of observation.instances) {
    const marker = instance.reachable ? instance.replication?.progress : undefined;
    if (marker === undefined) continue;
    const previous = memory.progress[instance.name];
    progress[instance.name] =
      previous && previous.marker === marker ? previous : { marker, since: observation.at };
  }
  return progress;
}

/**
 * What the replicas that stream from the primary say of it: "silent" when every one of them has heard
 * nothing from it (no event, no heartbeat) for long enough, the primary is hung; "hearing" when one of
 * them heard it recently, it is alive however slowly it answers us; "unknown" when none streams from
 * it (it crashed, or they lost it), or one has not been watched long enough to tell.
 */
function replicasView(
  observation: Observation,
  primary: InstanceView,
  memory: Memory,
  config: ControllerConfig,
): "silent" | "hearing" | "unknown" {
  const streaming = observation.instances.filter(
    (i) =>
      isReplicaCandidate(i, primary.name) &&
      i.replication?.ioRunning === "Yes" &&
      i.replication.masterHost === primary.address,
  );
  if (streaming.length === 0) return "unknown";
  const silences = streaming.map((replica) => {
    const period = replica.replication?.heartbeatPeriodMs ?? 0;
    const seen = memory.progress[replica.name];
    // Without heartbeats an idle primary is silent too: such a replica cannot tell.
    if (period <= 0 || !seen) return "unknown";
    const quiet = observation.at - seen.since;
    return quiet >= Math.max(config.replicaSilenceMs, 3 * period) ? "silent" : "hearing";
  });
  if (silences.includes("hearing")) return "hearing";
  return silences.every((s) => s === "silent") ? "silent" : "unknown";
}

function notice(memory: Memory, instance: string | null, kind: string, message: string): Decision {
  if (memory.lastNotice === message) return { actions: [], memory, events: [] };
  return { actions: [], memory: { ...memory, lastNotice: message }, events: [{ kind, instance, message }] };
}

function isReplicaCandidate(instance: InstanceView, primary: string): boolean {
  return instance.name !== primary && instance.reachable && !instance.provisioning;
}

/** It answered this round: a session, or a refusal only a live server gives. */
/** Answering (or refusing for lack of slots), and not reported gone by its owner since. */
function isAlive(instance: InstanceView): boolean {
  return (instance.reachable || instance.busy) && instance.exited === null;
}

function hasMajority(observation: Observation): boolean {
  const reachable = observation.instances.filter(isAlive).length;
  return reachable * 2 > observation.instances.length;
}

function decideOnUnreachablePrimary(
  observation: Observation,
  primary: InstanceView,
  memory: Memory,
  config: ControllerConfig,
): Decision {
  const failed = memory.failures[primary.name] ?? 0;
  // Its owner saw the process exit: no probe can say it faster or more surely, so no waiting for
  // more probes (fencing, the majority and the choice of replica still apply).
  const crashed = primary.exited !== null;
  const replicasSay = crashed ? "unknown" : replicasView(observation, primary, memory, config);
  // Hung: our probe fails and the replicas hear nothing either, not even heartbeats. Two views agree,
  // so no waiting for more probes.
  const hung = !crashed && failed >= 1 && replicasSay === "silent";
  if (!crashed && !hung && failed < config.failureThreshold) return { actions: [], memory, events: [] };
  // A primary that does not answer us but still talks to its replicas is slow, not dead (a saturated
  // machine, a long stall): never failed over, however many probes fail.
  if (!crashed && replicasSay === "hearing") {
    return notice(
      memory,
      primary.name,
      "primary-slow",
      `${primary.name} does not answer probes (${primary.error ?? "no answer"}) but its replicas still hear from it: alive, not failing over`,
    );
  }
  const replicas = observation.instances.filter((i) => isReplicaCandidate(i, primary.name));
  // Replicas still streaming from the primary contradict our probes: ask for more evidence first.
  const stillConnected = replicas.some(
    (r) => r.replication?.ioRunning === "Yes" && r.replication.masterHost === primary.address,
  );
  if (!crashed && !hung && stillConnected && failed < config.failureThreshold + config.confirmationProbes) {
    return { actions: [], memory, events: [] };
  }
  if (!config.automaticFailover) {
    return notice(
      memory,
      primary.name,
      "failover-disabled",
      // No probe count in the text: the notice is given once, not every round.
      `${primary.name} is unreachable (${primary.exited ? `its mariadbd ${primary.exited}` : (primary.error ?? "no answer")}); automatic failover is off: bring it back, or restart the controller without --no-automatic-failover`,
    );
  }
  if (memory.lastRecoveryAt !== null && observation.at - memory.lastRecoveryAt < config.cooldownMs) {
    return notice(
      memory,
      primary.name,
      "cooldown",
      `${primary.name} is unreachable, but the last recovery was under ${config.cooldownMs} ms ago: waiting`,
    );
  }
  if (!hasMajority(observation)) {
    const reachable = observation.instances.filter((i) => i.reachable).map((i) => i.name);
    return notice(
      memory,
      primary.name,
      "failover-refused",
      `${primary.name} is unreachable but only ${reachable.length} of ${observation.instances.length} instances are reachable (${reachable.join(", ") || "none"}): no majority, no promotion`,
    );
  }
  if (replicas.length === 0) {
    return notice(
      memory,
      primary.name,
      "failover-refused",
      `${primary.name} is unreachable and no healthy replica can take over`,
    );
  }
  const actions: Action[] = [
    // Fence first: the old primary must not come back writable while another is promoted.
    {
      kind: "fence",
      instance: primary.name,
      how: "kill",
      reason: crashed
        ? `its mariadbd ${primary.exited}`
        : hung
          ? "hung: no answer, and its replicas hear nothing from it"
          : `unreachable for ${failed} probes`,
    },
    // Then no replica acknowledges it any more: nothing more can commit there semi-synchronously.
    { kind: "stopReplicationIo", instances: replicas.map((r) => r.name) },
  ];
  const events: ControllerEvent[] = [
    {
      kind: "failover-started",
      instance: primary.name,
      message: crashed
        ? `${primary.name}'s mariadbd ${primary.exited ?? "exited"} (reported by its owner): failing over`
        : hung
          ? `${primary.name} does not answer (${primary.error ?? "no answer"}) and its replicas have heard nothing from it, not even a heartbeat: hung, failing over`
          : `${primary.name} unreachable for ${failed} probes (${primary.error ?? "no answer"})${stillConnected ? "" : ", confirmed by the replicas"}: failing over`,
    },
  ];
  return {
    actions,
    // The promotion's event gives this outage: not the primary's return.
    memory: {
      ...memory,
      failover: { from: primary.name, startedAt: observation.at },
      lastNotice: null,
      primaryDown: null,
    },
    events,
  };
}

/** How far an instance's data goes: what it executed, or received when it is a replica. */
function receivedProgress(instance: InstanceView): number {
  const executed = gtidProgress(instance.gtidCurrent);
  const received = instance.replication ? gtidProgress(instance.replication.gtidIoPos) : 0;
  return Math.max(executed, received);
}

/** How far behind its primary a replica's applier is; unknown counts as furthest behind. */
function lagSeconds(instance: InstanceView): number {
  return instance.replication?.secondsBehind ?? Number.POSITIVE_INFINITY;
}

/**
 * The replica to promote: the one that received the most (no acknowledged write is lost); among
 * equals, the one that applied the most (it is writable soonest: a replica with seconds of relay log
 * still to apply would hold the promotion that long); then one already promoted by an interrupted
 * failover; then the least lag in time; then the lowest ordinal.
 */
export function pickCandidate(instances: InstanceView[]): InstanceView | null {
  const lagOrder = (a: InstanceView, b: InstanceView) => {
    const [lagA, lagB] = [lagSeconds(a), lagSeconds(b)];
    return lagA === lagB ? 0 : lagA < lagB ? -1 : 1;
  };
  const sorted = [...instances].sort(
    (a, b) =>
      receivedProgress(b) - receivedProgress(a) ||
      gtidProgress(b.gtidCurrent) - gtidProgress(a.gtidCurrent) ||
      Number(a.readOnly) - Number(b.readOnly) ||
      lagOrder(a, b) ||
      a.ordinal - b.ordinal,
  );
  return sorted[0] ?? null;
}

function continueFailover(observation: Observation, memory: Memory): Decision {
  const failover = memory.failover;
  if (!failover) return { actions: [], memory, events: [] };
  const replicas = observation.instances.filter((i) => isReplicaCandidate(i, failover.from));
  if (!hasMajority(observation) || replicas.length === 0) {
    return notice(
      memory,
      failover.from,
      "failover-waiting",
      `failing over from ${failover.from}: waiting for a majority of instances to be reachable`,
    );
  }
  const streaming = replicas.filter((r) => r.replication && r.replication.ioRunning !== "No");
  if (streaming.length > 0) {
    return {
      actions: [{ kind: "stopReplicationIo", instances: streaming.map((r) => r.name) }],
      memory,
      events: [],
    };
  }
  const candidate = pickCandidate(replicas);
  if (!candidate) return { actions: [], memory, events: [] };
  if (candidate.replication && !candidate.replication.relayApplied) {
    return notice(
      memory,
      candidate.name,
      "failover-waiting",
      `waiting for ${candidate.name} to apply its relay log before promoting it`,
    );
  }
  const others = replicas.filter((r) => r.name !== candidate.name);
  // Clients are routed to the new primary before the other replicas are re-pointed: a replica whose
  // applier is stuck (an operator's table lock, a long statement) makes STOP SLAVE wait, and that wait
  // once held the routing, and with it every write, for as long as the lock (found by a test). A
  // re-point that fails is retried by the next round's repairs (keepHealthy).
  const actions: Action[] = [
    { kind: "promote", instance: candidate.name, semiSync: observation.instances.length > 1 },
    { kind: "recordPrimary", instance: candidate.name, reason: `failover from ${failover.from}` },
    { kind: "route", instance: candidate.name },
    { kind: "release", instance: failover.from },
    ...others.map((r): Action => ({
      kind: "repoint",
      instance: r.name,
      to: candidate.name,
      usePos: "slave_pos",
    })),
  ];
  const seconds = ((observation.at - failover.startedAt) / 1000).toFixed(2);
  return {
    actions,
    memory: { ...memory, failover: null, lastRecoveryAt: observation.at, lastNotice: null },
    events: [
      {
        kind: "promoted",
        instance: candidate.name,
        message: `promoted ${candidate.name} (GTID ${candidate.gtidCurrent || "empty"}) in place of ${failover.from}, ${seconds} s after the failover began; ${others.map((o) => o.name).join(", ") || "no other replica"} re-pointed`,
      },
    ],
  };
}

/** The primary answers: fence any other writable instance, keep replicas following it, repair what is broken. */
function keepHealthy(observation: Observation, primary: InstanceView, memory: Memory): Decision {
  const actions: Action[] = [];
  const events: ControllerEvent[] = [];
  const others = observation.instances.filter((i) => isReplicaCandidate(i, primary.name));
  const writableOthers = others.filter((i) => !i.readOnly);
  for (const rogue of writableOthers) {
    actions.push({
      kind: "fence",
      instance: rogue.name,
      how: "read-only",
      reason: `writable while ${primary.name} is the primary`,
    });
    events.push({
      kind: "fenced",
      instance: rogue.name,
      message: `${rogue.name} was writable while ${primary.name} is the primary: made read-only, its connections cut`,
    });
  }
  if (primary.readOnly) actions.push({ kind: "setWritable", instance: primary.name });
  // After it is writable: clients sent to it must be able to write. Platforms that report routing
  // (Kubernetes' role label) may drift from the record: a restarted pod comes back as a replica.
  const misrouted =
    primary.routed === false ||
    others.some((o) => o.routed === true) ||
    observation.instances.some((i) => i.name !== primary.name && i.provisioning && i.routed === true);
  if (misrouted) {
    actions.push({ kind: "route", instance: primary.name });
    events.push({
      kind: "routed",
      instance: primary.name,
      message: `mysql-primary pointed at ${primary.name}, the recorded primary`,
    });
  }
  // On once a replica streams from the primary (before that every commit would wait out the timeout);
  // never switched off while replicas are configured: losing them must not silently drop the guarantee.
  const streaming = others.some(
    (r) => r.replication?.ioRunning === "Yes" && r.replication.masterHost === primary.address,
  );
  const alone = observation.instances.length === 1;
  if (alone && primary.semiSyncMasterEnabled) {
    actions.push({ kind: "setSemiSync", instance: primary.name, enabled: false });
  } else if (!alone && streaming && !primary.semiSyncMasterEnabled) {
    actions.push({ kind: "setSemiSync", instance: primary.name, enabled: true });
  }
  for (const replica of others) {
    const repair = repairReplica(replica, primary);
    if (!repair) continue;
    actions.push(repair.action);
    events.push(repair.event);
  }
  const back = primaryBack(memory, primary, observation.at);
  if (back) events.push(back);
  return { actions, memory: { ...memory, lastNotice: null, primaryDown: null }, events };
}

/**
 * The recorded primary answers again after an outage the controller spoke of (a refused or
 * disabled failover, a cooldown) without failing it over: the event says so, with how long it lasted,
 * so the event log does not end on a refusal. A probe or two missed in silence says nothing.
 */
function primaryBack(memory: Memory, primary: InstanceView, at: number): ControllerEvent | null {
  const down = memory.primaryDown;
  if (down?.instance !== primary.name || memory.lastNotice === null) return null;
  const seconds = ((at - down.since) / 1000).toFixed(2);
  return {
    kind: "primary-back",
    instance: primary.name,
    message: `${primary.name} answers again and takes writes, ${seconds} s after it stopped answering (it was not failed over)`,
  };
}

/**
 * Actions on one replica that the next round repeats when they are still needed: one that fails (a
 * replica that cannot be reached or whose applier is stuck) must not hold the others, nor the memory
 * of the decision they belong to.
 */
export function isReplicaRepair(action: Action): boolean {
  return action.kind === "repoint" || action.kind === "startReplication";
}

function repairReplica(
  replica: InstanceView,
  primary: InstanceView,
): { action: Action; event: ControllerEvent } | null {
  if (hasErrantTransactions(replica.gtidBinlog, primary.gtidCurrent)) {
    const reason = `${replica.name} has transactions ${primary.name} lacks (GTID ${replica.gtidBinlog} vs ${primary.gtidCurrent || "empty"})`;
    return {
      action: { kind: "reclone", instance: replica.name, reason },
      event: { kind: "quarantined", instance: replica.name, message: `${reason}: quarantined and re-cloned` },
    };
  }
  const replication = replica.replication;
  if (!replication) {
    return {
      action: { kind: "repoint", instance: replica.name, to: primary.name, usePos: "current_pos" },
      event: {
        kind: "rejoined",
        instance: replica.name,
        message: `${replica.name} rejoins as a replica of ${primary.name}`,
      },
    };
  }
  if (replication.masterHost !== primary.address) {
    return {
      action: { kind: "repoint", instance: replica.name, to: primary.name, usePos: "slave_pos" },
      event: {
        kind: "repointed",
        instance: replica.name,
        message: `${replica.name} followed ${replication.masterHost || "nobody"}: re-pointed to ${primary.name}`,
      },
    };
  }
  if (replication.lastIoErrno === ER_MASTER_FATAL_ERROR_READING_BINLOG || replication.lastSqlErrno !== 0) {
    const reason = `${replica.name} cannot resume replication (IO error ${replication.lastIoErrno}, SQL error ${replication.lastSqlErrno})`;
    return {
      action: { kind: "reclone", instance: replica.name, reason },
      event: { kind: "recloning", instance: replica.name, message: `${reason}: re-cloning` },
    };
  }
  if (replication.ioRunning === "No" || !replication.sqlRunning) {
    return {
      action: { kind: "startReplication", instance: replica.name },
      event: {
        kind: "replication-started",
        instance: replica.name,
        message: `${replica.name}: replication threads were stopped; started`,
      },
    };
  }
  return null;
}
