// The database tier: its configuration, the state ConfigMap, its Services and the StatefulSet.
import {
  ADMIN_PORT,
  AGENT_PORT,
  endpointServerLimit,
  MYSQL_PORT,
  MYSQLD_EXPORTER_PORT,
} from "../../../topology/topology.js";
import {
  ADMIN_USER,
  antiAffinity,
  APP_DATABASE,
  APP_USER,
  type Context,
  type K8sObject,
  labels,
  metadata,
  REPLICATION_USER,
  resources,
  ROLE_LABEL,
  scrapeAnnotations,
  secretEnv,
  selector,
  zoneSpread,
} from "./common.js";
import { OBSERVED_CONFIGMAP, OBSERVED_MOUNT, STATE_CONFIGMAP, STATE_MOUNT } from "../cluster-state.js";
import {
  BACKUP_PRIVILEGES,
  connectionSettings,
  EXPORTER_MAX_CONNECTIONS,
  EXPORTER_PRIVILEGES,
  replicationSettings,
} from "../../../mysql/config.js";
import { BACKUP_USER, EXPORTER_USER } from "../../../state/secrets.js";

/** The tutorial's `mysql` ConfigMap, corrected: GTID, binlogs everywhere, semi-sync AFTER_SYNC, read-only start. */
export function mariadbConfigMap(ctx: Context): K8sObject {
  const common = [
    "# Every instance: any replica may be promoted, and every instance starts read-only (fenced);",
    "# the controller makes the recorded primary writable and labels it for mysql-primary.",
    "[mysqld]",
    "skip-name-resolve",
    "skip-host-cache",
    ...replicationSettings(ctx.spec.database.semiSyncTimeoutMs),
    ...connectionSettings(ctx.spec.database.maxConnections),
    `innodb-buffer-pool-size=${ctx.spec.database.bufferPoolMB}M`,
    "character-set-server=utf8mb4",
    "collation-server=utf8mb4_unicode_ci",
    "",
  ].join("\n");
  const primary = [
    "# Only on the instance that bootstraps the cluster (ordinal 0 with no data).",
    "[mysqld]",
    "rpl-semi-sync-master-enabled=ON",
    "",
  ].join("\n");
  const replica = [
    "# Replicas: read-only for every user but replication; semi-sync acknowledgements on.",
    "[mysqld]",
    "read-only=ON",
    "rpl-semi-sync-slave-enabled=ON",
    "",
  ].join("\n");
  // Run by the mariadb image's entrypoint once, when it initialises mysql-0's empty data folder.
  const initUsers = [
    "#!/bin/bash",
    "# Least-privilege users, created once on the first primary. Passwords come from the Secret's files.",
    "# Sourced by the image's entrypoint (which runs with -e): no shell options of our own here.",
    "docker_process_sql --database=mysql <<SQL",
    `CREATE USER IF NOT EXISTS '${REPLICATION_USER}'@'%' IDENTIFIED BY '$(< "\${HAPRESS_REPLICATION_PASSWORD_FILE}")';`,
    // BINLOG MONITOR: the binary-log archiver asks where the primary's logs start (SHOW BINARY LOGS).
    `GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO '${REPLICATION_USER}'@'%';`,
    `CREATE USER IF NOT EXISTS '${ADMIN_USER}'@'%' IDENTIFIED BY '$(< "\${HAPRESS_ADMIN_PASSWORD_FILE}")';`,
    `GRANT READ_ONLY ADMIN, REPLICATION SLAVE ADMIN, REPLICATION MASTER ADMIN, BINLOG ADMIN, BINLOG MONITOR, SLAVE MONITOR, CONNECTION ADMIN, PROCESS, RELOAD ON *.* TO '${ADMIN_USER}'@'%';`,
    "REVOKE READ_ONLY ADMIN ON *.* FROM 'root'@'localhost';",
    // The agent's backups, through the pod's socket only: root's password stays with the server.
    `CREATE USER IF NOT EXISTS '${BACKUP_USER}'@'localhost' IDENTIFIED BY '$(< "\${HAPRESS_BACKUP_PASSWORD_FILE}")';`,
    `GRANT ${BACKUP_PRIVILEGES} ON *.* TO '${BACKUP_USER}'@'localhost';`,
    // mysqld_exporter's (made on every site, used when metrics.mysqldExporter is on): the server's
    // state, never a table, through the socket only.
    `CREATE USER IF NOT EXISTS '${EXPORTER_USER}'@'localhost' IDENTIFIED BY '$(< "\${HAPRESS_EXPORTER_PASSWORD_FILE}")' WITH MAX_USER_CONNECTIONS ${EXPORTER_MAX_CONNECTIONS};`,
    `GRANT ${EXPORTER_PRIVILEGES} ON *.* TO '${EXPORTER_USER}'@'localhost';`,
    // No proxy caps the app's connections in the cluster: the server does, below max_connections.
    `ALTER USER '${APP_USER}'@'%' WITH MAX_USER_CONNECTIONS ${endpointServerLimit(ctx.spec.database)};`,
    "SQL",
    "",
  ].join("\n");
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: metadata(ctx, "mysql", "database"),
    data: {
      "common.cnf": common,
      "primary.cnf": primary,
      "replica.cnf": replica,
      "10-hapress-users.sh": initUsers,
    },
  };
}

