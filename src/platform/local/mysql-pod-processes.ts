import { readFile, mkdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { CLONE_INFO_FILE, type CloneInfo } from "../../agent/clone.js";
import { connectSql } from "../../mysql/client.js";
import { PRIVATE_FILES_ENV, renderServerConfig, sqlString } from "../../mysql/config.js";
import type { Spec } from "../../spec/schema.js";
import { writeFileAtomic, type StatePaths } from "../../state/files.js";
import type { Secrets } from "../../state/secrets.js";
import { ADMIN_PORT, AGENT_PORT, type PodPlan } from "../../topology/topology.js";
import { ensureServiceRoot, giveTo, type SiteLayout } from "./layout.js";
import { reconcileExporter } from "./mysqld-exporter.js";
import type { ProcessManager } from "./processes.js";

/** The longest the recorded primary's mariadbd waits to be restarted after a crash (see its spec). */
export const PRIMARY_RESTART_CAP_MS = 500;

/**
 * The processes of one database pod, as its containers would be: mariadbd with the configuration
 * rendered from the spec, the agent that serves backups and clones, the optional exporter; each kept
 * running (restarted with backoff) by the process manager.
 */
export class MysqlPodProcesses {
  constructor(
    private readonly deps: {
      processes: ProcessManager;
      paths: StatePaths;
      layout: SiteLayout;
      self: { command: string; args: string[] };
      spec: Spec;
      secrets: Secrets;
      /** The recorded primary: its restarts are not delayed by the crash-loop backoff. */
      primary: string | null;
    },
  ) {}

  /**
   * The pod's service folder (data, socket), the database account's alone. Given back at every start:
   * a clone or an initialisation run by the supervisor leaves files of its own user behind.
   */
  async ensureServiceDir(pod: string): Promise<void> {
    await ensureServiceRoot(this.deps.layout);
    const dir = this.deps.layout.podServiceDir(pod);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const owner = this.deps.layout.accounts?.mysql;
    if (owner) await giveTo(dir, owner, { recursive: true, groupReadable: false });
  }

  /** The pod's server configuration as the spec wants it now, and where it is written. */
  config(pod: PodPlan, dataDir: string): { path: string; text: string } {
    const runDir = this.deps.layout.mysqlRunDir(pod.name);
    return {
      path: join(this.deps.paths.podDir(pod.name), "my.cnf"),
      text: renderServerConfig({
        ordinal: pod.ordinal,
        address: pod.address,
        port: pod.port,
        dataDir,
        socket: join(runDir, "mysqld.sock"),
        pidFile: join(runDir, "mysqld.pid"),
        errorLog: this.deps.paths.podLog(pod.name),
        bufferPoolMB: this.deps.spec.database.bufferPoolMB,
        semiSyncTimeoutMs: this.deps.spec.database.semiSyncTimeoutMs,
        maxConnections: this.deps.spec.database.maxConnections,
        runAs: this.deps.layout.accounts?.mysql.name ?? null,
      }),
    };
  }

  /**
   * Whether the running server was started from another configuration than the spec wants now (the
   * file it was started from is left as it was while it runs), or from a program since replaced by a
   * new version (a package upgrade): the controller restarts it in the
   * order of a rolling update (controller/decide-roll.ts).
   */
  async outdated(pod: PodPlan, dataDir: string): Promise<boolean> {
    if (!this.deps.processes.isRunning(`${pod.name}/mariadbd`)) return false;
    const wanted = this.config(pod, dataDir);
    const running = await readFile(wanted.path, "utf8").catch(() => null);
    if (running !== null && running !== wanted.text) return true;
    // A new MariaDB installed under the running server: the next start runs it.
    return this.deps.processes.runsReplacedProgram(`${pod.name}/mariadbd`);
  }

  /** mariadbd (its my.cnf written before a start), the agent, the exporter when asked for. */
  async start(pod: PodPlan, dataDir: string): Promise<void> {
    const runDir = this.deps.layout.mysqlRunDir(pod.name);
    const socket = join(runDir, "mysqld.sock");
    if (!this.deps.processes.isRunning(`${pod.name}/mariadbd`)) {
      await mkdir(runDir, { recursive: true, mode: 0o700 });
      await this.ensureServiceDir(pod.name);
    }
    const { path: configPath, text: config } = this.config(pod, dataDir);
    if (!this.deps.processes.isRunning(`${pod.name}/mariadbd`))
      await writeFileAtomic(configPath, config, 0o600);
    this.deps.processes.ensure({
      name: `${pod.name}/mariadbd`,
      pod: pod.name,
      command: "mariadbd",
      args: [`--defaults-file=${configPath}`],
      env: { ...PRIVATE_FILES_ENV },
      logFile: this.deps.paths.podLog(pod.name),
      // The recorded primary's restart is the only recovery when no majority allows a failover:
      // the crash-loop backoff (doubling up to a minute) would add its delay to every repeated kill.
      ...(this.deps.primary === pod.name ? { maxRestartDelayMs: PRIMARY_RESTART_CAP_MS } : {}),
    });
    this.deps.processes.ensure({
      name: `${pod.name}/agent`,
      pod: pod.name,
      command: this.deps.self.command,
      args: [
        ...this.deps.self.args,
        "agent",
        "serve-backups",
        "--address",
        pod.address,
        "--port",
        String(AGENT_PORT),
        "--socket",
        socket,
        "--user",
        this.deps.secrets.backupUser,
        "--password-env",
        "HAPRESS_BACKUP_PASSWORD",
        // It faces the network: it gives up root before it listens, for the database's account.
        ...(this.deps.layout.accounts ? ["--run-as", this.deps.layout.accounts.mysql.name] : []),
      ],
      env: {
        HAPRESS_CLONE_TOKEN: this.deps.secrets.cloneToken,
        HAPRESS_BACKUP_PASSWORD: this.deps.secrets.backupPassword,
      },
      logFile: this.deps.paths.podLog(pod.name),
    });
    await reconcileExporter(
      { processes: this.deps.processes, account: this.deps.layout.accounts?.mysql ?? null },
      {
        enabled: this.deps.spec.metrics.mysqldExporter,
        pod,
        secrets: this.deps.secrets,
        socket,
        runDir,
        logFile: this.deps.paths.podLog(pod.name),
      },
    );
  }
}

/**
 * Points a freshly cloned replica at the primary from the GTID its backup was taken at (the clone's
 * marker file), then removes the marker so it is done once; resolves with that GTID.
 */
export async function replicateFromCloneMarker(
  pod: PodPlan,
  primary: PodPlan,
  dataDir: string,
  secrets: Secrets,
): Promise<string> {
  const markerPath = join(dataDir, CLONE_INFO_FILE);
  const info = JSON.parse(await readFile(markerPath, "utf8")) as CloneInfo;
  const session = await connectSql(
    { host: pod.address, port: ADMIN_PORT },
    { user: secrets.adminUser, password: secrets.adminPassword },
    { connectTimeoutMs: 1000, queryTimeoutMs: 10_000 },
  );
  try {
    await session.query("STOP SLAVE");
    await session.query("RESET SLAVE ALL");
    await session.query(`SET GLOBAL gtid_slave_pos = ${sqlString(info.gtid)}`);
    await session.query(
      `CHANGE MASTER TO MASTER_HOST=${sqlString(primary.address)}, MASTER_PORT=${primary.port}, ` +
        `MASTER_USER=${sqlString(secrets.replicationUser)}, MASTER_PASSWORD=${sqlString(secrets.replicationPassword)}, ` +
        "MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=0.25",
    );
    await session.query("START SLAVE");
  } finally {
    await session.close();
  }
  await unlink(markerPath);
  return info.gtid;
}
