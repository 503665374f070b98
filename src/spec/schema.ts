import { z } from "zod";
import { isLoopbackIPv4Literal } from "../util/net.js";
import { scheduleProblem } from "../backup/schedule.js";

/** A DNS-label-like name, usable as a Kubernetes object name and a folder name. */
const siteName = z
  .string()
  .regex(
    /^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$/,
    "must be lowercase letters, digits and '-', start with a letter",
  );

/**
 * The hapress image's default name. Nothing is published under it yet: a user builds the image from
 * the Dockerfile and names it in kubernetes.images.hapress (render and apply warn until they do).
 */
export const UNPUBLISHED_HAPRESS_IMAGE = "ghcr.io/hapress/hapress:0.1.0";

/** A pinned container image reference: a tag other than `latest`, or a digest. */
const imageRef = z
  .string()
  .regex(
    /^[a-z0-9./_-]+(:[A-Za-z0-9._-]+|@sha256:[a-f0-9]{64})$/,
    "must name a pinned tag or digest, e.g. mariadb:10.11",
  )
  .refine((ref) => !/:latest$/.test(ref), "must not use the 'latest' tag: pin a version");

/** A Kubernetes quantity such as 10Gi or 500m. */
const quantity = z
  .string()
  .regex(/^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$/, "must be a quantity, e.g. 10Gi");

const resources = z.object({ cpu: quantity, memory: quantity }).strict();

