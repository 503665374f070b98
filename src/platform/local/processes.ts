import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { signalGroup } from "../../util/process.js";
import { executableReplaced, procIdentity, sameProcessRunning } from "./proc.js";

/** What to run for one container of a pod. */
export interface ProcessSpec {
  /** Unique, e.g. "mysql-1/mariadbd". */
  name: string;
  pod: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  logFile: string;
  /**
   * When the main process dies, what its orphaned workers get first: a graceful signal lets them
   * finish the requests they are answering (nginx and php-fpm workers quit gracefully on SIGQUIT)
   * instead of cutting responses mid-stream; whatever is left is killed after DRAIN_MS.
   * Without it the group is killed at once.
   */
  drainSignal?: NodeJS.Signals;
  /**
   * The signal that asks for a graceful stop (default SIGTERM): nginx and php-fpm finish the requests
   * they are answering on SIGQUIT, while SIGTERM cuts them.
   */
  stopSignal?: NodeJS.Signals;
  /** Runs as this account (the supervisor runs as root); by default as the supervisor's own user. */
  user?: { uid: number; gid: number };
  /** A cap on this process's restart backoff (below the manager's policy), for one that must come back fast. */
  maxRestartDelayMs?: number;
}

/** How long orphaned workers may drain before they are killed. */
const DRAIN_MS = 5000;

export interface ProcessInfo {
  name: string;
  pod: string;
  pid: number | null;
  restarts: number;
  state: "running" | "backoff" | "stopped";
  lastExit: string | null;
}

/**
 * A running process as the manager sees it: one it spawned, or one adopted from a supervisor that
 * died (no longer its child: its exit is seen by watching /proc, see proc.ts).
 */
interface Running {
  pid: number;
  /** Start time in clock ticks after boot (null when /proc could not be read in time). */
  startTicks: number | null;
  adopted: boolean;
  /** Sends a signal to the process itself (not its group). */
  signal(signal: NodeJS.Signals): void;
}

interface Entry {
  spec: ProcessSpec;
  running: Running | null;
  restarts: number;
  consecutiveFailures: number;
  startedAt: number;
  wanted: boolean;
  restartTimer: NodeJS.Timeout | null;
  lastExit: string | null;
  exited: Promise<void>;
  /**
   * False for an adopted process until the supervisor states what it wants again (ensure): the record
   * it was adopted from holds no environment (secrets stay out of it), so it cannot be restarted as is.
   */
  specKnown: boolean;
}

/** What a supervisor records of each process it runs, so that its successor can adopt them. */
export interface ProcessRecord {
  name: string;
  pod: string;
  pid: number;
  startTicks: number;
  command: string;
  args: string[];
  logFile: string;
  drainSignal?: NodeJS.Signals;
}

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** A process that ran at least this long resets its backoff, as kubelet does. */
  resetAfterMs: number;
}

/** How often an adopted process is looked for in /proc: the bound on noticing its exit. */
const ADOPTED_POLL_MS = 100;

/** Exponential restart delay, like Kubernetes' CrashLoopBackOff. */
export function restartDelayMs(consecutiveFailures: number, policy: BackoffPolicy): number {
  const exponent = Math.min(Math.max(consecutiveFailures - 1, 0), 20);
  return Math.min(policy.initialMs * 2 ** exponent, policy.maxMs);
}

/**
 * Starts processes and keeps them running: an unexpected exit is restarted with exponential
 * backoff and counted. Stopping is by PID, SIGTERM then SIGKILL after a grace period. Processes
 * of a previous supervisor can be adopted (see adopt) and are then kept exactly like its own.
 */
export class ProcessManager {
  private readonly entries = new Map<string, Entry>();

  /**
   * `onUnexpectedExit` hears of every exit of a process that was meant to keep running (a crash, a
   * kill from outside), the moment it happens: the owner of a process knows first.
   */
  constructor(
    private readonly policy: BackoffPolicy,
    private readonly onChange: (event: string) => void,
    private readonly onUnexpectedExit: (name: string, how: string) => void = () => undefined,
  ) {}

  /** Set by stopAll: nothing starts any more, so a late request cannot leave an orphan behind. */
  private closed = false;

