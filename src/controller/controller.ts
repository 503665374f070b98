import type { ControllerMetricsPort } from "../metrics/controller-metrics.js";
import { errorMessage, HapressError } from "../errors.js";
import type { DatabaseInstance, Platform } from "./platform.js";
import { savedPart, type SavedMemory } from "../state/controller-memory.js";
import { decide, isReplicaRepair } from "./decide.js";
import type { InstancePort } from "./instance-port.js";
import {
  emptyMemory,
  type Action,
  type ControllerConfig,
  type ControllerEvent,
  type InstanceView,
  type Memory,
  type Observation,
} from "./types.js";

/**
 * MariaDB errors only a live server gives when it has no slot for a new session: 1040 too many
 * connections, 1203 the user's max_user_connections, 1226 a user resource limit.
 */
const BUSY_ERRNOS = new Set([1040, 1203, 1226]);

/** The pause between rounds while a failover is in progress. */
const FAILOVER_STEP_PAUSE_MS = 20;

/**
 * While a switchover waits for its target, almost none: writes stop at the fence, and the round that
 * sees the target caught up promotes it. The rounds are bounded by the switchover's deadline (and each
 * by its probes' timeouts); a 20 ms pause doubled the write outage of a local switchover (48 -> 92 ms),
 * and a few milliseconds keep the wait from being a busy loop on the instances and the platform.
 */
const SWITCHOVER_STEP_PAUSE_MS = 5;

/** True when a failed connect is a live server saying it is full. */
export function isBusyRefusal(error: unknown): boolean {
  const errno = (error as { errno?: unknown } | null)?.errno;
  return typeof errno === "number" && BUSY_ERRNOS.has(errno);
}

export interface ControllerDeps {
  platform: Platform;
  /** The instances' state and the actions on them (SQL in production, a fake in unit tests). */
  instances: InstancePort;
  config: ControllerConfig;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  log: (line: string) => void;
  /** Called after each action; tests use it to crash the controller at a chosen step. */
  afterAction?: (action: Action) => void;
  /**
   * The watchdog: called when one round has run longer than `stuckRoundMs` (every I/O in a round is
   * bounded, so this means a bug). The command's answer is to exit: the supervisor restarts the
   * controller, which resumes from its durable memory, rather than a loop that silently stops acting.
   */
  onStuckRound?: (elapsedMs: number) => void;
  stuckRoundMs?: number;
  /**
   * Asked before every action: false stops the round (on Kubernetes, the lease is not certainly held any
   * more, so another controller may be acting). Absent: always true.
   */
  mayAct?: () => boolean;
  /** Told each round's observation, each event and each probe's duration (Prometheus metrics). */
  metrics?: ControllerMetricsPort;
}

/** The database HA controller: observe every instance, decide (pure), act through SQL and the platform. */
/**
 * Probe timeouts. A live server answers its handshake in milliseconds, even on a saturated machine; a
 * hung one never does, but a failed probe alone fails nothing over (see decide.ts: the replicas must
 * hear nothing from it too, or several probes in a row must fail), so the timeout can be short.
 */
export const PROBE_TIMEOUTS = { connectTimeoutMs: 300, queryTimeoutMs: 1000 };

export class Controller {
  private memory: Memory = emptyMemory();
  private readonly sql: InstancePort;
  private instances: DatabaseInstance[] = [];
  lastObservation: Observation | null = null;
  /** Exits reported by the instances' owner since each last answered (see InstanceView.exited). */
  private readonly exits = new Map<string, { how: string; notedAt: number }>();
  private wakeUp: (() => void) | null = null;
  /** An exit or a switchover request came while a round ran: the next round starts at once. */
  private wokenDuringRound = false;

  constructor(private readonly deps: ControllerDeps) {
    this.sql = deps.instances;
  }

