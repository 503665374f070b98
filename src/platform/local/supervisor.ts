import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, unlink, writeFile } from "node:fs/promises";
import type { Server } from "node:net";
import { join } from "node:path";
import { agentAnswers, cloneFromDonor, CLONE_INFO_FILE, type CloneInfo } from "../../agent/clone.js";
import { initializePrimaryDataDir } from "../../agent/initdb.js";
import { errorMessage } from "../../errors.js";
import { connectSql, readInstanceState, type InstanceState } from "../../mysql/client.js";
import { ensureServiceRoot, giveTo, siteLayout, type ServiceAccounts, type SiteLayout } from "./layout.js";
import { PRIVATE_FILES_ENV, renderServerConfig, sqlString } from "../../mysql/config.js";
import type { DatabaseInstance } from "../../controller/platform.js";
import { specSchema, type Spec } from "../../spec/schema.js";
import { readSavedMemory } from "../../state/controller-memory.js";
import { appendEvent } from "../../state/events.js";
import { FenceBook } from "./fence-book.js";
import { readJsonFile, statePaths, writeFileAtomic, type StatePaths } from "../../state/files.js";
import { endpointLimits, metricsEndpoints } from "./status-endpoints.js";
import { readPrimaryRecord, writePrimaryRecord, type PrimaryRecord } from "../../state/primary.js";
import { loadOrCreateSecrets, type Secrets } from "../../state/secrets.js";
import {
  ADMIN_PORT,
  AGENT_PORT,
  mysqlOrdinal,
  planTopology,
  surplusPods,
  wordpressOrdinal,
  type PodPlan,
  type Topology,
} from "../../topology/topology.js";
import { sleep } from "../../util/process.js";
import { LoadBalancerKeeper } from "./load-balancer-keeper.js";
import {
  killLeftoverGroups,
  killRecordedOrphans,
  ProcessRecordWriter,
  runningRecordedProcesses,
} from "./process-records.js";
import { ProcessManager, type ProcessInfo } from "./processes.js";
import { callRpc, serveRpc, type RpcRequest } from "./rpc.js";
import {
  controllerActivity,
  type PodStatus,
  type ProgressEvent,
  type SiteStatus,
} from "../../status/site-status.js";
import { readSiteRecord } from "./site-record.js";
import { hitRatio } from "../../wordpress/page-cache.js";
import { databaseInstances } from "./instances.js";
import { chooseDonor } from "./clone-donor.js";
import { BinlogArchiveKeeper } from "./binlog-archive-keeper.js";
import type { ArchiveGap } from "../../backup/archive-gaps.js";
import { BackupScheduler } from "./backup-scheduler.js";
import { backupRoot, backupsOverview, binlogArchiveDir } from "../../backup/list.js";
import { SiteMetrics, type SiteSnapshot } from "../../metrics/site-metrics.js";
import { RetryingMetricsEndpoint } from "../../metrics/retrying-endpoint.js";
import { DEFAULT_ARCHIVE } from "../../backup/archive-folder.js";
import { siteUrl, WordpressTier } from "./wordpress-tier.js";
import { exporterProcessName, reconcileExporter } from "./mysqld-exporter.js";

export interface SupervisorOptions {
  stateDir: string;
  /** How to run this program again (node, its flags, the CLI script), for the agent sidecars. */
  selfCommand: { command: string; args: string[] };
  /** Who the services run as (null: the user who runs the supervisor). */
  accounts: ServiceAccounts | null;
  reconcileIntervalMs?: number;
}

interface Observation {
  reachable: boolean;
  state: InstanceState | null;
  error: string | null;
}

const MAX_PROGRESS_EVENTS = 500;

/** The longest the recorded primary's mariadbd waits to be restarted after a crash (see its spec). */
export const PRIMARY_RESTART_CAP_MS = 500;

/** Status of a pod that is one process (the load balancer, the controller). */
function singleProcessPod(
  name: string,
  component: PodStatus["component"],
  address: string,
  info: ProcessInfo | null,
  healthy: boolean,
): PodStatus {
  return {
    name,
    component,
    role: null,
    address,
    port: null,
    pids: info?.pid ? [info.pid] : [],
    ready: info?.state === "running" && healthy,
    restarts: info?.restarts ?? 0,
    phase: info?.state ?? "stopped",
    gtid: null,
    lagSeconds: null,
    semiSync: null,
    readOnly: null,
    message: info?.lastExit ?? null,
  };
}

function stringParam(request: RpcRequest, name: string): string {
  const value = request.params?.[name];
  return typeof value === "string" ? value : "";
}

/**
 * The local "kubelet": owns every process of one site, reconciles them to the spec, restarts
 * crashed ones with backoff, and answers the CLI over a Unix socket. Runs detached from the CLI.
 */
