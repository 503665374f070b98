import type { Decision, InstanceView, Memory, Observation } from "./types.js";

// Small rules shared by the controller's decisions (decide.ts, decide-failover.ts, decide-switchover.ts).

/** A decision that only says something, once: the same notice is not repeated every round. */
/**
 * An event said once while the situation lasts: again only when `key` (the message by default)
 * changes. A message that carries a detail changing every round (a probe's error) gives a key
 * without it, or it would repeat every round.
 */
export function notice(
  memory: Memory,
  instance: string | null,
  kind: string,
  message: string,
  key: string = message,
): Decision {
  if (memory.lastNotice === key) return { actions: [], memory, events: [] };
  return { actions: [], memory: { ...memory, lastNotice: key }, events: [{ kind, instance, message }] };
}

export function isReplicaCandidate(instance: InstanceView, primary: string): boolean {
  return instance.name !== primary && instance.reachable && !instance.provisioning;
}

/** Answering (or refusing for lack of slots), and not reported gone by its owner since. */
export function isAlive(instance: InstanceView): boolean {
  return (instance.reachable || instance.busy) && instance.exited === null;
}

export function hasMajority(observation: Observation): boolean {
  const reachable = observation.instances.filter(isAlive).length;
  return reachable * 2 > observation.instances.length;
}