  /** Restores a failover in progress from durable memory (a restarted controller resumes it). */
  async restore(): Promise<void> {
    const saved = await this.deps.platform.loadMemory();
    if (saved) this.memory = { ...this.memory, ...saved };
    if (this.memory.failover) this.deps.log(`resuming the failover from ${this.memory.failover.from}`);
    const switchover = this.memory.switchover;
    if (switchover) this.deps.log(`resuming the switchover from ${switchover.from} to ${switchover.to}`);
  }

  async observe(): Promise<Observation> {
    const [instances, desiredInstances] = await Promise.all([
      this.deps.platform.listInstances(),
      this.deps.platform.desiredInstances(),
    ]);
    this.instances = instances;
    const primary = await this.deps.platform.readPrimary();
    const replicas = this.instances.filter((i) => i.name !== primary);
    // Replicas first, the primary last: the primary's position is then at least what any replica saw,
    // so a replica can never look ahead of it (which would read as an errant transaction).
    const views = await Promise.all(replicas.map((i) => this.probe(i)));
    const primaryInstance = this.instances.find((i) => i.name === primary);
    if (primaryInstance) views.push(await this.probeUnlessFenced(primaryInstance));
    views.sort((a, b) => a.ordinal - b.ordinal);
    // Read after the probes: a request is never older than what the round decides on.
    // A request that cannot be read (damaged, or the API failing) is logged and ignored: it must never
    // stop the rounds that keep the database available.
    const switchoverRequest = await this.deps.platform.readSwitchoverRequest().catch((error: unknown) => {
      this.deps.log(`switchover request not read: ${errorMessage(error)}`);
      return null;
    });
    return { at: this.deps.now(), primary, instances: views, switchoverRequest, desiredInstances };
  }

  /**
   * The primary a failover is moving away from was killed by its owner and is held down until the
   * failover releases it: probing it tells nothing, and costs a whole connect timeout per round when
   * the network drops its packets (a partitioned primary: three rounds, 2.3 s of write outage, found
   * by the chaos scenario primary-partition). It is seen as it is, down. Unless the failover released
   * it to hear it (`awaitingFrom`: its replicas restarted, and it alone surely holds every write).
   */
  private async probeUnlessFenced(instance: DatabaseInstance): Promise<InstanceView> {
    const failover = this.memory.failover;
    if (failover?.from !== instance.name || failover.awaitingFrom) return this.probe(instance);
    return this.unanswered(instance, "fenced for the failover in progress (not probed)", false);
  }

  /** An instance as seen when it gave no state: `busy` when it refused for lack of slots only. */
  private unanswered(instance: DatabaseInstance, error: string, busy: boolean): InstanceView {
    return {
      ...instance,
      reachable: false,
      busy,
      exited: this.exitOf(instance),
      error,
      readOnly: true,
      gtidCurrent: "",
      gtidBinlog: "",
      replication: null,
      semiSyncMasterEnabled: false,
      serverStartedAt: null,
    };
  }

  private async probe(instance: DatabaseInstance): Promise<InstanceView> {
    const startedAt = this.deps.now();
    try {
      return await this.probeOnce(instance, startedAt);
    } finally {
      this.deps.metrics?.probed(instance.name, (this.deps.now() - startedAt) / 1000);
    }
  }

  private async probeOnce(instance: DatabaseInstance, probeStartedAt: number): Promise<InstanceView> {
    try {
      const state = await this.sql.readState(instance);
      // A reported exit is decided on even when this probe got an answer: from a probe in flight when
      // the process died (what it read predates the crash), or from the server its owner has already
      // started again (kubelet restarts a killed container within a second or two, sooner than a round
      // that waits on a slow API server reaches its probe; a crashed primary is failed over whether or
      // not it is back, found by the real-node test). An answer to a probe that began after the report
      // forgets it for the rounds after this one.
      const exit = this.exits.get(instance.name);
      if (exit && exit.notedAt < probeStartedAt) this.exits.delete(instance.name);
      return {
        ...instance,
        reachable: true,
        busy: false,
        exited: exit?.how ?? instance.stopping ?? null,
        error: null,
        readOnly: state.readOnly,
        gtidCurrent: state.gtidCurrentPos,
        gtidBinlog: state.gtidBinlogPos,
        semiSyncMasterEnabled: state.semiSyncMasterEnabled,
        serverStartedAt: state.uptimeSeconds === null ? null : probeStartedAt - state.uptimeSeconds * 1000,
        replication: state.replication
          ? {
              masterHost: state.replication.masterHost,
              ioRunning: state.replication.ioRunning,
              sqlRunning: state.replication.sqlRunning,
              lastIoErrno: state.replication.lastIoErrno,
              lastSqlErrno: state.replication.lastSqlErrno,
              gtidIoPos: state.replication.gtidIoPos,
              relayApplied: state.replication.relayApplied,
              secondsBehind: state.replication.secondsBehindMaster,
              progress: state.replication.progress,
              heartbeatPeriodMs: state.replication.heartbeatPeriodMs,
            }
          : null,
      };
    } catch (error) {
      return this.unanswered(instance, errorMessage(error), isBusyRefusal(error));
    }
  }

