// What the controller sees of instances, as test fixtures shared by the decision, metrics and
// observation tests: a healthy replica of mysql-0 by default, overridden field by field.
import type { InstanceView, ReplicationView } from "./types.js";

export const viewAddress = (ordinal: number): string => `127.1.1.${10 + ordinal}`;

/** A replica streaming from `primaryOrdinal`, caught up. */
export function replicaOf(primaryOrdinal: number, overrides: Partial<ReplicationView> = {}): ReplicationView {
  return {
    masterHost: viewAddress(primaryOrdinal),
    ioRunning: "Yes",
    sqlRunning: true,
    lastIoErrno: 0,
    lastSqlErrno: 0,
    gtidIoPos: "0-100-10",
    relayApplied: true,
    secondsBehind: 0,
    progress: "mysql-bin.000001:100/7",
    heartbeatPeriodMs: 250,
    ...overrides,
  };
}

/** mysql-<ordinal>, answering, read-only, replicating from mysql-0. */
export function instanceView(ordinal: number, overrides: Partial<InstanceView> = {}): InstanceView {
  return {
    name: `mysql-${ordinal}`,
    ordinal,
    address: viewAddress(ordinal),
    port: 3306,
    adminPort: 3308,
    provisioning: false,
    routed: null,
    reachable: true,
    busy: false,
    exited: null,
    error: null,
    readOnly: true,
    gtidCurrent: "0-100-10",
    gtidBinlog: "0-100-10",
    replication: replicaOf(0),
    semiSyncMasterEnabled: false,
    serverStartedAt: null,
    ...overrides,
  };
}

/** A writable, semi-synchronous primary. */
export function primaryView(ordinal = 0, overrides: Partial<InstanceView> = {}): InstanceView {
  return instanceView(ordinal, {
    readOnly: false,
    replication: null,
    semiSyncMasterEnabled: true,
    ...overrides,
  });
}
