import { HapressError } from "../../errors.js";
import type { DatabaseInstance } from "../../controller/platform.js";
import { specSchema } from "../../spec/schema.js";
import { setFenced } from "../../state/fenced.js";
import { readJsonFile, statePaths, writeFileAtomic, type StatePaths } from "../../state/files.js";
import { planTopology, type Topology } from "../../topology/topology.js";
import { signalGroup } from "../../util/process.js";
import { forceRouteCommands, planLoadBalancer, renderHaproxyConfig } from "./haproxy.js";
import { haproxyCommand } from "./haproxy-admin.js";
import { databaseInstances } from "./instances.js";
import { currentLayout, type SiteLayout } from "./layout.js";
import { sameProcessRunning } from "./proc.js";
import { readProcessRecords } from "./process-records.js";
import { readSiteRecord } from "./site-record.js";

/**
 * What the controller does itself while no supervisor answers (it crashed and its service manager
 * has not started the next one yet): failover must not wait for the supervisor. Everything here
 * works from the state folder alone: the topology from spec.json and site.json, the database's
 * PID from pids.json (checked against its start time), HAProxy through its admin socket. The next
 * supervisor adopts the result: it reads fenced.json and the HAProxy file written here.
 */
export class SupervisorlessSite {
  private readonly paths: StatePaths;
  private readonly layout: SiteLayout;

  constructor(private readonly stateDir: string) {
    this.paths = statePaths(stateDir);
    this.layout = currentLayout(stateDir);
  }

  private async topology(): Promise<Topology> {
    const spec = await readJsonFile(this.paths.spec, specSchema);
    const site = await readSiteRecord(this.paths.site);
    if (!spec || !site) throw new HapressError(`no site in ${this.stateDir}`);
    return planTopology(spec, site.subnet);
  }

  async instances(): Promise<DatabaseInstance[]> {
    // A re-clone in progress shows as missing data: provisioning all the same.
    return databaseInstances(await this.topology(), (pod) => this.layout.mysqlDataDir(pod), new Set());
  }

  /** Rewrites HAProxy's file (what the next supervisor adopts) and switches it at run time. */
  async route(primary: string): Promise<void> {
    const topology = await this.topology();
    const config = renderHaproxyConfig({
      topology,
      primary,
      adminSocket: this.paths.haproxySocket,
      runAs: this.layout.accounts?.haproxy.name ?? null,
    });
    await writeFileAtomic(this.paths.haproxyConfig, config, 0o600);
    for (const command of forceRouteCommands(planLoadBalancer(topology, primary)))
      await haproxyCommand(this.paths.haproxySocket, command);
  }

  /** Kills the instance's mariadbd (its whole group) and records the fence for the next supervisor. */
  async fence(pod: string): Promise<void> {
    await setFenced(this.paths.fenced, pod, true);
    const records = await readProcessRecords(this.paths.pids);
    const record = records.find((r) => r.name === `${pod}/mariadbd`);
    if (!record || !("startTicks" in record) || !sameProcessRunning(record.pid, record.startTicks)) return;
    // Gone between the check and the signal: fenced all the same.
    signalGroup(record.pid, "SIGKILL");
  }

  async release(pod: string): Promise<void> {
    await setFenced(this.paths.fenced, pod, false);
  }
}
