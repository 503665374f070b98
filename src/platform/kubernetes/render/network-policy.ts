// Who may talk to whom: the namespace denies everything, then each component is allowed exactly what
// it needs.
import {
  ADMIN_PORT,
  AGENT_PORT,
  CONTROLLER_METRICS_PORT,
  MYSQL_PORT,
  MYSQLD_EXPORTER_PORT,
  SUPERVISOR_METRICS_PORT,
} from "../../../topology/topology.js";
import {
  CHAOS_PARTITION_LABEL,
  type Component,
  type Context,
  type K8sObject,
  metadata,
  selector,
} from "./common.js";
import { wordpressServingPort } from "./wordpress.js";
import { ARCHIVER_HEALTH_PORT } from "./backup.js";

/** The health port of the controller (its probes). */
const CONTROLLER_HEALTH_PORT = 8081;

type Rule = Record<string, unknown>;

function policy(
  ctx: Context,
  name: string,
  component: Component,
  rules: { ingress?: Rule[]; egress?: Rule[] },
  podsLeftOut: Rule[] = [],
): K8sObject {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: metadata(ctx, name, component),
    spec: {
      podSelector: {
        matchLabels: selector(ctx, component),
        ...(podsLeftOut.length ? { matchExpressions: podsLeftOut } : {}),
      },
      policyTypes: [...(rules.ingress ? ["Ingress"] : []), ...(rules.egress ? ["Egress"] : [])],
      ...(rules.ingress ? { ingress: rules.ingress } : {}),
      ...(rules.egress ? { egress: rules.egress } : {}),
    },
  };
}

/**
 * A default deny for the namespace (ingress and egress), then explicit allows:
 * - database pods: 3306 from WordPress, the install Job, cron, the controller and each other
 *   (replication); 3307 (clone agents) between database pods and from the controller (the server
 *   watch); 3308 (admin) from the controller;
 * - the controller: to the database ports and the API server; its metrics port from the monitoring
 *   namespace only;
 * - WordPress: from anywhere on its HTTP port (the Ingress controller lives elsewhere), to 3306;
 * - the backup Job: to the agents (3307) and the API server; the archiver: to 3306 and the API server;
 * - the install Job: to 3306 only; cron: to 3306 and to WordPress (it requests wp-cron.php);
 * - every pod: DNS.
 * A database pod labelled CHAOS_PARTITION_LABEL is left out of its allowances (chaos cuts it off).
 * The optional NFS server has its own namespace and policies (render/storage.ts).
 */
export function networkPolicies(ctx: Context): K8sObject[] {
  const pods = (components: Component[]) => [
    {
      podSelector: {
        matchLabels: { "app.kubernetes.io/instance": ctx.spec.name },
        matchExpressions: [{ key: "app.kubernetes.io/component", operator: "In", values: components }],
      },
    },
  ];
  const tcp = (...ports: number[]) => ports.map((port) => ({ protocol: "TCP", port }));
  const toDatabase: Rule = { to: pods(["database"]), ports: tcp(MYSQL_PORT) };
  const dns: Rule = {
    to: [{ namespaceSelector: {}, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
    ports: [
      { protocol: "UDP", port: 53 },
      { protocol: "TCP", port: 53 },
    ],
  };
  // Prometheus in the monitoring namespace (its name label is set by Kubernetes itself since 1.22).
  const fromMonitoring = (port: number): Rule => ({
    from: [
      {
        namespaceSelector: {
          matchLabels: { "kubernetes.io/metadata.name": ctx.spec.kubernetes.monitoring.namespace },
        },
      },
    ],
    ports: tcp(port),
  });
  const withWordPress = ctx.spec.wordpress.replicas > 0;
  const objects: K8sObject[] = [
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: metadata(ctx, "default-deny", "database"),
      spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
    },
    policy(
      ctx,
      "mysql",
      "database",
      {
        ingress: [
          { from: pods(["web", "install", "cron", "controller", "database"]), ports: tcp(MYSQL_PORT) },
          { from: pods(["database"]), ports: tcp(AGENT_PORT) },
          // The controller: the admin port, and the agent's server watch (its key allows nothing else).
          { from: pods(["controller"]), ports: tcp(ADMIN_PORT, AGENT_PORT) },
          // A backup reads a replica's stream (the clone token's channel); the archiver, the binary logs.
          { from: pods(["backup"]), ports: tcp(AGENT_PORT) },
          { from: pods(["archive"]), ports: tcp(MYSQL_PORT) },
          ...(ctx.spec.metrics.mysqldExporter ? [fromMonitoring(MYSQLD_EXPORTER_PORT)] : []),
        ],
        egress: [{ to: pods(["database"]), ports: tcp(MYSQL_PORT, AGENT_PORT) }, dns],
      },
      [{ key: CHAOS_PARTITION_LABEL, operator: "DoesNotExist" }],
    ),
    policy(ctx, "hapress-controller", "controller", {
      // Its probes come from the kubelet on the node (allowed by every common CNI without a rule).
      ingress: [{ ports: tcp(CONTROLLER_HEALTH_PORT) }, fromMonitoring(CONTROLLER_METRICS_PORT)],
      egress: [
        { to: pods(["database"]), ports: tcp(MYSQL_PORT, ADMIN_PORT, AGENT_PORT) },
        // The API server: its address depends on the cluster (a Service IP, the nodes'), not on a pod.
        { ports: tcp(443, 6443) },
        dns,
      ],
    }),
    // Both read the pods and the primary record from the API server.
    policy(ctx, "hapress-backup", "backup", {
      ingress: [],
      egress: [{ to: pods(["database"]), ports: tcp(AGENT_PORT) }, { ports: tcp(443, 6443) }, dns],
    }),
    ...(ctx.spec.backup.archiveBinlogs
      ? [
          policy(ctx, "hapress-binlog-archiver", "archive", {
            ingress: [{ ports: tcp(ARCHIVER_HEALTH_PORT) }, fromMonitoring(SUPERVISOR_METRICS_PORT)],
            egress: [{ to: pods(["database"]), ports: tcp(MYSQL_PORT) }, { ports: tcp(443, 6443) }, dns],
          }),
        ]
      : []),
  ];
  if (withWordPress) {
    const cached = ctx.spec.wordpress.pageCache.enabled;
    const serving = wordpressServingPort(ctx);
    const toWordpress: Rule = { to: pods(["web"]), ports: tcp(serving) };
    objects.push(
      policy(ctx, "wordpress", "web", {
        ingress: [{ ports: tcp(serving) }],
        // The page cache's refresh plugin asks every WordPress pod for the pages a change affects.
        egress: [toDatabase, ...(cached ? [{ to: pods(["web"]), ports: tcp(serving) }] : []), dns],
      }),
      policy(ctx, "wordpress-install", "install", { egress: [toDatabase, dns] }),
      // cron requests wp-cron.php from the WordPress Service.
      policy(ctx, "wordpress-cron", "cron", { egress: [toWordpress, toDatabase, dns] }),
    );
  }
  return objects;
}
