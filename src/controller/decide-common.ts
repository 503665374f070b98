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

/**
 * How many instances the tier has: those listed, or as many as the platform wants when it lists fewer.
 * On Kubernetes a pod deleted and not made again yet is not listed, and its StatefulSet (OrderedReady)
 * makes the pods again one at a time: counting only the listed ones once let a lone first pod be "a
 * majority of one" and be promoted without the replica that held acknowledged writes it lacked.
 */
export function memberCount(observation: Observation): number {
  return Math.max(observation.instances.length, observation.desiredInstances ?? 0);
}

/** The instances alive but `replaced` (the primary being failed over: its data does not choose). */
export function aliveOthers(observation: Observation, replaced: string): InstanceView[] {
  return observation.instances.filter((i) => i.name !== replaced && isAlive(i));
}

/**
 * A majority of the tier's members is alive without the primary being replaced. Under semi-sync one
 * replica's acknowledgement suffices, so an acknowledged write may be on any one replica: with three
 * instances the failover must hear both replicas, however the old primary answers (a pod being deleted
 * or made again still answers, read-only).
 */
export function hasMajority(observation: Observation, replaced: string): boolean {
  return aliveOthers(observation, replaced).length * 2 > memberCount(observation);
}
