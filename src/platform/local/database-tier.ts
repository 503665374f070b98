import { existsSync } from "node:fs";
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { agentAnswers, cloneFromDonor, CLONE_INFO_FILE, type CloneInfo } from "../../agent/clone.js";
import { initializePrimaryDataDir } from "../../agent/initdb.js";
import type { DatabaseInstance } from "../../controller/platform.js";
import { errorMessage, InputError } from "../../errors.js";
import { connectSql, readInstanceState, type InstanceState } from "../../mysql/client.js";
import type { Spec } from "../../spec/schema.js";
import { type StatePaths } from "../../state/files.js";
import { writePrimaryRecord, type PrimaryRecord } from "../../state/primary.js";
import type { Secrets } from "../../state/secrets.js";
import type { PodStatus } from "../../status/site-status.js";
import {
  ADMIN_PORT,
  AGENT_PORT,
  mysqlOrdinal,
  surplusPods,
  type PodPlan,
  type Topology,
} from "../../topology/topology.js";
import { chooseDonor, streamingLag } from "../../topology/clone-donor.js";
import { MysqlPodProcesses, replicateFromCloneMarker } from "./mysql-pod-processes.js";
import type { FenceBook } from "./fence-book.js";
import { databaseInstances } from "./instances.js";
import { type SiteLayout } from "./layout.js";
import { exporterProcessName } from "./mysqld-exporter.js";
import type { ProcessManager, ProcessSpec } from "./processes.js";

/** What the supervisor last saw of one database pod's server (its admin port). */
interface Observation {
  reachable: boolean;
  state: InstanceState | null;
  error: string | null;
}

export interface DatabaseTierDeps {
  processes: ProcessManager;
  paths: StatePaths;
  layout: SiteLayout;
  /** How to run this program again (the agent sidecar). */
  self: { command: string; args: string[] };
  /** Pods the controller holds down. */
  fences: FenceBook;
  /** Aborted at shutdown: kills the helpers of a clone or an initialisation in progress. */
  signal: AbortSignal;
  log: (pod: string | null, message: string, level?: "info" | "error") => void;
  /** The site as the supervisor last read it (the spec can change with `apply`). */
  desired: () => { spec: Spec; topology: Topology; secrets: Secrets };
  /** The primary record, read by the supervisor each round. */
  record: () => PrimaryRecord | null;
  /** The first instance initialised a new site and recorded itself as the primary. */
  onBootstrapped: (record: PrimaryRecord) => void;
  /** Reconcile again soon (a fence released, a re-clone asked for). */
  nudge: () => void;
}

/**
 * The database tier of the local target, as a StatefulSet and its kubelet would keep it: each pod's
 * data folder made (initialised, or cloned from a donor) in ordinal order, its processes (mariadbd,
 * the agent, the exporter) kept running, fenced pods held down, re-clones and scale-downs carried out,
 * and what each server says observed for readiness and status.
 */
export class DatabaseTier {
  private readonly observations = new Map<string, Observation>();
  private readonly phases = new Map<string, { phase: string; message: string | null }>();
  /** Pods whose data is being thrown away and cloned again. */
  private readonly recloning = new Set<string>();
  /** Pods whose server is stopping for a planned restart (started again once it has exited). */
  private readonly restarting = new Set<string>();

  constructor(private readonly deps: DatabaseTierDeps) {}

  private get processes(): ProcessManager {
    return this.deps.processes;
  }
  private get paths(): StatePaths {
    return this.deps.paths;
  }
  private get layout(): SiteLayout {
    return this.deps.layout;
  }
  private get spec(): Spec {
    return this.deps.desired().spec;
  }
  private get topology(): Topology {
    return this.deps.desired().topology;
  }
  private get secrets(): Secrets {
    return this.deps.desired().secrets;
  }
  private get record(): PrimaryRecord | null {
    return this.deps.record();
  }
  private log(pod: string | null, message: string, level: "info" | "error" = "info"): void {
    this.deps.log(pod, message, level);
  }

  /** A pod of this site's database tier, or an InputError (a request named one that is not). */
  private requirePod(pod: string): string {
    if (!this.topology.mysql.some((p) => p.name === pod))
      throw new InputError(`no database pod named '${pod}' in this site`);
    return pod;
  }

  /** The controller's fence: the pod's server killed, and held down until released. */
  async fence(pod: string): Promise<void> {
    this.requirePod(pod);
    await this.deps.fences.change(pod, true);
    await this.processes.kill(`${pod}/mariadbd`);
    this.log(pod, "fenced: mariadbd killed and held down until the controller releases it");
  }

  async release(pod: string): Promise<void> {
    this.requirePod(pod);
    if (this.deps.fences.has(pod)) this.log(pod, "released: it will start again, read-only");
    await this.deps.fences.change(pod, false);
    this.deps.nudge();
  }

  /** What the recorded primary's server last said of itself (semi-sync for status), or null. */
  primaryState(): InstanceState | null {
    const primary = this.record?.primary;
    return primary ? (this.observations.get(primary)?.state ?? null) : null;
  }

  /** The database instances, for the controller; provisioning ones are not its to touch. */
  async instances(): Promise<DatabaseInstance[]> {
    const outdated = new Set(await this.outdatedPods());
    return databaseInstances(this.topology, (pod) => this.dataDir(pod), this.recloning).map((instance) => ({
      ...instance,
      provisioning: instance.provisioning || this.restarting.has(instance.name),
      outdated: outdated.has(instance.name),
    }));
  }

  /** Pods whose running server has an older configuration or program (see MysqlPodProcesses.outdated). */
  async outdatedPods(): Promise<string[]> {
    const processes = this.podProcesses();
    const outdated = await Promise.all(
      this.topology.mysql.map(async (pod) =>
        (await processes.outdated(pod, this.dataDir(pod.name))) ? pod.name : null,
      ),
    );
    return outdated.filter((name): name is string => name !== null);
  }

