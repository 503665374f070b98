// The objects `hapress chaos --kubernetes` adds to a site's namespace for the length of a run, as
// plain data (pure): the NetworkPolicy that cuts a database pod off, and the runner pod with what it
// may do. None carries `managed-by: hapress`, so `hapress apply` never prunes them and the site's
// status never lists them; the chaos command deletes them when it ends.
import { ADMIN_PORT, MYSQL_PORT } from "../../topology/topology.js";
import { OBSERVED_CONFIGMAP, STATE_CONFIGMAP } from "./cluster-state.js";
import { CHAOS_PARTITION_LABEL, SECRET_NAME, type K8sObject } from "./render/common.js";
import { LEASE_NAME } from "./site-status.js";

/** The NetworkPolicy of a partition, and the name every runner object shares. */
export const PARTITION_POLICY = "hapress-chaos-partition";
export const CHAOS_RUNNER = "hapress-chaos";
/** The runner's container; its last line of output carries the runs (see chaos-in-cluster.ts). */
export const CHAOS_RUNNER_CONTAINER = "chaos";

/** The labels of every chaos object; `app.kubernetes.io/name=hapress-chaos` finds them. */
export function chaosLabels(site: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": CHAOS_RUNNER,
    "app.kubernetes.io/instance": site,
    "app.kubernetes.io/component": "chaos",
    "app.kubernetes.io/part-of": "hapress",
    "app.kubernetes.io/managed-by": "hapress-chaos",
  };
}

const sitePods = (site: string, component: string) => ({
  podSelector: {
    matchLabels: { "app.kubernetes.io/instance": site, "app.kubernetes.io/component": component },
  },
});
const runnerPods = (site: string) => ({
  podSelector: {
    matchLabels: { "app.kubernetes.io/name": CHAOS_RUNNER, "app.kubernetes.io/instance": site },
  },
});
const tcp = (...ports: number[]) => ports.map((port) => ({ protocol: "TCP", port }));

/**
 * The partition: the labelled pod (which the site's own policies leave out, see
 * CHAOS_PARTITION_LABEL) may be reached only on the WordPress path (WordPress pods, and the chaos
 * runner that stands for clients and counts the writable instances) and may open nothing itself:
 * no replica, no controller, no agent reaches it or is reached by it. The kubelet's probes come
 * from the node, which network plugins let through.
 */
export function partitionPolicy(site: string, namespace: string): K8sObject {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: PARTITION_POLICY, namespace, labels: chaosLabels(site) },
    spec: {
      podSelector: { matchLabels: { "app.kubernetes.io/instance": site, [CHAOS_PARTITION_LABEL]: "true" } },
      policyTypes: ["Ingress", "Egress"],
      ingress: [
        { from: [sitePods(site, "web")], ports: tcp(MYSQL_PORT) },
        { from: [runnerPods(site)], ports: tcp(MYSQL_PORT, ADMIN_PORT) },
      ],
      egress: [],
    },
  };
}

export interface ChaosRunnerInput {
  site: string;
  namespace: string;
  /** The hapress image (the spec's kubernetes.images.hapress): the runner is the CLI itself. */
  image: string;
  /** The spec, as JSON (YAML reads it), mounted where the runner's `--file` points. */
  specJson: string;
  /** The runner pod's name (one per run). */
  pod: string;
  /** `hapress chaos` arguments of the run inside the pod. */
  chaosArgs: string[];
  /** The pod's bound: it is stopped after that long whatever it does. */
  deadlineSeconds: number;
}

/**
 * The runner and what it may do: a service account whose Role holds exactly what the chaos
 * scenarios use (read the site, delete and label pods, `exec` into them, scale, ask for a
 * switchover, read the site's Secret, add and remove the partition policy); network allowances to
 * the database ports it writes and samples, WordPress, and the API server; the spec as a ConfigMap;
 * the pod itself, under the restricted Pod Security Standard.
 */
