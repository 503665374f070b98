import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";

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

interface Entry {
  spec: ProcessSpec;
  child: ChildProcess | null;
  restarts: number;
  consecutiveFailures: number;
  startedAt: number;
  wanted: boolean;
  restartTimer: NodeJS.Timeout | null;
  lastExit: string | null;
  exited: Promise<void>;
}

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** A process that ran at least this long resets its backoff, as kubelet does. */
  resetAfterMs: number;
}

/** Signals a whole process group; quiet when it is already gone. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}

/** Exponential restart delay, like Kubernetes' CrashLoopBackOff. */
export function restartDelayMs(consecutiveFailures: number, policy: BackoffPolicy): number {
  const exponent = Math.min(Math.max(consecutiveFailures - 1, 0), 20);
  return Math.min(policy.initialMs * 2 ** exponent, policy.maxMs);
}

/**
 * Starts processes and keeps them running: an unexpected exit is restarted with exponential
 * backoff and counted. Stopping is by PID, SIGTERM then SIGKILL after a grace period.
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

  /** Starts a process unless it is already running or waiting to restart. */
  ensure(spec: ProcessSpec): void {
    if (this.closed) return;
    const entry = this.entries.get(spec.name);
    if (entry && entry.wanted) return;
    const fresh: Entry = entry ?? {
      spec,
      child: null,
      restarts: 0,
      consecutiveFailures: 0,
      startedAt: 0,
      wanted: true,
      restartTimer: null,
      lastExit: null,
      exited: Promise.resolve(),
    };
    fresh.spec = spec;
    fresh.wanted = true;
    this.entries.set(spec.name, fresh);
    this.launch(fresh);
  }

  private launch(entry: Entry): void {
    entry.restartTimer = null;
    if (this.closed) return;
    mkdirSync(dirname(entry.spec.logFile), { recursive: true, mode: 0o700 });
    const log = openSync(entry.spec.logFile, "a", 0o600);
    let child: ChildProcess;
    try {
      // Its own process group, like a container: when the main process dies, whatever it forked
      // (php-fpm workers, nginx workers) is killed with it instead of holding its socket.
      child = spawn(entry.spec.command, entry.spec.args, {
        stdio: ["ignore", log, log],
        env: { ...process.env, ...entry.spec.env },
        detached: true,
      });
    } finally {
      closeSync(log);
    }
    entry.child = child;
    entry.startedAt = Date.now();
    entry.exited = new Promise((resolve) => {
      child.on("error", (error) => {
        entry.lastExit = `could not start: ${error.message}`;
      });
      child.on("exit", (code, signal) => {
        const pid = child.pid;
        if (pid && entry.spec.drainSignal) {
          signalGroup(pid, entry.spec.drainSignal);
          setTimeout(() => signalGroup(pid, "SIGKILL"), DRAIN_MS).unref();
        } else if (pid) signalGroup(pid, "SIGKILL");
        entry.child = null;
        entry.lastExit = signal ? `killed by ${signal}` : `exited with ${code}`;
        if (entry.wanted) {
          this.onUnexpectedExit(entry.spec.name, entry.lastExit);
          this.scheduleRestart(entry);
        }
        this.onChange(`${entry.spec.name} ${entry.lastExit}`);
        resolve();
      });
    });
    this.onChange(`${entry.spec.name} started (pid ${child.pid ?? "?"})`);
  }

  private scheduleRestart(entry: Entry): void {
    const ranFor = Date.now() - entry.startedAt;
    entry.consecutiveFailures = ranFor >= this.policy.resetAfterMs ? 1 : entry.consecutiveFailures + 1;
    entry.restarts += 1;
    const delay = restartDelayMs(entry.consecutiveFailures, this.policy);
    entry.restartTimer = setTimeout(() => {
      if (entry.wanted) this.launch(entry);
    }, delay);
  }

  /** Stops a process by PID: SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  async stop(name: string, graceMs = 30_000): Promise<void> {
    const entry = this.entries.get(name);
    if (!entry) return;
    entry.wanted = false;
    if (entry.restartTimer) clearTimeout(entry.restartTimer);
    entry.restartTimer = null;
    const child = entry.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.pid && signalGroup(child.pid, "SIGKILL"), graceMs);
      await entry.exited;
      clearTimeout(killer);
    }
    // Someone may have asked for it again while it was stopping: then the entry is theirs.
    if (!entry.wanted) this.entries.delete(name);
  }

  /** Kills a process at once (SIGKILL, even when it is stopped or hung) and keeps it down. */
  async kill(name: string): Promise<void> {
    const entry = this.entries.get(name);
    if (!entry) return;
    entry.wanted = false;
    if (entry.restartTimer) clearTimeout(entry.restartTimer);
    entry.restartTimer = null;
    if (entry.child && entry.child.exitCode === null && entry.child.signalCode === null) {
      if (entry.child.pid) signalGroup(entry.child.pid, "SIGKILL");
      await entry.exited;
    }
  }

  /** Stops every process of a pod. */
  async stopPod(pod: string, graceMs?: number): Promise<void> {
    const names = [...this.entries.values()].filter((e) => e.spec.pod === pod).map((e) => e.spec.name);
    await Promise.all(names.map((name) => this.stop(name, graceMs)));
  }

  /** Stops everything, all at once, and starts nothing afterwards. */
  async stopAll(graceMs?: number): Promise<void> {
    this.closed = true;
    await Promise.all([...this.entries.keys()].map((name) => this.stop(name, graceMs)));
  }

  info(name: string): ProcessInfo | null {
    const entry = this.entries.get(name);
    if (!entry) return null;
    return {
      name,
      pod: entry.spec.pod,
      pid: entry.child?.pid ?? null,
      restarts: entry.restarts,
      state: entry.child ? "running" : entry.wanted ? "backoff" : "stopped",
      lastExit: entry.lastExit,
    };
  }

  list(): ProcessInfo[] {
    return [...this.entries.keys()]
      .map((name) => this.info(name))
      .filter((i): i is ProcessInfo => i !== null);
  }

  isRunning(name: string): boolean {
    return this.entries.get(name)?.child != null;
  }
}
