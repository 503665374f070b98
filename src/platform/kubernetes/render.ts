import { connectionSettings, replicationSettings } from "../../mysql/config.js";
import type { Spec } from "../../spec/schema.js";
import { ADMIN_PORT, AGENT_PORT, endpointServerLimit, MYSQL_PORT } from "../../topology/topology.js";
import { STATE_CONFIGMAP, STATE_MOUNT } from "./cluster-state.js";
import { WORDPRESS_KEY_NAMES, type ClusterSecrets } from "./secrets.js";

/** A Kubernetes object as plain data. */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
} & Record<string, unknown>;

/** The label the controller sets on the primary pod; `mysql-primary` selects on it. */
export const ROLE_LABEL = "hapress.io/role";
export const SECRET_NAME = "hapress-credentials";
const APP_USER = "wordpress";
const APP_DATABASE = "wordpress";
const REPLICATION_USER = "repl";
const ADMIN_USER = "hapress_admin";

type Component = "database" | "web" | "controller" | "storage" | "install" | "cron";

/** The app.kubernetes.io/name of each component. */
const APP_NAMES: Record<Component, string> = {
  database: "mariadb",
  web: "wordpress",
  controller: "hapress-controller",
  storage: "nfs-server",
  install: "wordpress-install",
  cron: "wordpress-cron",
};

interface Context {
  spec: Spec;
  secrets: ClusterSecrets;
  namespace: string;
}

function labels(ctx: Context, component: Component): Record<string, string> {
  return {
    "app.kubernetes.io/name": APP_NAMES[component],
    "app.kubernetes.io/instance": ctx.spec.name,
    "app.kubernetes.io/component": component,
    "app.kubernetes.io/part-of": "hapress",
    "app.kubernetes.io/managed-by": "hapress",
  };
}

function selector(ctx: Context, component: Component): Record<string, string> {
  return {
    "app.kubernetes.io/name": APP_NAMES[component],
    "app.kubernetes.io/instance": ctx.spec.name,
    "app.kubernetes.io/component": component,
  };
}

function metadata(ctx: Context, name: string, component: Component, extra: Record<string, string> = {}) {
  return { name, namespace: ctx.namespace, labels: { ...labels(ctx, component), ...extra } };
}

function secretEnv(name: string, key: string) {
  return { name, valueFrom: { secretKeyRef: { name: SECRET_NAME, key } } };
}

function resources(request: { cpu: string; memory: string }) {
  return { requests: { ...request }, limits: { memory: request.memory } };
}

function antiAffinity(ctx: Context, component: Component) {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          podAffinityTerm: {
            topologyKey: "kubernetes.io/hostname",
            labelSelector: { matchLabels: selector(ctx, component) },
          },
        },
      ],
    },
  };
}

function pdb(ctx: Context, name: string, component: Component, maxUnavailable: number): K8sObject {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: metadata(ctx, name, component),
    spec: { maxUnavailable, selector: { matchLabels: selector(ctx, component) } },
  };
}

/** The Secret: credentials and WordPress keys, with the official images' variable names as keys. */
function credentialsSecret(ctx: Context): K8sObject {
  const s = ctx.secrets;
  const keys: Record<string, string> = {};
  for (const name of WORDPRESS_KEY_NAMES)
    keys[`wordpress-${name.toLowerCase().replace(/_/g, "-")}`] = s.wordpressKeys[name];
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: metadata(ctx, SECRET_NAME, "database"),
    type: "Opaque",
    stringData: {
      "mariadb-root-password": s.rootPassword,
      "replication-user": REPLICATION_USER,
      "replication-password": s.replicationPassword,
      "admin-user": ADMIN_USER,
      "admin-password": s.adminPassword,
      "app-user": APP_USER,
      "app-password": s.appPassword,
      "app-database": APP_DATABASE,
      "clone-token": s.cloneToken,
      "wordpress-admin-password": s.wordpressAdminPassword,
      ...keys,
    },
  };
}

