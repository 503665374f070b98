import type { SavedMemory } from "../state/controller-memory.js";
import type { SwitchoverOutcome, SwitchoverRequest } from "../state/switchover-request.js";
import type { ControllerEvent } from "./types.js";

/** A database instance as the platform knows it (a pod of the StatefulSet). */
export interface DatabaseInstance {
  name: string;
  ordinal: number;
  address: string;
  /** The client port (replication connects here). */
  port: number;
  /** The admin port with slots of its own: every probe and action of the controller uses it. */
  adminPort: number;
  /** Being created, cloned or re-cloned: not to be touched by the controller. */
  provisioning: boolean;
  /**
   * Whether the `mysql-primary` endpoint points at it now (on Kubernetes: it carries the role label);
   * null when the platform routes only on `routePrimary` and does not report it.
   */
  routed: boolean | null;
  /**
   * Why its owner is stopping it on purpose (on Kubernetes: its pod is being deleted), or absent. A
   * stopping primary is failed over at once, like one whose exit was reported: waiting for it to stop
   * answering costs the whole shutdown, and a pod deleted and back within a few probes would return as
   * the primary after seconds of no writes.
   */
  stopping?: string;
  /**
   * Runs an older version of its definition than the one wanted (on Kubernetes: its pod's
   * controller-revision-hash is not the StatefulSet's update revision): the controller restarts it,
   * one instance at a time (decide-roll.ts). Absent: the platform rolls nothing through the controller.
   */
  outdated?: boolean;
}

/**
 * The few things the controller needs from the world: the port its loop drives. The local supervisor
 * implements it (platform/local), so does Kubernetes (platform/kubernetes: pods, labels, a ConfigMap),
 * and tests can with fakes.
 */
export interface Platform {
  listInstances(): Promise<DatabaseInstance[]>;
  /**
   * How many instances the tier should have (on Kubernetes: the StatefulSet's replicas), read with
   * the instances; null when unknown. A roll restarts nothing while fewer are listed: a pod deleted a
   * moment ago is not listed at all until the StatefulSet makes it again.
   */
  desiredInstances(): Promise<number | null>;
  /** Restarts an instance on purpose (on Kubernetes: deletes its pod, which comes back updated). */
  restartInstance(instance: string, reason: string): Promise<void>;
  readPrimary(): Promise<string>;
  /** Durably records the new primary (the source of truth for routing). */
  recordPrimary(instance: string, reason: string): Promise<void>;
  /** Routes the `mysql-primary` endpoint to the recorded primary and cuts sessions to any other. */
  routePrimary(instance: string): Promise<void>;
  /** Fences an instance that does not answer by stopping it, and holds it stopped until released. */
  killInstance(instance: string): Promise<void>;
  releaseInstance(instance: string): Promise<void>;
  /** Throws the instance's data away and clones it again from a healthy peer. */
  recloneInstance(instance: string, reason: string): Promise<void>;
  recordEvent(event: ControllerEvent): Promise<void>;
  loadMemory(): Promise<SavedMemory | null>;
  saveMemory(memory: SavedMemory): Promise<void>;
  /** The switchover request not finished yet, if any (written by `hapress switchover`). */
  readSwitchoverRequest(): Promise<SwitchoverRequest | null>;
  /** Adds a step to the request's progress, which its requester prints; `outcome` ends it or not. */
  reportSwitchover(id: string, message: string, outcome: SwitchoverOutcome): Promise<void>;
}
