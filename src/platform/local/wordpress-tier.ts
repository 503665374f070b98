import { z } from "zod";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, truncate } from "node:fs/promises";
import { join } from "node:path";
import { createConnection } from "node:net";
import { errorMessage } from "../../errors.js";
import { connectSql } from "../../mysql/client.js";
import type { Spec } from "../../spec/schema.js";
import { readJsonFile, writeFileAtomic, writeJsonFile, type StatePaths } from "../../state/files.js";
import type { Secrets } from "../../state/secrets.js";
import {
  surplusPods,
  wordpressAddress,
  wordpressOrdinal,
  type PodPlan,
  type Topology,
} from "../../topology/topology.js";
import {
  fpmSocketPath,
  renderNginxConfig,
  pageCachePaths,
  renderPhpFpmConfig,
  wordpressEnvironment,
  type PodFiles,
} from "../../wordpress/config.js";
import {
  cacheRefreshToken,
  countCacheStatuses,
  emptyCacheCounts,
  type CacheCounts,
  type PageCacheSettings,
} from "../../wordpress/page-cache.js";
import { prepareWordpressFiles, type WordpressFiles } from "../../wordpress/core.js";
import { installSiteOnce } from "../../wordpress/install.js";
import type { ProcessManager } from "./processes.js";
import { ensureServiceRoot, giveTo, type SiteLayout } from "./layout.js";
import type { PodStatus } from "../../status/site-status.js";
import { phpFpmProgram } from "../../util/system-path.js";
import { sleep } from "../../util/process.js";
import { surgePod, WordpressRoll, type WordpressBalancerPort } from "./wordpress-roll.js";

export interface WordpressTierDeps {
  processes: ProcessManager;
  paths: StatePaths;
  layout: SiteLayout;
  log: (pod: string | null, message: string, level?: "info" | "error") => void;
  /** The load balancer, for a rolling update's drains. */
  balancer: WordpressBalancerPort;
}

export interface InstallRecord {
  installedAt: string;
  adminUser: string;
  /** Set once `up` has shown the admin password to the user. */
  passwordShown?: boolean;
}

export const installRecordSchema = z.object({
  installedAt: z.string(),
  adminUser: z.string(),
  passwordShown: z.boolean().optional(),
});

const CRON_INTERVAL_MS = 60_000;
/** Debian names php-fpm by its version: whichever this machine has. */
const PHP_FPM = phpFpmProgram();

/** The site's public URL. */
export function siteUrl(topology: Topology): string {
  return `http://${topology.http.address}:${topology.http.port}`;
}

/**
 * WordPress pods of the local target: each a php-fpm pool and an nginx (two processes, like a pod
 * with two containers) on its own loopback address, over one shared copy of core and one shared
 * content folder. Also the site's one-shot install and its once-a-minute wp-cron.
 */
export class WordpressTier {
  private files: WordpressFiles | null = null;
  private readonly ready = new Map<string, { ready: boolean; message: string | null }>();
  private lastCron = 0;
  private installed = false;
  private publicHost = "";
  private installing: Promise<void> | null = null;
  private pageCache: PageCacheSettings | null = null;
  /** Each pod's page-cache counts since the supervisor started (a removed pod's stay: they happened). */
  private readonly cacheCounts = new Map<string, CacheCounts>();
  private peersWritten = "";
  /** The environment of the pods' PHP, as of the last reconciliation (null before the first). */
  private env: Record<string, string> | null = null;
  /** Pods last found running an older configuration than the spec's. */
  private outdated: string[] = [];
  private readonly roll: WordpressRoll;

  constructor(private readonly deps: WordpressTierDeps) {
    this.roll = new WordpressRoll({
      balancer: deps.balancer,
      startPod: (pod) => this.ensurePod(pod),
      stopPod: (pod) => deps.processes.stopPod(pod.name, 30_000),
      removePod: (pod) => this.removePodFolders(pod.name),
      healthy: async (pod) => (await this.probe(pod)) === true,
      log: deps.log,
      sleep,
      now: () => Date.now(),
    });
  }