/** The tutorial's `mysql` ConfigMap, corrected: GTID, binlogs everywhere, semi-sync AFTER_SYNC, read-only start. */
function mariadbConfigMap(ctx: Context): K8sObject {
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
    "# Least-privilege users, created once on the first primary. Passwords come from the Secret.",
    "# Sourced by the image's entrypoint (which runs with -e): no shell options of our own here.",
    "docker_process_sql --database=mysql <<SQL",
    `CREATE USER IF NOT EXISTS '${REPLICATION_USER}'@'%' IDENTIFIED BY '\${HAPRESS_REPLICATION_PASSWORD}';`,
    `GRANT REPLICATION SLAVE ON *.* TO '${REPLICATION_USER}'@'%';`,
    `CREATE USER IF NOT EXISTS '${ADMIN_USER}'@'%' IDENTIFIED BY '\${HAPRESS_ADMIN_PASSWORD}';`,
    `GRANT READ_ONLY ADMIN, REPLICATION SLAVE ADMIN, REPLICATION MASTER ADMIN, BINLOG ADMIN, BINLOG MONITOR, SLAVE MONITOR, CONNECTION ADMIN, PROCESS, RELOAD ON *.* TO '${ADMIN_USER}'@'%';`,
    "REVOKE READ_ONLY ADMIN ON *.* FROM 'root'@'localhost';",
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
function stateConfigMap(ctx: Context): K8sObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: metadata(ctx, STATE_CONFIGMAP, "controller"),
  };
}

