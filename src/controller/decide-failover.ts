import { gtidProgress } from "./gtid.js";
import { aliveOthers, hasMajority, isReplicaCandidate, memberCount, notice } from "./decide-common.js";
import type {
  Action,
  ControllerConfig,
  ControllerEvent,
  Decision,
  InstanceView,
  Memory,
  Observation,
} from "./types.js";

// The failover: deciding that the recorded primary is gone, then replacing it step by step.

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

export function decideOnUnreachablePrimary(
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
      // Once, not each time the probe's error changes (a filtered port times out, then refuses).
      `primary-slow ${primary.name}`,
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
  if (!hasMajority(observation, primary.name)) {
    const alive = aliveOthers(observation, primary.name).map((i) => i.name);
    return notice(
      memory,
      primary.name,
      "failover-refused",
      `${primary.name} is unreachable but only ${alive.length} of the other ${memberCount(observation) - 1} instances answer (${alive.join(", ") || "none"}); a promotion needs ${Math.floor(memberCount(observation) / 2) + 1}: no majority, no promotion`,
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
      failover: {
        from: primary.name,
        startedAt: observation.at,
        lostAt: memory.primaryDown?.since ?? observation.at,
      },
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

/**
 * The instances that answer but cannot be promoted yet (a pod being deleted or made again, a replica
 * not ready) and received more than `candidate`: the only copy of an acknowledged write may be there
 * (one replica's acknowledgement suffices), so the failover waits until they are replicas it can
 * choose.
 */
function receivedMoreThan(observation: Observation, candidate: InstanceView, replaced: string): string[] {
  const floor = receivedProgress(candidate);
  return observation.instances
    .filter((i) => i.name !== replaced && i.name !== candidate.name && i.reachable)
    .filter((i) => receivedProgress(i) > floor)
    .map((i) => i.name);
}

/**
 * The instances but the old primary whose server started after the primary was lost. Such a replica
 * may have dropped transactions it received and acknowledged but had not applied (relay-log-recovery
 * discards them at start, and the primary that could send them again is gone); and a primary whose
 * replicas all stopped releases the commits waiting for their acknowledgement when it stops itself
 * (MariaDB commits them and answers OK). Either way the old primary alone surely holds every
 * acknowledged write. Chaos found it: every database pod deleted at once, a replica promoted, and 2 to
 * 13 acknowledged writes only the old primary had were lost when it was re-cloned.
 */
function restartedSinceLost(observation: Observation, from: string, lostAt: number): string[] {
  return observation.instances
    .filter((i) => i.name !== from && i.serverStartedAt !== null && i.serverStartedAt > lostAt)
    .map((i) => i.name);
}

/**
 * The old primary answers again (its pod made again, read-only) with transactions no replica
 * received: it stays the primary, and the next rounds make it writable and its replicas follow it.
 * Unless a replica was already made writable by this failover (a controller that died after the
 * promotion): that one has taken writes, and the old primary must not be writable beside it.
 */
function keepOldPrimary(
  observation: Observation,
  memory: Memory,
  old: InstanceView,
  best: InstanceView | null,
): Decision | null {
  const promotedAlready = observation.instances.some(
    (i) => i.name !== old.name && i.reachable && !i.readOnly,
  );
  if (promotedAlready || (best && gtidProgress(old.gtidBinlog) <= receivedProgress(best))) return null;
  const failover = memory.failover;
  return {
    actions: [],
    memory: {
      ...memory,
      failover: null,
      lastNotice: null,
      primaryDown: { instance: old.name, since: failover?.lostAt ?? failover?.startedAt ?? observation.at },
    },
    events: [
      {
        kind: "failover-abandoned",
        instance: old.name,
        message: `${old.name} answers again with transactions no replica received (GTID ${old.gtidBinlog || "empty"}; ${best ? `${best.name} received ${best.replication?.gtidIoPos || best.gtidCurrent || "nothing"}` : "no replica to compare"}): it stays the primary, its replicas follow it again`,
      },
    ],
  };
}

export function continueFailover(observation: Observation, memory: Memory): Decision {
  const failover = memory.failover;
  if (!failover) return { actions: [], memory, events: [] };
  const replicas = observation.instances.filter((i) => isReplicaCandidate(i, failover.from));
  if (failover.fencePending) {
    // Written down by a controller that may have died before its fence: the old primary may still be
    // writable, or back from a restart with its data. Fenced again (idempotent) before anything else.
    return {
      actions: [
        {
          kind: "fence",
          instance: failover.from,
          how: "kill",
          reason: "resuming a failover whose fence may not have been done",
        },
        { kind: "stopReplicationIo", instances: replicas.map((r) => r.name) },
      ],
      memory: {
        ...memory,
        failover: {
          from: failover.from,
          startedAt: failover.startedAt,
          ...(failover.lostAt === undefined ? {} : { lostAt: failover.lostAt }),
        },
      },
      events: [],
    };
  }
  const old = observation.instances.find((i) => i.name === failover.from);
  if (failover.awaitingFrom && old?.reachable) {
    const kept = keepOldPrimary(observation, memory, old, pickCandidate(replicas));
    if (kept) return kept;
  }
  if (!hasMajority(observation, failover.from) || replicas.length === 0) {
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
  const restarted = restartedSinceLost(observation, failover.from, failover.lostAt ?? failover.startedAt);
  if (restarted.length > 0 && !old?.reachable) {
    // Released (it may be held down by the fence) and probed from now on, until it answers.
    const waiting = notice(
      { ...memory, failover: { ...failover, awaitingFrom: true } },
      failover.from,
      "failover-waiting",
      `${restarted.join(", ")} started again after ${failover.from} was lost and may have dropped writes they acknowledged: waiting for ${failover.from}, which holds every acknowledged write, to answer before promoting`,
    );
    return failover.awaitingFrom
      ? waiting
      : { ...waiting, actions: [{ kind: "release", instance: failover.from }] };
  }
  const ahead = receivedMoreThan(observation, candidate, failover.from);
  if (ahead.length > 0) {
    return notice(
      memory,
      candidate.name,
      "failover-waiting",
      `waiting for ${ahead.join(", ")}, which received more than ${candidate.name}, to be ready before promoting`,
    );
  }
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
    { kind: "promote", instance: candidate.name, semiSync: memberCount(observation) > 1 },
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
