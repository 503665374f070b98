import iconv from "iconv-lite";
import mysqlEvents from "mysql2";
import mysql from "mysql2/promise";
import type { RowDataPacket } from "mysql2/promise";

export interface Endpoint {
  host: string;
  port: number;
}

/** A server's Unix socket (inside its pod or on this machine). */
export interface SocketEndpoint {
  socketPath: string;
}

export interface Credentials {
  user: string;
  password: string;
}

export interface SqlOptions {
  connectTimeoutMs?: number;
  queryTimeoutMs?: number;
  /** How long close() waits for the server to acknowledge the quit before dropping the socket. */
  closeTimeoutMs?: number;
  database?: string;
  /** The local address to connect from (TCP only): who the server sees, and what a packet filter matches. */
  localAddress?: string;
}

export type Row = Record<string, unknown>;

/** A short-lived SQL session; every query and the close are bounded, so a hung server never stalls a caller. */
export interface SqlSession {
  query(sql: string, values?: unknown[]): Promise<Row[]>;
  close(): Promise<void>;
}

/** Opens a connection (TCP, or a Unix socket) with connect and query timeouts. */
export async function connectSql(
  endpoint: Endpoint | SocketEndpoint,
  credentials: Credentials,
  options: SqlOptions = {},
): Promise<SqlSession> {
  const connection = await mysql.createConnection({
    ...("socketPath" in endpoint
      ? { socketPath: endpoint.socketPath }
      : { host: endpoint.host, port: endpoint.port, localAddress: options.localAddress }),
    user: credentials.user,
    password: credentials.password,
    database: options.database,
    connectTimeout: options.connectTimeoutMs ?? 2000,
    multipleStatements: false,
  });
  const queryTimeout = options.queryTimeoutMs ?? 5000;
  const closeTimeoutMs = options.closeTimeoutMs ?? 500;
  return {
    async query(sql, values) {
      const [rows] = await connection.query<RowDataPacket[]>({ sql, timeout: queryTimeout, values });
      return Array.isArray(rows) ? rows : [];
    },
    async close() {
      // A stopped (SIGSTOP) or wedged server never answers COM_QUIT, and mysql2's end() then waits
      // forever: a controller round stalled that way once. Quit politely for a moment, then drop the socket.
      let timer: NodeJS.Timeout | undefined;
      const ended = connection.end().then(
        () => true,
        () => false,
      );
      const gaveUp = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), closeTimeoutMs);
      });
      const clean = await Promise.race([ended, gaveUp]);
      clearTimeout(timer);
      if (!clean) connection.destroy();
    },
  };
}

/**
 * mysql2 decodes some of the server's strings (the handshake's among them) through iconv-lite, which
 * loads its encoding tables on first use. A process that gives up root (the agent) calls this first,
 * while it can still read the install folder: afterwards its first session would fail to load them
 * wherever that folder is closed to the service account.
 */
export function preloadSqlClient(): void {
  iconv.getCodec("cesu8");
}

/** An idle session kept open only to learn the moment the server ends it. */
export interface HeldSession {
  /** Settles with the reason when the server closes the session or its socket goes away. */
  ended: Promise<string>;
  /** Drops the session at once (no quit handshake: the server may be hung). */
  close(): void;
}

/**
 * Opens a session and holds it without a query. A server whose process dies closes the socket at
 * once (the kernel does it), so `ended` is how an observer beside the server learns of a crash
 * without polling; a hung server keeps it open, so this never confuses a hang with a crash.
 */
export async function holdSession(
  endpoint: Endpoint | SocketEndpoint,
  credentials: Credentials,
  options: Pick<SqlOptions, "connectTimeoutMs"> = {},
): Promise<HeldSession> {
  // The callback API: its connection reports 'end' and 'error' events, which the promise wrapper hides.
  const connection = mysqlEvents.createConnection({
    ...("socketPath" in endpoint
      ? { socketPath: endpoint.socketPath }
      : { host: endpoint.host, port: endpoint.port }),
    user: credentials.user,
    password: credentials.password,
    connectTimeout: options.connectTimeoutMs ?? 2000,
  });
  // Listening before the handshake: an 'error' event without a listener would end the process.
  const ended = new Promise<string>((resolve) => {
    connection.once("end", () => resolve("the server closed the session"));
    connection.on("error", (error: Error & { code?: string }) => resolve(error.code ?? error.message));
  });
  await new Promise<void>((resolve, reject) =>
    connection.connect((error) => {
      if (!error) return resolve();
      connection.destroy();
      reject(error);
    }),
  );
  return { ended, close: () => connection.destroy() };
}

/** Runs `work` with a session that is always closed afterwards. */
export async function withSql<T>(
  endpoint: Endpoint,
  credentials: Credentials,
  work: (session: SqlSession) => Promise<T>,
  options: SqlOptions = {},
): Promise<T> {
  const session = await connectSql(endpoint, credentials, options);
  try {
    return await work(session);
  } finally {
    await session.close();
  }
}

