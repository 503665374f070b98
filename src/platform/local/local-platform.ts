import { appendFile } from "node:fs/promises";
import type { ControllerEvent } from "../../controller/types.js";
import { readSavedMemory, writeSavedMemory, type SavedMemory } from "../../state/controller-memory.js";
import { statePaths, type StatePaths } from "../../state/files.js";
import { readPrimaryRecord, writePrimaryRecord } from "../../state/primary.js";
import type { DatabaseInstance, Platform } from "../../controller/platform.js";
import { callRpc } from "./rpc.js";

export interface RecordedEvent extends ControllerEvent {
  time: string;
}

/** The controller's view of the local target: the supervisor over its socket, and the state folder. */
export class LocalPlatform implements Platform {
  private readonly paths: StatePaths;
  constructor(stateDir: string) {
    this.paths = statePaths(stateDir);
  }

  private call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    return callRpc<T>(this.paths.socket, { method, params }, 30_000);
  }

  listInstances(): Promise<DatabaseInstance[]> {
    return this.call<DatabaseInstance[]>("instances");
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
    await this.call("route", { pod: instance });
  }

  async killInstance(instance: string): Promise<void> {
    await this.call("fence", { pod: instance });
  }

  async releaseInstance(instance: string): Promise<void> {
    await this.call("release", { pod: instance });
  }

  async recloneInstance(instance: string, reason: string): Promise<void> {
    await this.call("reclone", { pod: instance, reason });
  }

  async recordEvent(event: ControllerEvent): Promise<void> {
    const recorded: RecordedEvent = { time: new Date().toISOString(), ...event };
    await appendFile(this.paths.events, `${JSON.stringify(recorded)}\n`, { mode: 0o600 });
  }

  loadMemory(): Promise<SavedMemory | null> {
    return readSavedMemory(this.paths.controller);
  }

  async saveMemory(memory: SavedMemory): Promise<void> {
    await writeSavedMemory(this.paths.controller, memory);
  }
}
