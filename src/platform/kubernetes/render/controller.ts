// The HA controller: its ServiceAccount, least-privilege Role, and the leader-elected Deployment.
import { CONTROLLER_METRICS_PORT } from "../../../topology/topology.js";
import { OBSERVED_CONFIGMAP, STATE_CONFIGMAP } from "../cluster-state.js";
import {
  antiAffinity,
  type Context,
  type K8sObject,
  labels,
  metadata,
  pdb,
  resources,
  scrapeAnnotations,
  secretEnv,
  selector,
} from "./common.js";

export function controller(ctx: Context): K8sObject[] {
  const k = ctx.spec.kubernetes;
  const name = "hapress-controller";
  return [
    { apiVersion: "v1", kind: "ConfigMap", metadata: metadata(ctx, OBSERVED_CONFIGMAP, "controller") },
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
        // The database StatefulSet's revisions: pods on an older one are rolled by the controller
        // (updateStrategy OnDelete), replicas first, the primary after a switchover.
        { apiGroups: ["apps"], resources: ["statefulsets"], verbs: ["get"], resourceNames: ["mysql"] },
        // What it sees, for `hapress status` (a merge patch of its data).
        { apiGroups: [""], resources: ["configmaps"], verbs: ["patch"], resourceNames: [OBSERVED_CONFIGMAP] },
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
          metadata: {
            labels: labels(ctx, "controller"),
            annotations: scrapeAnnotations(CONTROLLER_METRICS_PORT),
          },
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
                  "--metrics-port",
                  String(CONTROLLER_METRICS_PORT),
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
                  secretEnv("HAPRESS_SERVER_WATCH_KEY", "server-watch-key"),
                ],
                ports: [
                  { name: "health", containerPort: 8081 },
                  { name: "metrics", containerPort: CONTROLLER_METRICS_PORT },
                ],
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
