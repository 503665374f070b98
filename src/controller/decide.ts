import { hasErrantTransactions } from "./gtid.js";
import { isAlive, isReplicaCandidate, memberCount, notice } from "./decide-common.js";
import { continueFailover, decideOnUnreachablePrimary } from "./decide-failover.js";
import { rollOutdated } from "./decide-roll.js";
import { continueSwitchover, isNewRequest, refuseSwitchover, startSwitchover } from "./decide-switchover.js";
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
  // A new switchover request is taken up only with a primary that answers and nothing else under way;
  // otherwise it is refused in the same round, with the reason, beside whatever the round decides.
  const request = isNewRequest(observation.switchoverRequest, next) ? observation.switchoverRequest : null;
  const refusing = (why: string, decision: Decision): Decision =>
    request ? refuseSwitchover(request, why, decision) : decision;
  if (next.failover) return refusing("a failover is in progress", continueFailover(observation, next));
  // A second request waits for the switchover under way to end (or expires).
  if (next.switchover) return continueSwitchover(observation, next);
  const primary = observation.instances.find((i) => i.name === observation.primary);
  if (!primary) {
    const why = `the recorded primary ${observation.primary} is not an instance`;
    // Gone is down (its pod deleted and not made again yet): when, a failover needs to know.
    const down = downSince(next, observation.primary, observation.at);
    return refusing(why, notice({ ...next, primaryDown: down }, null, "no-primary", why));
  }
  if (primary.provisioning)
    return refusing(`the primary ${primary.name} is being provisioned`, {
      actions: [],
      memory: next,
      events: [],
    });
  if (!primary.reachable && primary.busy) {
    // A server refusing sessions for lack of slots is alive and must never be failed over; its state
    // is unknown this round, so nothing else is decided either.
    const why = `${primary.name} refuses new sessions (${primary.error ?? "too many connections"})`;
    return refusing(
      why,
      notice(next, primary.name, "primary-busy", `${why}: alive and busy, not failing over`),
    );
  }
  // A primary whose owner reported its exit is gone even if this round's probe got an answer (it
  // was in flight when the process died; what it read predates the crash).
  if (!primary.reachable || primary.exited !== null) {
    const down = downSince(next, primary.name, observation.at);
    return refusing(
      `the primary ${primary.name} is not answering: nothing to switch over from`,
      decideOnUnreachablePrimary(observation, primary, { ...next, primaryDown: down }, config),
    );
  }
  if (request) return startSwitchover(observation, primary, next, request);
  const healthy = keepHealthy(observation, primary, next);
  // Repairs first; a rolling update goes on only with nothing to repair (rollOutdated checks more).
  const roll = healthy.actions.length === 0 ? rollOutdated(observation, primary, healthy.memory) : null;
  return roll ? { ...roll, events: [...healthy.events, ...roll.events] } : healthy;
}

export { pickCandidate } from "./decide-failover.js";

/** The primary's outage as remembered, or one starting now. */
function downSince(memory: Memory, primary: string, at: number): NonNullable<Memory["primaryDown"]> {
  return memory.primaryDown?.instance === primary ? memory.primaryDown : { instance: primary, since: at };
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
  // Alone too when the tier is being scaled to one instance (`kubectl scale`): the replicas leaving
  // stop acknowledging, and every commit would wait out the semi-sync timeout (30 s) before they go.
  // Not when the others' pods are only missing for a moment (deleted, made again): commits wait for
  // them, and none is acknowledged that no replica has.
  const alone = memberCount(observation) === 1 || observation.desiredInstances === 1;
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
