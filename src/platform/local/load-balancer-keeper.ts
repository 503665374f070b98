import { readFile } from "node:fs/promises";
import { errorMessage } from "../../errors.js";
import { writeFileAtomic, type StatePaths } from "../../state/files.js";
import type { Topology } from "../../topology/topology.js";
import {
  heldAfter,
  loadBalancerShape,
  planLoadBalancer,
  renderHaproxyConfig,
  runtimeSwitchCommands,
  wordpressRuntimeCommands,
  type HeldHttpServer,
  type HttpServer,
  type ServerPlan,
} from "./haproxy.js";
import { haproxyCommand, parseInfoPid, parseShowStat, type ServerState } from "./haproxy-admin.js";
import { commandLine } from "./process-records.js";
import type { ProcessManager } from "./processes.js";

export interface LoadBalancerKeeperDeps {
  processes: ProcessManager;
  paths: StatePaths;
  /** The account HAProxy becomes once it has bound its ports (null: the supervisor's own). */
  runAs: string | null;
  log: (message: string) => void;
}

const PROCESS = "haproxy/haproxy";

/**
 * The supervisor's load balancer: keeps HAProxy's configuration and run-time routing equal to the
 * topology and the primary record, and knows what it routes now (its admin socket).
 */
export class LoadBalancerKeeper {
  private config = "";
  private plan: ServerPlan[] = [];
  private shape = "";
  /** The WordPress servers the running HAProxy holds, removed (disabled) ones included. */
  private wordpress: HeldHttpServer[] = [];
  private change: Promise<void> = Promise.resolve();
  private routing: ServerState[] = [];

  constructor(private readonly deps: LoadBalancerKeeperDeps) {}

  /**
   * What an adopted HAProxy runs: the configuration file it was last given (the supervisor or the
   * controller rewrites it with every change of primary). Known, it is switched at run time as
   * usual; unknown (the topology changed meanwhile), it is restarted with the new one.
   */
  async adopt(topology: Topology): Promise<void> {
    if (!this.deps.processes.isRunning(PROCESS)) return;
    const onDisk = await readFile(this.deps.paths.haproxyConfig, "utf8").catch(() => "");
    for (const pod of topology.mysql) {
      if (this.render(topology, pod.name) !== onDisk) continue;
      this.config = onDisk;
      this.shape = loadBalancerShape(this.render(topology, ""));
      this.wordpress = heldAfter([], wordpressServers(topology));
      this.plan = planLoadBalancer(topology, pod.name);
      return;
    }
  }

  /**
   * Keeps HAProxy's routing equal to the primary record: a change of primary or of WordPress servers
   * is applied through the admin socket (no reload; sessions to an old primary cut); any other change
   * of topology restarts it.
   */
  async ensure(topology: Topology, primary: string): Promise<void> {
    // One change at a time: the reconcile loop and a "route" request may both get here.
    const previous = this.change;
    let release: () => void = () => undefined;
    this.change = new Promise<void>((resolve) => (release = resolve));
    await previous;
    try {
      await this.apply(topology, primary);
    } finally {
      release();
    }
  }

  /** What the load balancer currently routes to, from its admin socket. */
  async observeRouting(): Promise<void> {
    if (!this.deps.processes.isRunning(PROCESS)) {
      this.routing = [];
      return;
    }
    try {
      this.routing = parseShowStat(await haproxyCommand(this.deps.paths.haproxySocket, "show stat"));
    } catch {
      this.routing = [];
    }
  }

  /** The endpoint is ready when the load balancer has marked the recorded primary UP. */
  routesPrimary(primary: string | null | undefined): boolean {
    return this.routing.some(
      (s) => s.backend === "mysql-primary" && s.server === primary && s.status.startsWith("UP"),
    );
  }

  /**
   * Whether the load balancer has marked each of these WordPress pods UP. A pod answers its own
   * probe before HAProxy's next check does (up to one check interval later): until then the site's
   * URL may answer 503, so the site is not called ready.
   */
  routesWordpress(pods: readonly string[]): boolean {
    return pods.every((name) =>
      this.routing.some((s) => s.backend === "wordpress" && s.server === name && s.status.startsWith("UP")),
    );
  }

  /**
   * A WordPress server taken out of rotation for a restart: HAProxy sends it no new request (a request
   * in flight finishes there), its health check goes on. `serve` puts it back.
   */
  async drainWordpress(pod: string): Promise<void> {
    await this.command(`set server wordpress/${pod} state drain`);
  }

  async serveWordpress(pod: string): Promise<void> {
    await this.command(`set server wordpress/${pod} state ready`);
  }