  /**
   * A planned restart (the rolling update's): the server stopped gracefully, then started again by
   * the next round with the configuration the spec wants now.
   */
  async restart(pod: string): Promise<void> {
    this.requirePod(pod);
    if (this.restarting.has(pod)) return;
    this.log(pod, "restarting mariadbd with the new configuration (rolling update)");
    // Provisioning from now on (the controller leaves it alone and the roll waits for it), and the
    // answer does not wait for the stop: the controller's round must not be held for a shutdown.
    this.restarting.add(pod);
    void this.processes
      .stop(`${pod}/mariadbd`, 60_000)
      .catch((error: unknown) => this.log(pod, `stopping mariadbd failed: ${errorMessage(error)}`, "error"))
      .finally(() => {
        this.restarting.delete(pod);
        this.deps.nudge();
      });
    return Promise.resolve();
  }

  /** Stops an instance, deletes its data and lets reconciliation clone it again from a healthy peer. */
  async reclone(pod: string, reason: string): Promise<void> {
    this.requirePod(pod);
    if (pod === this.record?.primary) throw new Error(`${pod} is the primary: it cannot be re-cloned`);
    this.recloning.add(pod);
    this.log(pod, `re-cloning: ${reason}`);
    await this.processes.stopPod(pod, 10_000);
    await rm(this.dataDir(pod), { recursive: true, force: true });
    await this.deps.fences.change(pod, false);
    this.deps.nudge();
  }

  async observeAll(): Promise<void> {
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

  isReady(pod: string): boolean {
    const observation = this.observations.get(pod);
    if (!observation?.reachable || !observation.state) return false;
    if (pod === this.record?.primary) return !observation.state.readOnly;
    const replication = observation.state.replication;
    return replication !== null && replication.ioRunning === "Yes" && replication.sqlRunning;
  }

  dataDir(pod: string): string {
    return this.layout.mysqlDataDir(pod);
  }

  /** Returns false when later pods must wait (OrderedReady, as a StatefulSet creates pods). */
  async ensurePod(pod: PodPlan): Promise<boolean> {
    const dataDir = this.dataDir(pod.name);
    if (this.deps.fences.has(pod.name)) {
      this.setPhase(pod.name, "fenced", "held down by the controller");
      return true;
    }
    if (this.restarting.has(pod.name)) {
      this.setPhase(pod.name, "restarting", "stopping for a planned restart");
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
    await this.startProcesses(pod);
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
    await this.ensureServiceDir(pod.name);
    if (!this.record) {
      if (pod.ordinal !== 0) return false;
      this.setPhase(pod.name, "initializing");
      this.log(pod.name, "initialising a new primary (users, app database)");
      try {
        await initializePrimaryDataDir(dataDir, this.secrets, {
          runAs: this.layout.accounts?.mysql.name ?? null,
          signal: this.deps.signal,
        });
      } catch (error) {
        this.failPod(pod.name, error);
        return false;
      }
      this.deps.onBootstrapped(await writePrimaryRecord(this.paths.primary, pod.name, "bootstrap"));
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
        signal: this.deps.signal,
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
      lagSeconds: streamingLag(this.observations.get(p.name)?.state ?? null),
    }));
    const name = chooseDonor(candidates, this.record?.primary ?? null, forPod);
    return this.topology.mysql.find((p) => p.name === name) ?? null;
  }

  private podProcesses(): MysqlPodProcesses {
    const { spec, secrets } = this.deps.desired();
    return new MysqlPodProcesses({
      processes: this.processes,
      paths: this.paths,
      layout: this.layout,
      self: this.deps.self,
      spec,
      secrets,
      primary: this.record?.primary ?? null,
    });
  }

  private ensureServiceDir(pod: string): Promise<void> {
    return this.podProcesses().ensureServiceDir(pod);
  }

  private startProcesses(pod: PodPlan): Promise<void> {
    return this.podProcesses().start(pod, this.dataDir(pod.name));
  }

  /** Points a freshly cloned replica at the primary from the backup's GTID, then drops the marker. */
  private async startReplication(pod: PodPlan, dataDir: string): Promise<void> {
    const primary = this.topology.mysql.find((p) => p.name === this.record?.primary);
    if (!primary || primary.name === pod.name) return;
    const gtid = await replicateFromCloneMarker(pod, primary, dataDir, this.secrets);
    this.log(pod.name, `replicating from ${primary.name} starting at GTID '${gtid}'`);
  }

  /** Scale-down: highest ordinals first; never the primary. Their data goes, as a new replica is cloned afresh. */
  async removeSurplusPods(primaryName: string): Promise<void> {
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

  podStatus(pod: PodPlan): PodStatus {
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

  private setPhase(pod: string, phase: string, message: string | null = null): void {
    this.phases.set(pod, { phase, message });
  }
}

/** The database HA controller as a supervised process of the site (`hapress controller`). */
export function controllerProcess(
  self: { command: string; args: string[] },
  stateDir: string,
  logFile: string,
  automaticFailover: boolean,
): ProcessSpec {
  return {
    name: "controller/controller",
    pod: "controller",
    command: self.command,
    args: [
      ...self.args,
      "--dir",
      stateDir,
      "controller",
      ...(automaticFailover ? [] : ["--no-automatic-failover"]),
    ],
    logFile,
    // The only controller (Kubernetes runs two): while it waits out a backoff nobody can fail over,
    // and it is cheap to start, so a crash loop is retried every 2 s at most, not every minute
    // (the chaos matrix's repeated controller kills reached 60 s).
    maxRestartDelayMs: 2_000,
  };
}