  /** What its owner said of its end: an exit reported since it last answered, or a deliberate stop. */
  private exitOf(instance: DatabaseInstance): string | null {
    return this.exits.get(instance.name)?.how ?? instance.stopping ?? null;
  }

  private instance(name: string): DatabaseInstance {
    const found = this.instances.find((i) => i.name === name);
    if (!found) throw new HapressError(`no instance named ${name}`);
    return found;
  }

  private async event(event: ControllerEvent): Promise<void> {
    this.deps.log(`${event.kind}: ${event.message}`);
    this.deps.metrics?.recorded(event, this.deps.now(), this.memory.failover?.startedAt ?? null);
    await this.deps.platform.recordEvent(event).catch(() => undefined);
  }

  /** Executes one action; each is idempotent. */
  async act(action: Action): Promise<void> {
    const { platform } = this.deps;
    if (this.deps.mayAct && !this.deps.mayAct())
      throw new HapressError(`${action.kind} not done: this controller may no longer act (leadership lost)`);
    switch (action.kind) {
      case "fence":
        if (action.how === "kill") await platform.killInstance(action.instance);
        else await this.sql.fenceReadOnly(this.instance(action.instance));
        break;
      case "release":
        await platform.releaseInstance(action.instance);
        break;
      case "stopReplicationIo":
        // Best effort: an instance that does not answer cannot acknowledge the old primary either.
        await Promise.all(
          action.instances.map((name) =>
            this.sql.stopReplicationIo(this.instance(name)).catch(() => undefined),
          ),
        );
        break;
      case "promote":
        await this.sql.promote(this.instance(action.instance), action.semiSync);
        break;
      case "repoint":
        await this.sql.repoint(this.instance(action.instance), this.instance(action.to), action.usePos);
        break;
      case "startReplication":
        await this.sql.startReplication(this.instance(action.instance));
        break;
      case "recordPrimary":
        await platform.recordPrimary(action.instance, action.reason);
        break;
      case "route":
        await platform.routePrimary(action.instance);
        break;
      case "setWritable":
        await this.sql.setWritable(this.instance(action.instance));
        break;
      case "setSemiSync":
        await this.sql.setSemiSync(this.instance(action.instance), action.enabled);
        break;
      case "reclone":
        await platform.recloneInstance(action.instance, action.reason);
        break;
      case "restart":
        await platform.restartInstance(action.instance, action.reason);
        break;
      case "reportSwitchover":
        await platform.reportSwitchover(action.id, action.message, action.outcome);
        break;
    }
    this.deps.afterAction?.(action);
  }

  /**
   * A failover is written down before it is told or done, marked "fence pending": from then on it is
   * carried through, by this controller (a failed step is retried by the next round) or by a successor
   * that resumes it at once (continueFailover fences again, then finishes) instead of starting over
   * after probing a fenced primary several times (seconds more of write outage, found by the chaos
   * scenario controller-kill-mid-failover). Saved after the fence, as it once was, a leader killed in
   * between left a fence nobody remembered: on Kubernetes its successor found the old primary's pod
   * recreated with its data and made it primary again (found in CI). Nothing is written by a
   * controller that may no longer act.
   */
  private async writeAheadFailover(decided: Memory): Promise<void> {
    if (!decided.failover || this.memory.failover) return;
    if (this.deps.mayAct && !this.deps.mayAct()) return;
    const failover = { ...decided.failover, fencePending: true };
    await this.deps.platform.saveMemory(savedPart({ ...this.memory, failover }));
    this.memory = { ...this.memory, failover };
  }

