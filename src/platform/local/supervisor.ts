import { spawn } from "node:child_process";
import { rm, unlink, writeFile } from "node:fs/promises";
import type { Server } from "node:net";
import { errorMessage } from "../../errors.js";
import { siteLayout, type ServiceAccounts, type SiteLayout } from "./layout.js";
import { specSchema, type Spec } from "../../spec/schema.js";
import { appendEvent } from "../../state/events.js";
import { FenceBook } from "./fence-book.js";
import { readJsonFile, statePaths, type StatePaths } from "../../state/files.js";
import { readPrimaryRecord, type PrimaryRecord } from "../../state/primary.js";
import { loadOrCreateSecrets, type Secrets } from "../../state/secrets.js";
import { planTopology, type Topology } from "../../topology/topology.js";
import { sleep } from "../../util/process.js";
import { LoadBalancerKeeper } from "./load-balancer-keeper.js";
import {
  killLeftoverGroups,
  killRecordedOrphans,
  ProcessRecordWriter,
  runningRecordedProcesses,
} from "./process-records.js";
import { ProcessManager } from "./processes.js";
import { callRpc, serveRpc } from "./rpc.js";
import { controllerProcess, DatabaseTier } from "./database-tier.js";
import { rollPlan } from "../../controller/decide-roll.js";
import { wordpressRollPlan } from "./wordpress-roll.js";
import { ProgressLog } from "./progress-log.js";
import { siteMetricsSnapshot, SupervisorMetrics } from "./supervisor-metrics.js";
import { assembleSiteStatus, readControllerStatus, surplusPodNames } from "./supervisor-status.js";
import { answerSupervisorRequest, type SupervisorOperations } from "./supervisor-rpc.js";
import { type PodStatus, type SiteStatus } from "../../status/site-status.js";
import { readSiteRecord } from "./site-record.js";
import { hitRatio } from "../../wordpress/page-cache.js";
import { BinlogArchiveKeeper } from "./binlog-archive-keeper.js";
import type { ArchiveGap } from "../../backup/archive-gaps.js";
import { BackupScheduler } from "./backup-scheduler.js";
import { backupRoot, binlogArchiveDir } from "../../backup/list.js";
import { type SiteSnapshot } from "../../metrics/site-metrics.js";
import { DEFAULT_ARCHIVE } from "../../backup/archive-folder.js";
import { WordpressTier } from "./wordpress-tier.js";

export interface SupervisorOptions {
  stateDir: string;
  /** How to run this program again (node, its flags, the CLI script), for the agent sidecars. */
  selfCommand: { command: string; args: string[] };
  /** Who the services run as (null: the user who runs the supervisor). */
  accounts: ServiceAccounts | null;
  reconcileIntervalMs?: number;
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
  private readonly progress = new ProgressLog();
  private stopping = false;
  private wake: (() => void) | null = null;
  private readonly loadBalancer: LoadBalancerKeeper;
  /** Pods fenced by the controller: killed and not restarted until released (fenced.json, read each round). */
  private readonly fences: FenceBook;
  private readonly records: ProcessRecordWriter;
  /** Told to systemd once (Type=notify), when the site is first ready. */
  private readinessNotified = false;
  private server: Server | null = null;
  private readonly metrics: SupervisorMetrics;
  private loopDone: Promise<void> = Promise.resolve();
  /** Aborted at shutdown: kills the helper programs of a clone or initialisation in progress. */
  private readonly aborter = new AbortController();