  async installRecord(): Promise<InstallRecord | null> {
    return readJsonFile(this.deps.paths.wordpressInstall, installRecordSchema);
  }

  /**
   * Brings the WordPress pods to the spec once the database answers through mysql-primary. Pods
   * running an older configuration (a changed page-cache setting, a new hapress) or program (a PHP or nginx upgrade) are rolled, one at
   * a time, with a spare pod serving beside them (wordpress-roll.ts).
   */
  async reconcile(topology: Topology, spec: Spec, secrets: Secrets, databaseReady: boolean): Promise<void> {
    await this.removeSurplus(topology);
    if (topology.wordpress.length === 0 || !databaseReady) return;
    await this.prepare(topology, spec, secrets);
    for (const pod of topology.wordpress) if (!this.roll.holds(pod.name)) await this.ensurePod(pod);
    await Promise.all(
      topology.wordpress.filter((pod) => !this.roll.holds(pod.name)).map((pod) => this.probe(pod)),
    );
    // In the background: the install must not hold up the rest of reconciliation (replicas, restarts).
    this.installing ??= this.installOnce(topology, spec, secrets).finally(() => (this.installing = null));
    this.triggerCron(topology);
    if (!this.roll.active) {
      this.outdated = await this.outdatedPods(topology);
      const everyPodReady = topology.wordpress.every((pod) => this.ready.get(pod.name)?.ready === true);
      if (this.installed && everyPodReady) this.roll.start(topology, this.outdated, this.surgeOf(topology));
    }
  }

  private surgeOf(topology: Topology): PodPlan {
    return surgePod(topology, (ordinal) => wordpressAddress(topology.subnet, ordinal));
  }

  /** The name a rolling update's spare pod would take. */
  surgeName(topology: Topology): string {
    return this.surgeOf(topology).name;
  }

  /** The spare pod of a rolling update while the load balancer should serve it. */
  surge(): PodPlan | null {
    return this.roll.surge;
  }

  /** Pods still to restart with the spec's configuration (a rolling update to do or under way). */
  rollingUpdate(): { outdated: string[]; surge: string | null } | null {
    if (!this.roll.active && this.outdated.length === 0) return null;
    return { outdated: this.outdated, surge: this.roll.surge?.name ?? null };
  }

  /**
   * Pods whose running processes were started with other files than the spec renders now, or from
   * programs since replaced by a new version. Read from
   * the pods' folders, so a restarted supervisor sees the same.
   */
  async outdatedPods(topology: Topology): Promise<string[]> {
    if (!this.env) return [];
    const outdated: string[] = [];
    for (const pod of topology.wordpress) {
      if (!this.isRunning(pod)) continue;
      const podDir = this.deps.paths.podDir(pod.name);
      const rendered = this.render(pod);
      const [fpm, nginx] = await Promise.all([
        readFile(join(podDir, "php-fpm.conf"), "utf8").catch(() => ""),
        readFile(join(podDir, "nginx.conf"), "utf8").catch(() => ""),
      ]);
      const replaced = await Promise.all(
        ["php-fpm", "nginx"].map((program) =>
          this.deps.processes.runsReplacedProgram(`${pod.name}/${program}`),
        ),
      );
      // A changed configuration, or a new PHP or nginx installed under the running pod.
      if (fpm !== rendered.fpm || nginx !== rendered.nginx || replaced.includes(true))
        outdated.push(pod.name);
    }
    return outdated;
  }

  /** What a spec change would restart, for `up` to say first (the same rendering as reconcile's). */
  async outdatedFor(topology: Topology, spec: Spec, secrets: Secrets): Promise<string[]> {
    if (topology.wordpress.length === 0) return [];
    await this.prepare(topology, spec, secrets);
    const outdated = await this.outdatedPods(topology);
    // Recorded now, so the status is not ready (and `up` keeps waiting) until the roll has run.
    if (!this.roll.active) this.outdated = outdated;
    return outdated;
  }

