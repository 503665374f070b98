import { connectSql, readInstanceState, type InstanceState, type SqlSession } from "../mysql/client.js";
import type { InstancePort } from "./instance-port.js";
import { setTimeout as sleep } from "node:timers/promises";
import { sqlString } from "../mysql/config.js";
import type { Secrets } from "../state/secrets.js";

/** The only credentials the controller holds: its admin account and the replication account. */
export type ControllerCredentials = Pick<
  Secrets,
  "adminUser" | "adminPassword" | "replicationUser" | "replicationPassword"
>;
import type { DatabaseInstance } from "./platform.js";

/** How often, and how far apart, the replication I/O thread's connection is killed when it lingers. */
const IO_THREAD_KILL_ATTEMPTS = 100;
const IO_THREAD_KILL_PAUSE_MS = 5;

/** SQL the controller runs on instances, each statement bounded by a timeout (the InstancePort adapter). */
export class InstanceSql implements InstancePort {
  /** `probe`: the probe's timeouts, short, so a hung server never stalls the controller's loop. */
  constructor(
    private readonly secrets: ControllerCredentials,
    private readonly probe: { connectTimeoutMs: number; queryTimeoutMs: number },
  ) {}

  async readState(instance: DatabaseInstance): Promise<InstanceState> {
    const session = await connectSql(
      { host: instance.address, port: instance.adminPort },
      { user: this.secrets.adminUser, password: this.secrets.adminPassword },
      this.probe,
    );
    try {
      return await readInstanceState(session);
    } finally {
      await session.close();
    }
  }

  async session(instance: DatabaseInstance, queryTimeoutMs = 5000): Promise<SqlSession> {
    return connectSql(
      { host: instance.address, port: instance.adminPort },
      { user: this.secrets.adminUser, password: this.secrets.adminPassword },
      { connectTimeoutMs: 1000, queryTimeoutMs },
    );
  }

  async run(instance: DatabaseInstance, statements: string[], queryTimeoutMs = 5000): Promise<void> {
    const session = await this.session(instance, queryTimeoutMs);
    try {
      for (const statement of statements) await session.query(statement);
    } finally {
      await session.close();
    }
  }

  /** Read-only, not semi-sync, and every client session cut: nothing more can be written there. */
  async fenceReadOnly(instance: DatabaseInstance): Promise<void> {
    const session = await this.session(instance);
    try {
      await session.query("SET GLOBAL read_only = ON");
      await session.query("SET GLOBAL rpl_semi_sync_master_enabled = OFF");
      const clients = await session.query(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND USER NOT IN ('system user', 'event_scheduler', ?, ?)",
        [this.secrets.adminUser, this.secrets.replicationUser],
      );
      for (const row of clients) {
        await session.query(`KILL CONNECTION ${Number(row.ID)}`).catch(() => undefined);
      }
    } finally {
      await session.close();
    }
  }

  /**
   * Stops the I/O thread: nothing more is received from the old primary, so none of its new commits
   * is acknowledged. STOP SLAVE alone asks the thread once and waits; a thread blocked reading from a
   * primary whose packets the network drops (a partition) can miss that request and notices only the
   * server's second one, 2 s later (MariaDB's terminate_slave_thread), which every write waited for.
   * So its connection is killed, again every few milliseconds until the thread is gone (bounded),
   * before the STOP SLAVE that records the stop.
   */
  async stopReplicationIo(instance: DatabaseInstance): Promise<void> {
    const session = await this.session(instance);
    try {
      for (let attempt = 0; attempt < IO_THREAD_KILL_ATTEMPTS; attempt++) {
        const threads = await session.query(
          "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Slave_IO'",
        );
        if (threads.length === 0) break;
        for (const row of threads) {
          await session.query(`KILL CONNECTION ${Number(row.ID)}`).catch(() => undefined);
        }
        await sleep(IO_THREAD_KILL_PAUSE_MS);
      }
      await session.query("STOP SLAVE IO_THREAD");
    } finally {
      await session.close();
    }
  }

  async promote(instance: DatabaseInstance, semiSync: boolean): Promise<void> {
    await this.run(instance, [
      "STOP SLAVE",
      "RESET SLAVE ALL",
      `SET GLOBAL rpl_semi_sync_master_enabled = ${semiSync ? "ON" : "OFF"}`,
      "SET GLOBAL read_only = OFF",
    ]);
  }

  async repoint(
    instance: DatabaseInstance,
    to: DatabaseInstance,
    usePos: "slave_pos" | "current_pos",
  ): Promise<void> {
    await this.run(instance, [
      "SET GLOBAL read_only = ON",
      "SET GLOBAL rpl_semi_sync_master_enabled = OFF",
      "STOP SLAVE",
      `CHANGE MASTER TO MASTER_HOST=${sqlString(to.address)}, MASTER_PORT=${to.port}, ` +
        `MASTER_USER=${sqlString(this.secrets.replicationUser)}, MASTER_PASSWORD=${sqlString(this.secrets.replicationPassword)}, ` +
        `MASTER_USE_GTID=${usePos}, MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=0.25`,
      "START SLAVE",
    ]);
  }

  async startReplication(instance: DatabaseInstance): Promise<void> {
    await this.run(instance, ["START SLAVE"]);
  }

  async setWritable(instance: DatabaseInstance): Promise<void> {
    await this.run(instance, ["SET GLOBAL read_only = OFF"]);
  }

  async setSemiSync(instance: DatabaseInstance, enabled: boolean): Promise<void> {
    await this.run(instance, [`SET GLOBAL rpl_semi_sync_master_enabled = ${enabled ? "ON" : "OFF"}`]);
  }

  async binlogPosition(instance: DatabaseInstance): Promise<string> {
    const session = await this.session(instance);
    try {
      const [row] = await session.query("SELECT @@global.gtid_binlog_pos AS pos");
      return typeof row?.pos === "string" ? row.pos : "";
    } finally {
      await session.close();
    }
  }
}