  /**
   * One round: observe, decide, act. The decided memory is kept only if every action succeeded, but
   * for repairs of single replicas, which the next round repeats while they are still needed.
   */
  async runOnce(): Promise<void> {
    const observation = await this.observe();
    this.lastObservation = observation;
    const decision = decide(observation, this.memory, this.deps.config);
    this.deps.metrics?.observed(observation, decision.memory, this.deps.mayAct?.() ?? true);
    await this.writeAheadFailover(decision.memory);
    for (const event of decision.events) await this.event(event);
    let failed = false;
    for (const action of decision.actions) {
      try {
        await this.act(action);
        // Once the old primary is fenced, a switchover is written down before anything else: a
        // controller killed now is resumed by its successor, which finishes or rolls it back.
        if (action.kind === "fence" && decision.memory.switchover && !this.memory.switchover)
          await this.deps.platform.saveMemory(
            savedPart({ ...this.memory, switchover: decision.memory.switchover }),
          );
      } catch (error) {
        await this.event({
          kind: "action-failed",
          instance: "instance" in action ? action.instance : null,
          message: `${action.kind} failed: ${errorMessage(error)}`,
        });
        // Telling the requester is best effort: a failed write of its progress must not undo the
        // round's decision (a failover, the end of a switchover); its client gives up after a while.
        if (isReplicaRepair(action) || action.kind === "reportSwitchover") continue;
        failed = true;
        break;
      }
    }
    const previous = savedPart(this.memory);
    this.memory = failed ? { ...this.memory, failures: decision.memory.failures } : decision.memory;
    const now = savedPart(this.memory);
    if (Object.keys(now).some((key) => now[key as keyof SavedMemory] !== previous[key as keyof SavedMemory]))
      await this.deps.platform.saveMemory(now);
  }

  /** Runs until `shouldStop` says so; every round is bounded by the probes' timeouts. */
  async run(intervalMs: number, shouldStop: () => boolean): Promise<void> {
    await this.restore();
    while (!shouldStop()) {
      const bound = this.deps.stuckRoundMs ?? 60_000;
      const watchdog = setTimeout(() => this.deps.onStuckRound?.(bound), bound);
      try {
        await this.runOnce();
      } catch (error) {
        this.deps.log(`round failed: ${errorMessage(error)}`);
      } finally {
        clearTimeout(watchdog);
      }
      // The pause between rounds ends early when an exit or a request is reported (or is skipped when
      // one came during the round), and is short while a failover or a switchover is in progress: each
      // of its steps waits on the previous one, and clients wait on all of them.
      if (this.wokenDuringRound) this.wokenDuringRound = false;
      else
        await Promise.race([
          this.deps.sleep(
            this.memory.switchover
              ? SWITCHOVER_STEP_PAUSE_MS
              : this.memory.failover
                ? FAILOVER_STEP_PAUSE_MS
                : intervalMs,
          ),
          new Promise<void>((resolve) => (this.wakeUp = resolve)),
        ]);
      this.wakeUp = null;
    }
  }

  /** The owner of an instance saw its server process exit: act on it now, not after the next probes. */
  noteExit(instance: string, how: string): void {
    this.exits.set(instance, { how, notedAt: this.deps.now() });
    this.wake();
  }

  /**
   * Ends the pause between rounds now, or skips the next one when a round is under way: a request
   * (a planned switchover) was written and should be read at once, not after up to a round interval.
   */
  wake(): void {
    if (this.wakeUp) this.wakeUp();
    else this.wokenDuringRound = true;
  }
}
