import { spawn } from "node:child_process";
import { existsSync, openSync, closeSync } from "node:fs";
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { HapressError, InputError } from "../../errors.js";
import { DEBIAN_WORDPRESS } from "../../wordpress/core.js";
import { specSchema, type Spec } from "../../spec/schema.js";
import { readJsonFile, statePaths, writeJsonFile } from "../../state/files.js";
import { readPrimaryRecord, refuseRemovingPrimary } from "../../state/primary.js";
import { loadOrCreateSecrets, loadSecrets } from "../../state/secrets.js";
import { planTopology } from "../../topology/topology.js";
import { currentLayout } from "./layout.js";
import { processExists, runProgram, sleep } from "../../util/process.js";
import { phpFpmProgram, withSystemDirs } from "../../util/system-path.js";
import { killLeftoverGroups, killRecordedOrphans, runningRecordedProcesses } from "./process-records.js";
import { readSavedMemory } from "../../state/controller-memory.js";
import { callRpc, SupervisorUnreachable } from "./rpc.js";
import { ensureSiteRecord, readSiteRecord } from "./site-record.js";
import {
  controllerActivity,
  type PodStatus,
  type ProgressEvent,
  type SiteStatus,
} from "../../status/site-status.js";
import { endpointLimits } from "./status-endpoints.js";
import { installRecordSchema } from "./wordpress-tier.js";

/** Programs the local target needs, with the Debian package that provides each. */
const WORDPRESS_PROGRAMS: [string, string][] = [
  [phpFpmProgram(), "php-fpm"],
  ["nginx", "nginx-light"],
];
const REQUIRED_PROGRAMS: [string, string][] = [
  ["mariadbd", "mariadb-server"],
  ["mariadb-install-db", "mariadb-server"],
  ["mariadb-backup", "mariadb-backup"],
  ["mbstream", "mariadb-backup"],
  ["haproxy", "haproxy"],
];

/** Unix socket paths are limited to 107 bytes; the longest we make is under the pods folder. */
const MAX_STATE_DIR_LENGTH = 70;

export interface SelfCommand {
  command: string;
  args: string[];
}

export type Reporter = (line: string) => void;

/** The programs not found (with the Debian package of each), looked up with the system folders on PATH. */
async function findMissingPrograms(withWordpress: boolean): Promise<[string, string][]> {
  const missing: [string, string][] = [];
  for (const [program, pkg] of [...REQUIRED_PROGRAMS, ...(withWordpress ? WORDPRESS_PROGRAMS : [])]) {
    const result = await runProgram("sh", ["-c", `command -v ${program}`], {
      env: { ...process.env, PATH: withSystemDirs(process.env.PATH) },
    }).catch(() => null);
    if (!result || result.code !== 0) missing.push([program, pkg]);
  }
  return missing;
}

/** Checks the machine and the state folder before anything is started. */
export async function preflight(stateDir: string, spec: Spec): Promise<void> {
  if (stateDir.length > MAX_STATE_DIR_LENGTH) {
    throw new InputError(
      `--dir ${stateDir}: the path is ${stateDir.length} characters; at most ${MAX_STATE_DIR_LENGTH} fit in Unix socket paths. Example: --dir /var/tmp/mysite`,
    );
  }
  const withWordpress = spec.wordpress.replicas > 0;
  const missing: [string, string][] = [
    ...(await findMissingPrograms(withWordpress)),
    ...(withWordpress && !existsSync(`${DEBIAN_WORDPRESS}/wp-settings.php`)
      ? ([[`${DEBIAN_WORDPRESS}/wp-settings.php`, "wordpress"]] as [string, string][])
      : []),
  ];
  if (missing.length > 0) {
    const packages = [...new Set(missing.map(([, pkg]) => pkg))];
    throw new HapressError(
      `missing: ${missing.map(([program, pkg]) => `${program} (package ${pkg})`).join(", ")}; install with: sudo apt-get install -y ${packages.join(" ")} (or run scripts/install.sh)`,
    );
  }
}