  private isRunning(pod: PodPlan): boolean {
    return (
      this.deps.processes.isRunning(`${pod.name}/php-fpm`) &&
      this.deps.processes.isRunning(`${pod.name}/nginx`)
    );
  }

  private render(pod: PodPlan): { fpm: string; nginx: string } {
    const files = this.podFiles(pod);
    return { fpm: renderPhpFpmConfig(files, this.env ?? {}), nginx: renderNginxConfig(files) };
  }

  /** The pods' shared files and environment, from the spec and the secrets. */
  private async prepare(topology: Topology, spec: Spec, secrets: Secrets): Promise<void> {
    if (!this.files) {
      await ensureServiceRoot(this.deps.layout);
      this.files = await prepareWordpressFiles(this.deps.layout.wordpressRoot, {
        web: this.deps.layout.accounts?.web ?? null,
      });
    }
    this.publicHost = `${topology.http.address}:${topology.http.port}`;
    const refreshToken = cacheRefreshToken(secrets.wordpressKeys.AUTH_KEY ?? secrets.appPassword);
    this.pageCache = spec.wordpress.pageCache.enabled
      ? { ttlSeconds: spec.wordpress.pageCache.ttlSeconds, refreshToken }
      : null;
    await this.writeCachePeers(topology);
    this.env = {
      ...wordpressEnvironment({
        secrets,
        dbHost: `${topology.services.mysqlPrimary.address}:${topology.services.mysqlPrimary.port}`,
        siteUrl: siteUrl(topology),
      }),
      ...(this.pageCache
        ? { HAPRESS_CACHE_PEERS_FILE: this.cachePeersFile(), HAPRESS_CACHE_REFRESH_TOKEN: refreshToken }
        : {}),
    };
  }

  private cachePeersFile(): string {
    return join(this.deps.layout.wordpressRoot, "cache-peers.json");
  }

  /**
   * The pods whose caches a content change must refresh (read by the refresh plugin at each change,
   * so a scale takes effect at once). Readable by the workers' group; rewritten only when it changes.
   */
  private async writeCachePeers(topology: Topology): Promise<void> {
    const peers = JSON.stringify(topology.wordpress.map((pod) => `${pod.address}:${pod.port}`));
    if (peers === this.peersWritten) return;
    const path = this.cachePeersFile();
    await writeFileAtomic(path, `${peers}\n`, 0o600);
    const web = this.deps.layout.accounts?.web;
    if (web) await giveTo(path, { uid: 0, gid: web.gid }, { recursive: false, groupReadable: true });
    this.peersWritten = peers;
  }

  /**
   * What each pod's cache did since the supervisor started: each pod's status log (one word per PHP
   * request) is read and emptied, so it never grows, and added to that pod's running counts.
   */
  private async pageCacheCountsByPod(topology: Topology): Promise<ReadonlyMap<string, CacheCounts>> {
    for (const pod of topology.wordpress) {
      const log = pageCachePaths({ runDir: this.deps.layout.wordpressRunDir(pod.name) }).statusLog;
      const text = await readFile(log, "utf8").catch(() => "");
      if (text === "") continue;
      await truncate(log, 0).catch(() => undefined);
      this.cacheCounts.set(
        pod.name,
        countCacheStatuses(text, this.cacheCounts.get(pod.name) ?? emptyCacheCounts()),
      );
    }
    return this.cacheCounts;
  }

  /** The counts as the last read left them (no log is read): status has just read them. */
  pageCacheCountsSoFar(): ReadonlyMap<string, CacheCounts> {
    return this.cacheCounts;
  }

  /** The site's page-cache counts: every pod's added up. */
  async pageCacheCounts(topology: Topology): Promise<CacheCounts> {
    const total = emptyCacheCounts();
    for (const counts of (await this.pageCacheCountsByPod(topology)).values())
      for (const key of Object.keys(total) as (keyof CacheCounts)[]) total[key] += counts[key];
    return total;
  }