  /**
   * Starts a process unless it is already running or waiting to restart. The spec given is the one
   * used at its next restart (an adopted process keeps running as it was started).
   */
  ensure(spec: ProcessSpec): void {
    if (this.closed) return;
    const entry = this.entries.get(spec.name);
    if (entry && entry.wanted) {
      entry.spec = spec;
      if (!entry.specKnown) {
        entry.specKnown = true;
        // It exited while its spec was unknown: start it now.
        if (!entry.running && !entry.restartTimer) this.launch(entry);
      }
      return;
    }
    // Being stopped (stop() waits for its exit, then forgets it): never a second process beside it.
    if (entry?.running) return;
    const fresh: Entry = entry ?? this.newEntry(spec);
    fresh.spec = spec;
    fresh.wanted = true;
    fresh.specKnown = true;
    this.entries.set(spec.name, fresh);
    this.launch(fresh);
  }

  private newEntry(spec: ProcessSpec): Entry {
    return {
      spec,
      running: null,
      restarts: 0,
      consecutiveFailures: 0,
      startedAt: 0,
      wanted: true,
      restartTimer: null,
      lastExit: null,
      exited: Promise.resolve(),
      specKnown: true,
    };
  }

  /**
   * Takes over a process a previous supervisor started, without restarting it. The caller has
   * checked that the PID is still that process (same start time, see proc.ts). Its exit is noticed
   * within ADOPTED_POLL_MS and handled as a child's would be (its group drained, then restarted).
   */
  adopt(record: ProcessRecord): void {
    if (this.closed || this.entries.has(record.name)) return;
    const entry = this.newEntry({
      name: record.name,
      pod: record.pod,
      command: record.command,
      args: record.args,
      logFile: record.logFile,
      drainSignal: record.drainSignal,
    });
    entry.specKnown = false;
    this.entries.set(record.name, entry);
    const { pid, startTicks } = record;
    entry.running = {
      pid,
      startTicks,
      adopted: true,
      signal: (signal) => {
        // Only while it is still the same process: never a recycled PID.
        if (sameProcessRunning(pid, startTicks)) process.kill(pid, signal);
      },
    };
    entry.startedAt = Date.now();
    entry.exited = new Promise((resolve) => {
      const watch = setInterval(() => {
        if (sameProcessRunning(pid, startTicks)) return;
        clearInterval(watch);
        // Not our child: its exit status went to whoever reaps it now.
        this.handleExit(entry, pid, "exited (adopted: status unknown)");
        resolve();
      }, ADOPTED_POLL_MS);
    });
    this.onChange(`${record.name} adopted (pid ${pid})`);
  }

  private launch(entry: Entry): void {
    entry.restartTimer = null;
    if (this.closed) return;
    mkdirSync(dirname(entry.spec.logFile), { recursive: true, mode: 0o700 });
    const log = openSync(entry.spec.logFile, "a", 0o600);
    let child: ChildProcess;
    try {
      // Its own process group, like a container: when the main process dies, whatever it forked
      // (php-fpm workers, nginx workers) is killed with it instead of holding its socket. Its own
      // session too, so it outlives this supervisor and can be adopted by the next one.
      child = spawn(entry.spec.command, entry.spec.args, {
        stdio: ["ignore", log, log],
        env: { ...process.env, ...entry.spec.env },
        detached: true,
        ...(entry.spec.user ? { uid: entry.spec.user.uid, gid: entry.spec.user.gid } : {}),
      });
    } finally {
      closeSync(log);
    }
    const pid = child.pid;
    entry.running = pid
      ? {
          pid,
          startTicks: procIdentity(pid)?.startTicks ?? null,
          adopted: false,
          signal: (signal) => child.kill(signal),
        }
      : null;
    entry.startedAt = Date.now();
    entry.exited = new Promise((resolve) => {
      child.on("error", (error) => {
        entry.lastExit = `could not start: ${error.message}`;
      });
      child.on("exit", (code, signal) => {
        this.handleExit(entry, pid ?? null, signal ? `killed by ${signal}` : `exited with ${code}`);
        resolve();
      });
    });
    this.onChange(`${entry.spec.name} started (pid ${pid ?? "?"})`);
  }

  /** The leader of a group has exited: drain or kill its workers, then restart it if still wanted. */
  private handleExit(entry: Entry, pid: number | null, how: string): void {
    if (pid && entry.spec.drainSignal) {
      signalGroup(pid, entry.spec.drainSignal);
      setTimeout(() => signalGroup(pid, "SIGKILL"), DRAIN_MS).unref();
    } else if (pid) signalGroup(pid, "SIGKILL");
    entry.running = null;
    entry.lastExit = how;
    if (entry.wanted) {
      this.onUnexpectedExit(entry.spec.name, entry.lastExit);
      if (entry.specKnown) this.scheduleRestart(entry);
    }
    this.onChange(`${entry.spec.name} ${entry.lastExit}`);
  }

