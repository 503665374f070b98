// In-memory fakes of the controller's two ports (InstancePort, Platform), for the Controller's unit
// tests: a small model of a replicated database tier, and a platform that records what it is asked.
// Both write to one call log, so a test can assert the order of fence, save, promote and route.
import type { InstanceState } from "../mysql/client.js";
import type { InstancePort } from "./instance-port.js";
import type { DatabaseInstance, Platform } from "./platform.js";
import type { SavedMemory } from "../state/controller-memory.js";
import {
  unfinished,
  withStep,
  type SwitchoverOutcome,
  type SwitchoverProgress,
  type SwitchoverRequest,
} from "../state/switchover-request.js";
import type { ControllerEvent } from "./types.js";

/** One server of the model. Transactions are numbered in one GTID domain (0). */
export interface FakeServer {
  instance: DatabaseInstance;
  /** Answers the controller (false: crashed, killed, or cut off). */
  up: boolean;
  readOnly: boolean;
  semiSyncMaster: boolean;
  /** The server it replicates from, and whether its I/O thread runs. */
  source: string | null;
  io: boolean;
  /** The last transaction it executed (0: none), and the server id of whoever wrote it. */
  executed: number;
  writer: number;
  /** Applies nothing more from its source (a replica that cannot catch up). */
  stuck: boolean;
}

function instanceOf(ordinal: number): DatabaseInstance {
  return {
    name: `mysql-${ordinal}`,
    ordinal,
    address: `127.1.2.${10 + ordinal}`,
    port: 3306,
    adminPort: 3308,
    provisioning: false,
    routed: null,
  };
}

/** The database tier's model: `count` servers, mysql-0 the writable primary, the rest its replicas. */
export class FakeDatabase implements InstancePort {
  readonly servers = new Map<string, FakeServer>();
  /** Bumped by `tick()`: what a live primary's heartbeats move on each replica. */
  private heartbeats = 0;

  constructor(
    count: number,
    readonly calls: string[],
  ) {
    for (let ordinal = 0; ordinal < count; ordinal++) {
      const instance = instanceOf(ordinal);
      this.servers.set(instance.name, {
        instance,
        up: true,
        readOnly: ordinal !== 0,
        semiSyncMaster: ordinal === 0 && count > 1,
        source: ordinal === 0 ? null : "mysql-0",
        io: ordinal !== 0,
        executed: 0,
        writer: 100,
        stuck: false,
      });
    }
  }

  server(name: string): FakeServer {
    const server = this.servers.get(name);
    if (!server) throw new Error(`no fake server ${name}`);
    return server;
  }

  instances(): DatabaseInstance[] {
    return [...this.servers.values()].map((s) => s.instance);
  }

  /** Commits `n` transactions on every writable server that is up, then replicates them. */
  write(n: number): void {
    for (const server of this.servers.values())
      if (server.up && !server.readOnly) {
        server.executed += n;
        server.writer = 100 + server.instance.ordinal;
      }
    this.replicate();
  }

  /** Time passes: live sources send heartbeats. */
  tick(): void {
    this.heartbeats++;
    this.replicate();
  }

  /** The servers that accept writes now. */
  writable(): string[] {
    return [...this.servers.values()].filter((s) => s.up && !s.readOnly).map((s) => s.instance.name);
  }

  private replicate(): void {
    for (const server of this.servers.values()) {
      const source = server.source ? this.servers.get(server.source) : undefined;
      if (!server.up || !server.io || server.stuck || !source?.up) continue;
      if (source.executed > server.executed) {
        server.executed = source.executed;
        server.writer = source.writer;
      }
    }
  }

  private gtid(server: FakeServer): string {
    return server.executed > 0 ? `0-${server.writer}-${server.executed}` : "";
  }

  private reach(instance: DatabaseInstance, call: string): FakeServer {
    this.calls.push(`${call} ${instance.name}`);
    const server = this.server(instance.name);
    if (!server.up) throw new Error(`connect ECONNREFUSED ${instance.address}:${instance.adminPort}`);
    return server;
  }

  readState(instance: DatabaseInstance): Promise<InstanceState> {
    const server = this.server(instance.name);
    if (!server.up)
      return Promise.reject(new Error(`connect ECONNREFUSED ${instance.address}:${instance.adminPort}`));
    this.replicate();
    const source = server.source ? this.servers.get(server.source) : undefined;
    const position = this.gtid(server);
    return Promise.resolve({
      readOnly: server.readOnly,
      gtidCurrentPos: position,
      gtidBinlogPos: position,
      gtidSlavePos: position,
      replication: source
        ? {
            masterHost: source.instance.address,
            ioRunning: server.io && source.up ? "Yes" : server.io ? "Connecting" : "No",
            sqlRunning: true,
            secondsBehindMaster: 0,
            lastIoError: "",
            lastSqlError: "",
            lastIoErrno: 0,
            lastSqlErrno: 0,
            gtidIoPos: position,
            relayApplied: true,
            progress: `${position}/${source.up && server.io ? this.heartbeats : "gone"}`,
            heartbeatPeriodMs: 250,
          }
        : null,
      semiSyncMasterEnabled: server.semiSyncMaster,
      uptimeSeconds: null,
      semiSyncMasterActive: server.semiSyncMaster,
      semiSyncMasterClients: 0,
      semiSyncSlaveActive: server.source !== null,
      connections: { inUse: 1, limit: 300, refused: 0 },
    });
  }