/**
 * The site's durable state, written by the controller only (primary record, its memory, re-clone
 * markers). Rendered without data: applying it again never takes a key the controller wrote.
 */
export function stateConfigMap(ctx: Context): K8sObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: metadata(ctx, STATE_CONFIGMAP, "controller"),
  };
}

export function databaseServices(ctx: Context): K8sObject[] {
  const ports = [{ name: "mysql", port: MYSQL_PORT, targetPort: "mysql" }];
  return [
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: metadata(ctx, "mysql", "database"),
      spec: {
        clusterIP: "None",
        // Peers must resolve a pod before it is ready: a new replica clones from a live peer.
        publishNotReadyAddresses: true,
        selector: selector(ctx, "database"),
        ports: [...ports, { name: "agent", port: AGENT_PORT, targetPort: "agent" }],
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: metadata(ctx, "mysql-primary", "database"),
      spec: {
        type: "ClusterIP",
        selector: { ...selector(ctx, "database"), [ROLE_LABEL]: "primary" },
        ports: [...ports, { name: "agent", port: AGENT_PORT, targetPort: "agent" }],
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: metadata(ctx, "mysql-replicas", "database"),
      spec: { type: "ClusterIP", selector: { ...selector(ctx, "database"), [ROLE_LABEL]: "replica" }, ports },
    },
  ];
}

export function mariadbStatefulSet(ctx: Context): K8sObject {
  const k = ctx.spec.kubernetes;
  const dataMount = { name: "data", mountPath: "/var/lib/mysql", subPath: "mysql" };
  const runMount = { name: "run", mountPath: "/run/mysqld" };
  const confMount = { name: "conf", mountPath: "/etc/mysql/conf.d" };
  const scratchMount = { name: "tmp", mountPath: "/tmp" };
  const exporter = ctx.spec.metrics.mysqldExporter;
  // Over TCP, not the socket: the image's entrypoint runs a temporary server on the socket (with
  // networking off) while it initialises, and that server must not count as ready. On the admin port,
  // so a server whose client slots are all taken still counts as alive. `ping` exits 0 whenever the
  // server answers, even "access denied", so no credential is needed here.
  const ping = {
    exec: {
      command: ["mariadb-admin", "--protocol=tcp", "--host=localhost", `--port=${ADMIN_PORT}`, "ping"],
    },
  };
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: metadata(ctx, "mysql", "database"),
    spec: {
      serviceName: "mysql",
      replicas: ctx.spec.database.replicas,
      podManagementPolicy: "OrderedReady",
      // The controller rolls the pods (see controller/decide-roll.ts): replicas first, one at a time,
      // each back and caught up before the next, then a switchover, then the old primary. The
      // default RollingUpdate restarts pods in reverse ordinal order whatever their role, killing the
      // primary mid-roll.
      updateStrategy: { type: "OnDelete" },
      // A removed replica's volume goes with it: scaled up again, the ordinal clones afresh instead of
      // starting from a stale copy. Deleting the StatefulSet keeps every volume (`down` keeps data).
      persistentVolumeClaimRetentionPolicy: { whenScaled: "Delete", whenDeleted: "Retain" },
      selector: { matchLabels: selector(ctx, "database") },
      template: {
        // Every instance starts as a replica; the controller moves the role label to the primary.
        metadata: {
          labels: { ...labels(ctx, "database"), [ROLE_LABEL]: "replica" },
          ...(exporter ? { annotations: scrapeAnnotations(MYSQLD_EXPORTER_PORT) } : {}),
        },
        spec: {
          // No API access: only the controller talks to the API server.
          automountServiceAccountToken: false,
          affinity: antiAffinity(ctx, "database"),
          topologySpreadConstraints: zoneSpread(ctx, "database"),
          terminationGracePeriodSeconds: 60,
          // One process namespace for the pod's containers (the restricted profile allows it): mariadbd
          // is then not its container's PID 1, which ignores SIGKILL and SIGSTOP sent from inside, so
          // `hapress chaos --kubernetes` can kill or hang it with `exec`, as a crash or a hang would.
          // The containers run as the same user and the agent already mounts the data: it sees
          // nothing new.
          shareProcessNamespace: true,
          initContainers: [
            {
              // The tutorial's init-mysql and clone-mysql in one: server-id from the ordinal, config
              // for the role, and a clone from the current primary's backup stream when there is no data.
              name: "init",
              image: k.images.hapress,
              args: [
                "agent",
                "init",
                "--data-dir",
                "/var/lib/hapress/mysql",
                "--conf-dir",
                "/etc/mysql/conf.d",
                "--config-map-dir",
                "/mnt/config-map",
                // The primary record and re-clone markers, written by the controller.
                "--state-dir",
                STATE_MOUNT,
                // Peers by their stable names: mysql-N.mysql.<namespace>.svc.
                "--peer-domain",
                `mysql.${ctx.namespace}.svc`,
                // The leader's view of each instance: a replica streaming close behind the primary
                // gives a clone its data before the primary does (whose commits a backup holds).
                "--observed-dir",
                OBSERVED_MOUNT,
              ],
              env: [secretEnv("HAPRESS_CLONE_TOKEN", "clone-token")],
              // A clone is a backup received and prepared, as the backup Job's: mariadb-backup's
              // prepare (a 100 MB buffer pool) beside Node.js. With the agent's 96Mi, a re-clone of an
              // 80 MB database was OOM-killed at its prepare, again and again (found by chaos
              // --kubernetes). An init container's request counts only when larger than the pod's
              // containers' sum, so this costs the scheduler nothing.
              resources: resources(k.resources.backup),
              // It writes only to its volumes: the data, the config, and scratch space for a clone.
              securityContext: { readOnlyRootFilesystem: true },
              volumeMounts: [
                { name: "data", mountPath: "/var/lib/hapress" },
                confMount,
                { name: "config-map", mountPath: "/mnt/config-map" },
                { name: "state", mountPath: STATE_MOUNT, readOnly: true },
                { name: "observed", mountPath: OBSERVED_MOUNT, readOnly: true },
                scratchMount,
              ],
            },
          ],
          containers: [
            {
              name: "mariadb",
              image: k.images.mariadb,
              ports: [
                { name: "mysql", containerPort: MYSQL_PORT },
                { name: "admin", containerPort: ADMIN_PORT },
              ],
              env: [
                secretEnv("MARIADB_ROOT_PASSWORD", "mariadb-root-password"),
                // Root only from inside the pod: no remote root account.
                { name: "MARIADB_ROOT_HOST", value: "localhost" },
                { name: "MARIADB_DATABASE", value: APP_DATABASE },
                { name: "MARIADB_USER", value: APP_USER },
                secretEnv("MARIADB_PASSWORD", "app-password"),
                secretEnv("HAPRESS_REPLICATION_PASSWORD", "replication-password"),
                secretEnv("HAPRESS_ADMIN_PASSWORD", "admin-password"),
                secretEnv("HAPRESS_BACKUP_PASSWORD", "backup-password"),
                secretEnv("HAPRESS_EXPORTER_PASSWORD", "exporter-password"),
              ],
              resources: resources(k.resources.mariadb),
              startupProbe: { ...ping, periodSeconds: 5, failureThreshold: 60 },
              readinessProbe: { ...ping, periodSeconds: 2, timeoutSeconds: 2 },
              livenessProbe: {
                tcpSocket: { port: "mysql" },
                periodSeconds: 10,
                timeoutSeconds: 5,
                failureThreshold: 6,
              },
              volumeMounts: [
                dataMount,
                confMount,
                runMount,
                // Not executable on purpose: the image's entrypoint sources a non-executable *.sh, and only
                // a sourced script can call its docker_process_sql (an executable one runs without it).
                { name: "initdb", mountPath: "/docker-entrypoint-initdb.d", readOnly: true },
              ],
            },
            {
              // The tutorial's xtrabackup sidecar: serves backup streams to new peers on 3307.
              name: "agent",
              image: k.images.hapress,
              args: [
                "agent",
                "serve-backups",
                // The pod's own address, from the downward API (Kubernetes expands $(POD_IP)).
                "--address",
                "$(POD_IP)",
                "--any-address",
                "--port",
                String(AGENT_PORT),
                "--socket",
                "/run/mysqld/mysqld.sock",
                "--user",
                BACKUP_USER,
                "--password-env",
                "HAPRESS_BACKUP_PASSWORD",
                // A fresh clone takes its GTID position before the agent reports ready.
                "--data-dir",
                "/var/lib/mysql",
              ],
              ports: [{ name: "agent", containerPort: AGENT_PORT }],
              env: [
                { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
                secretEnv("HAPRESS_CLONE_TOKEN", "clone-token"),
                secretEnv("HAPRESS_BACKUP_PASSWORD", "backup-password"),
                secretEnv("HAPRESS_ADMIN_PASSWORD", "admin-password"),
              ],
              resources: resources(k.resources.agent),
              readinessProbe: { tcpSocket: { port: "agent" }, periodSeconds: 5 },
              livenessProbe: { tcpSocket: { port: "agent" }, periodSeconds: 10, failureThreshold: 6 },
              // mariadb-backup's temporary files go to the scratch volume (/tmp), nothing else is written.
              securityContext: { readOnlyRootFilesystem: true },
              volumeMounts: [dataMount, runMount, scratchMount],
            },
            ...(exporter ? [mysqldExporterContainer(ctx, runMount)] : []),
          ],
          volumes: [
            ...(exporter ? [{ name: "exporter", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } }] : []),
            { name: "conf", emptyDir: {} },
            { name: "tmp", emptyDir: {} },
            { name: "run", emptyDir: {} },
            { name: "config-map", configMap: { name: "mysql", defaultMode: 0o555 } },
            { name: "state", configMap: { name: STATE_CONFIGMAP, defaultMode: 0o444 } },
            // Optional: a pod starts (and clones from the primary) before the controller's first view.
            { name: "observed", configMap: { name: OBSERVED_CONFIGMAP, defaultMode: 0o444, optional: true } },
            {
              name: "initdb",
              configMap: {
                name: "mysql",
                items: [{ key: "10-hapress-users.sh", path: "10-hapress-users.sh", mode: 0o444 }],
              },
            },
          ],
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: "data", labels: labels(ctx, "database") },
          spec: {
            accessModes: ["ReadWriteOnce"],
            ...(k.storage.databaseClass ? { storageClassName: k.storage.databaseClass } : {}),
            resources: { requests: { storage: k.storage.databaseSize } },
          },
        },
      ],
    },
  };
}

