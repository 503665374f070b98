import type { Command } from "commander";
import { applyClonePosition } from "../agent/clone-position.js";
import { serveBackups } from "../agent/clone.js";
import { initInstance } from "../agent/init-instance.js";
import { runArchiver } from "../backup/binlog-archiver.js";
import { ServerWatch, socketRefuses } from "../agent/server-watch.js";
import { holdSession, preloadSqlClient } from "../mysql/client.js";
import { BACKUP_USER } from "../state/secrets.js";
import { requiredSecret, secretInput } from "../util/secret-input.js";
import { lookupAccount, type ServiceAccount } from "../util/accounts.js";
import { InputError } from "../errors.js";
import { ADMIN_PORT } from "../topology/topology.js";
import { isLoopbackIPv4Literal } from "../util/net.js";
import { sleep } from "../util/process.js";
import { parseCount } from "./options.js";
import { registerClusterBackupCommands } from "./cluster-backup-commands.js";

/**
 * Becomes a system account for good (groups, then group, then user: the order that leaves no way
 * back). Every module is loaded by now; the rest of the agent's life needs nothing of root's.
 */
function dropPrivileges(account: ServiceAccount): void {
  if (process.getuid?.() !== 0)
    throw new InputError(`--run-as ${account.name}: only root can change its user`);
  // Loaded on first use by the SQL client otherwise, when the install folder may be closed to us.
  preloadSqlClient();
  process.setgroups?.([account.gid]);
  process.setgid?.(account.gid);
  process.setuid?.(account.uid);
}

