import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { cpus } from "node:os";
import { HapressError } from "../errors.js";
import { signalProcess } from "../util/process.js";
import { applyPartition, partitionUnsupported } from "./partition.js";
import { runningRecordedProcesses } from "../platform/local/process-records.js";
import { switchoverLocalSite } from "../platform/local/local-switchover.js";
import { liveStatus, scaleTier, up, type SelfCommand } from "../platform/local/site-control.js";
import type { SiteStatus } from "../status/site-status.js";
import { specSchema } from "../spec/schema.js";
import { readJsonFile, statePaths } from "../state/files.js";
import { ADMIN_PORT } from "../topology/topology.js";
import type { Endpoint } from "../mysql/client.js";
import { databasePods } from "./site-waits.js";

/** Where a scenario can run: the local supervised processes, or a Kubernetes cluster. */
export type ChaosTarget = "local" | "kubernetes";

/** A controller event, as the report shows it. */
export interface RunEvent {
  time: string;
  kind: string;
  message: string;
}

/** The instances the writable monitor samples, and where it connects from (see WritableMonitor). */
export interface WritableProbes {
  instances: { name: string; endpoint: Endpoint }[];
  localAddress?: string;
}

/**
 * How chaos reaches a site: the faults it injects and the operations it runs, as a small port, so the
 * scenarios stay the same when another target (Kubernetes) implements it.
 */
export interface FaultPort {
  readonly target: ChaosTarget;
  /** How often a scenario waiting for an event looks again (a file read locally, an API call on Kubernetes). */
  readonly eventPollMs: number;
  status(): Promise<SiteStatus>;
  /** The controller's events since `since` (ms since the epoch), oldest first. */
  events(since: number): Promise<RunEvent[]>;
  /** How to reach each database instance's admin port, to count the writable ones. */
  writableProbes(status: SiteStatus): WritableProbes;
  /** A signal to one process of a pod: `mysql-1`'s mariadbd, a WordPress pod's processes. */
  signalPod(pod: string, signal: NodeJS.Signals): Promise<void>;
  signalController(signal: NodeJS.Signals): Promise<void>;
  signalSupervisor(signal: NodeJS.Signals): Promise<void>;
  /** Every process of the site killed at once (a power cut). */
  killSite(): Promise<void>;
  /** `hapress up` again (adopting or restarting). */
  up(): Promise<void>;
  scale(tier: "mysql" | "wordpress", replicas: number): Promise<void>;
  switchover(to: string | null): Promise<void>;
  /** Every core busy until `stop` is called (bounded by `maxMs`). */
  saturate(maxMs: number): { stop: () => Promise<void> };
  /** Why this port cannot cut a pod off the network here, or null. */
  partitionUnsupported(): string | null;
  /**
   * Cuts a pod off from every other pod and the controller by the network, while the load balancer
   * (and so every client) still reaches it. Returns how to heal it.
   */
  isolate(pod: string): Promise<{ heal: () => Promise<void> }>;
  /**
   * The primary's open replication streams ended from its side (its binlog dump threads killed
   * through the admin port), as a cut cable ends them; its replicas then connect again, through
   * whatever the network lets through. Returns how many it ended. Kubernetes only: a local
   * partition drops open connections already.
   */
  endReplicationStreams(pod: string): Promise<number>;
  /** A pod deleted through the API, gracefully or at once (`--force --grace-period=0`): Kubernetes only. */
  deletePod(pod: string, options: { force: boolean }): Promise<void>;
  /** The pod of the controller that leads now (the one whose death matters). */
  leadingController(): Promise<string>;
}

const signal = (pid: number, name: NodeJS.Signals): void => void signalProcess(pid, name);

export class LocalFaults implements FaultPort {
  readonly target = "local";
  readonly eventPollMs = 20;

  constructor(
    private readonly stateDir: string,
    private readonly self: SelfCommand,
    private readonly log: (line: string) => void,
    private readonly timeoutMs = 300_000,
  ) {}

  async status(): Promise<SiteStatus> {
    const current = await liveStatus(this.stateDir);
    if (!current) throw new HapressError(`the site in ${this.stateDir} is not running: run 'hapress up'`);
    return current;
  }