/** Fails clearly when the public HTTP port is taken by something else. */
export async function checkHttpPortFree(spec: Spec, source: string): Promise<void> {
  if (spec.wordpress.replicas === 0) return;
  const { httpAddress, httpPort } = spec.local;
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        new InputError(
          `${source}: field 'local.httpPort': ${httpAddress}:${httpPort} is ${error.code === "EADDRINUSE" ? "already in use" : `not available (${error.code ?? error.message})`}; pick a free port, for example:\n    local:\n      httpPort: ${httpPort + 1}`,
        ),
      ),
    );
    server.listen(httpPort, httpAddress, () => server.close(() => resolve()));
  });
}

/** Asks the supervisor for the site's status; null when no supervisor runs. */
export async function liveStatus(stateDir: string): Promise<SiteStatus | null> {
  try {
    return await callRpc<SiteStatus>(statePaths(stateDir).socket, { method: "status" }, 15_000);
  } catch (error) {
    if (error instanceof SupervisorUnreachable) return null;
    throw error;
  }
}

/** Status of a stopped site, built from its state files alone. */
export async function offlineStatus(stateDir: string): Promise<SiteStatus> {
  const paths = statePaths(stateDir);
  const spec = await readJsonFile(paths.spec, specSchema);
  const site = await readSiteRecord(paths.site);
  if (!spec || !site) throw new HapressError(`no site in ${stateDir}: run 'hapress up' first`);
  const topology = planTopology(spec, site.subnet);
  const record = await readPrimaryRecord(paths.primary);
  // A supervisor that crashed leaves its processes running: say so, with their PIDs.
  const alive = await runningRecordedProcesses(paths.pids);
  const pidsOf = (pod: string) => alive.filter((r) => r.pod === pod).map((r) => r.pid);
  const memory = await readSavedMemory(paths.controller).catch(() => null);
  const stopped = (
    name: string,
    component: PodStatus["component"],
    address: string,
    port: number | null,
  ) => ({
    name,
    component,
    role:
      component === "mysql" && record
        ? record.primary === name
          ? ("primary" as const)
          : ("replica" as const)
        : null,
    address,
    port,
    pids: pidsOf(name),
    ready: false,
    restarts: 0,
    phase: pidsOf(name).length > 0 ? "unsupervised" : "stopped",
    gtid: null,
    lagSeconds: null,
    semiSync: null,
    readOnly: null,
    message: null,
  });
  return {
    site: spec.name,
    stateDir,
    running: alive.length > 0,
    ready: false,
    supervisorPid: null,
    ...(alive.length > 0 ? { unsupervised: { processes: alive.length } } : {}),
    primary: record?.primary ?? null,
    primaryEpoch: record?.epoch ?? null,
    endpoints: {
      mysqlPrimary: `${topology.services.mysqlPrimary.address}:${topology.services.mysqlPrimary.port}`,
      mysqlReplicas: `${topology.services.mysqlReplicas.address}:${topology.services.mysqlReplicas.port}`,
    },
    database: {
      replicas: spec.database.replicas,
      semiSync: "off",
      semiSyncDetail: "site stopped",
      maxConnections: spec.database.maxConnections,
      endpointLimits: endpointLimits(topology),
    },
    controller:
      pidsOf("controller").length > 0
        ? {
            running: true,
            state: controllerActivity(memory, "watching"),
            lastEvent: null,
          }
        : { running: false, state: "stopped", lastEvent: null },
    pods: [
      ...topology.mysql.map((p) => stopped(p.name, "mysql", p.address, p.port)),
      ...topology.wordpress.map((p) => stopped(p.name, "wordpress", p.address, p.port)),
      stopped("haproxy", "loadbalancer", topology.loadBalancer.address, null),
      stopped("controller", "controller", "", null),
    ],
  };
}

/** Adds the credentials a user needs to connect (for --show-secrets). */
export async function withCredentials(status: SiteStatus, stateDir: string): Promise<SiteStatus> {
  const secrets = await loadSecrets(statePaths(stateDir).secrets);
  return {
    ...status,
    credentials: {
      app: { user: secrets.appUser, password: secrets.appPassword, database: secrets.appDatabase },
      replication: { user: secrets.replicationUser, password: secrets.replicationPassword },
      admin: { user: secrets.adminUser, password: secrets.adminPassword },
    },
  };
}

