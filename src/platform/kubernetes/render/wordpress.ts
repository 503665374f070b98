// The WordPress tier: Deployment, Ingress, the page cache (the install Job and cron: wordpress-jobs.ts).
import {
  antiAffinity,
  APP_DATABASE,
  APP_USER,
  type Context,
  type K8sObject,
  labels,
  metadata,
  pdb,
  resources,
  secretEnv,
  selector,
  zoneSpread,
} from "./common.js";
import { MYSQL_PORT } from "../../../topology/topology.js";
import { WORDPRESS_KEY_NAMES } from "../secrets.js";
import { contentStorageClass } from "./storage.js";
import { SECRETS_DIR } from "./secret-files.js";
import { cronJob, installJob } from "./wordpress-jobs.js";
import { CACHE_REFRESH_MU_PLUGIN, renderCacheProxyConfig } from "../../../wordpress/page-cache.js";
import { DB_DROPIN_FILE, DB_DROPIN_PHP } from "../../../wordpress/db-dropin.js";

export function siteUrl(ctx: Context): string | null {
  const host = ctx.spec.kubernetes.ingress.host;
  if (!host) return null;
  return `${ctx.spec.kubernetes.ingress.tlsSecret ? "https" : "http"}://${host}`;
}

export function wordpressEnv(ctx: Context) {
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

export function probeHost(ctx: Context): string {
  return ctx.spec.kubernetes.ingress.host ?? "localhost";
}

export function wordpressTier(ctx: Context): K8sObject[] {
  const k = ctx.spec.kubernetes;
  const cached = ctx.spec.wordpress.pageCache.enabled;
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
            topologySpreadConstraints: zoneSpread(ctx, "web"),
            // Room for the drains below and for the requests still being answered after them.
            terminationGracePeriodSeconds: DRAIN_SECONDS + OUTLAST_CACHE_SECONDS + 10,
            containers: [
              {
                name: "wordpress",
                image: k.images.wordpress,
                // With the page cache, Apache is reached through the cache container only.
                ports: [{ name: cached ? "apache" : "http", containerPort: 80 }],
                env: [...wordpressEnv(ctx), ...(cached ? cacheRefreshEnv(ctx) : [])],
                resources: resources(k.resources.wordpress),
                // Behind the cache, Apache stops only once nginx has finished (see below).
                lifecycle: cached ? drainThenOutlastCache : drainBeforeStop,
                // Once, before any other probe: a page that reaches the database (a 500 until it
                // answers; a redirect to the installer before the install is a success). A new pod's
                // address is let into the database pods by the NetworkPolicy enforcer on its own
                // schedule, and until then its connections are refused: ready on the web server alone,
                // a pod of a rolling update served "Error establishing a database connection" to about
                // one read in a thousand (the real-node WordPress roll test).
                startupProbe: {
                  httpGet: { path: "/wp-login.php", port: cached ? "apache" : "http", httpHeaders: host },
                  periodSeconds: 1,
                  timeoutSeconds: 5,
                  // Ten minutes for the database to come up with a new site; then the kubelet restarts
                  // the container and it waits again.
                  failureThreshold: 600,
                },
                // Neither later probe depends on the database: its outage is shared by every pod, and a
                // readiness that followed it would take them all out of the Service at once (a
                // failover of a second would become 503s for every reader). The web server (with
                // mod_php, in the same process) answering is what routing needs.
                readinessProbe: {
                  httpGet: {
                    path: "/wp-includes/images/blank.gif",
                    port: cached ? "apache" : "http",
                    httpHeaders: host,
                  },
                  periodSeconds: 5,
                  timeoutSeconds: 3,
                },
                livenessProbe: {
                  httpGet: {
                    path: "/wp-includes/images/blank.gif",
                    port: cached ? "apache" : "http",
                    httpHeaders: host,
                  },
                  periodSeconds: 10,
                  timeoutSeconds: 3,
                  failureThreshold: 6,
                },
                volumeMounts: [
                  { name: "content", mountPath: "/var/www/html/wp-content" },
                  // The database drop-in: a read the server cut (a change of primary) is run again.
                  {
                    name: "php-dropins",
                    mountPath: `/var/www/html/wp-content/${DB_DROPIN_FILE}`,
                    subPath: DB_DROPIN_FILE,
                    readOnly: true,
                  },
                  // The refresh plugin, as a must-use plugin: WordPress loads it whatever is activated.
                  ...(cached
                    ? [
                        {
                          name: "cache-config",
                          mountPath: `/var/www/html/wp-content/mu-plugins/${CACHE_PLUGIN_FILE}`,
                          subPath: CACHE_PLUGIN_FILE,
                          readOnly: true,
                        },
                      ]
                    : []),
                ],
              },
              ...(cached ? [cacheContainer(ctx, host)] : []),
            ],
            volumes: [
              { name: "content", persistentVolumeClaim: { claimName: "wordpress-content" } },
              { name: "php-dropins", configMap: { name: "wordpress-php" } },
              ...(cached
                ? [
                    { name: "cache-config", configMap: { name: "wordpress-cache" } },
                    // The cached pages and nginx's temporary files: the pod's own, gone with it.
                    { name: "cache-work", emptyDir: { sizeLimit: "512Mi" } },
                  ]
                : []),
            ],
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
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: metadata(ctx, "wordpress-php", "web"),
      data: { [DB_DROPIN_FILE]: DB_DROPIN_PHP },
    },
    ...(cached ? [cacheConfigMap(ctx), cachePeersService(ctx)] : []),
    pdb(ctx, "wordpress", "web", 1),
    installJob(ctx),
    cronJob(ctx),
  ];
  if (k.ingress.host) objects.push(ingress(ctx, k.ingress.host));
  return objects;
}