  private podFiles(pod: PodPlan): PodFiles {
    return {
      podName: pod.name,
      address: pod.address,
      port: pod.port,
      coreDir: this.files?.coreDir ?? "",
      runDir: this.deps.layout.wordpressRunDir(pod.name),
      logFile: this.deps.paths.podLog(pod.name),
      workerUser: this.deps.layout.accounts?.web.name ?? null,
      publicHost: `${this.publicHost}`,
      pageCache: this.pageCache,
    };
  }

  private async ensurePod(pod: PodPlan): Promise<void> {
    const files = this.podFiles(pod);
    const podDir = this.deps.paths.podDir(pod.name);
    const fpmName = `${pod.name}/php-fpm`;
    const nginxName = `${pod.name}/nginx`;
    if (!this.deps.processes.isRunning(fpmName) || !this.deps.processes.isRunning(nginxName)) {
      await mkdir(podDir, { recursive: true, mode: 0o700 });
      await mkdir(files.runDir, { recursive: true, mode: 0o700 });
      // The masters (root) create the socket and temporary folders in it for the workers' account.
      const web = this.deps.layout.accounts?.web;
      if (web) {
        const owner = { uid: 0, gid: web.gid };
        await giveTo(this.deps.layout.podServiceDir(pod.name), owner, {
          recursive: false,
          groupReadable: true,
        });
        // The folder only: what the masters made in it (the socket, temporary folders) stays theirs.
        await giveTo(files.runDir, owner, { recursive: false, groupReadable: true });
      }
      // The pool file holds the database password: owner only.
      const rendered = this.render(pod);
      await writeFileAtomic(join(podDir, "php-fpm.conf"), rendered.fpm, 0o600);
      await writeFileAtomic(join(podDir, "nginx.conf"), rendered.nginx, 0o600);
    }
    this.deps.processes.ensure({
      name: fpmName,
      pod: pod.name,
      command: PHP_FPM,
      args: ["-F", "-y", join(podDir, "php-fpm.conf")],
      logFile: files.logFile,
      // A worker whose master died finishes its request rather than cutting a page mid-stream.
      drainSignal: "SIGQUIT",
      // Stopped (scaled down) after the load balancer stopped sending to it: finish what is under way.
      stopSignal: "SIGQUIT",
    });
    // nginx only once PHP answers on its socket: started together, nginx answered 502 to the pod's
    // first requests, and a POST the load balancer cannot retry failed (chaos scale-wordpress). A
    // refused connection to a pod not listening yet is retried on another pod, even for a POST.
    if (!this.deps.processes.isRunning(nginxName) && !(await unixSocketAnswers(fpmSocketPath(files), 5_000)))
      return;
    this.deps.processes.ensure({
      name: nginxName,
      pod: pod.name,
      command: "nginx",
      args: ["-c", join(podDir, "nginx.conf"), "-g", "daemon off;", "-e", files.logFile],
      logFile: files.logFile,
      stopSignal: "SIGQUIT",
    });
  }

  /** Readiness: the health endpoint answers 200 through nginx, PHP and the database. */
  private async probe(pod: PodPlan): Promise<boolean> {
    try {
      const response = await fetch(`http://${pod.address}:${pod.port}/hapress-health`, {
        signal: AbortSignal.timeout(3000),
      });
      await response.arrayBuffer();
      this.ready.set(pod.name, {
        ready: response.status === 200,
        message: response.status === 200 ? null : `health check answered ${response.status}`,
      });
      return response.status === 200;
    } catch (error) {
      this.ready.set(pod.name, { ready: false, message: errorMessage(error) });
      return false;
    }
  }

