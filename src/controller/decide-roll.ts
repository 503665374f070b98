import { beginSwitchover } from "./decide-switchover.js";
import { pickCandidate } from "./decide-failover.js";
import type { Decision, InstanceView, Memory, Observation } from "./types.js";

/** How long an updated replica may take to apply the last writes when the roll switches to it. */
const ROLL_SWITCHOVER_DEADLINE_MS = 10_000;

/** After a failed switchover, how long the roll waits before it tries the next (each cuts writes). */
export const ROLL_RETRY_AFTER_MS = 60_000;

/**
 * Why the tier is not ready for the next restart of a roll, or null. A roll touches only a whole tier:
 * every instance listed, answering and settled, every replica streaming from the primary with nothing
 * left to apply. So one instance is restarted at a time (the one restarted last is not back yet, or
 * still catching up), and the primary always keeps a replica to acknowledge its writes.
 */
export function rollBlocker(observation: Observation, primary: InstanceView): string | null {
  const desired = observation.desiredInstances;
  if (desired !== null && observation.instances.length < desired)
    return `${observation.instances.length} of ${desired} instances listed`;
  for (const instance of observation.instances) {
    if (!instance.reachable || instance.exited !== null || instance.provisioning)
      return `${instance.name} is not back yet`;
    if (instance.name === primary.name) continue;
    const replication = instance.replication;
    const caughtUp =
      replication?.masterHost === primary.address &&
      replication.ioRunning === "Yes" &&
      replication.sqlRunning &&
      replication.relayApplied &&
      replication.secondsBehind === 0;
    if (!caughtUp) return `${instance.name} is not streaming and caught up yet`;
  }
  return null;
}

/**
 * The rolling update of the database tier, decided one step per round from what is observed (the
 * platform marks instances on an older definition `outdated`), so a controller that dies mid-roll
 * leaves nothing to resume but its switchover, which is in its durable memory: replicas first, the
 * highest ordinal first, one at a time; then a switchover to an updated replica; then the old primary,
 * now a replica, like the others. Null: nothing to roll, or not now.
 */
export function rollOutdated(
  observation: Observation,
  primary: InstanceView,
  memory: Memory,
): Decision | null {
  const outdated = observation.instances.filter((i) => i.outdated === true);
  if (outdated.length === 0 || rollBlocker(observation, primary) !== null) return null;
  const updated = observation.instances.length - outdated.length;
  const progress = `${updated} of ${observation.instances.length} instances updated`;
  const replica = outdated.filter((i) => i.name !== primary.name).sort((a, b) => b.ordinal - a.ordinal)[0];
  const restart = (instance: InstanceView, role: string): Decision => ({
    actions: [
      { kind: "restart", instance: instance.name, reason: `rolling update: ${role} on an older revision` },
    ],
    memory,
    events: [
      {
        kind: "rolling-update",
        instance: instance.name,
        message: `restarting ${instance.name} (${role}) onto the new revision: ${progress}`,
      },
    ],
  });
  if (replica) return restart(replica, "a replica");
  const candidates = observation.instances.filter((i) => i.name !== primary.name && i.outdated !== true);
  const chosen = pickCandidate(candidates);
  // A lone instance has no replica to hand its writes to: it is restarted, and writes wait for it.
  if (!chosen) return restart(primary, "the only instance");
  const lastFailed = memory.lastSwitchoverFailedAt;
  if (lastFailed !== null && observation.at - lastFailed < ROLL_RETRY_AFTER_MS) return null;
  return beginSwitchover(observation, primary, memory, chosen, {
    id: null,
    requestedBy: `the rolling update (${progress})`,
    deadlineMs: ROLL_SWITCHOVER_DEADLINE_MS,
  });
}

/**
 * What a rolling update of these outdated instances will do, in words, before it starts (`hapress up`
 * says it); null when nothing is outdated.
 */
export function rollPlan(outdated: readonly string[], primary: string | null): string | null {
  if (outdated.length === 0) return null;
  const replicas = outdated.filter((name) => name !== primary).sort((a, b) => b.localeCompare(a));
  const steps = [
    ...(replicas.length > 0
      ? [`restarts ${replicas.join(", then ")} (replicas, one at a time, each caught up before the next)`]
      : []),
    ...(primary && outdated.includes(primary)
      ? [`switches over to an updated replica, then restarts ${primary}`]
      : []),
  ];
  return `the controller ${steps.join("; then it ")}`;
}