  private scheduleRestart(entry: Entry): void {
    const ranFor = Date.now() - entry.startedAt;
    entry.consecutiveFailures = ranFor >= this.policy.resetAfterMs ? 1 : entry.consecutiveFailures + 1;
    entry.restarts += 1;
    const delay = Math.min(
      restartDelayMs(entry.consecutiveFailures, this.policy),
      entry.spec.maxRestartDelayMs ?? Infinity,
    );
    entry.restartTimer = setTimeout(() => {
      if (entry.wanted) this.launch(entry);
    }, delay);
  }

  /** Stops a process by PID: its stop signal, then SIGKILL after `graceMs`; resolves once it has exited. */
  async stop(name: string, graceMs = 30_000): Promise<void> {
    const entry = this.entries.get(name);
    if (!entry) return;
    entry.wanted = false;
    if (entry.restartTimer) clearTimeout(entry.restartTimer);
    entry.restartTimer = null;
    const running = entry.running;
    if (running) {
      running.signal(entry.spec.stopSignal ?? "SIGTERM");
      const killer = setTimeout(() => signalGroup(running.pid, "SIGKILL"), graceMs);
      await entry.exited;
      clearTimeout(killer);
    }
    // Someone may have asked for it again while it was stopping: then the entry is theirs.
    if (!entry.wanted) this.entries.delete(name);
  }

  /** Sends a signal to a running process itself (a reload, say); false when it does not run. */
  signal(name: string, signal: NodeJS.Signals): boolean {
    const running = this.entries.get(name)?.running;
    if (!running) return false;
    running.signal(signal);
    return true;
  }

  /** Kills a process at once (SIGKILL, even when it is stopped or hung) and keeps it down. */
  async kill(name: string): Promise<void> {
    const entry = this.entries.get(name);
    if (!entry) return;
    entry.wanted = false;
    if (entry.restartTimer) clearTimeout(entry.restartTimer);
    entry.restartTimer = null;
    if (entry.running) {
      signalGroup(entry.running.pid, "SIGKILL");
      await entry.exited;
    }
  }

  /** Stops every process of a pod. */
  /**
   * Stops a pod's processes one after another, the last started first: a web server finishes its
   * requests while the PHP workers behind it still answer.
   */
  async stopPod(pod: string, graceMs?: number): Promise<void> {
    const names = [...this.entries.values()].filter((e) => e.spec.pod === pod).map((e) => e.spec.name);
    for (const name of names.reverse()) await this.stop(name, graceMs);
  }

  /** Stops everything, all at once, and starts nothing afterwards. */
  async stopAll(graceMs?: number): Promise<void> {
    this.closed = true;
    await Promise.all([...this.entries.keys()].map((name) => this.stop(name, graceMs)));
  }

  /**
   * Lets go of every process without stopping it, for a successor to adopt: timers are cleared and
   * nothing is started any more. The processes keep running; the records say who they are.
   */
  release(): void {
    this.closed = true;
    for (const entry of this.entries.values()) {
      if (entry.restartTimer) clearTimeout(entry.restartTimer);
      entry.restartTimer = null;
      entry.wanted = false;
    }
  }

  /** What a successor needs to adopt the running processes (no environment: it may hold secrets). */
  records(): ProcessRecord[] {
    return [...this.entries.values()].flatMap((entry) => {
      const running = entry.running;
      if (!running || running.startTicks === null) return [];
      return [
        {
          name: entry.spec.name,
          pod: entry.spec.pod,
          pid: running.pid,
          startTicks: running.startTicks,
          command: entry.spec.command,
          args: entry.spec.args,
          logFile: entry.spec.logFile,
          ...(entry.spec.drainSignal ? { drainSignal: entry.spec.drainSignal } : {}),
        },
      ];
    });
  }

  info(name: string): ProcessInfo | null {
    const entry = this.entries.get(name);
    if (!entry) return null;
    return {
      name,
      pod: entry.spec.pod,
      pid: entry.running?.pid ?? null,
      restarts: entry.restarts,
      state: entry.running ? "running" : entry.wanted ? "backoff" : "stopped",
      lastExit: entry.lastExit,
    };
  }

  list(): ProcessInfo[] {
    return [...this.entries.keys()]
      .map((name) => this.info(name))
      .filter((i): i is ProcessInfo => i !== null);
  }

  isRunning(name: string): boolean {
    return this.entries.get(name)?.running != null;
  }

  /** Whether a running process's program was replaced on disk since it started (a new version installed). */
  async runsReplacedProgram(name: string): Promise<boolean> {
    const pid = this.entries.get(name)?.running?.pid;
    return pid !== undefined && (await executableReplaced(pid));
  }
}
