import type { Secrets } from "../state/secrets.js";
import { ADMIN_PORT } from "../topology/topology.js";

export interface ServerConfigInput {
  ordinal: number;
  address: string;
  port: number;
  dataDir: string;
  socket: string;
  pidFile: string;
  errorLog: string;
  bufferPoolMB: number;
  semiSyncTimeoutMs: number;
  maxConnections: number;
  /** Started by root: the system account the server runs as (null: whoever starts it). */
  runAs: string | null;
}

/** server-id from the ordinal, offset by 100 as in the tutorial (0 is reserved). */
export function serverId(ordinal: number): number {
  return 100 + ordinal;
}

/**
 * Replication settings shared by every instance on every target. Every instance starts read-only,
 * whatever its role: only the controller makes the recorded primary writable, so a restarted old
 * primary is fenced by default. Primary and replica share them, since any replica may be promoted.
 */
export function replicationSettings(semiSyncTimeoutMs: number): string[] {
  return [
    // GTID replication: every instance logs, so any replica can become the primary.
    "log-bin=mysql-bin",
    "log-slave-updates=ON",
    "binlog-format=ROW",
    "gtid-strict-mode=ON",
    "sync-binlog=1",
    "innodb-flush-log-at-trx-commit=1",
    "expire-logs-days=7",
    // Fenced until the controller says otherwise; users lack READ_ONLY ADMIN, so this holds for them.
    "read-only=ON",
    // Semi-sync: the primary waits for a replica's acknowledgement before the commit returns
    // (AFTER_SYNC, so no client sees a write a replica lacks). Enabled at run time on the primary
    // once a replica is connected; the long timeout keeps it from silently going asynchronous.
    "rpl-semi-sync-master-enabled=OFF",
    "rpl-semi-sync-slave-enabled=ON",
    "rpl-semi-sync-master-wait-point=AFTER_SYNC",
    `rpl-semi-sync-master-timeout=${semiSyncTimeoutMs}`,
    // A replica applies what it has relayed and does not keep a stale relay log across restarts.
    "relay-log=relay-bin",
    "relay-log-recovery=ON",
    // Replicas notice a silent primary within seconds (heartbeats every second).
    "slave-net-timeout=4",
  ];
}

/** Slots of the admin port: the controller's probes and actions, the supervisor, status, an operator. */
export const ADMIN_MAX_CONNECTIONS = 20;

/**
 * Connection limits on both targets: clients share max_connections; the admin port (extra_port) has
 * its own slots, so a saturated server still answers the controller, which then sees it alive.
 */
export function connectionSettings(maxConnections: number): string[] {
  return [
    `max-connections=${maxConnections}`,
    `extra-port=${ADMIN_PORT}`,
    `extra-max-connections=${ADMIN_MAX_CONNECTIONS}`,
  ];
}

/**
 * The MariaDB configuration of one instance on the local target. */
export function renderServerConfig(input: ServerConfigInput): string {
  const lines = [
    "# Written by hapress; changes are overwritten at the next start.",
    "[mysqld]",
    // Started by root, the server reads this file, then becomes this account before it opens any data.
    ...(input.runAs ? [`user=${input.runAs}`] : []),
    `datadir=${input.dataDir}`,
    `socket=${input.socket}`,
    `pid-file=${input.pidFile}`,
    // As another account it could not open the pod's log in the state folder: stderr goes there anyway.
    ...(input.runAs ? [] : [`log-error=${input.errorLog}`]),
    `bind-address=${input.address}`,
    `port=${input.port}`,
    `server-id=${serverId(input.ordinal)}`,
    `report-host=${input.address}`,
    "skip-name-resolve",
    "skip-host-cache",
    ...replicationSettings(input.semiSyncTimeoutMs),
    `innodb-buffer-pool-size=${input.bufferPoolMB}M`,
    "innodb-log-file-size=48M",
    ...connectionSettings(input.maxConnections),
    "character-set-server=utf8mb4",
    "collation-server=utf8mb4_unicode_ci",
    "",
  ];
  return lines.join("\n");
}