  async events(since: number): Promise<RunEvent[]> {
    const text = await readFile(statePaths(this.stateDir).events, "utf8").catch(() => "");
    return text
      .split("\n")
      .filter(Boolean)
      .flatMap((line) => {
        try {
          const event = JSON.parse(line) as RunEvent;
          return Date.parse(event.time) >= since
            ? [{ time: event.time, kind: event.kind, message: event.message }]
            : [];
        } catch {
          return [];
        }
      });
  }

  writableProbes(status: SiteStatus): WritableProbes {
    return {
      instances: databasePods(status).map((p) => ({
        name: p.name,
        endpoint: { host: p.address.split(":")[0] ?? "", port: ADMIN_PORT },
      })),
      localAddress: status.pods.find((p) => p.component === "loadbalancer")?.address || undefined,
    };
  }

  deletePod(pod: string): Promise<void> {
    return Promise.reject(new HapressError(`deleting ${pod}: a Kubernetes fault, not a local one`));
  }

  endReplicationStreams(pod: string): Promise<number> {
    return Promise.reject(
      new HapressError(
        `ending ${pod}'s replication streams: a Kubernetes fault (a local partition drops them)`,
      ),
    );
  }

  async leadingController(): Promise<string> {
    const controller = (await this.status()).pods.find((p) => p.component === "controller");
    if (!controller) throw new HapressError("the controller is not running");
    return controller.name;
  }

  async signalPod(pod: string, name: NodeJS.Signals): Promise<void> {
    const found = (await this.status()).pods.find((p) => p.name === pod);
    if (!found || found.pids.length === 0) throw new HapressError(`${pod} has no running process`);
    // A database pod's first process is mariadbd; a WordPress pod's are all its workers.
    const pids = found.component === "mysql" ? found.pids.slice(0, 1) : found.pids;
    for (const pid of pids) signal(pid, name);
  }

  async signalController(name: NodeJS.Signals): Promise<void> {
    const controller = (await this.status()).pods.find((p) => p.component === "controller");
    const pid = controller?.pids[0];
    if (!pid) throw new HapressError("the controller is not running");
    signal(pid, name);
  }

  async signalSupervisor(name: NodeJS.Signals): Promise<void> {
    const pid = (await this.status()).supervisorPid;
    if (!pid) throw new HapressError("the supervisor is not running");
    signal(pid, name);
  }

  async killSite(): Promise<void> {
    const pid = (await this.status()).supervisorPid;
    if (pid) signal(pid, "SIGKILL");
    for (const record of await runningRecordedProcesses(statePaths(this.stateDir).pids))
      signal(record.pid, "SIGKILL");
  }

  async up(): Promise<void> {
    const paths = statePaths(this.stateDir);
    const spec = await readJsonFile(paths.spec, specSchema);
    if (!spec) throw new HapressError(`no site in ${this.stateDir}`);
    await up(spec, paths.spec, this.stateDir, this.self, this.log, this.timeoutMs);
  }

  async scale(tier: "mysql" | "wordpress", replicas: number): Promise<void> {
    await scaleTier(this.stateDir, tier, replicas, this.log, this.timeoutMs);
  }

  async switchover(to: string | null): Promise<void> {
    await switchoverLocalSite(this.stateDir, { to, deadlineMs: 10_000, onStep: this.log });
  }

  saturate(maxMs: number): { stop: () => Promise<void> } {
    const children: ChildProcess[] = cpus().map(() =>
      spawn(process.execPath, ["-e", `const end = Date.now() + ${maxMs}; while (Date.now() < end) {}`], {
        stdio: "ignore",
      }),
    );
    const exited = children.map(
      (child) =>
        new Promise<void>((resolve) =>
          child.exitCode !== null ? resolve() : child.on("exit", () => resolve()),
        ),
    );
    return {
      stop: async () => {
        for (const child of children) if (child.pid) signal(child.pid, "SIGKILL");
        await Promise.all(exited);
      },
    };
  }

  partitionUnsupported(): string | null {
    return partitionUnsupported();
  }

  async isolate(pod: string): Promise<{ heal: () => Promise<void> }> {
    const status = await this.status();
    const address = status.pods.find((p) => p.name === pod)?.address;
    const loadBalancer = status.pods.find((p) => p.component === "loadbalancer")?.address;
    if (!address || !loadBalancer) throw new HapressError(`${pod} or the load balancer has no address`);
    // Every other pod, the controller and the supervisor connect from 127.0.0.1 (they bind no
    // address), the load balancer from its own (HAProxy's `source`): only it is let through.
    const heal = await applyPartition(address, [loadBalancer]);
    return { heal };
  }
}