function databaseServices(ctx: Context): K8sObject[] {
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

function mariadbStatefulSet(ctx: Context): K8sObject {
  const k = ctx.spec.kubernetes;
  const dataMount = { name: "data", mountPath: "/var/lib/mysql", subPath: "mysql" };
  const runMount = { name: "run", mountPath: "/run/mysqld" };
  const confMount = { name: "conf", mountPath: "/etc/mysql/conf.d" };
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
      updateStrategy: { type: "RollingUpdate" },
      selector: { matchLabels: selector(ctx, "database") },
      template: {
        // Every instance starts as a replica; the controller moves the role label to the primary.
        metadata: { labels: { ...labels(ctx, "database"), [ROLE_LABEL]: "replica" } },
        spec: {
          // No API access: only the controller talks to the API server.
          automountServiceAccountToken: false,
          affinity: antiAffinity(ctx, "database"),
          terminationGracePeriodSeconds: 60,
          securityContext: { fsGroup: 999 },
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
              ],
              env: [secretEnv("HAPRESS_CLONE_TOKEN", "clone-token")],
              resources: resources(k.resources.agent),
              volumeMounts: [
                { name: "data", mountPath: "/var/lib/hapress" },
                confMount,
                { name: "config-map", mountPath: "/mnt/config-map" },
                { name: "state", mountPath: STATE_MOUNT, readOnly: true },
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
                "--password-env",
                "MARIADB_ROOT_PASSWORD",
                // A fresh clone takes its GTID position before the agent reports ready.
                "--data-dir",
                "/var/lib/mysql",
              ],
              ports: [{ name: "agent", containerPort: AGENT_PORT }],
              env: [
                { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
                secretEnv("HAPRESS_CLONE_TOKEN", "clone-token"),
                secretEnv("MARIADB_ROOT_PASSWORD", "mariadb-root-password"),
                secretEnv("HAPRESS_ADMIN_PASSWORD", "admin-password"),
              ],
              resources: resources(k.resources.agent),
              readinessProbe: { tcpSocket: { port: "agent" }, periodSeconds: 5 },
              livenessProbe: { tcpSocket: { port: "agent" }, periodSeconds: 10, failureThreshold: 6 },
              volumeMounts: [dataMount, runMount],
            },
          ],
          volumes: [
            { name: "conf", emptyDir: {} },
            { name: "run", emptyDir: {} },
            { name: "config-map", configMap: { name: "mysql", defaultMode: 0o555 } },
            { name: "state", configMap: { name: STATE_CONFIGMAP, defaultMode: 0o444 } },
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

function siteUrl(ctx: Context): string | null {
  const host = ctx.spec.kubernetes.ingress.host;
  if (!host) return null;
  return `${ctx.spec.kubernetes.ingress.tlsSecret ? "https" : "http"}://${host}`;
}

function wordpressEnv(ctx: Context) {
  const url = siteUrl(ctx);
  const extra = ["define('DISABLE_WP_CRON', true);"];
  if (url) extra.push(`define('WP_HOME', '${url}');`, `define('WP_SITEURL', '${url}');`);
  return [
    // Only ever the primary: writes can never land on a replica.
    { name: "WORDPRESS_DB_HOST", value: `mysql-primary.${ctx.namespace}.svc:${MYSQL_PORT}` },
    { name: "WORDPRESS_DB_USER", value: APP_USER },
    secretEnv("WORDPRESS_DB_PASSWORD", "app-password"),
    { name: "WORDPRESS_DB_NAME", value: APP_DATABASE },
    { name: "WORDPRESS_TABLE_PREFIX", value: "wp_" },
    ...WORDPRESS_KEY_NAMES.map((name) =>
      secretEnv(`WORDPRESS_${name}`, `wordpress-${name.toLowerCase().replace(/_/g, "-")}`),
    ),
    { name: "WORDPRESS_CONFIG_EXTRA", value: extra.join("\n") },
  ];
}

function probeHost(ctx: Context): string {
  return ctx.spec.kubernetes.ingress.host ?? "localhost";
}

function wordpressTier(ctx: Context): K8sObject[] {
  const k = ctx.spec.kubernetes;
  const host = [{ name: "Host", value: probeHost(ctx) }];
  const objects: K8sObject[] = [
    {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: metadata(ctx, "wordpress-content", "web"),
      spec: {
        accessModes: [k.storage.contentAccessMode],
        storageClassName: contentStorageClass(ctx),
        resources: { requests: { storage: k.storage.contentSize } },
      },
    },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: metadata(ctx, "wordpress", "web"),
      spec: {
        replicas: ctx.spec.wordpress.replicas,
        // Never fewer ready pods than wanted during a rollout (the tutorial's Recreate was an outage).
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        selector: { matchLabels: selector(ctx, "web") },
        template: {
          metadata: { labels: labels(ctx, "web") },
          spec: {
            // No API access: only the controller talks to the API server.
            automountServiceAccountToken: false,
            affinity: antiAffinity(ctx, "web"),
            containers: [
              {
                name: "wordpress",
                image: k.images.wordpress,
                ports: [{ name: "http", containerPort: 80 }],
                env: wordpressEnv(ctx),
                resources: resources(k.resources.wordpress),
                // Readiness runs PHP and reaches the database; liveness does not depend on the database.
                readinessProbe: {
                  httpGet: { path: "/wp-login.php", port: "http", httpHeaders: host },
                  periodSeconds: 5,
                  timeoutSeconds: 3,
                },
                livenessProbe: {
                  httpGet: { path: "/wp-includes/images/blank.gif", port: "http", httpHeaders: host },
                  periodSeconds: 10,
                  timeoutSeconds: 3,
                  failureThreshold: 6,
                },
                volumeMounts: [{ name: "content", mountPath: "/var/www/html/wp-content" }],
              },
            ],
            volumes: [{ name: "content", persistentVolumeClaim: { claimName: "wordpress-content" } }],
          },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: metadata(ctx, "wordpress", "web"),
      spec: {
        type: k.ingress.host ? "ClusterIP" : k.service.type,
        selector: selector(ctx, "web"),
        ports: [{ name: "http", port: 80, targetPort: "http" }],
      },
    },
    pdb(ctx, "wordpress", "web", 1),
    installJob(ctx),
    cronJob(ctx),
  ];
  if (k.ingress.host) objects.push(ingress(ctx, k.ingress.host));
  return objects;
}

function ingress(ctx: Context, host: string): K8sObject {
  const k = ctx.spec.kubernetes;
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: metadata(ctx, "wordpress", "web"),
    spec: {
      ...(k.ingress.className ? { ingressClassName: k.ingress.className } : {}),
      ...(k.ingress.tlsSecret ? { tls: [{ hosts: [host], secretName: k.ingress.tlsSecret }] } : {}),
      rules: [
        {
          host,
          http: {
            paths: [
              {
                path: "/",
                pathType: "Prefix",
                backend: { service: { name: "wordpress", port: { name: "http" } } },
              },
            ],
          },
        },
      ],
    },
  };
}

const INSTALL_SCRIPT = [
  "<?php",
  "// One-shot site install, run by the install Job: exits 0 when the site is already installed.",
  "define('WP_INSTALLING', true);",
  "$_SERVER['HTTP_HOST'] = getenv('SITE_HOST') ?: 'localhost';",
  "require '/usr/src/wordpress/wp-load.php';",
  "require_once ABSPATH . 'wp-admin/includes/upgrade.php';",
  'if (is_blog_installed()) { fwrite(STDERR, "already installed\\n"); exit(0); }',
  "$result = wp_install(getenv('SITE_TITLE'), getenv('ADMIN_USER'), getenv('ADMIN_EMAIL'), true, '', wp_slash(getenv('ADMIN_PASSWORD')));",
  'if (is_wp_error($result)) { fwrite(STDERR, $result->get_error_message() . "\\n"); exit(1); }',
  'echo "installed\\n";',
  "",
].join("\n");

function installJob(ctx: Context): K8sObject {
  const k = ctx.spec.kubernetes;
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: metadata(ctx, "wordpress-install", "install"),
    spec: {
      backoffLimit: 20,
      template: {
        metadata: { labels: labels(ctx, "install") },
        spec: {
          // No API access: only the controller talks to the API server.
          automountServiceAccountToken: false,
          restartPolicy: "OnFailure",
          containers: [
            {
              name: "install",
              image: k.images.wordpress,
              command: ["/bin/sh", "-c"],
              args: [
                "cp /usr/src/wordpress/wp-config-docker.php /usr/src/wordpress/wp-config.php && php /scripts/install.php",
              ],
              env: [
                ...wordpressEnv(ctx),
                { name: "SITE_HOST", value: probeHost(ctx) },
                { name: "SITE_TITLE", value: ctx.spec.site.title },
                { name: "ADMIN_USER", value: ctx.spec.site.adminUser },
                { name: "ADMIN_EMAIL", value: ctx.spec.site.adminEmail },
                secretEnv("ADMIN_PASSWORD", "wordpress-admin-password"),
              ],
              resources: resources(k.resources.wordpress),
              volumeMounts: [{ name: "scripts", mountPath: "/scripts" }],
            },
          ],
          volumes: [{ name: "scripts", configMap: { name: "wordpress-install" } }],
        },
      },
    },
  };
}

function installConfigMap(ctx: Context): K8sObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: metadata(ctx, "wordpress-install", "install"),
    data: { "install.php": INSTALL_SCRIPT },
  };
}