function startSupervisor(stateDir: string, self: SelfCommand): number {
  const paths = statePaths(stateDir);
  const log = openSync(`${paths.logs}/supervisor.log`, "a", 0o600);
  try {
    const child = spawn(self.command, [...self.args, "supervise", "--dir", stateDir], {
      detached: true,
      stdio: ["ignore", log, log],
    });
    child.unref();
    if (!child.pid) throw new HapressError("could not start the supervisor");
    return child.pid;
  } finally {
    closeSync(log);
  }
}

async function waitForSupervisor(stateDir: string, pid: number): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if ((await liveStatus(stateDir).catch(() => null)) !== null) return;
    if (!processExists(pid)) break;
    await sleep(100);
  }
  const tail = await readFile(`${statePaths(stateDir).logs}/supervisor.log`, "utf8").catch(() => "");
  throw new HapressError(
    `the supervisor did not start; last lines of ${stateDir}/logs/supervisor.log:\n${tail.trim().split("\n").slice(-8).join("\n")}`,
  );
}

function describeEvent(event: ProgressEvent): string {
  return `${event.pod ? `[${event.pod}] ` : ""}${event.message}`;
}

const MAX_ERRORS_PER_POD = 3;

/** Waits for the site to be ready, reporting progress; fails when a pod keeps failing, or at the deadline. */
export async function waitUntilReady(
  stateDir: string,
  since: number,
  report: Reporter,
  timeoutMs: number,
): Promise<SiteStatus> {
  const socket = statePaths(stateDir).socket;
  const deadline = Date.now() + timeoutMs;
  let cursor = since;
  let last: SiteStatus | null = null;
  const errors = new Map<string, number>();
  while (Date.now() < deadline) {
    const { events, status } = await callRpc<{ events: ProgressEvent[]; status: SiteStatus }>(socket, {
      method: "progress",
      params: { since: cursor },
    });
    for (const event of events) {
      cursor = event.seq;
      if (event.level === "error") {
        // The supervisor retries; a pod that keeps failing is a real failure, a passing one is not.
        const key = event.pod ?? "site";
        const count = (errors.get(key) ?? 0) + 1;
        errors.set(key, count);
        if (count >= MAX_ERRORS_PER_POD) throw new HapressError(describeEvent(event));
        report(`${describeEvent(event)} (retrying)`);
        continue;
      }
      if (event.pod !== null || !/ (started|exited|killed)/.test(event.message)) report(describeEvent(event));
    }
    last = status;
    if (status.ready) return status;
    await sleep(300);
  }
  const pending = last?.pods
    .filter((p) => !p.ready)
    .map((p) => `${p.name} (${p.phase}${p.message ? `: ${p.message}` : ""})`);
  throw new HapressError(
    `the site was not ready after ${Math.round(timeoutMs / 1000)} s; not ready: ${pending?.join(", ") ?? "?"}; see 'hapress logs POD'`,
  );
}

/** `hapress up`: writes the desired state, starts or updates the supervisor, waits until ready. */
export async function up(
  spec: Spec,
  specSource: string,
  stateDir: string,
  self: SelfCommand,
  report: Reporter,
  timeoutMs: number,
): Promise<SiteStatus> {
  await preflight(stateDir, spec);
  const paths = statePaths(stateDir);
  const running = await liveStatus(stateDir);
  // A supervisor that died left its processes serving: the next one adopts them (HAProxy holds the port).
  const orphaned = running ? [] : await runningRecordedProcesses(paths.pids);
  // Before anything is written: a taken port is bad input and leaves no state folder behind.
  if (!running && orphaned.length === 0) await checkHttpPortFree(spec, specSource);
  await mkdir(paths.logs, { recursive: true, mode: 0o700 });
  refuseRemovingPrimary(await readPrimaryRecord(paths.primary), spec.database.replicas);
  const site = await ensureSiteRecord(paths.site, spec.name, stateDir);
  if (site.name !== spec.name) {
    throw new InputError(
      `name: the state folder ${stateDir} holds site '${site.name}', not '${spec.name}'; use another --dir or name: ${site.name}`,
    );
  }
  await loadOrCreateSecrets(paths.secrets);
  await writeJsonFile(paths.spec, spec);
  let since = 0;
  if (running) {
    report(`supervisor ${running.supervisorPid ?? "?"} is running: applying the spec`);
    const { seq } = await callRpc<{ seq: number }>(paths.socket, { method: "apply" });
    since = seq - 1;
  } else {
    report(
      orphaned.length > 0
        ? `the supervisor had stopped; ${orphaned.length} process(es) still running: adopting them`
        : existsSync(currentLayout(stateDir).mysqlDataDir("mysql-0"))
          ? "restarting the site from its data"
          : "creating the site",
    );
    const pid = startSupervisor(stateDir, self);
    await waitForSupervisor(stateDir, pid);
    report(`supervisor started (pid ${pid})`);
  }
  return waitUntilReady(stateDir, since, report, timeoutMs);
}