/** Replication and role facts of one instance, read in one round of queries. */
export interface InstanceState {
  readOnly: boolean;
  gtidCurrentPos: string;
  gtidBinlogPos: string;
  gtidSlavePos: string;
  /** null when the instance has no replication configured. */
  replication: {
    masterHost: string;
    ioRunning: string;
    sqlRunning: boolean;
    secondsBehindMaster: number | null;
    lastIoError: string;
    lastSqlError: string;
    lastIoErrno: number;
    lastSqlErrno: number;
    gtidIoPos: string;
    /** The SQL thread has applied everything the IO thread received. */
    relayApplied: boolean;
    /** Where the IO thread has read up to, and the heartbeats received: moves whenever the primary speaks. */
    progress: string;
    heartbeatPeriodMs: number;
  } | null;
  semiSyncMasterEnabled: boolean;
  /** Seconds since the server started (null when it does not say). */
  uptimeSeconds: number | null;
  semiSyncMasterActive: boolean;
  semiSyncMasterClients: number;
  semiSyncSlaveActive: boolean;
  /**
   * Client sessions now (Threads_connected), the limit (max_connections), and connection attempts
   * refused since start (too many connections, or a failed login: MariaDB counts both together).
   */
  connections: { inUse: number; limit: number; refused: number };
}

function asString(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean")
    return String(value);
  return JSON.stringify(value);
}

/** Reads an instance's role and replication state over an open session. */
export async function readInstanceState(session: SqlSession): Promise<InstanceState> {
  const [variables] = await session.query(
    "SELECT @@global.read_only AS readOnly, @@global.gtid_current_pos AS current, @@global.gtid_binlog_pos AS binlog, @@global.gtid_slave_pos AS slave, @@global.rpl_semi_sync_master_enabled AS semiMaster, @@global.max_connections AS maxConnections",
  );
  const statusRows = await session.query(
    "SHOW GLOBAL STATUS WHERE Variable_name IN ('Rpl_semi_sync_master_status', 'Rpl_semi_sync_slave_status', 'Rpl_semi_sync_master_clients', 'Threads_connected', 'Connection_errors_max_connections', 'Aborted_connects', 'Slave_received_heartbeats', 'Slave_heartbeat_period', 'Uptime')",
  );
  const status = new Map(statusRows.map((row) => [asString(row.Variable_name), asString(row.Value)]));
  const slaveRows = await session.query("SHOW SLAVE STATUS");
  const slave = slaveRows[0];
  const lag = slave ? slave.Seconds_Behind_Master : null;
  return {
    readOnly: Number(variables?.readOnly) === 1,
    gtidCurrentPos: asString(variables?.current),
    gtidBinlogPos: asString(variables?.binlog),
    gtidSlavePos: asString(variables?.slave),
    replication: slave
      ? {
          masterHost: asString(slave.Master_Host),
          ioRunning: asString(slave.Slave_IO_Running),
          sqlRunning: asString(slave.Slave_SQL_Running) === "Yes",
          secondsBehindMaster: lag === null || lag === undefined ? null : Number(lag),
          lastIoError: asString(slave.Last_IO_Error),
          lastSqlError: asString(slave.Last_SQL_Error),
          lastIoErrno: Number(slave.Last_IO_Errno ?? 0),
          lastSqlErrno: Number(slave.Last_SQL_Errno ?? 0),
          gtidIoPos: asString(slave.Gtid_IO_Pos),
          relayApplied:
            asString(slave.Master_Log_File) === asString(slave.Relay_Master_Log_File) &&
            Number(slave.Read_Master_Log_Pos) === Number(slave.Exec_Master_Log_Pos),
          progress: `${asString(slave.Master_Log_File)}:${asString(slave.Read_Master_Log_Pos)}/${status.get("Slave_received_heartbeats") ?? "?"}`,
          heartbeatPeriodMs: Math.round(Number(status.get("Slave_heartbeat_period") ?? 0) * 1000),
        }
      : null,
    semiSyncMasterEnabled: Number(variables?.semiMaster) === 1,
    uptimeSeconds: status.has("Uptime") ? Number(status.get("Uptime")) : null,
    semiSyncMasterActive: status.get("Rpl_semi_sync_master_status") === "ON",
    semiSyncMasterClients: Number(status.get("Rpl_semi_sync_master_clients") ?? 0),
    semiSyncSlaveActive: status.get("Rpl_semi_sync_slave_status") === "ON",
    connections: {
      inUse: Number(status.get("Threads_connected") ?? 0),
      limit: Number(variables?.maxConnections ?? 0),
      // MariaDB 10.11 leaves Connection_errors_max_connections at 0 and counts a refusal for
      // max_connections (checked after the login) in Aborted_connects, with failed logins.
      refused:
        Number(status.get("Connection_errors_max_connections") ?? 0) +
        Number(status.get("Aborted_connects") ?? 0),
    },
  };
}