/** Quotes a string for a single-quoted SQL literal. */
export function sqlString(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** Hosts from which the site's users may connect: loopback only. */
export const LOOPBACK_HOST_PATTERN = "127.%";

/**
 * SQL run once in bootstrap mode on a new primary's data folder. Least privilege:
 * root only through the Unix socket and without READ_ONLY ADMIN (so read-only binds it too),
 * replication user with REPLICATION SLAVE only, the controller's admin user with the replication
 * and read-only administration privileges but no access to data, the app user limited to its database.
 */
/**
 * mariadbd sets its own umask from these (its defaults make files 0660): the data is its owner's alone.
 */
export const PRIVATE_FILES_ENV = { UMASK: "0600", UMASK_DIR: "0700" } as const;

/**
 * The privileges `mariadb-backup --backup` needs on MariaDB 10.5 and later (BACKUP STAGE, the binlog
 * position, the process list); nothing that reads or writes data through SQL.
 */
export const BACKUP_PRIVILEGES = "RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR";

/**
 * What mysqld_exporter's default collectors read (status and variables, SHOW ENGINE INNODB STATUS,
 * the replica's status, the binary logs): no SELECT on any table, so it never reads the site's data;
 * three sessions at most, so a stuck exporter cannot take client slots.
 */
export const EXPORTER_PRIVILEGES = "PROCESS, BINLOG MONITOR, SLAVE MONITOR";
export const EXPORTER_MAX_CONNECTIONS = 3;

/**
 * `socketUser`: the operating-system user who initialised the data folder; mariadb-install-db gives
 * that account (besides root) every privilege through socket authentication, for a human operator.
 */
export function renderBootstrapSql(secrets: Secrets, socketUser = "root"): string {
  return [
    // Bootstrap mode starts without grant tables; loading them enables account management.
    "FLUSH PRIVILEGES;",
    // mariadb-install-db makes passwordless root accounts for TCP and the host name, and anonymous users.
    "DELETE FROM mysql.global_priv WHERE User = '' OR (User = 'root' AND Host <> 'localhost');",
    "FLUSH PRIVILEGES;",
    // No human account writes on a read-only replica: only replication may.
    ...[...new Set(["root", socketUser])].map(
      (user) => `REVOKE READ_ONLY ADMIN ON *.* FROM ${sqlString(user)}@'localhost';`,
    ),
    `CREATE DATABASE ${appDatabaseName(secrets)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;`,
    ...accountStatements(secrets, "CREATE USER"),
    "",
  ].join("\n");
}

/**
 * For a data folder restored from a backup into a new site: the site's accounts made anew with this
 * site's passwords (a backup's grant tables hold the old site's), whatever the backup held of them.
 */
export function renderRestoredAccountsSql(secrets: Secrets): string {
  return ["FLUSH PRIVILEGES;", ...accountStatements(secrets, "CREATE OR REPLACE USER"), ""].join("\n");
}

function appDatabaseName(secrets: Secrets): string {
  return `\`${secrets.appDatabase.replace(/`/g, "")}\``;
}

function accountStatements(secrets: Secrets, create: "CREATE USER" | "CREATE OR REPLACE USER"): string[] {
  const host = sqlString(LOOPBACK_HOST_PATTERN);
  const repl = `${sqlString(secrets.replicationUser)}@${host}`;
  const admin = `${sqlString(secrets.adminUser)}@${host}`;
  const app = `${sqlString(secrets.appUser)}@${host}`;
  return [
    // Through the socket only ('localhost'), with a password: works whoever runs the agent.
    `${create} ${sqlString(secrets.backupUser)}@'localhost' IDENTIFIED BY ${sqlString(secrets.backupPassword)};`,
    `GRANT ${BACKUP_PRIVILEGES} ON *.* TO ${sqlString(secrets.backupUser)}@'localhost';`,
    `${create} ${sqlString(secrets.exporterUser)}@'localhost' IDENTIFIED BY ${sqlString(secrets.exporterPassword)} WITH MAX_USER_CONNECTIONS ${EXPORTER_MAX_CONNECTIONS};`,
    `GRANT ${EXPORTER_PRIVILEGES} ON *.* TO ${sqlString(secrets.exporterUser)}@'localhost';`,
    `${create} ${repl} IDENTIFIED BY ${sqlString(secrets.replicationPassword)};`,
    `GRANT REPLICATION SLAVE ON *.* TO ${repl};`,
    `${create} ${admin} IDENTIFIED BY ${sqlString(secrets.adminPassword)};`,
    `GRANT READ_ONLY ADMIN, REPLICATION SLAVE ADMIN, REPLICATION MASTER ADMIN, BINLOG ADMIN, BINLOG MONITOR, SLAVE MONITOR, CONNECTION ADMIN, PROCESS, RELOAD ON *.* TO ${admin};`,
    `${create} ${app} IDENTIFIED BY ${sqlString(secrets.appPassword)};`,
    `GRANT ALL PRIVILEGES ON ${appDatabaseName(secrets)}.* TO ${app};`,
  ];
}
