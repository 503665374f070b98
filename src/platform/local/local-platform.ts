import type { ControllerEvent } from "../../controller/types.js";
import { readSavedMemory, writeSavedMemory, type SavedMemory } from "../../state/controller-memory.js";
import { appendEvent } from "../../state/events.js";
import { statePaths, type StatePaths } from "../../state/files.js";
import type { SwitchoverOutcome, SwitchoverRequest } from "../../state/switchover-request.js";
import { openRequest, SwitchoverFiles } from "../../state/switchover-store.js";
import { readPrimaryRecord, writePrimaryRecord } from "../../state/primary.js";
import type { DatabaseInstance, Platform } from "../../controller/platform.js";
import { callRpc, SupervisorUnreachable } from "./rpc.js";
import { SupervisorlessSite } from "./without-supervisor.js";

export type { RecordedEvent } from "../../state/events.js";

/**
 * The controller's view of the local target: the supervisor over its socket, and the state folder.
 * When no supervisor answers, the controller acts on the site itself (see without-supervisor.ts):
 * a crashed supervisor never stops a failover.
 */
export class LocalPlatform implements Platform {
  private readonly paths: StatePaths;
  private readonly alone: SupervisorlessSite;
  private readonly switchover: SwitchoverFiles;
  constructor(
    stateDir: string,
    private readonly log: (line: string) => void = () => undefined,
  ) {
    this.paths = statePaths(stateDir);
    this.alone = new SupervisorlessSite(stateDir);
    this.switchover = new SwitchoverFiles(this.paths.switchoverRequest, this.paths.switchoverProgress);
  }

  private call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    return callRpc<T>(this.paths.socket, { method, params }, 30_000);
  }

  /** Asks the supervisor; only when none answers at all, does it without one. */
  private async callOr<T>(
    method: string,
    params: Record<string, unknown>,
    alone: () => Promise<T>,
  ): Promise<T> {
    try {
      return await this.call<T>(method, params);
    } catch (error) {
      if (!(error instanceof SupervisorUnreachable)) throw error;
      if (method !== "instances")
        this.log(`no supervisor answers: ${method} ${JSON.stringify(params)} done directly`);
      return alone();
    }
  }

  listInstances(): Promise<DatabaseInstance[]> {
    return this.callOr("instances", {}, () => this.alone.instances());
  }

  async readPrimary(): Promise<string> {
    const record = await readPrimaryRecord(this.paths.primary);
    if (!record) throw new Error("no primary recorded yet");
    return record.primary;
  }

  async recordPrimary(instance: string, reason: string): Promise<void> {
    const record = await readPrimaryRecord(this.paths.primary);
    if (record?.primary === instance) return;
    await writePrimaryRecord(this.paths.primary, instance, reason);
  }

  async routePrimary(instance: string): Promise<void> {
    await this.callOr("route", { pod: instance }, () => this.alone.route(instance));
  }

  async killInstance(instance: string): Promise<void> {
    await this.callOr("fence", { pod: instance }, () => this.alone.fence(instance));
  }

  async releaseInstance(instance: string): Promise<void> {
    await this.callOr("release", { pod: instance }, () => this.alone.release(instance));
  }

  /** Every pod of the topology is listed (a missing one as provisioning): nothing to wait for here. */
  desiredInstances(): Promise<number | null> {
    return Promise.resolve(null);
  }

  /** Stopped gracefully by the supervisor, and started again with the configuration wanted now. */
  async restartInstance(instance: string): Promise<void> {
    await this.call("restart", { pod: instance });
  }

  async recloneInstance(instance: string, reason: string): Promise<void> {
    // Deleting data and cloning is the supervisor's; the controller retries until one answers.
    await this.call("reclone", { pod: instance, reason });
  }

  async recordEvent(event: ControllerEvent): Promise<void> {
    await appendEvent(this.paths.events, event);
  }

  loadMemory(): Promise<SavedMemory | null> {
    return readSavedMemory(this.paths.controller);
  }

  async saveMemory(memory: SavedMemory): Promise<void> {
    await writeSavedMemory(this.paths.controller, memory);
  }

  readSwitchoverRequest(): Promise<SwitchoverRequest | null> {
    return openRequest(this.switchover);
  }

  async reportSwitchover(id: string, message: string, outcome: SwitchoverOutcome): Promise<void> {
    await this.switchover.report(id, { at: new Date().toISOString(), message }, outcome);
  }
}