function cronJob(ctx: Context): K8sObject {
  const k = ctx.spec.kubernetes;
  return {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: metadata(ctx, "wordpress-cron", "cron"),
    spec: {
      // wp-cron once a minute from one place, not on every page view of every replica.
      schedule: "* * * * *",
      concurrencyPolicy: "Forbid",
      successfulJobsHistoryLimit: 1,
      failedJobsHistoryLimit: 3,
      jobTemplate: {
        spec: {
          backoffLimit: 0,
          activeDeadlineSeconds: 120,
          template: {
            metadata: { labels: labels(ctx, "cron") },
            spec: {
              // No API access: only the controller talks to the API server.
              automountServiceAccountToken: false,
              restartPolicy: "Never",
              containers: [
                {
                  name: "wp-cron",
                  image: k.images.curl,
                  args: [
                    "-fsS",
                    "--max-time",
                    "100",
                    "-H",
                    `Host: ${probeHost(ctx)}`,
                    `http://wordpress.${ctx.namespace}.svc/wp-cron.php`,
                  ],
                  resources: resources({ cpu: "10m", memory: "16Mi" }),
                },
              ],
            },
          },
        },
      },
    },
  };
}

function contentStorageClass(ctx: Context): string | undefined {
  const storage = ctx.spec.kubernetes.storage;
  if (storage.nfs.enabled) return nfsStorageClassName(ctx);
  return storage.contentClass;
}