  private async installOnce(topology: Topology, spec: Spec, secrets: Secrets): Promise<void> {
    if (this.installed) return;
    if (await this.installRecord()) {
      this.installed = true;
      return;
    }
    const pod = topology.wordpress.find((p) => this.ready.get(p.name)?.ready);
    if (!pod) return;
    const endpoint = topology.services.mysqlPrimary;
    const session = await connectSql(
      { host: endpoint.address, port: endpoint.port },
      { user: secrets.appUser, password: secrets.appPassword },
      { database: secrets.appDatabase, queryTimeoutMs: 90_000 },
    );
    try {
      this.deps.log(pod.name, `installing the site '${spec.site.title}' (once, under a database lock)`);
      const installedNow = await installSiteOnce({
        podUrl: `http://${pod.address}:${pod.port}`,
        title: spec.site.title,
        adminUser: spec.site.adminUser,
        adminEmail: spec.site.adminEmail,
        adminPassword: secrets.wordpressAdminPassword,
        session,
      });
      const record: InstallRecord = { installedAt: new Date().toISOString(), adminUser: spec.site.adminUser };
      await writeJsonFile(this.deps.paths.wordpressInstall, record);
      this.installed = true;
      this.deps.log(pod.name, installedNow ? "site installed" : "site was already installed");
    } catch (error) {
      this.deps.log(pod.name, `site install failed: ${errorMessage(error)}`, "error");
    } finally {
      await session.close();
    }
  }

  /** wp-cron once a minute through the load balancer: one request for the site, not one per replica. */
  private triggerCron(topology: Topology): void {
    if (!this.installed || Date.now() - this.lastCron < CRON_INTERVAL_MS) return;
    this.lastCron = Date.now();
    void fetch(`${siteUrl(topology)}/wp-cron.php?doing_wp_cron=${Date.now() / 1000}`, {
      signal: AbortSignal.timeout(30_000),
    })
      .then((response) => response.arrayBuffer())
      .catch((error: unknown) => this.deps.log(null, `wp-cron request failed: ${errorMessage(error)}`));
  }

  /** Scale-down: the highest ordinals go first; their pod folders (config, sockets) are removed. */
  private async removeSurplus(topology: Topology): Promise<void> {
    let entries: string[] = [];
    try {
      entries = await readdir(this.deps.paths.pods);
    } catch {
      return;
    }
    // A rolling update's spare pod is no surplus while the roll holds it.
    const surplus = surplusPods(entries, wordpressOrdinal, topology.wordpress.length).filter(
      (name) => !this.roll.holds(name),
    );
    for (const name of surplus) {
      this.deps.log(name, "scaling down: stopping it");
      await this.deps.processes.stopPod(name, 10_000);
      await this.removePodFolders(name);
    }
  }

  private async removePodFolders(name: string): Promise<void> {
    await rm(this.deps.paths.podDir(name), { recursive: true, force: true });
    await rm(this.deps.layout.podServiceDir(name), { recursive: true, force: true });
    this.ready.delete(name);
  }

  isInstalled(): boolean {
    return this.installed;
  }

  podStatuses(topology: Topology): PodStatus[] {
    const surge = this.roll.surge;
    return [...topology.wordpress, ...(surge ? [surge] : [])].map((pod) => {
      const infos = [
        this.deps.processes.info(`${pod.name}/php-fpm`),
        this.deps.processes.info(`${pod.name}/nginx`),
      ];
      const probe = this.ready.get(pod.name);
      const running = infos.every((i) => i?.state === "running");
      const crashing = infos.some((i) => i?.state === "backoff");
      return {
        name: pod.name,
        component: "wordpress" as const,
        role: null,
        address: pod.address,
        port: pod.port,
        pids: infos.map((i) => i?.pid).filter((pid): pid is number => typeof pid === "number"),
        ready: running && probe?.ready === true,
        restarts: infos.reduce((sum, i) => sum + (i?.restarts ?? 0), 0),
        phase: crashing
          ? "crashloop"
          : running
            ? "running"
            : existsSync(this.deps.paths.podDir(pod.name))
              ? "starting"
              : "pending",
        gtid: null,
        lagSeconds: null,
        semiSync: null,
        readOnly: null,
        message: this.outdated.includes(pod.name)
          ? "runs an older configuration: restarts with the spec's (rolling update)"
          : probe?.ready
            ? null
            : (probe?.message ?? null),
      };
    });
  }
}

/** Whether something accepts connections on a Unix socket within `timeoutMs` (polled every 20 ms). */
async function unixSocketAnswers(path: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const answered = await new Promise<boolean>((resolve) => {
      const socket = createConnection(path);
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (answered) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}
