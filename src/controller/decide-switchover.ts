import type { SwitchoverRequest } from "../state/switchover-request.js";
import { memberCount } from "./decide-common.js";
import { pickCandidate } from "./decide-failover.js";
import { gtidContains } from "./gtid.js";
import type { Action, ActiveSwitchover, Decision, InstanceView, Memory, Observation } from "./types.js";

// The planned switchover, as rounds of the same loop as everything else (never a second state
// machine beside it): a request starts it, the old primary is made read-only, each round looks whether
// the target has applied everything, then promotes it, records and routes it; past the deadline the
// old primary is made writable again. Its state is in the durable memory, so a controller that dies at
// any step is resumed by the next one from the same point.

/** A request that a round of the controller has not yet finished (nor refused). */
export function isNewRequest(
  request: SwitchoverRequest | null,
  memory: Memory,
): request is SwitchoverRequest {
  return request !== null && request.id !== memory.lastSwitchoverId && request.id !== memory.switchover?.id;
}

/** A request refused: the requester is told why, and it is never looked at again. */
export function refuseSwitchover(request: SwitchoverRequest, why: string, alongside: Decision): Decision {
  return {
    actions: [
      ...alongside.actions,
      { kind: "reportSwitchover", id: request.id, outcome: "failed", message: `refused: ${why}` },
    ],
    memory: { ...alongside.memory, lastSwitchoverId: request.id },
    events: [
      ...alongside.events,
      { kind: "switchover-refused", instance: request.to, message: `switchover refused: ${why}` },
    ],
  };
}

/** Replicas that stream from the primary now: the only ones a switchover may promote. */
function followersOf(observation: Observation, primary: InstanceView): InstanceView[] {
  return observation.instances.filter(
    (i) =>
      i.name !== primary.name &&
      i.reachable &&
      !i.provisioning &&
      i.exited === null &&
      i.replication?.masterHost === primary.address &&
      i.replication.ioRunning === "Yes",
  );
}

/** A new request, with the primary answering (decide() refuses it otherwise): choose the target and make the primary read-only. */
export function startSwitchover(
  observation: Observation,
  primary: InstanceView,
  memory: Memory,
  request: SwitchoverRequest,
): Decision {
  const refuse = (why: string) => refuseSwitchover(request, why, { actions: [], memory, events: [] });
  if (observation.at > Date.parse(request.expiresAt))
    return refuse(`the request expired at ${request.expiresAt} before a controller took it up`);
  if (request.to === primary.name) return refuse(`${primary.name} is already the primary`);
  const followers = followersOf(observation, primary);
  const chosen =
    request.to === null ? pickCandidate(followers) : (followers.find((i) => i.name === request.to) ?? null);
  if (!chosen) {
    const healthy = followers.map((f) => f.name).join(", ") || "none";
    return refuse(
      request.to === null
        ? `no replica streams from ${primary.name}`
        : `${request.to} is not a replica streaming from ${primary.name} (streaming: ${healthy})`,
    );
  }
  return beginSwitchover(observation, primary, memory, chosen, request);
}

/**
 * The first step, for a request or for the controller's own reasons (a rolling update, `id` null):
 * the requester told, the primary made read-only, the switchover remembered (saved right after the
 * fence by the Controller).
 */
export function beginSwitchover(
  observation: Observation,
  primary: InstanceView,
  memory: Memory,
  chosen: InstanceView,
  origin: { id: string | null; requestedBy: string; deadlineMs: number },
): Decision {
  const switchover: ActiveSwitchover = {
    id: origin.id,
    from: primary.name,
    to: chosen.name,
    requestedBy: origin.requestedBy,
    startedAt: observation.at,
    deadlineAt: observation.at + origin.deadlineMs,
  };
  return {
    actions: [
      ...report(
        switchover,
        "running",
        `${primary.name} made read-only, its sessions cut; ${chosen.name} takes over once it has applied everything (deadline ${origin.deadlineMs / 1000} s)`,
      ),
      { kind: "fence", instance: primary.name, how: "read-only", reason: `switchover to ${chosen.name}` },
    ],
    memory: { ...memory, switchover, lastNotice: null },
    events: [
      {
        kind: "switchover-started",
        instance: chosen.name,
        message: `switching over from ${primary.name} to ${chosen.name} (requested by ${origin.requestedBy})`,
      },
    ],
  };
}

/** A step told to the requester; none when the controller began the switchover itself. */
function report(
  switchover: ActiveSwitchover,
  outcome: "running" | "done" | "failed",
  message: string,
): Action[] {
  return switchover.id === null ? [] : [{ kind: "reportSwitchover", id: switchover.id, outcome, message }];
}