export function chaosRunnerObjects(input: ChaosRunnerInput): K8sObject[] {
  const { site, namespace } = input;
  const labels = chaosLabels(site);
  const meta = (name: string) => ({ name, namespace, labels });
  const specFile = "/etc/hapress-chaos/hapress.yaml";
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: meta(CHAOS_RUNNER) },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: meta(CHAOS_RUNNER),
      rules: [
        { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "delete", "patch"] },
        // Exec over a WebSocket is a GET on older API servers, a create on newer ones.
        { apiGroups: [""], resources: ["pods/exec"], verbs: ["get", "create"] },
        { apiGroups: [""], resources: ["services"], verbs: ["get"] },
        { apiGroups: [""], resources: ["events"], verbs: ["list"] },
        {
          apiGroups: [""],
          resources: ["configmaps"],
          resourceNames: [STATE_CONFIGMAP, OBSERVED_CONFIGMAP],
          verbs: ["get", "update"],
        },
        { apiGroups: [""], resources: ["secrets"], resourceNames: [SECRET_NAME], verbs: ["get"] },
        { apiGroups: ["apps"], resources: ["statefulsets", "deployments"], verbs: ["get"] },
        {
          apiGroups: ["apps"],
          resources: ["statefulsets/scale", "deployments/scale"],
          verbs: ["get", "patch"],
        },
        {
          apiGroups: ["coordination.k8s.io"],
          resources: ["leases"],
          resourceNames: [LEASE_NAME],
          verbs: ["get"],
        },
        // Create cannot be narrowed by name; the runner creates only the partition policy.
        { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], verbs: ["get", "create"] },
        {
          apiGroups: ["networking.k8s.io"],
          resources: ["networkpolicies"],
          resourceNames: [PARTITION_POLICY],
          verbs: ["delete"],
        },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: meta(CHAOS_RUNNER),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: CHAOS_RUNNER },
      subjects: [{ kind: "ServiceAccount", name: CHAOS_RUNNER, namespace }],
    },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: meta(CHAOS_RUNNER),
      data: { "hapress.yaml": input.specJson },
    },
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: meta(CHAOS_RUNNER),
      spec: {
        podSelector: runnerPods(site).podSelector,
        policyTypes: ["Ingress", "Egress"],
        ingress: [],
        egress: [
          // The writes go to 3306 (mysql-primary), the writable monitor samples the admin port.
          { to: [sitePods(site, "database")], ports: tcp(MYSQL_PORT, ADMIN_PORT) },
          { to: [sitePods(site, "web")] },
          // The API server: its address depends on the cluster (a Service IP, the nodes').
          { ports: tcp(443, 6443) },
        ],
      },
    },
    {
      // The database pods' side of the same paths (a policy of the site cannot name the runner).
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: meta(`${CHAOS_RUNNER}-to-database`),
      spec: {
        podSelector: sitePods(site, "database").podSelector,
        policyTypes: ["Ingress"],
        ingress: [{ from: [runnerPods(site)], ports: tcp(MYSQL_PORT, ADMIN_PORT) }],
      },
    },
    {
      apiVersion: "v1",
      kind: "Pod",
      metadata: meta(input.pod),
      spec: {
        serviceAccountName: CHAOS_RUNNER,
        restartPolicy: "Never",
        activeDeadlineSeconds: input.deadlineSeconds,
        securityContext: {
          runAsNonRoot: true,
          runAsUser: 999,
          runAsGroup: 999,
          seccompProfile: { type: "RuntimeDefault" },
        },
        containers: [
          {
            name: CHAOS_RUNNER_CONTAINER,
            image: input.image,
            args: ["--file", specFile, "chaos", "--namespace", namespace, ...input.chaosArgs],
            resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } },
            securityContext: {
              allowPrivilegeEscalation: false,
              capabilities: { drop: ["ALL"] },
              readOnlyRootFilesystem: true,
            },
            volumeMounts: [{ name: "spec", mountPath: "/etc/hapress-chaos", readOnly: true }],
          },
        ],
        volumes: [{ name: "spec", configMap: { name: CHAOS_RUNNER } }],
      },
    },
  ];
}