function nfsStorageClassName(ctx: Context): string {
  return `${ctx.namespace}-${ctx.spec.name}-nfs`;
}

/**
 * The tutorial's in-cluster NFS server, without its hand-typed IP: the NFS CSI driver's node plugin
 * mounts `nfs-server.<namespace>.svc.cluster.local`, a name cluster DNS resolves to the Service.
 */
function nfsServer(ctx: Context): K8sObject[] {
  const k = ctx.spec.kubernetes;
  return [
    {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: metadata(ctx, "nfs-server", "storage"),
      spec: {
        serviceName: "nfs-server",
        replicas: 1,
        updateStrategy: { type: "RollingUpdate" },
        selector: { matchLabels: selector(ctx, "storage") },
        template: {
          metadata: { labels: labels(ctx, "storage") },
          spec: {
            // No API access: only the controller talks to the API server.
            automountServiceAccountToken: false,
            containers: [
              {
                name: "nfs-server",
                image: k.images.nfsServer,
                env: [{ name: "SHARED_DIRECTORY", value: "/exports" }],
                ports: [{ name: "nfs", containerPort: 2049 }],
                // The kernel NFS server needs privileges; it is the only privileged container.
                securityContext: { privileged: true },
                resources: resources({ cpu: "100m", memory: "128Mi" }),
                readinessProbe: { tcpSocket: { port: "nfs" }, periodSeconds: 5 },
                livenessProbe: { tcpSocket: { port: "nfs" }, periodSeconds: 10, failureThreshold: 6 },
                volumeMounts: [{ name: "exports", mountPath: "/exports" }],
              },
            ],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: "exports", labels: labels(ctx, "storage") },
            spec: {
              accessModes: ["ReadWriteOnce"],
              ...(k.storage.nfs.diskClass ? { storageClassName: k.storage.nfs.diskClass } : {}),
              resources: { requests: { storage: k.storage.nfs.diskSize } },
            },
          },
        ],
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: metadata(ctx, "nfs-server", "storage"),
      spec: {
        type: "ClusterIP",
        selector: selector(ctx, "storage"),
        ports: [{ name: "nfs", port: 2049, targetPort: "nfs" }],
      },
    },
    {
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: { name: nfsStorageClassName(ctx), labels: labels(ctx, "storage") },
      provisioner: "nfs.csi.k8s.io",
      parameters: { server: `nfs-server.${ctx.namespace}.svc.cluster.local`, share: "/" },
      reclaimPolicy: "Retain",
      volumeBindingMode: "Immediate",
      mountOptions: ["nfsvers=4.1"],
    },
    pdb(ctx, "nfs-server", "storage", 1),
  ];
}