  /** HAProxy's view of a WordPress server now (not the last observed): UP or not, open sessions. */
  async wordpressServer(pod: string): Promise<{ up: boolean; sessions: number } | null> {
    const states = parseShowStat(await haproxyCommand(this.deps.paths.haproxySocket, "show stat"));
    const state = states.find((s) => s.backend === "wordpress" && s.server === pod);
    return state ? { up: state.status === "UP", sessions: state.sessions } : null;
  }

  private async command(command: string): Promise<void> {
    const answer = (await haproxyCommand(this.deps.paths.haproxySocket, command)).trim();
    if (answer !== "") throw new Error(`HAProxy refused '${command}': ${answer}`);
  }

  private render(topology: Topology, primary: string): string {
    return renderHaproxyConfig({
      topology,
      primary,
      adminSocket: this.deps.paths.haproxySocket,
      runAs: this.deps.runAs,
    });
  }

  private async apply(topology: Topology, primaryName: string): Promise<void> {
    const config = this.render(topology, primaryName);
    const plan = planLoadBalancer(topology, primaryName);
    const running = this.deps.processes.isRunning(PROCESS);
    if (config === this.config && running) return;
    // A change of primary and of WordPress servers is switched at run time; anything else needs the
    // new file loaded (a restart).
    const sameShape = loadBalancerShape(this.render(topology, "")) === this.shape;
    const wanted = wordpressServers(topology);
    const primaryCommands = running && sameShape ? runtimeSwitchCommands(this.plan, plan) : null;
    const wordpressCommands =
      primaryCommands === null ? null : wordpressRuntimeCommands(this.wordpress, wanted);
    const commands =
      primaryCommands === null || wordpressCommands === null
        ? null
        : [...primaryCommands, ...wordpressCommands];
    await writeFileAtomic(this.deps.paths.haproxyConfig, config, 0o600);
    if (commands !== null) {
      try {
        for (const command of commands) {
          const answer = (await haproxyCommand(this.deps.paths.haproxySocket, command)).trim();
          // Most commands answer nothing; `add server` says "New server registered."; others, errors.
          if (answer !== "" && !answer.startsWith("New server registered"))
            throw new Error(`'${command}': ${answer}`);
        }
        this.config = config;
        this.plan = plan;
        this.wordpress = heldAfter(this.wordpress, wanted);
        return;
      } catch (error) {
        this.deps.log(`runtime switch failed, restarting instead: ${errorMessage(error)}`);
      }
    }
    const reloaded = running && (await this.reload());
    if (running && !reloaded) await this.deps.processes.stop(PROCESS, 5000);
    this.config = config;
    this.shape = loadBalancerShape(this.render(topology, ""));
    this.plan = plan;
    this.wordpress = heldAfter([], wanted);
    if (reloaded) return;
    // Master-worker mode (-W): the process kept by PID is the master, which a SIGUSR2 makes load the
    // file again in a new worker; the worker runs as `runAs`, the master stays the supervisor's.
    this.deps.processes.ensure({
      name: PROCESS,
      pod: "haproxy",
      command: "haproxy",
      args: ["-W", "-db", "-f", this.deps.paths.haproxyConfig],
      logFile: this.deps.paths.podLog("haproxy"),
    });
  }

  /**
   * Loads the configuration file again without a restart: a stop and a start refused every connection
   * to the site in between (a changed database setting changes each server's maxconn: the page reads
   * of the database roll test failed with ECONNREFUSED). The master starts a new worker, which takes
   * the listening sockets over; the old one finishes its sessions. True once a new worker answers;
   * false when this HAProxy cannot reload (one started without -W by an older hapress) or did not.
   */
  private async reload(): Promise<boolean> {
    const pid = this.deps.processes.info(PROCESS)?.pid;
    if (!pid || !(await commandLine(pid)).split(" ").includes("-W")) return false;
    const workerBefore = await this.workerPid();
    if (workerBefore === null || !this.deps.processes.signal(PROCESS, "SIGUSR2")) return false;
    // Bounded: the new worker answers within milliseconds; 10 s covers a machine under load.
    for (let attempt = 0; attempt < 200; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const worker = await this.workerPid();
      if (worker !== null && worker !== workerBefore) {
        this.deps.log(`configuration reloaded: worker ${workerBefore} -> ${worker}`);
        return true;
      }
    }
    this.deps.log("the reload did not start a new worker within 10 s: restarting instead");
    return false;
  }

  private async workerPid(): Promise<number | null> {
    try {
      return parseInfoPid(await haproxyCommand(this.deps.paths.haproxySocket, "show info"));
    } catch {
      return null;
    }
  }
}

function wordpressServers(topology: Topology): HttpServer[] {
  return topology.wordpress.map((pod) => ({ name: pod.name, address: pod.address, port: pod.port }));
}