/**
 * How long a stopping WordPress pod keeps serving. A deleted pod leaves the Service's EndpointSlice at
 * once, but kube-proxy on every node (and an Ingress controller) routes new connections to it until it
 * has caught up, about a second later; a web server stopped at once resets them (a reset read when a
 * pod was deleted under readers on the real test node; none in the deletions since this drain).
 * The stop that follows is a graceful one (the images' stop signals: SIGWINCH for Apache, SIGQUIT
 * for nginx): the requests under way are answered, with `Connection: close`.
 */
const DRAIN_SECONDS = 5;
/**
 * A connection a client keeps alive is not rerouted when the pod leaves the Service: its requests
 * reach the old pod until the connection closes. Closed at the stop, it races the client's next
 * request on it ("other side closed": one REST post of 228 in a real-node roll, once the stop was
 * graceful). So the cache answers "Connection: close" on any connection older than this, well within
 * the drain: a busy client has moved to another pod before the stop, and the stop finds only idle
 * connections. A new connection every 2 s per client costs nothing measurable.
 */
const KEEPALIVE_SECONDS = 2;
/** The cache container's port (nginx), in front of Apache's 80. */
export const CACHE_PORT = 8080;
/** Each container drains before its stop signal. */
const drainBeforeStop = { preStop: { exec: { command: ["sleep", String(DRAIN_SECONDS)] } } };
/** How long Apache waits, after the drain, for the cache in front of it to finish. */
const OUTLAST_CACHE_SECONDS = 20;
/**
 * Apache, behind the page cache, stops after nginx: both drain, but nginx still has requests under
 * way after its own stop signal (a POST it is reading, one it is passing on), and an Apache that had
 * stopped listening already answered each with a 502 (3 REST posts of 233 in a real-node roll, one
 * per replaced pod). The containers share the pod's network namespace, so Apache's hook sees the
 * cache's connections in /proc/net/tcp: it waits, bounded, until no socket listens or is connected
 * on the cache port (LISTEN 0A, ESTABLISHED 01), that is until nginx has answered everything.
 */