function controller(ctx: Context): K8sObject[] {
  const k = ctx.spec.kubernetes;
  const name = "hapress-controller";
  return [
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: metadata(ctx, name, "controller"),
      automountServiceAccountToken: true,
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: metadata(ctx, name, "controller"),
      rules: [
        { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
        // Only the database pods, by name: patch moves the role label (which re-routes mysql-primary),
        // delete fences a dead primary or restarts a replica into a re-clone.
        {
          apiGroups: [""],
          resources: ["pods"],
          verbs: ["patch", "delete"],
          resourceNames: Array.from({ length: ctx.spec.database.replicas }, (_, i) => `mysql-${i}`),
        },
        // The primary record and the controller's memory: this one ConfigMap only.
        {
          apiGroups: [""],
          resources: ["configmaps"],
          verbs: ["get", "update"],
          resourceNames: [STATE_CONFIGMAP],
        },
        // create cannot be limited by name (the object does not exist yet); get/update can.
        { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
        {
          apiGroups: ["coordination.k8s.io"],
          resources: ["leases"],
          verbs: ["get", "update"],
          resourceNames: [name],
        },
        { apiGroups: [""], resources: ["events"], verbs: ["create"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: metadata(ctx, name, "controller"),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name, namespace: ctx.namespace }],
    },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: metadata(ctx, name, "controller"),
      spec: {
        // Two replicas, one leader at a time through a Lease: a lost node does not stop failover.
        replicas: 2,
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1, maxSurge: 1 } },
        selector: { matchLabels: selector(ctx, "controller") },
        template: {
          metadata: { labels: labels(ctx, "controller") },
          spec: {
            serviceAccountName: name,
            affinity: antiAffinity(ctx, "controller"),
            containers: [
              {
                name: "controller",
                image: k.images.hapress,
                args: [
                  "controller",
                  "--platform",
                  "kubernetes",
                  "--namespace",
                  ctx.namespace,
                  "--lease",
                  name,
                  "--health-port",
                  "8081",
                  "--site",
                  ctx.spec.name,
                  ...(k.automaticFailover ? [] : ["--no-automatic-failover"]),
                ],
                env: [
                  { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                  // The health endpoints listen on the pod's address only.
                  { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
                  secretEnv("HAPRESS_ADMIN_PASSWORD", "admin-password"),
                  secretEnv("HAPRESS_REPLICATION_PASSWORD", "replication-password"),
                ],
                ports: [{ name: "health", containerPort: 8081 }],
                resources: resources(k.resources.controller),
                readinessProbe: { httpGet: { path: "/readyz", port: "health" }, periodSeconds: 5 },
                livenessProbe: {
                  httpGet: { path: "/healthz", port: "health" },
                  periodSeconds: 10,
                  failureThreshold: 6,
                },
              },
            ],
          },
        },
      },
    },
    pdb(ctx, name, "controller", 1),
  ];
}

/** Only WordPress, the install Job, the controller and the database pods reach 3306; only database pods reach 3307. */
function networkPolicies(ctx: Context): K8sObject[] {
  const from = (components: Component[]) => [
    {
      podSelector: {
        matchLabels: { "app.kubernetes.io/instance": ctx.spec.name },
        matchExpressions: [{ key: "app.kubernetes.io/component", operator: "In", values: components }],
      },
    },
  ];
  return [
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: metadata(ctx, "mysql", "database"),
      spec: {
        podSelector: { matchLabels: selector(ctx, "database") },
        policyTypes: ["Ingress"],
        ingress: [
          {
            from: from(["web", "install", "controller", "database"]),
            ports: [{ protocol: "TCP", port: MYSQL_PORT }],
          },
          { from: from(["database"]), ports: [{ protocol: "TCP", port: AGENT_PORT }] },
          { from: from(["controller"]), ports: [{ protocol: "TCP", port: ADMIN_PORT }] },
        ],
      },
    },
  ];
}

const KIND_ORDER = [
  "Namespace",
  "StorageClass",
  "ServiceAccount",
  "Role",
  "RoleBinding",
  "Secret",
  "ConfigMap",
  "PersistentVolumeClaim",
  "Service",
  "StatefulSet",
  "Deployment",
  "Job",
  "CronJob",
  "Ingress",
  "PodDisruptionBudget",
  "NetworkPolicy",
];

/** Every object of the site on Kubernetes: a pure function of the spec and the secrets. */
export function renderManifests(spec: Spec, secrets: ClusterSecrets): K8sObject[] {
  const ctx: Context = { spec, secrets, namespace: spec.kubernetes.namespace };
  const objects: K8sObject[] = [
    {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: ctx.namespace, labels: labels(ctx, "database") },
    },
    credentialsSecret(ctx),
    mariadbConfigMap(ctx),
    stateConfigMap(ctx),
    ...databaseServices(ctx),
    mariadbStatefulSet(ctx),
    pdb(ctx, "mysql", "database", 1),
    ...controller(ctx),
    ...networkPolicies(ctx),
    ...(spec.wordpress.replicas > 0 ? [...wordpressTier(ctx), installConfigMap(ctx)] : []),
    ...(spec.kubernetes.storage.nfs.enabled && spec.wordpress.replicas > 0 ? nfsServer(ctx) : []),
  ];
  return objects.sort(
    (a, b) =>
      KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) ||
      a.metadata.name.localeCompare(b.metadata.name),
  );
}