/** The site spec (`hapress.yaml`). Every field has a default, so no file at all is a valid spec. */
export const specSchema = z
  .object({
    name: siteName.default("hapress"),
    database: z
      .object({
        replicas: z.number().int().min(1, "must be at least 1").max(9, "must be at most 9").default(3),
        /** Semi-sync acknowledgement timeout: long, so the primary does not silently go asynchronous. */
        semiSyncTimeoutMs: z.number().int().min(1000).max(3_600_000).default(30_000),
        /** InnoDB buffer pool per instance; small by default so a laptop runs 3 instances easily. */
        bufferPoolMB: z.number().int().min(16).max(65_536).default(128),
        /**
         * Client connections each instance accepts (max_connections). The controller and the
         * supervisor never compete for these: they use the instance's admin port.
         */
        maxConnections: z.number().int().min(10).max(100_000).default(300),
        /**
         * The mysql-primary and mysql-replicas endpoints open at most `maxConnectionsPerServer`
         * connections to one instance (default: 80% of maxConnections, so replication and operators
         * always find a slot); further clients wait in a queue up to `queueTimeoutMs`, then are refused.
         */
        endpoints: z
          .object({
            maxConnectionsPerServer: z.number().int().min(1).max(100_000).optional(),
            queueTimeoutMs: z.number().int().min(100).max(600_000).default(5000),
          })
          .strict()
          .default({}),
      })
      .strict()
      .superRefine((database, context) => {
        const perServer = database.endpoints.maxConnectionsPerServer;
        if (perServer !== undefined && perServer >= database.maxConnections) {
          context.addIssue({
            code: z.ZodIssueCode.custom,
            path: ["endpoints", "maxConnectionsPerServer"],
            message: `must be below database.maxConnections (${database.maxConnections}), so replication keeps a slot`,
          });
        }
      })
      .default({}),
    wordpress: z
      .object({
        replicas: z.number().int().min(0, "must be at least 0").max(20).default(3),
        /** Anonymous readers' pages, cached in each WordPress pod (see src/wordpress/page-cache.ts). */
        pageCache: z
          .object({
            enabled: z.boolean().default(true),
            ttlSeconds: z.number().int().min(1, "must be at least 1").max(86_400).default(5),
          })
          .strict()
          .default({}),
      })
      .strict()
      .default({}),
    site: z
      .object({
        title: z
          .string()
          .min(1)
          .max(200)
          // eslint-disable-next-line no-control-regex
          .regex(/^[^\u0000-\u001f\u007f]*$/, "must not contain control characters (line breaks, escapes)")
          .default("hapress"),
        adminUser: z
          .string()
          .regex(/^[A-Za-z0-9_.@-]{1,60}$/, "must be 1-60 letters, digits or _ . @ -")
          .default("admin"),
        adminEmail: z.string().email().default("admin@example.com"),
      })
      .strict()
      .default({}),
    kubernetes: z
      .object({
        namespace: z
          .string()
          .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "must be a DNS label")
          .default("hapress"),
        images: z
          .object({
            mariadb: imageRef.default("mariadb:10.11"),
            wordpress: imageRef.default("wordpress:6.1.1-php8.2-apache"),
            wordpressCli: imageRef.default("wordpress:cli-2.8.1-php8.2"),
            hapress: imageRef.default(UNPUBLISHED_HAPRESS_IMAGE),
            curl: imageRef.default("curlimages/curl:8.5.0"),
            /** The page cache container beside WordPress (any nginx image runs it: the config is ours). */
            cache: imageRef.default("nginxinc/nginx-unprivileged:1.27.3-alpine"),
            nfsServer: imageRef.default("itsthenetwork/nfs-server-alpine:12"),
          })
          .strict()
          .default({}),
        storage: z
          .object({
            databaseClass: z.string().min(1).optional(),
            databaseSize: quantity.default("10Gi"),
            contentClass: z.string().min(1).optional(),
            contentSize: quantity.default("10Gi"),
            contentAccessMode: z.enum(["ReadWriteMany", "ReadWriteOnce"]).default("ReadWriteMany"),
            /** The tutorial's in-cluster NFS server, served through the NFS CSI driver. */
            nfs: z
              .object({
                enabled: z.boolean().default(false),
                diskClass: z.string().min(1).optional(),
                diskSize: quantity.default("20Gi"),
              })
              .strict()
              .default({}),
          })
          .strict()
          .default({}),
        service: z
          .object({ type: z.enum(["LoadBalancer", "ClusterIP", "NodePort"]).default("LoadBalancer") })
          .strict()
          .default({}),
        ingress: z
          .object({
            host: z
              .string()
              .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "must be a host name")
              .optional(),
            tlsSecret: z.string().min(1).optional(),
            className: z.string().min(1).optional(),
          })
          .strict()
          .default({}),
        automaticFailover: z.boolean().default(true),
        /**
         * Who scrapes the site's metrics: pods of `namespace` may reach the metrics ports (the
         * NetworkPolicy admits nobody else), the pods carry prometheus.io/* scrape annotations, and a
         * PodMonitor and a PrometheusRule (Prometheus Operator kinds: their CRDs must be installed)
         * are rendered when asked.
         */
        monitoring: z
          .object({
            namespace: z
              .string()
              .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "must be a DNS label, e.g. monitoring")
              .default("monitoring"),
            podMonitor: z.boolean().default(false),
            prometheusRule: z.boolean().default(false),
          })
          .strict()
          .default({}),
        /**
         * Where the cluster keeps backups and the binary-log archive: a PersistentVolumeClaim that the
         * backup CronJob and the archiver Deployment mount (ReadWriteMany by default: both may run at
         * once, on different nodes).
         */
        backup: z
          .object({
            claim: z
              .string()
              .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "must be a DNS label, e.g. hapress-backups")
              .default("hapress-backups"),
            /** false: the claim exists already (e.g. bound to an NFS export kept outside the cluster). */
            createClaim: z.boolean().default(true),
            storageClass: z.string().min(1).optional(),
            size: quantity.default("20Gi"),
            accessMode: z.enum(["ReadWriteMany", "ReadWriteOnce"]).default("ReadWriteMany"),
          })
          .strict()
          .default({}),
        resources: z
          .object({
            mariadb: resources.default({ cpu: "500m", memory: "1Gi" }),
            wordpress: resources.default({ cpu: "250m", memory: "256Mi" }),
            controller: resources.default({ cpu: "50m", memory: "96Mi" }),
            agent: resources.default({ cpu: "50m", memory: "96Mi" }),
            /**
             * The backup Job, the binary-log archiver and the database pods' init step (a clone):
             * Node.js receiving the stream
             * beside mariadb-backup preparing it (its buffer pool is 100 MB); measured at 131 MiB on a
             * small site, OOM-killed at 96Mi.
             */
            backup: resources.default({ cpu: "100m", memory: "256Mi" }),
          })
          .strict()
          .default({}),
      })
      .strict()
      .default({}),
    /** Where `hapress backup` keeps the site's backups (relative paths start at the state folder). */
    backup: z
      .object({
        path: z.string().min(1, "must name a folder, e.g. /var/backups/hapress").optional(),
        /** Copy the primary's binary logs into `<path>/binlogs` as they are written (point-in-time restore). */
        archiveBinlogs: z.boolean().default(true),
        /** When the supervisor takes a backup: a cron expression in UTC (5 fields, or 6 with seconds). */
        schedule: z
          .string()
          .superRefine((expression, context) => {
            const problem = scheduleProblem(expression);
            if (problem)
              context.addIssue({
                code: z.ZodIssueCode.custom,
                message: `not a cron expression (${problem})`,
              });
          })
          .optional(),
        /** Which backups retention keeps after each scheduled one: the newest `count`, and those younger than `days`. */
        keep: z
          .object({
            count: z.number().int().min(1).max(10_000).optional(),
            days: z.number().int().min(1).max(36_500).optional(),
          })
          .strict()
          .default({ count: 7 }),
      })
      .strict()
      .default({}),
    metrics: z
      .object({
        /**
         * Prometheus' mysqld_exporter beside each database instance (locally a process on the pod's
         * address, port 9104), through an account that may only read the server's state.
         */
        mysqldExporter: z.boolean().default(false),
      })
      .strict()
      .default({}),
    local: z
      .object({
        httpPort: z.number().int().min(1).max(65_535).default(8080),
        httpAddress: z
          .string()
          .ip({ version: "v4", message: "must be an IPv4 address, e.g. 127.0.0.1" })
          .default("127.0.0.1"),
        /** Serving the site beyond this machine is a decision the user states, never a default. */
        exposed: z.boolean().default(false),
      })
      .strict()
      .superRefine((local, context) => {
        if (!local.exposed && !isLoopbackIPv4Literal(local.httpAddress)) {
          context.addIssue({
            code: z.ZodIssueCode.custom,
            path: ["httpAddress"],
            message: `${local.httpAddress} is not a loopback address (127.0.0.0/8); to serve the site beyond this machine, say so with local.exposed: true`,
          });
        }
      })
      .default({}),
  })
  .strict();