  private readonly database: DatabaseTier;
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
    this.metrics = new SupervisorMetrics(
      () => this.metricsSnapshot(),
      (message) => this.log(null, message),
    );
    this.database = new DatabaseTier({
      processes: this.processes,
      paths: this.paths,
      layout: this.layout,
      self: options.selfCommand,
      fences: this.fences,
      signal: this.aborter.signal,
      log: (pod, message, level) => this.log(pod, message, level),
      desired: () => ({ spec: this.spec, topology: this.topology, secrets: this.secrets }),
      record: () => this.record,
      onBootstrapped: (record) => (this.record = record),
      nudge: () => this.nudge(),
    });
    this.wordpress = new WordpressTier({
      processes: this.processes,
      paths: this.paths,
      layout: this.layout,
      log: (pod, message, level) => this.log(pod, message, level),
      balancer: this.loadBalancer,
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
    const operations = this.rpcOperations();
    this.server = await serveRpc(this.paths.socket, (request) =>
      answerSupervisorRequest(request, operations),
    );
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
    this.progress.add(pod, message, level);
  }

  /** Says, before it starts, what a changed spec restarts and in which order (the controller does it). */
  private async sayWhatRolls(): Promise<void> {
    const plan = rollPlan(await this.database.outdatedPods(), this.record?.primary ?? null);
    if (plan) this.log(null, `the database configuration or server program changed: ${plan}`);
    const wordpress = await this.wordpress.outdatedFor(this.topology, this.spec, this.secrets);
    if (wordpress.length > 0)
      this.log(
        null,
        `the WordPress configuration or PHP or nginx program changed: ${wordpressRollPlan(wordpress, this.wordpress.surgeName(this.topology))}`,
      );
  }

  /** What the socket's requests do (the dispatch and the schemas: supervisor-rpc.ts). */
  private rpcOperations(): SupervisorOperations {
    return {
      status: () => this.status(),
      progressSince: (seq) => this.progress.since(seq),
      apply: async () => {
        await this.loadDesiredState();
        this.log(null, `applying spec: ${this.spec.database.replicas} database instance(s)`);
        // The caller follows the events from this one on.
        const seq = this.progress.last();
        await this.sayWhatRolls();
        this.nudge();
        return seq;
      },
      instances: () => this.database.instances(),
      route: async () => {
        this.record = await readPrimaryRecord(this.paths.primary);
        await this.loadBalancer.ensure(this.servedTopology(), this.record?.primary ?? "mysql-0");
        this.log(
          null,
          `mysql-primary routes to ${this.record?.primary ?? "?"} (epoch ${this.record?.epoch ?? "?"})`,
        );
        return this.record?.primary ?? null;
      },
      fence: (pod) => this.database.fence(pod),
      release: (pod) => this.database.release(pod),
      restart: (pod) => this.database.restart(pod),
      reclone: (pod, reason) => this.database.reclone(pod, reason),
      shutdown: () => setImmediate(() => void this.shutdown()),
      handOver: () => setImmediate(() => void this.handOver()),
    };
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
      this.metrics.serve(this.topology.metrics.address, this.topology.metrics.supervisorPort);
      await this.notifyReadyOnce();
      // Converging (starting, cloning, restarting): look again soon; steady: once a second.
      const converged =
        this.topology.mysql.every((pod) => this.database.isReady(pod.name)) &&
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
    this.metrics.close();
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
    await this.database.observeAll();
    const primaryName = this.record?.primary ?? "mysql-0";
    await this.database.removeSurplusPods(primaryName);
    await this.loadBalancer.ensure(this.servedTopology(), primaryName);
    for (const pod of this.topology.mysql) {
      if (this.stopping) return;
      const proceed = await this.database.ensurePod(pod);
      if (!proceed) break;
    }
    if (this.record) this.ensureController();
    await this.archive.reconcile({
      enabled: this.spec.backup.archiveBinlogs,
      archiveDir: binlogArchiveDir(this.options.stateDir, this.spec, this.archiveFolder),
      record: this.record,
      primaryAddress: this.topology.mysql.find((p) => p.name === this.record?.primary)?.address ?? null,
      primaryReady: this.record !== null && this.database.isReady(this.record.primary),
      secrets: this.secrets,
    });
    await this.loadBalancer.observeRouting();
    const databaseReady =
      this.record !== null &&
      this.database.isReady(this.record.primary) &&
      this.loadBalancer.routesPrimary(this.record?.primary);
    await this.wordpress.reconcile(this.topology, this.spec, this.secrets, databaseReady);
    this.scheduler.reconcile(this.spec, databaseReady);
  }

  /** The topology the load balancer serves: the spec's, and a WordPress roll's spare pod while it serves. */
  private servedTopology(): Topology {
    const surge = this.wordpress.surge();
    return surge ? { ...this.topology, wordpress: [...this.topology.wordpress, surge] } : this.topology;
  }

  /** The database HA controller runs as its own supervised process. */
  private ensureController(): void {
    this.processes.ensure(
      controllerProcess(
        this.options.selfCommand,
        this.options.stateDir,
        this.paths.podLog("controller"),
        // The spec's setting applies to both targets (its place under `kubernetes` is historical).
        this.spec.kubernetes.automaticFailover,
      ),
    );
  }

  // ---- status ---------------------------------------------------------------------------

  /** The status contract, from what each keeper knows now (see supervisor-status.ts). */
  private async status(): Promise<SiteStatus> {
    const pods: PodStatus[] = [
      ...this.topology.mysql.map((pod) => this.database.podStatus(pod)),
      ...this.wordpress.podStatuses(this.topology),
    ];
    const wordpressReady = pods
      .filter((pod) => pod.component === "wordpress" && pod.ready)
      .map((pod) => pod.name);
    return assembleSiteStatus({
      spec: this.spec,
      topology: this.topology,
      stateDir: this.options.stateDir,
      record: this.record,
      stopping: this.stopping,
      pods,
      loadBalancer: {
        info: this.processes.info("haproxy/haproxy"),
        routing:
          this.loadBalancer.routesPrimary(this.record?.primary) &&
          this.loadBalancer.routesWordpress(wordpressReady),
      },
      controller: await readControllerStatus(this.paths, this.processes.isRunning("controller/controller")),
      controllerProcess: this.processes.info("controller/controller"),
      primaryState: this.database.primaryState(),
      surplus: await surplusPodNames(this.paths.pods, this.topology),
      outdated: await this.database.outdatedPods(),
      wordpressRollout: this.wordpress.rollingUpdate(),
      wordpressInstalled: this.topology.wordpress.length === 0 || this.wordpress.isInstalled(),
      backup: {
        path: backupRoot(this.options.stateDir, this.spec),
        archiving: this.archive.following(),
        gaps: this.archive.gaps(),
      },
      pageCache: this.topology.wordpress.length > 0 ? await this.pageCacheStatus() : null,
    });
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

  /** What the site's /metrics says: status, the page cache by pod, backups, the archive's lag. */
  private async metricsSnapshot(): Promise<SiteSnapshot> {
    const primary = this.topology.mysql.find((pod) => pod.name === this.record?.primary);
    return siteMetricsSnapshot({
      status: await this.status(),
      // status() has just read the pods' logs into these counts.
      pageCache: this.wordpress.pageCacheCountsSoFar(),
      backupRoot: backupRoot(this.options.stateDir, this.spec),
      spec: this.spec,
      archive: this.archive,
      lag: () => (primary ? this.archive.lag(primary.address, this.secrets) : Promise.resolve(null)),
    });
  }

  private async pageCacheStatus(): Promise<NonNullable<SiteStatus["pageCache"]>> {
    const counts = await this.wordpress.pageCacheCounts(this.topology);
    return { ...this.spec.wordpress.pageCache, ...counts, hitRatio: hitRatio(counts) };
  }
}