export class Supervisor {
  private readonly paths: StatePaths;
  private readonly processes: ProcessManager;
  private spec!: Spec;
  private topology!: Topology;
  private secrets!: Secrets;
  private record: PrimaryRecord | null = null;
  private observations = new Map<string, Observation>();
  private phases = new Map<string, { phase: string; message: string | null }>();
  private progress: ProgressEvent[] = [];
  private seq = 0;
  private stopping = false;
  private wake: (() => void) | null = null;
  private readonly loadBalancer: LoadBalancerKeeper;
  /** Pods fenced by the controller: killed and not restarted until released (fenced.json, read each round). */
  private readonly fences: FenceBook;
  private readonly records: ProcessRecordWriter;
  /** Told to systemd once (Type=notify), when the site is first ready. */
  private readinessNotified = false;
  /** Pods whose data is being thrown away and cloned again. */
  private recloning = new Set<string>();
  private server: Server | null = null;
  private readonly siteMetrics = new SiteMetrics(Date.now());
  /** The site's /metrics, bound once the topology (its address) is known. */
  private metricsEndpoint: RetryingMetricsEndpoint | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  /** Aborted at shutdown: kills the helper programs of a clone or initialisation in progress. */
  private readonly aborter = new AbortController();

  private readonly wordpress: WordpressTier;
  private readonly layout: SiteLayout;
  private readonly archive: BinlogArchiveKeeper;
  /** This site's archive folder in the backup root (see SiteRecord.archive). */
  private archiveFolder = DEFAULT_ARCHIVE;
  private readonly scheduler: BackupScheduler;

  constructor(private readonly options: SupervisorOptions) {
    this.paths = statePaths(options.stateDir);
    this.layout = siteLayout(options.stateDir, options.accounts);
    this.records = new ProcessRecordWriter(this.paths.pids);
    this.fences = new FenceBook(this.paths.fenced);
    this.processes = new ProcessManager(
      { initialMs: 1000, maxMs: 60_000, resetAfterMs: 60_000 },
      (event) => {
        this.log(null, event);
        void this.records.write(this.processes.records());
      },
      (name, how) => this.reportPrimaryExit(name, how),
    );
    this.loadBalancer = new LoadBalancerKeeper({
      processes: this.processes,
      paths: this.paths,
      runAs: this.layout.accounts?.haproxy.name ?? null,
      log: (message) => this.log("haproxy", message),
    });
    this.wordpress = new WordpressTier({
      processes: this.processes,
      paths: this.paths,
      layout: this.layout,
      log: (pod, message, level) => this.log(pod, message, level),
    });
    this.archive = new BinlogArchiveKeeper({
      processes: this.processes,
      self: options.selfCommand,
      logFile: this.paths.podLog("archiver"),
      log: (message) => this.log(null, message),
      onGap: (gap) => this.recordArchiveGap(gap),
      now: () => Date.now(),
    });
    this.scheduler = new BackupScheduler({
      self: options.selfCommand,
      stateDir: options.stateDir,
      log: (message, level) => this.log(null, message, level),
      now: () => new Date(),
    });
  }

  /**
   * Loads state, adopts the processes of a supervisor that died (they keep running, see adopt),
   * opens the socket and starts reconciling.
   */
  async start(): Promise<void> {
    await this.loadDesiredState();
    await this.adoptRunningProcesses();
    await writeFile(this.paths.supervisorPid, `${process.pid}\n`, { mode: 0o600 });
    this.server = await serveRpc(this.paths.socket, (request) => this.handle(request));
    this.log(null, `supervisor ${process.pid} serving ${this.paths.socket}`);
    this.loopDone = this.loop();
  }

  /**
   * A previous supervisor's processes that are still the recorded ones (same PID and start time) are
   * taken over as they run: no restart, no outage. What cannot be proven ours is stopped as before.
   */
  private async adoptRunningProcesses(): Promise<void> {
    const leftovers = await killLeftoverGroups(this.paths.pids);
    if (leftovers.length > 0)
      this.log(
        null,
        `killed ${leftovers.length} leftover worker(s) of processes that died with no supervisor: ${leftovers.join(", ")}`,
      );
    const adoptable = await runningRecordedProcesses(this.paths.pids);
    if (adoptable.length === 0) {
      await killRecordedOrphans(this.paths.pids, [this.options.stateDir, this.layout.serviceRoot]);
      return;
    }
    for (const record of adoptable) this.processes.adopt(record);
    await this.loadBalancer.adopt(this.topology);
    this.log(null, `adopted ${adoptable.length} running process(es) of the previous supervisor`);
  }

  private async loadDesiredState(): Promise<void> {
    const spec = await readJsonFile(this.paths.spec, specSchema);
    const site = await readSiteRecord(this.paths.site);
    if (!spec || !site) throw new Error(`no site in ${this.options.stateDir}: run 'hapress up'`);
    this.spec = spec;
    this.topology = planTopology(spec, site.subnet);
    this.archiveFolder = site.archive ?? DEFAULT_ARCHIVE;
    this.secrets = await loadOrCreateSecrets(this.paths.secrets);
    this.record = await readPrimaryRecord(this.paths.primary);
  }