export type Spec = z.infer<typeof specSchema>;
export type SpecInput = z.input<typeof specSchema>;

/** Example values shown next to a validation error, keyed by the field path. */
export const specExamples: Record<string, string> = {
  name: "name: myblog",
  "database.replicas": "database:\n  replicas: 3",
  "database.semiSyncTimeoutMs": "database:\n  semiSyncTimeoutMs: 30000",
  "database.bufferPoolMB": "database:\n  bufferPoolMB: 128",
  "database.maxConnections": "database:\n  maxConnections: 300",
  "database.endpoints": "database:\n  endpoints:\n    maxConnectionsPerServer: 240\n    queueTimeoutMs: 5000",
  "database.endpoints.maxConnectionsPerServer": "database:\n  endpoints:\n    maxConnectionsPerServer: 240",
  "database.endpoints.queueTimeoutMs": "database:\n  endpoints:\n    queueTimeoutMs: 5000",
  "wordpress.replicas": "wordpress:\n  replicas: 3",
  "site.title": "site:\n  title: My Blog",
  "site.adminUser": "site:\n  adminUser: admin",
  "site.adminEmail": "site:\n  adminEmail: admin@example.com",
  "local.httpPort": "local:\n  httpPort: 8080",
  metrics: "metrics:\n  mysqldExporter: true",
  "metrics.mysqldExporter": "metrics:\n  mysqldExporter: true",
  backup: "backup:\n  path: /var/backups/hapress",
  "backup.path": "backup:\n  path: /var/backups/hapress",
  "backup.archiveBinlogs": "backup:\n  archiveBinlogs: true",
  "backup.schedule": 'backup:\n  schedule: "0 3 * * *"   # every day at 03:00 UTC',
  "backup.keep": "backup:\n  keep:\n    count: 7\n    days: 30",
  "backup.keep.count": "backup:\n  keep:\n    count: 7",
  "backup.keep.days": "backup:\n  keep:\n    days: 30",
  kubernetes: "kubernetes:\n  namespace: hapress",
  "kubernetes.namespace": "kubernetes:\n  namespace: hapress",
  "kubernetes.images": "kubernetes:\n  images:\n    mariadb: mariadb:10.11",
  "kubernetes.storage": "kubernetes:\n  storage:\n    contentClass: nfs-client",
  "kubernetes.storage.contentClass": "kubernetes:\n  storage:\n    contentClass: nfs-client",
  "kubernetes.storage.contentAccessMode": "kubernetes:\n  storage:\n    contentAccessMode: ReadWriteMany",
  "kubernetes.storage.databaseSize": "kubernetes:\n  storage:\n    databaseSize: 10Gi",
  "kubernetes.storage.nfs": "kubernetes:\n  storage:\n    nfs:\n      enabled: true",
  "kubernetes.service": "kubernetes:\n  service:\n    type: LoadBalancer",
  "kubernetes.ingress": "kubernetes:\n  ingress:\n    host: blog.example.com\n    tlsSecret: blog-tls",
  "kubernetes.automaticFailover": "kubernetes:\n  automaticFailover: true",
  "kubernetes.monitoring":
    "kubernetes:\n  monitoring:\n    namespace: monitoring\n    podMonitor: true\n    prometheusRule: true",
  "kubernetes.monitoring.namespace": "kubernetes:\n  monitoring:\n    namespace: monitoring",
  "kubernetes.backup": "kubernetes:\n  backup:\n    claim: hapress-backups\n    size: 20Gi",
  "kubernetes.backup.claim": "kubernetes:\n  backup:\n    claim: hapress-backups",
  "kubernetes.backup.createClaim":
    "kubernetes:\n  backup:\n    createClaim: false   # the claim exists already",
  "kubernetes.backup.storageClass": "kubernetes:\n  backup:\n    storageClass: nfs-client",
  "kubernetes.backup.size": "kubernetes:\n  backup:\n    size: 20Gi",
  "kubernetes.backup.accessMode": "kubernetes:\n  backup:\n    accessMode: ReadWriteMany",
  "kubernetes.resources": "kubernetes:\n  resources:\n    mariadb: { cpu: 500m, memory: 1Gi }",
  "local.httpAddress": "local:\n  httpAddress: 127.0.0.1",
  "local.exposed": "local:\n  httpAddress: 192.0.2.10\n  exposed: true",
};