/** `hapress agent …`: the helpers that run inside a database pod (or beside a local instance). */
export function registerAgentCommands(program: Command): void {
  const agent = program.command("agent").description("per-database-instance helper (runs beside mariadbd)");
  agent
    .command("serve-backups")
    .description("serve physical backup streams of the local instance to peers that present the clone token")
    .requiredOption("--address <address>", "address to listen on (a loopback address unless --any-address)")
    .requiredOption("--port <port>", "port", parseCount(1, 65535))
    .requiredOption("--socket <path>", "the instance's Unix socket")
    .option("--any-address", "allow a non-loopback address (in a Kubernetes pod, behind its NetworkPolicy)")
    .option("--user <name>", "the backup account (RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR)", BACKUP_USER)
    .option("--run-as <account>", "started by root: become this system account before serving (e.g. mysql)")
    .requiredOption(
      "--password-env <name>",
      "environment variable holding the backup account's password, or <NAME>_FILE naming a file with it (never on the command line)",
    )
    .option(
      "--data-dir <dir>",
      "in a pod: before serving, give a fresh clone in this data folder its GTID position (needs HAPRESS_ADMIN_PASSWORD)",
    )
    .action(
      async (options: {
        address: string;
        port: number;
        socket: string;
        anyAddress?: boolean;
        user: string;
        passwordEnv: string;
        runAs?: string;
        dataDir?: string;
      }) => {
        const token = requiredSecret("HAPRESS_CLONE_TOKEN");
        // Secrets first: a mounted secret file may be readable by root only.
        const password = secretInput(options.passwordEnv);
        if (!password)
          throw new InputError(
            `--password-env ${options.passwordEnv}: neither it nor ${options.passwordEnv}_FILE is set`,
          );
        const adminPassword = secretInput("HAPRESS_ADMIN_PASSWORD");
        if (options.runAs) dropPrivileges(lookupAccount(options.runAs));
        if (!options.anyAddress && !isLoopbackIPv4Literal(options.address)) {
          throw new InputError(
            `--address ${JSON.stringify(options.address)}: only a literal loopback address such as 127.0.0.1 (or pass --any-address in a pod)`,
          );
        }
        const log = (line: string) => console.log(`${new Date().toISOString()} agent: ${line}`);
        if (options.dataDir) {
          // Not listening (so not ready) until then: the controller waits for a ready pod before it
          // points replication at the primary.
          if (!adminPassword)
            throw new InputError("--data-dir needs HAPRESS_ADMIN_PASSWORD (or HAPRESS_ADMIN_PASSWORD_FILE)");
          await applyClonePosition({
            dataDir: options.dataDir,
            endpoint: { host: "127.0.0.1", port: ADMIN_PORT },
            credentials: { user: "hapress_admin", password: adminPassword },
            log,
            sleep,
            deadlineMs: 30 * 60_000,
          });
        }
        // Started by the first subscriber (the controller on Kubernetes, where no supervisor owns mariadbd).
        const watch = new ServerWatch({
          holdSession: () =>
            holdSession(
              { socketPath: options.socket },
              { user: options.user, password },
              { connectTimeoutMs: 1000 },
            ),
          socketRefuses: () => socketRefuses(options.socket),
          sleep,
          now: () => Date.now(),
          log,
        });
        const server = await serveBackups({
          address: options.address,
          port: options.port,
          socket: options.socket,
          token,
          log,
          user: options.user,
          password,
          watch,
        });
        log(`serving backup streams on ${options.address}:${options.port}`);
        const stop = () => {
          server.close();
          void watch.stop().finally(() => process.exit(0));
        };
        process.on("SIGTERM", stop);
        process.on("SIGINT", stop);
        await new Promise<never>(() => undefined);
      },
    );
  agent
    .command("archive-binlogs")
    .description(
      "copy the primary's binary logs into a segment folder of the archive, and keep following them",
    )
    .requiredOption("--host <address>", "the primary's address (loopback)")
    .requiredOption("--port <port>", "its SQL port", parseCount(1, 65535))
    .requiredOption("--segment <dir>", "the segment folder (one per primary)")
    .requiredOption("--first <file>", "the primary's oldest binary log, for an empty segment")
    .option("--user <name>", "the replication account", "repl")
    .option("--run-as <account>", "started by root: become this system account first (e.g. mysql)")
    .requiredOption(
      "--password-env <name>",
      "environment variable holding the account's password, or <NAME>_FILE naming a file with it",
    )
    .action(
      async (options: {
        host: string;
        port: number;
        segment: string;
        first: string;
        user: string;
        runAs?: string;
        passwordEnv: string;
      }) => {
        const password = secretInput(options.passwordEnv);
        if (!password)
          throw new InputError(
            `--password-env ${options.passwordEnv}: neither it nor ${options.passwordEnv}_FILE is set`,
          );
        if (!isLoopbackIPv4Literal(options.host))
          throw new InputError(
            `--host ${JSON.stringify(options.host)}: only a literal loopback address such as 127.0.0.1`,
          );
        if (options.runAs) dropPrivileges(lookupAccount(options.runAs));
        const log = (line: string) => console.log(`${new Date().toISOString()} archive: ${line}`);
        const archiver = runArchiver({
          host: options.host,
          port: options.port,
          user: options.user,
          password,
          segmentDir: options.segment,
          firstFile: options.first,
          log,
        });
        const stop = () => archiver.stop();
        process.on("SIGTERM", stop);
        process.on("SIGINT", stop);
        process.exit(await archiver.done);
      },
    );
  registerClusterBackupCommands(agent);
  agent
    .command("init")
    .description(
      "prepare a database pod: server-id from the ordinal, configuration, and a clone when it has no data",
    )
    .requiredOption("--data-dir <dir>", "the instance's data folder (created by the clone)")
    .requiredOption("--conf-dir <dir>", "where to write server configuration")
    .requiredOption(
      "--config-map-dir <dir>",
      "the mounted ConfigMap with common.cnf, primary.cnf, replica.cnf",
    )
    .requiredOption(
      "--state-dir <dir>",
      "the mounted hapress-state ConfigMap (primary record, re-clone markers)",
    )
    .requiredOption("--peer-domain <domain>", "the peers' DNS domain: mysql-N.<domain> (e.g. mysql.shop.svc)")
    .option(
      "--observed-dir <dir>",
      "the mounted hapress-observed ConfigMap: a replica the controller saw streaming is cloned before the primary",
    )
    .option("--donor-port <port>", "the donor agent's port", parseCount(1, 65535), 3307)
    .option("--donor <host>", "clone from this agent instead of the recorded primary (a manual restore)")
    .option("--hostname <name>", "the pod's host name (default: the HOSTNAME variable)")
    .action(
      async (options: {
        dataDir: string;
        confDir: string;
        configMapDir: string;
        stateDir: string;
        peerDomain: string;
        donorPort: number;
        donor?: string;
        observedDir?: string;
        hostname?: string;
      }) => {
        const token = requiredSecret("HAPRESS_CLONE_TOKEN");
        const hostname = options.hostname ?? process.env.HOSTNAME ?? "";
        const outcome = await initInstance({
          hostname,
          dataDir: options.dataDir,
          confDir: options.confDir,
          configMapDir: options.configMapDir,
          stateDir: options.stateDir,
          peerDomain: options.peerDomain,
          donorPort: options.donorPort,
          donorHost: options.donor,
          observedDir: options.observedDir,
          token,
          log: (line) => console.log(`agent init: ${line}`),
        });
        console.log(outcome);
      },
    );
}