/** One round of a switchover under way: wait, complete, or roll back. */
export function continueSwitchover(observation: Observation, memory: Memory): Decision {
  const switchover = memory.switchover;
  if (!switchover) return { actions: [], memory, events: [] };
  const from = observation.instances.find((i) => i.name === switchover.from);
  const to = observation.instances.find((i) => i.name === switchover.to);
  const finished: Memory = {
    ...memory,
    switchover: null,
    lastSwitchoverId: switchover.id ?? memory.lastSwitchoverId,
    lastNotice: null,
  };
  const failed: Memory = { ...finished, lastSwitchoverFailedAt: observation.at };
  const fail = (why: string, actions: Action[] = []): Decision => ({
    actions: [...actions, ...report(switchover, "failed", why)],
    memory: failed,
    events: [{ kind: "switchover-failed", instance: switchover.to, message: why }],
  });
  const targetUp = to !== undefined && to.reachable && to.exited === null;
  // Recorded already (a controller died after that step): only the steps after it are left, unless the
  // target died since; then the failover rules take over from the next round.
  if (observation.primary === switchover.to) {
    if (targetUp) return completeSwitchover(observation, finished, switchover, to);
    return fail(`${switchover.to} stopped answering once recorded as the primary; failover rules apply`);
  }
  // The old primary died mid-way: the failover rules take over from the next round, and choose the
  // most advanced replica themselves.
  if (!from?.reachable || from.exited !== null)
    return fail(`${switchover.from} stopped answering during the switchover; failover rules apply`);
  // Writable: promoted by a controller that died before recording it. It is the one writer (the old
  // primary is read-only): finish, never roll back onto two writable instances.
  if (targetUp && !to.readOnly) return completeSwitchover(observation, finished, switchover, to, from);
  if (!from.readOnly)
    // Made writable by someone else meanwhile: read-only again, or the target could never catch up.
    return {
      actions: [
        { kind: "fence", instance: from.name, how: "read-only", reason: `switchover to ${switchover.to}` },
      ],
      memory,
      events: [],
    };
  // The primary is probed after the replicas (see Controller.observe): its position, final since it is
  // read-only, is at least what the target had when it was read, so "contains" cannot be early.
  if (targetUp && gtidContains(to.gtidCurrent, from.gtidBinlog))
    return completeSwitchover(observation, finished, switchover, to, from);
  if (observation.at < switchover.deadlineAt) return { actions: [], memory, events: [] };
  // The rollback first makes sure the target cannot write (a controller that died may have promoted
  // it, and it may not answer now): read-only when it answers, else stopped and then let go (it
  // restarts read-only, as every instance does). The old primary gets semi-sync back before it takes
  // writes again. A step that fails stops the round, and the next one repeats the rollback.
  const silenceTarget: Action[] = targetUp
    ? [{ kind: "fence", instance: switchover.to, how: "read-only", reason: "switchover rolled back" }]
    : [{ kind: "fence", instance: switchover.to, how: "kill", reason: "switchover rolled back" }];
  return fail(
    `${switchover.to} did not apply everything of ${switchover.from} (GTID ${from.gtidBinlog || "empty"}) within ${(switchover.deadlineAt - switchover.startedAt) / 1000} s: rolled back, ${switchover.from} is writable again`,
    [
      ...silenceTarget,
      ...(memberCount(observation) > 1
        ? [{ kind: "setSemiSync", instance: from.name, enabled: true } satisfies Action]
        : []),
      { kind: "setWritable", instance: from.name },
      ...(targetUp ? [] : [{ kind: "release", instance: switchover.to } satisfies Action]),
    ],
  );
}

/**
 * The target has everything: promoted, recorded, routed (writes flow again), then the requester told;
 * the other replicas and the old primary follow it after, as after a failover (a replica whose
 * applier is stuck must not hold the writes; its re-point is retried by the next rounds).
 */
function completeSwitchover(
  observation: Observation,
  memory: Memory,
  switchover: ActiveSwitchover,
  to: InstanceView,
  from?: InstanceView,
): Decision {
  const seconds = ((observation.at - switchover.startedAt) / 1000).toFixed(2);
  const message = `switched over from ${switchover.from} to ${to.name} in ${seconds} s at GTID ${from?.gtidBinlog || to.gtidCurrent || "empty"}`;
  const followers: Action[] = observation.instances
    .filter((i) => i.name !== to.name && i.reachable && !i.provisioning)
    .map((i) => ({
      kind: "repoint",
      instance: i.name,
      to: to.name,
      // The old primary has no replica position of its own: it resumes from what it executed.
      usePos: i.name === switchover.from ? "current_pos" : "slave_pos",
    }));
  return {
    actions: [
      { kind: "promote", instance: to.name, semiSync: memberCount(observation) > 1 },
      { kind: "recordPrimary", instance: to.name, reason: `switchover from ${switchover.from}` },
      { kind: "route", instance: to.name },
      ...report(switchover, "done", message),
      ...followers,
    ],
    memory: { ...memory, lastRecoveryAt: observation.at },
    events: [{ kind: "switchover-done", instance: to.name, message }],
  };
}