  fenceReadOnly(instance: DatabaseInstance): Promise<void> {
    const server = this.reach(instance, "fenceReadOnly");
    server.readOnly = true;
    server.semiSyncMaster = false;
    return Promise.resolve();
  }

  stopReplicationIo(instance: DatabaseInstance): Promise<void> {
    this.reach(instance, "stopReplicationIo").io = false;
    return Promise.resolve();
  }

  promote(instance: DatabaseInstance, semiSync: boolean): Promise<void> {
    const server = this.reach(instance, "promote");
    server.source = null;
    server.io = false;
    server.semiSyncMaster = semiSync;
    server.readOnly = false;
    return Promise.resolve();
  }

  repoint(instance: DatabaseInstance, to: DatabaseInstance): Promise<void> {
    const server = this.reach(instance, `repoint(${to.name})`);
    server.readOnly = true;
    server.semiSyncMaster = false;
    server.source = to.name;
    server.io = true;
    this.replicate();
    return Promise.resolve();
  }

  startReplication(instance: DatabaseInstance): Promise<void> {
    this.reach(instance, "startReplication").io = true;
    return Promise.resolve();
  }

  setWritable(instance: DatabaseInstance): Promise<void> {
    this.reach(instance, "setWritable").readOnly = false;
    return Promise.resolve();
  }

  setSemiSync(instance: DatabaseInstance, enabled: boolean): Promise<void> {
    this.reach(instance, "setSemiSync").semiSyncMaster = enabled;
    return Promise.resolve();
  }

  binlogPosition(instance: DatabaseInstance): Promise<string> {
    return Promise.resolve(this.gtid(this.reach(instance, "binlogPosition")));
  }
}

/**
 * The platform: the primary record, routing, the fence by kill and its release, durable memory and
 * events, each call logged. A killed server is down until released; released, it comes back
 * read-only (as a restarted server does) and the controller re-points it.
 */
export class FakePlatform implements Platform {
  primary = "mysql-0";
  routed = "mysql-0";
  memory: SavedMemory | null = null;
  /** Tests: true for the write after which the controller "dies" (the write is kept, the round fails). */
  dieAfterSaving: ((memory: SavedMemory) => boolean) | null = null;
  /** What `hapress switchover` wrote, and the progress the controller reported on it. */
  switchoverRequest: SwitchoverRequest | null = null;
  switchoverProgress: SwitchoverProgress | null = null;
  /** What the platform says the tier should have (null: unknown). */
  desired: number | null = null;
  readonly events: ControllerEvent[] = [];
  readonly held = new Set<string>();

  constructor(
    private readonly database: FakeDatabase,
    readonly calls: string[],
  ) {}

  listInstances(): Promise<DatabaseInstance[]> {
    return Promise.resolve(this.database.instances());
  }

  readPrimary(): Promise<string> {
    return Promise.resolve(this.primary);
  }

  recordPrimary(instance: string): Promise<void> {
    this.calls.push(`recordPrimary ${instance}`);
    this.primary = instance;
    return Promise.resolve();
  }

  routePrimary(instance: string): Promise<void> {
    this.calls.push(`route ${instance}`);
    this.routed = instance;
    return Promise.resolve();
  }

  killInstance(instance: string): Promise<void> {
    this.calls.push(`kill ${instance}`);
    this.held.add(instance);
    this.database.server(instance).up = false;
    return Promise.resolve();
  }

  releaseInstance(instance: string): Promise<void> {
    this.calls.push(`release ${instance}`);
    this.held.delete(instance);
    const server = this.database.server(instance);
    server.up = true;
    server.readOnly = true;
    server.semiSyncMaster = false;
    return Promise.resolve();
  }

  desiredInstances(): Promise<number | null> {
    return Promise.resolve(this.desired);
  }

  /** A restart onto the new definition: back at once, read-only, replicating as before, updated. */
  restartInstance(instance: string): Promise<void> {
    this.calls.push(`restart ${instance}`);
    const server = this.database.server(instance);
    server.instance.outdated = false;
    server.readOnly = true;
    server.semiSyncMaster = false;
    return Promise.resolve();
  }

  recloneInstance(instance: string): Promise<void> {
    this.calls.push(`reclone ${instance}`);
    return Promise.resolve();
  }

  recordEvent(event: ControllerEvent): Promise<void> {
    this.events.push(event);
    return Promise.resolve();
  }

  loadMemory(): Promise<SavedMemory | null> {
    return Promise.resolve(this.memory);
  }

  saveMemory(memory: SavedMemory): Promise<void> {
    const what = memory.failover
      ? `failover from ${memory.failover.from}${memory.failover.fencePending ? " (fence pending)" : ""}`
      : memory.switchover
        ? `switchover to ${memory.switchover.to}`
        : "no failover";
    this.calls.push(`saveMemory ${what}`);
    this.memory = memory;
    // A controller killed right after this write: saved, and nothing after it done.
    if (this.dieAfterSaving?.(memory)) return Promise.reject(new Error(`died after saveMemory ${what}`));
    return Promise.resolve();
  }

  readSwitchoverRequest(): Promise<SwitchoverRequest | null> {
    return Promise.resolve(unfinished(this.switchoverRequest, this.switchoverProgress));
  }

  reportSwitchover(id: string, message: string, outcome: SwitchoverOutcome): Promise<void> {
    this.calls.push(`report ${outcome}`);
    this.switchoverProgress = withStep(this.switchoverProgress, id, { at: "", message }, outcome);
    return Promise.resolve();
  }
}