const drainThenOutlastCache = {
  preStop: {
    exec: {
      command: [
        "sh",
        "-c",
        `sleep ${DRAIN_SECONDS}; ` +
          `for i in $(seq 1 ${OUTLAST_CACHE_SECONDS * 5}); do ` +
          `cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | ` +
          `grep -qE '^ *[0-9]+: [0-9A-F]+:${CACHE_PORT.toString(16).toUpperCase().padStart(4, "0")} [0-9A-F]+:[0-9A-F]+ (01|0A) ' || exit 0; ` +
          `sleep 0.2; done`,
      ],
    },
  },
};

/** The port the pods serve readers on: the cache container's, or Apache's without the cache. */
export function wordpressServingPort(ctx: Context): number {
  return ctx.spec.wordpress.pageCache.enabled ? CACHE_PORT : 80;
}

const CACHE_PLUGIN_FILE = "hapress-cache-refresh.php";
/** The emptyDir of the cache container: pages, temporary files, its PID file. */
const CACHE_WORK_DIR = "/var/cache/hapress";

/** What the refresh plugin needs: the pods to refresh (by DNS) and the token (as a file). */
function cacheRefreshEnv(ctx: Context) {
  return [
    { name: "HAPRESS_CACHE_PEERS_DNS", value: `wordpress-peers.${ctx.namespace}.svc.cluster.local` },
    { name: "HAPRESS_CACHE_PEERS_PORT", value: String(CACHE_PORT) },
    secretEnv("HAPRESS_CACHE_REFRESH_TOKEN", "cache-refresh-token"),
  ];
}

/**
 * The page cache beside Apache (see src/wordpress/page-cache.ts): nginx on CACHE_PORT with our
 * configuration, a read-only root filesystem, its writable paths in an emptyDir. The token's map is
 * a Secret key it includes as a file; its probe goes through it to Apache, still not to the database.
 */
function cacheContainer(ctx: Context, host: { name: string; value: string }[]) {
  const k = ctx.spec.kubernetes;
  return {
    name: "cache",
    image: k.images.cache,
    command: ["nginx", "-c", "/etc/hapress-cache/nginx.conf", "-e", "stderr", "-g", "daemon off;"],
    ports: [{ name: "http", containerPort: CACHE_PORT }],
    // Not used by nginx: it includes the file this variable names (the secrets-as-files pass mounts it).
    env: [secretEnv("HAPRESS_CACHE_REFRESH_MAP", "cache-refresh-map")],
    resources: resources({ cpu: "50m", memory: "64Mi" }),
    lifecycle: drainBeforeStop,
    readinessProbe: {
      httpGet: { path: "/wp-includes/images/blank.gif", port: "http", httpHeaders: host },
      periodSeconds: 5,
      timeoutSeconds: 3,
    },
    livenessProbe: {
      httpGet: { path: "/hapress-cache-alive", port: "http" },
      periodSeconds: 10,
      timeoutSeconds: 3,
      failureThreshold: 6,
    },
    securityContext: { readOnlyRootFilesystem: true },
    volumeMounts: [
      { name: "cache-config", mountPath: "/etc/hapress-cache", readOnly: true },
      { name: "cache-work", mountPath: CACHE_WORK_DIR },
    ],
  };
}

function cacheConfigMap(ctx: Context): K8sObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: metadata(ctx, "wordpress-cache", "web"),
    data: {
      "nginx.conf": renderCacheProxyConfig({
        port: CACHE_PORT,
        ttlSeconds: ctx.spec.wordpress.pageCache.ttlSeconds,
        workDir: CACHE_WORK_DIR,
        refreshMapFile: `${SECRETS_DIR}/cache-refresh-map`,
        keepaliveSeconds: KEEPALIVE_SECONDS,
      }),
      [CACHE_PLUGIN_FILE]: CACHE_REFRESH_MU_PLUGIN,
    },
  };
}

/** Every ready WordPress pod's address, for the refresh plugin (a headless Service). */
function cachePeersService(ctx: Context): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: metadata(ctx, "wordpress-peers", "web"),
    spec: {
      clusterIP: "None",
      selector: selector(ctx, "web"),
      ports: [{ name: "http", port: CACHE_PORT, targetPort: "http" }],
    },
  };
}

export function ingress(ctx: Context, host: string): K8sObject {
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