  private log(pod: string | null, message: string, level: "info" | "error" = "info"): void {
    const event: ProgressEvent = { seq: ++this.seq, time: new Date().toISOString(), level, pod, message };
    this.progress.push(event);
    if (this.progress.length > MAX_PROGRESS_EVENTS) this.progress.shift();
    console.log(`${event.time} ${level} ${pod ? `[${pod}] ` : ""}${message}`);
  }

  private setPhase(pod: string, phase: string, message: string | null = null): void {
    this.phases.set(pod, { phase, message });
  }

  private async handle(request: RpcRequest): Promise<unknown> {
    switch (request.method) {
      case "status":
        return this.status();
      case "progress": {
        const since = Number(request.params?.since ?? 0);
        return { events: this.progress.filter((e) => e.seq > since), status: await this.status() };
      }
      case "apply":
        await this.loadDesiredState();
        this.log(null, `applying spec: ${this.spec.database.replicas} database instance(s)`);
        this.nudge();
        return { seq: this.seq };
      case "instances":
        return this.instances();
      case "route":
        this.record = await readPrimaryRecord(this.paths.primary);
        await this.loadBalancer.ensure(this.topology, this.record?.primary ?? "mysql-0");
        this.log(
          null,
          `mysql-primary routes to ${this.record?.primary ?? "?"} (epoch ${this.record?.epoch ?? "?"})`,
        );
        return { routed: this.record?.primary };
      case "fence": {
        const pod = this.podParam(request);
        await this.fences.change(pod, true);
        await this.processes.kill(`${pod}/mariadbd`);
        this.log(pod, "fenced: mariadbd killed and held down until the controller releases it");
        return { fenced: pod };
      }
      case "release": {
        const pod = this.podParam(request);
        if (this.fences.has(pod)) this.log(pod, "released: it will start again, read-only");
        await this.fences.change(pod, false);
        this.nudge();
        return { released: pod };
      }
      case "reclone": {
        const pod = this.podParam(request);
        await this.reclone(pod, stringParam(request, "reason") || "requested");
        return { recloning: pod };
      }
      case "shutdown":
        setImmediate(() => void this.shutdown());
        return { stopping: true, pid: process.pid };
      case "handover":
        setImmediate(() => void this.handOver());
        return { leaving: true, pid: process.pid };
      default:
        throw new Error(`unknown method '${request.method}'`);
    }
  }

  private podParam(request: RpcRequest): string {
    const pod = stringParam(request, "pod");
    if (!this.topology.mysql.some((p) => p.name === pod)) throw new Error(`no database pod named '${pod}'`);
    return pod;
  }

  /** The database instances, for the controller; provisioning ones are not its to touch. */
  private instances(): DatabaseInstance[] {
    return databaseInstances(this.topology, (pod) => this.dataDir(pod), this.recloning);
  }

  /** Stops an instance, deletes its data and lets reconciliation clone it again from a healthy peer. */
  private async reclone(pod: string, reason: string): Promise<void> {
    if (pod === this.record?.primary) throw new Error(`${pod} is the primary: it cannot be re-cloned`);
    this.recloning.add(pod);
    this.log(pod, `re-cloning: ${reason}`);
    await this.processes.stopPod(pod, 10_000);
    await rm(this.dataDir(pod), { recursive: true, force: true });
    await this.fences.change(pod, false);
    this.nudge();
  }

  /**
   * The primary's mariadbd died: tell the controller at once. The process is gone, which no probe
   * can say as fast or as surely; the controller still fences, checks the majority and picks the
   * most advanced replica. Best effort: without an answer the controller's probes still find out.
   */
  private reportPrimaryExit(name: string, how: string): void {
    const primary = this.record?.primary;
    if (!primary || name !== `${primary}/mariadbd` || this.stopping || this.fences.has(primary)) return;
    void callRpc(
      this.paths.controllerSocket,
      { method: "instance-exited", params: { pod: primary, how } },
      1000,
    )
      .then(() => this.log(primary, `told the controller: mariadbd ${how}`))
      .catch((error: unknown) =>
        this.log(primary, `could not tell the controller that mariadbd ${how}: ${errorMessage(error)}`),
      );
  }

  private nudge(): void {
    this.wake?.();
  }

