import type { InstanceState } from "../mysql/client.js";
import type { DatabaseInstance } from "./platform.js";

/**
 * What the controller asks of a database instance: its state (the probe) and the actions on it. The
 * SQL adapter (sql-actions.ts, InstanceSql) implements it; the unit tests use an in-memory fake
 * (fakes.ts). Every call is bounded by a timeout in the adapter.
 */
export interface InstancePort {
  /**
   * The instance's state, read with the probe's short timeouts. Throws when it does not answer; an
   * error with a MariaDB `errno` of 1040/1203/1226 means a live server with no free slot (busy).
   */
  readState(instance: DatabaseInstance): Promise<InstanceState>;
  /** Read-only, not semi-sync, every client session cut. */
  fenceReadOnly(instance: DatabaseInstance): Promise<void>;
  /** Its replication I/O thread stopped (it acknowledges the old primary no more). */
  stopReplicationIo(instance: DatabaseInstance): Promise<void>;
  /** Replication removed, semi-sync as asked, writable. */
  promote(instance: DatabaseInstance, semiSync: boolean): Promise<void>;
  /** Read-only, replicating from `to` by GTID. */
  repoint(
    instance: DatabaseInstance,
    to: DatabaseInstance,
    usePos: "slave_pos" | "current_pos",
  ): Promise<void>;
  startReplication(instance: DatabaseInstance): Promise<void>;
  setWritable(instance: DatabaseInstance): Promise<void>;
  setSemiSync(instance: DatabaseInstance, enabled: boolean): Promise<void>;
  /** Its gtid_binlog_pos: everything it has written. */
  binlogPosition(instance: DatabaseInstance): Promise<string>;
}
