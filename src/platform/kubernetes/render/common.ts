// What every rendered object shares: names, labels, selectors, and small builders.
import type { ClusterSecrets } from "../secrets.js";
import type { Spec } from "../../../spec/schema.js";

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

/**
 * A database pod carrying this label is left out of the site's own network allowances, so that
 * `hapress chaos --kubernetes` can cut it off with a NetworkPolicy of its own (a policy can only add
 * allowances, never take one away). Only chaos sets it, on one pod, for the length of one scenario.
 */
export const CHAOS_PARTITION_LABEL = "hapress.io/chaos-partition";

export const SECRET_NAME = "hapress-credentials";

export const APP_USER = "wordpress";

export const APP_DATABASE = "wordpress";

export const REPLICATION_USER = "repl";

export const ADMIN_USER = "hapress_admin";

export type Component =
  "database" | "web" | "controller" | "storage" | "install" | "cron" | "backup" | "archive";

/** The app.kubernetes.io/name of each component. */
export const APP_NAMES: Record<Component, string> = {
  database: "mariadb",
  web: "wordpress",
  controller: "hapress-controller",
  storage: "nfs-server",
  install: "wordpress-install",
  cron: "wordpress-cron",
  backup: "hapress-backup",
  archive: "hapress-binlog-archiver",
};

export interface Context {
  spec: Spec;
  secrets: ClusterSecrets;
  namespace: string;
}

export function labels(ctx: Context, component: Component): Record<string, string> {
  return {
    "app.kubernetes.io/name": APP_NAMES[component],
    "app.kubernetes.io/instance": ctx.spec.name,
    "app.kubernetes.io/component": component,
    "app.kubernetes.io/part-of": "hapress",
    "app.kubernetes.io/managed-by": "hapress",
  };
}

export function selector(ctx: Context, component: Component): Record<string, string> {
  return {
    "app.kubernetes.io/name": APP_NAMES[component],
    "app.kubernetes.io/instance": ctx.spec.name,
    "app.kubernetes.io/component": component,
  };
}

export function metadata(
  ctx: Context,
  name: string,
  component: Component,
  extra: Record<string, string> = {},
) {
  return { name, namespace: ctx.namespace, labels: { ...labels(ctx, component), ...extra } };
}

export function secretEnv(name: string, key: string) {
  return { name, valueFrom: { secretKeyRef: { name: SECRET_NAME, key } } };
}

export function resources(request: { cpu: string; memory: string }) {
  return { requests: { ...request }, limits: { memory: request.memory } };
}

export function antiAffinity(ctx: Context, component: Component) {
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

/**
 * Spread over zones, as the anti-affinity spreads over nodes: a lost zone takes at most its share.
 * ScheduleAnyway, so a cluster with one zone (or nodes without the label) still schedules every pod.
 */
export function zoneSpread(ctx: Context, component: Component) {
  return [
    {
      maxSkew: 1,
      topologyKey: "topology.kubernetes.io/zone",
      whenUnsatisfiable: "ScheduleAnyway",
      labelSelector: { matchLabels: selector(ctx, component) },
    },
  ];
}

export function pdb(ctx: Context, name: string, component: Component, maxUnavailable: number): K8sObject {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: metadata(ctx, name, component),
    spec: { maxUnavailable, selector: { matchLabels: selector(ctx, component) } },
  };
}

/** The pod template of a workload (Deployment, StatefulSet, Job, CronJob), or null for other kinds. */
export function podTemplateOf<Spec>(
  object: K8sObject,
): { labels: Record<string, string>; spec: Spec } | null {
  const spec = object.spec as Record<string, unknown> | undefined;
  type Template = { metadata?: { labels?: Record<string, string> }; spec: Spec };
  let template: Template | undefined;
  if (object.kind === "Pod") template = { metadata: object.metadata, spec: spec as Spec };
  else if (object.kind === "CronJob")
    template = (spec?.jobTemplate as { spec: { template: Template } }).spec.template;
  else if (["Deployment", "StatefulSet", "Job"].includes(object.kind)) template = spec?.template as Template;
  return template ? { labels: template.metadata?.labels ?? {}, spec: template.spec } : null;
}

/**
 * The de-facto scrape annotations (Prometheus' kubernetes_sd examples, many Helm charts): a
 * Prometheus without the Operator finds the pod's metrics port by them.
 */
export function scrapeAnnotations(port: number): Record<string, string> {
  return {
    "prometheus.io/scrape": "true",
    "prometheus.io/port": String(port),
    "prometheus.io/path": "/metrics",
  };
}