  private async loop(): Promise<void> {
    const steadyInterval = this.options.reconcileIntervalMs ?? 1000;
    while (!this.stopping) {
      try {
        await this.reconcileOnce();
      } catch (error) {
        this.log(null, `reconcile failed: ${errorMessage(error)}`, "error");
      }
      if (this.stopping) break;
      this.serveSiteMetrics();
      await this.notifyReadyOnce();
      // Converging (starting, cloning, restarting): look again soon; steady: once a second.
      const converged =
        this.topology.mysql.every((pod) => this.isReady(pod.name)) &&
        this.loadBalancer.routesPrimary(this.record?.primary);
      const interval = converged ? steadyInterval : Math.min(200, steadyInterval);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, interval);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  /**
   * Under systemd (Type=notify, NOTIFY_SOCKET set), says READY=1 once the site first is: `systemctl
   * start` returns when the site answers. Node cannot write to a datagram socket, so systemd's own
   * helper sends it on this PID's behalf (the unit allows it: NotifyAccess=all).
   */
  private async notifyReadyOnce(): Promise<void> {
    if (this.readinessNotified || !process.env.NOTIFY_SOCKET) return;
    if (!(await this.status()).ready) return;
    this.readinessNotified = true;
    const helper = spawn("systemd-notify", ["--ready", `--pid=${process.pid}`], { stdio: "ignore" });
    helper.on("error", (error) => this.log(null, `could not tell systemd: ${error.message}`, "error"));
    helper.on("exit", (code) => this.log(null, `told systemd the site is ready (systemd-notify: ${code})`));
  }

  /** Stops every process by PID, waits for them, removes the socket and exits. */
  shutdown(): Promise<void> {
    return this.leave(async () => {
      this.log(null, "stopping every process of the site");
      await this.processes.stopAll(30_000);
      await this.records.write([]);
    }, "stopped");
  }

  /**
   * Leaves without stopping anything, for a successor (a service manager's) to adopt: every process
   * keeps running and pids.json says who they are.
   */
  handOver(): Promise<void> {
    return this.leave(async () => {
      await this.records.write(this.processes.records());
      this.processes.release();
    }, "handed over: the site's processes keep running for the next supervisor to adopt");
  }

  /** The way out, once: stop reconciling, deal with the processes (`letGo`), close the socket, exit. */
  private async leave(letGo: () => Promise<void>, farewell: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.nudge();
    // A clone in progress is abandoned: its temporary folder is removed at the next start.
    this.aborter.abort();
    this.scheduler.stop();
    await letGo();
    this.server?.close();
    this.metricsEndpoint?.close();
    await rm(this.paths.socket, { force: true });
    await unlink(this.paths.supervisorPid).catch(() => undefined);
    await Promise.race([this.loopDone, sleep(2000)]);
    this.log(null, farewell);
    process.exit(0);
  }

  // ---- reconciliation -------------------------------------------------------------------

  private async reconcileOnce(): Promise<void> {
    // The controller changes the record and the fences; the routing and the roles always follow the files.
    this.record = await readPrimaryRecord(this.paths.primary);
    await this.fences.refresh();
    await this.observeAll();
    const primaryName = this.record?.primary ?? "mysql-0";
    await this.removeSurplusPods(primaryName);
    await this.loadBalancer.ensure(this.topology, primaryName);
    for (const pod of this.topology.mysql) {
      if (this.stopping) return;
      const proceed = await this.ensureMysqlPod(pod);
      if (!proceed) break;
    }
    if (this.record) this.ensureController();
    await this.archive.reconcile({
      enabled: this.spec.backup.archiveBinlogs,
      archiveDir: binlogArchiveDir(this.options.stateDir, this.spec, this.archiveFolder),
      record: this.record,
      primaryAddress: this.topology.mysql.find((p) => p.name === this.record?.primary)?.address ?? null,
      primaryReady: this.record !== null && this.isReady(this.record.primary),
      secrets: this.secrets,
    });
    await this.loadBalancer.observeRouting();
    const databaseReady =
      this.record !== null &&
      this.isReady(this.record.primary) &&
      this.loadBalancer.routesPrimary(this.record?.primary);
    await this.wordpress.reconcile(this.topology, this.spec, this.secrets, databaseReady);
    this.scheduler.reconcile(this.spec, databaseReady);
  }

  /** The database HA controller runs as its own supervised process. */
  private ensureController(): void {
    this.processes.ensure({
      name: "controller/controller",
      pod: "controller",
      command: this.options.selfCommand.command,
      args: [...this.options.selfCommand.args, "--dir", this.options.stateDir, "controller"],
      logFile: this.paths.podLog("controller"),
      // The only controller (Kubernetes runs two): while it waits out a backoff nobody can fail over,
      // and it is cheap to start, so a crash loop is retried every 2 s at most, not every minute
      // (the chaos matrix's repeated controller kills reached 60 s).
      maxRestartDelayMs: 2_000,
    });
  }

  private async observeAll(): Promise<void> {
    const pods = this.topology.mysql;
    await Promise.all(
      pods.map(async (pod) => {
        if (!this.processes.isRunning(`${pod.name}/mariadbd`)) {
          this.observations.set(pod.name, { reachable: false, state: null, error: "not running" });
          return;
        }
        this.observations.set(pod.name, await this.observe(pod));
      }),
    );
  }

  private async observe(pod: PodPlan): Promise<Observation> {
    try {
      const session = await connectSql(
        { host: pod.address, port: ADMIN_PORT },
        { user: this.secrets.adminUser, password: this.secrets.adminPassword },
        { connectTimeoutMs: 1000, queryTimeoutMs: 2000 },
      );
      try {
        return { reachable: true, state: await readInstanceState(session), error: null };
      } finally {
        await session.close();
      }
    } catch (error) {
      return { reachable: false, state: null, error: errorMessage(error) };
    }
  }

  private isReady(pod: string): boolean {
    const observation = this.observations.get(pod);
    if (!observation?.reachable || !observation.state) return false;
    if (pod === this.record?.primary) return !observation.state.readOnly;
    const replication = observation.state.replication;
    return replication !== null && replication.ioRunning === "Yes" && replication.sqlRunning;
  }

  private dataDir(pod: string): string {
    return this.layout.mysqlDataDir(pod);
  }

  /** Returns false when later pods must wait (OrderedReady, as a StatefulSet creates pods). */
  private async ensureMysqlPod(pod: PodPlan): Promise<boolean> {
    const dataDir = this.dataDir(pod.name);
    if (this.fences.has(pod.name)) {
      this.setPhase(pod.name, "fenced", "held down by the controller");
      return true;
    }
    if (this.recloning.has(pod.name) && existsSync(dataDir)) {
      // Being stopped for a re-clone: starting it now would race the deletion of its data.
      this.setPhase(pod.name, "cloning", "stopping before the re-clone");
      return true;
    }
    if (!existsSync(dataDir)) {
      // OrderedReady when a pod is first created; a re-clone only needs a live donor.
      const recloning = this.recloning.has(pod.name);
      const lowerReady = this.topology.mysql
        .filter((p) => p.ordinal < pod.ordinal)
        .every((p) => this.isReady(p.name));
      if (!lowerReady && !recloning) return false;
      const created = await this.createDataDir(pod, dataDir);
      // A re-clone that must wait for a donor does not hold up the other pods.
      if (!created) return recloning;
      this.recloning.delete(pod.name);
    }
    await this.startMysqlProcesses(pod);
    const observation = this.observations.get(pod.name);
    if (observation?.reachable && existsSync(join(dataDir, CLONE_INFO_FILE))) {
      await this.startReplication(pod, dataDir);
    }
    const ready = this.isReady(pod.name);
    const info = this.processes.info(`${pod.name}/mariadbd`);
    if (ready) this.setPhase(pod.name, "running");
    else if (info?.state === "backoff") this.setPhase(pod.name, "crashloop", info.lastExit);
    else this.setPhase(pod.name, "starting", observation?.error ?? null);
    return true;
  }

  private async createDataDir(pod: PodPlan, dataDir: string): Promise<boolean> {
    await mkdir(this.paths.podDir(pod.name), { recursive: true, mode: 0o700 });
    await this.ensureMysqlServiceDir(pod.name);
    if (!this.record) {
      if (pod.ordinal !== 0) return false;
      this.setPhase(pod.name, "initializing");
      this.log(pod.name, "initialising a new primary (users, app database)");
      try {
        await initializePrimaryDataDir(dataDir, this.secrets, {
          runAs: this.layout.accounts?.mysql.name ?? null,
          signal: this.aborter.signal,
        });
      } catch (error) {
        this.failPod(pod.name, error);
        return false;
      }
      this.record = await writePrimaryRecord(this.paths.primary, pod.name, "bootstrap");
      this.log(pod.name, "initialised; recorded as the primary");
      return true;
    }
    const donor = this.pickDonor(pod.name);
    if (!donor || !(await agentAnswers(donor.address, AGENT_PORT))) {
      this.setPhase(pod.name, "waiting", "no ready donor to clone from");
      return false;
    }
    this.setPhase(pod.name, "cloning", `from ${donor.name}`);
    this.log(pod.name, `cloning from ${donor.name} (backup stream on ${donor.address}:${AGENT_PORT})`);
    let lastReport = Date.now();
    try {
      const info: CloneInfo = await cloneFromDonor({
        donor: { name: donor.name, address: donor.address, port: AGENT_PORT },
        token: this.secrets.cloneToken,
        dataDir,
        signal: this.aborter.signal,
        onProgress: (bytes) => {
          if (Date.now() - lastReport < 1000) return;
          lastReport = Date.now();
          const message = `received ${(bytes / 1e6).toFixed(1)} MB from ${donor.name}`;
          this.setPhase(pod.name, "cloning", message);
          this.log(pod.name, message);
        },
      });
      const rate = info.seconds > 0 ? info.bytes / 1e6 / info.seconds : 0;
      this.log(
        pod.name,
        `cloned ${(info.bytes / 1e6).toFixed(1)} MB in ${info.seconds.toFixed(1)} s (${rate.toFixed(1)} MB/s) at GTID '${info.gtid}'`,
      );
      return true;
    } catch (error) {
      this.failPod(pod.name, error);
      return false;
    }
  }

  private failPod(pod: string, error: unknown): void {
    const message = `${errorMessage(error)} (log: ${this.paths.podLog(pod)})`;
    this.setPhase(pod, "failed", message);
    this.log(pod, message, "error");
  }

  /** Who gives a new or re-cloned pod its data: see chooseDonor. */
  private pickDonor(forPod: string): PodPlan | null {
    const candidates = this.topology.mysql.map((p) => ({
      name: p.name,
      ready: this.isReady(p.name),
      hasData: existsSync(this.dataDir(p.name)),
      state: this.observations.get(p.name)?.state ?? null,
    }));
    const name = chooseDonor(candidates, this.record?.primary ?? null, forPod);
    return this.topology.mysql.find((p) => p.name === name) ?? null;
  }

  /**
   * The pod's service folder (data, socket), the database account's alone. Given back at every start:
   * a clone or an initialisation run by the supervisor leaves files of its own user behind.
   */
  private async ensureMysqlServiceDir(pod: string): Promise<void> {
    await ensureServiceRoot(this.layout);
    const dir = this.layout.podServiceDir(pod);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const owner = this.layout.accounts?.mysql;
    if (owner) await giveTo(dir, owner, { recursive: true, groupReadable: false });
  }

  private async startMysqlProcesses(pod: PodPlan): Promise<void> {
    const podDir = this.paths.podDir(pod.name);
    const runDir = this.layout.mysqlRunDir(pod.name);
    const socket = join(runDir, "mysqld.sock");
    if (!this.processes.isRunning(`${pod.name}/mariadbd`)) {
      await mkdir(runDir, { recursive: true, mode: 0o700 });
      await this.ensureMysqlServiceDir(pod.name);
    }
    const configPath = join(podDir, "my.cnf");
    const config = renderServerConfig({
      ordinal: pod.ordinal,
      address: pod.address,
      port: pod.port,
      dataDir: this.dataDir(pod.name),
      socket,
      pidFile: join(runDir, "mysqld.pid"),
      errorLog: this.paths.podLog(pod.name),
      bufferPoolMB: this.spec.database.bufferPoolMB,
      semiSyncTimeoutMs: this.spec.database.semiSyncTimeoutMs,
      maxConnections: this.spec.database.maxConnections,
      runAs: this.layout.accounts?.mysql.name ?? null,
    });
    if (!this.processes.isRunning(`${pod.name}/mariadbd`)) await writeFileAtomic(configPath, config, 0o600);
    this.processes.ensure({
      name: `${pod.name}/mariadbd`,
      pod: pod.name,
      command: "mariadbd",
      args: [`--defaults-file=${configPath}`],
      env: { ...PRIVATE_FILES_ENV },
      logFile: this.paths.podLog(pod.name),
      // The recorded primary's restart is the only recovery when no majority allows a failover:
      // the crash-loop backoff (doubling up to a minute) would add its delay to every repeated kill.
      ...(this.record?.primary === pod.name ? { maxRestartDelayMs: PRIMARY_RESTART_CAP_MS } : {}),
    });
    this.processes.ensure({
      name: `${pod.name}/agent`,
      pod: pod.name,
      command: this.options.selfCommand.command,
      args: [
        ...this.options.selfCommand.args,
        "agent",
        "serve-backups",
        "--address",
        pod.address,
        "--port",
        String(AGENT_PORT),
        "--socket",
        socket,
        "--user",
        this.secrets.backupUser,
        "--password-env",
        "HAPRESS_BACKUP_PASSWORD",
        // It faces the network: it gives up root before it listens, for the database's account.
        ...(this.layout.accounts ? ["--run-as", this.layout.accounts.mysql.name] : []),
      ],
      env: {
        HAPRESS_CLONE_TOKEN: this.secrets.cloneToken,
        HAPRESS_BACKUP_PASSWORD: this.secrets.backupPassword,
      },
      logFile: this.paths.podLog(pod.name),
    });
    await reconcileExporter(
      { processes: this.processes, account: this.layout.accounts?.mysql ?? null },
      {
        enabled: this.spec.metrics.mysqldExporter,
        pod,
        secrets: this.secrets,
        socket,
        runDir,
        logFile: this.paths.podLog(pod.name),
      },
    );
  }

  /** Points a freshly cloned replica at the primary from the backup's GTID, then drops the marker. */
  private async startReplication(pod: PodPlan, dataDir: string): Promise<void> {
    const primary = this.topology.mysql.find((p) => p.name === this.record?.primary);
    if (!primary || primary.name === pod.name) return;
    const markerPath = join(dataDir, CLONE_INFO_FILE);
    const info = JSON.parse(await readFile(markerPath, "utf8")) as CloneInfo;
    const session = await connectSql(
      { host: pod.address, port: ADMIN_PORT },
      { user: this.secrets.adminUser, password: this.secrets.adminPassword },
      { connectTimeoutMs: 1000, queryTimeoutMs: 10_000 },
    );
    try {
      await session.query("STOP SLAVE");
      await session.query("RESET SLAVE ALL");
      await session.query(`SET GLOBAL gtid_slave_pos = ${sqlString(info.gtid)}`);
      await session.query(
        `CHANGE MASTER TO MASTER_HOST=${sqlString(primary.address)}, MASTER_PORT=${primary.port}, ` +
          `MASTER_USER=${sqlString(this.secrets.replicationUser)}, MASTER_PASSWORD=${sqlString(this.secrets.replicationPassword)}, ` +
          "MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=0.25",
      );
      await session.query("START SLAVE");
    } finally {
      await session.close();
    }
    await unlink(markerPath);
    this.log(pod.name, `replicating from ${primary.name} starting at GTID '${info.gtid}'`);
  }

  /** Scale-down: highest ordinals first; never the primary. Their data goes, as a new replica is cloned afresh. */
  private async removeSurplusPods(primaryName: string): Promise<void> {
    let entries: string[] = [];
    try {
      entries = await readdir(this.paths.pods);
    } catch {
      return;
    }
    const surplus = surplusPods(entries, mysqlOrdinal, this.topology.mysql.length).map((name) => ({ name }));
    for (const pod of surplus) {
      if (pod.name === primaryName) {
        this.setPhase(pod.name, "kept", "it is the primary: switch over before scaling below it");
        continue;
      }
      this.log(pod.name, "scaling down: stopping and removing its data");
      await this.processes.stopPod(pod.name);
      await rm(this.paths.podDir(pod.name), { recursive: true, force: true });
      await rm(this.layout.podServiceDir(pod.name), { recursive: true, force: true });
      this.phases.delete(pod.name);
      this.observations.delete(pod.name);
      this.log(pod.name, "removed");
    }
  }

  // ---- status ---------------------------------------------------------------------------

  private async status(): Promise<SiteStatus> {
    const record = this.record;
    const pods: PodStatus[] = [
      ...this.topology.mysql.map((pod) => this.mysqlPodStatus(pod)),
      ...this.wordpress.podStatuses(this.topology),
    ];
    const lb = this.topology.loadBalancer;
    const lbInfo = this.processes.info("haproxy/haproxy");
    pods.push(
      singleProcessPod(
        lb.name,
        "loadbalancer",
        lb.address,
        lbInfo,
        this.loadBalancer.routesPrimary(this.record?.primary) &&
          this.loadBalancer.routesWordpress(
            pods.filter((pod) => pod.component === "wordpress" && pod.ready).map((pod) => pod.name),
          ),
      ),
      singleProcessPod("controller", "controller", "", this.processes.info("controller/controller"), true),
    );
    const primaryState = record ? this.observations.get(record.primary)?.state : null;
    const single = this.topology.mysql.length === 1;
    const semiSyncOn = primaryState?.semiSyncMasterActive === true;
    const extra = await this.surplusPodNames();
    // Ready: every pod ready, nothing left to remove, and (with replicas) writes semi-synchronous.
    const wordpressDone = this.topology.wordpress.length === 0 || this.wordpress.isInstalled();
    const ready =
      !this.stopping &&
      wordpressDone &&
      record !== null &&
      extra.length === 0 &&
      pods.every((pod) => pod.ready) &&
      (single || semiSyncOn);
    return {
      site: this.spec.name,
      stateDir: this.options.stateDir,
      running: !this.stopping,
      ready,
      supervisorPid: process.pid,
      primary: record?.primary ?? null,
      primaryEpoch: record?.epoch ?? null,
      endpoints: {
        mysqlPrimary: `${this.topology.services.mysqlPrimary.address}:${this.topology.services.mysqlPrimary.port}`,
        mysqlReplicas: `${this.topology.services.mysqlReplicas.address}:${this.topology.services.mysqlReplicas.port}`,
        ...(this.topology.wordpress.length > 0 ? { http: siteUrl(this.topology) } : {}),
        metrics: metricsEndpoints(this.topology, this.spec.metrics.mysqldExporter),
      },
      database: {
        replicas: this.topology.mysql.length,
        maxConnections: this.spec.database.maxConnections,
        endpointLimits: endpointLimits(this.topology),
        semiSync: semiSyncOn ? "on" : "off",
        semiSyncDetail: single
          ? "single instance: nobody to acknowledge, writes are asynchronous"
          : semiSyncOn
            ? `primary waits for a replica's acknowledgement (AFTER_SYNC, ${primaryState?.semiSyncMasterClients ?? 0} replica(s) connected)`
            : "primary is not semi-synchronous right now: no replica acknowledging",
      },
      controller: await this.controllerStatus(),
      backup: {
        path: backupRoot(this.options.stateDir, this.spec),
        archiving: this.archive.following(),
        gaps: this.archive.gaps(),
      },
      ...(this.topology.wordpress.length > 0 ? { pageCache: await this.pageCacheStatus() } : {}),
      pods,
    };
  }

  /** A hole in the binary-log archive: said in the log and as an event, never skipped silently. */
  private recordArchiveGap(gap: ArchiveGap): void {
    const message = `the binary log archive has a gap: nothing between ${gap.after} and ${gap.next} (segment ${gap.segment}); no point in that range can be restored, take a backup to restore from after it`;
    this.log(null, message, "error");
    void appendEvent(this.paths.events, { kind: "archive-gap", instance: null, message }).catch(
      (error: unknown) =>
        this.log(null, `cannot record the archive gap event: ${errorMessage(error)}`, "error"),
    );
  }

  /** Serves the site's /metrics on its metrics address (retried each round until bound). */
  private serveSiteMetrics(): void {
    if (this.stopping) return;
    const { address, supervisorPort } = this.topology.metrics;
    this.metricsEndpoint ??= new RetryingMetricsEndpoint(
      address,
      supervisorPort,
      async () => {
        this.siteMetrics.update(await this.metricsSnapshot());
        return this.siteMetrics.exposition();
      },
      (message) => this.log(null, message),
    );
    void this.metricsEndpoint.ensure();
  }

  /** What the site's /metrics says: status, the page cache by pod, backups, the archive's lag. */
  private async metricsSnapshot(): Promise<SiteSnapshot> {
    const status = await this.status();
    const primary = this.topology.mysql.find((pod) => pod.name === this.record?.primary);
    return {
      status,
      // status() has just read the pods' logs into these counts.
      pageCache: this.wordpress.pageCacheCountsSoFar(),
      backup: {
        backups: await backupsOverview(
          backupRoot(this.options.stateDir, this.spec),
          this.spec.backup.schedule ?? null,
          new Date(),
        ),
        archive: {
          enabled: this.spec.backup.archiveBinlogs,
          following: this.archive.following(),
          gaps: this.archive.gaps().length,
          lag: primary ? await this.archive.lag(primary.address, this.secrets).catch(() => null) : null,
        },
      },
    };
  }

  private async pageCacheStatus(): Promise<NonNullable<SiteStatus["pageCache"]>> {
    const counts = await this.wordpress.pageCacheCounts(this.topology);
    return { ...this.spec.wordpress.pageCache, ...counts, hitRatio: hitRatio(counts) };
  }

  private async controllerStatus(): Promise<SiteStatus["controller"]> {
    const memory = await readSavedMemory(this.paths.controller).catch(() => null);
    const events = await readFile(this.paths.events, "utf8").catch(() => "");
    const lastLine = events.trimEnd().split("\n").at(-1);
    const lastEvent = lastLine
      ? (JSON.parse(lastLine) as { time: string; kind: string; message: string })
      : null;
    return {
      running: this.processes.isRunning("controller/controller"),
      state: controllerActivity(memory, "watching"),
      lastEvent,
    };
  }

  private async surplusPodNames(): Promise<string[]> {
    try {
      const entries = await readdir(this.paths.pods);
      return [
        ...surplusPods(entries, mysqlOrdinal, this.topology.mysql.length),
        ...surplusPods(entries, wordpressOrdinal, this.topology.wordpress.length),
      ];
    } catch {
      return [];
    }
  }

  private mysqlPodStatus(pod: PodPlan): PodStatus {
    const observation = this.observations.get(pod.name);
    const state = observation?.state ?? null;
    const infos = [
      this.processes.info(`${pod.name}/mariadbd`),
      this.processes.info(`${pod.name}/agent`),
      this.processes.info(exporterProcessName(pod.name)),
    ];
    const phase = this.phases.get(pod.name);
    const isPrimary = pod.name === this.record?.primary;
    return {
      name: pod.name,
      component: "mysql",
      role: this.record ? (isPrimary ? "primary" : "replica") : null,
      address: pod.address,
      port: pod.port,
      pids: infos.map((i) => i?.pid).filter((pid): pid is number => typeof pid === "number"),
      ready: this.isReady(pod.name),
      restarts: infos.reduce((sum, i) => sum + (i?.restarts ?? 0), 0),
      phase: phase?.phase ?? "pending",
      gtid: state ? state.gtidCurrentPos : null,
      lagSeconds: state?.replication?.secondsBehindMaster ?? null,
      semiSync: state ? (isPrimary ? state.semiSyncMasterActive : state.semiSyncSlaveActive) : null,
      readOnly: state ? state.readOnly : null,
      ...(state ? { connections: state.connections } : {}),
      message:
        phase?.message ??
        (state?.replication?.lastIoError || state?.replication?.lastSqlError || observation?.error || null),
    };
  }
}