/** `hapress scale mysql N` and `hapress scale wordpress N`. */
export async function scaleTier(
  stateDir: string,
  tier: "mysql" | "wordpress",
  replicas: number,
  report: Reporter,
  timeoutMs: number,
): Promise<SiteStatus> {
  const paths = statePaths(stateDir);
  const spec = await readJsonFile(paths.spec, specSchema);
  if (!spec) throw new HapressError(`no site in ${stateDir}: run 'hapress up' first`);
  if (tier === "mysql") refuseRemovingPrimary(await readPrimaryRecord(paths.primary), replicas);
  if ((await liveStatus(stateDir)) === null)
    throw new HapressError(`the site in ${stateDir} is not running: run 'hapress up'`);
  const next: Spec =
    tier === "mysql"
      ? { ...spec, database: { ...spec.database, replicas } }
      : { ...spec, wordpress: { ...spec.wordpress, replicas } };
  await writeJsonFile(paths.spec, next);
  const { seq } = await callRpc<{ seq: number }>(paths.socket, { method: "apply" });
  return waitUntilReady(stateDir, seq - 1, report, timeoutMs);
}

/** `hapress down`: stops every process by PID and waits; with `volumes`, deletes the state folder. */
export async function down(stateDir: string, options: { volumes: boolean }, report: Reporter): Promise<void> {
  const paths = statePaths(stateDir);
  try {
    const { pid } = await callRpc<{ pid: number }>(paths.socket, { method: "shutdown" });
    report(`stopping the site (supervisor ${pid})`);
    for (let i = 0; i < 1200 && processExists(pid); i++) await sleep(100);
    if (processExists(pid)) throw new HapressError(`supervisor ${pid} did not stop within 120 s`);
  } catch (error) {
    if (!(error instanceof SupervisorUnreachable)) throw error;
  }
  // Workers whose leader died with no supervisor first (killRecordedOrphans forgets the records).
  const workers = await killLeftoverGroups(paths.pids);
  if (workers.length > 0) report(`stopped ${workers.length} leftover worker(s): ${workers.join(", ")}`);
  const leftovers = await killRecordedOrphans(paths.pids, [stateDir, currentLayout(stateDir).serviceRoot]);
  if (leftovers.length > 0)
    report(`stopped ${leftovers.length} leftover process(es): ${leftovers.join(", ")}`);
  if (options.volumes) {
    const isSite = await stat(paths.site).then(
      () => true,
      () => false,
    );
    if (!isSite) {
      report(`nothing to delete: ${stateDir} holds no site`);
      return;
    }
    const layout = currentLayout(stateDir);
    // Started by root, the services' files live apart (see layout.ts): they go too.
    if (layout.serviceRoot !== stateDir) {
      await rm(layout.serviceRoot, { recursive: true, force: true });
      report(`deleted ${layout.serviceRoot} (the services' data)`);
    }
    await rm(stateDir, { recursive: true, force: true });
    report(`deleted ${stateDir} (data, secrets, logs)`);
  }
}

/** The WordPress admin login, returned only the first time it is asked for (then marked as shown). */
export async function firstAdminLogin(stateDir: string): Promise<{ user: string; password: string } | null> {
  const path = statePaths(stateDir).wordpressInstall;
  const record = await readJsonFile(path, installRecordSchema);
  if (!record || record.passwordShown) return null;
  const secrets = await loadSecrets(statePaths(stateDir).secrets);
  await writeJsonFile(path, { ...record, passwordShown: true });
  return { user: record.adminUser, password: secrets.wordpressAdminPassword };
}