/**
 * Prometheus' mysqld_exporter beside the server (metrics.mysqldExporter), from the hapress image
 * (Debian's package): its client options, with the password read from the Secret's file, go to a
 * memory-backed folder of its own, then it serves the pod's port `metrics`. It signs in through the
 * shared socket as the exporter account (no SELECT on any table).
 */
function mysqldExporterContainer(
  ctx: Context,
  runMount: { name: string; mountPath: string },
): Record<string, unknown> {
  // No "$(" anywhere: Kubernetes would read it as a variable reference.
  const script = [
    "umask 077",
    'read -r password < "$HAPRESS_EXPORTER_PASSWORD_FILE"',
    `printf '[client]\\nuser=%s\\npassword=%s\\nsocket=${runMount.mountPath}/mysqld.sock\\n' '${EXPORTER_USER}' "$password" > /run/exporter/my.cnf`,
    `exec prometheus-mysqld-exporter --config.my-cnf=/run/exporter/my.cnf --web.listen-address=:${MYSQLD_EXPORTER_PORT}`,
  ].join("\n");
  return {
    name: "mysqld-exporter",
    image: ctx.spec.kubernetes.images.hapress,
    command: ["sh", "-c", script],
    env: [secretEnv("HAPRESS_EXPORTER_PASSWORD", "exporter-password")],
    ports: [{ name: "metrics", containerPort: MYSQLD_EXPORTER_PORT }],
    resources: resources(ctx.spec.kubernetes.resources.agent),
    readinessProbe: { tcpSocket: { port: "metrics" }, periodSeconds: 10 },
    livenessProbe: { tcpSocket: { port: "metrics" }, periodSeconds: 20, failureThreshold: 3 },
    securityContext: { readOnlyRootFilesystem: true },
    volumeMounts: [runMount, { name: "exporter", mountPath: "/run/exporter" }],
  };
}
