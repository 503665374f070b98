// Pure decisions of `hapress apply`: what changed, what to prune, what a wait step reports.
import { nfsNamespace } from "./render/storage.js";

/** An object as the API server returns it (only what these decisions read). */
export interface ClusterObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    ownerReferences?: unknown[];
  };
  [key: string]: unknown;
}

/** Server-maintained bookkeeping: a difference there is not a change the user made. */
const BOOKKEEPING = ["managedFields", "resourceVersion", "generation", "creationTimestamp", "uid"];

function comparable(object: ClusterObject): unknown {
  // status is the server's account of the world, not the object's configuration.
  const rest = Object.fromEntries(Object.entries(object).filter(([key]) => key !== "status"));
  const metadata = Object.entries(object.metadata ?? {}).filter(([key]) => !BOOKKEEPING.includes(key));
  return { ...rest, metadata: Object.fromEntries(metadata) };
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );
}

/** Whether applying turned `before` (null: absent) into something else. */
export function objectChanged(before: ClusterObject | null, after: ClusterObject): boolean {
  if (before === null) return true;
  return canonical(comparable(before)) !== canonical(comparable(after));
}

/** Every leaf of a value as `path: JSON` (arrays by index), for a field-by-field diff. */
function leaves(value: unknown, path: string, into: Map<string, string>): Map<string, string> {
  if (value !== null && typeof value === "object") {
    const entries = Array.isArray(value)
      ? value.map((v, i) => [String(i), v] as const)
      : Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) into.set(path, JSON.stringify(value));
    for (const [key, v] of entries) leaves(v, path ? `${path}.${key}` : key, into);
  } else {
    into.set(path, JSON.stringify(value));
  }
  return into;
}

/**
 * What applying changes in an object, one line per field (pure): `- path: old` and `+ path: new`,
 * bookkeeping and status left out. A Secret's values are never printed, only which keys change.
 */
export function objectDiff(before: ClusterObject | null, after: ClusterObject): string[] {
  const old = leaves(before === null ? {} : comparable(before), "", new Map());
  const next = leaves(comparable(after), "", new Map());
  const secret = after.kind === "Secret";
  const shown = (path: string, value: string) =>
    secret && /^(data|stringData)\./.test(path) ? "(hidden)" : value;
  const lines: string[] = [];
  for (const path of [...new Set([...old.keys(), ...next.keys()])].sort()) {
    const was = old.get(path);
    const is = next.get(path);
    if (was === is) continue;
    if (was !== undefined) lines.push(`- ${path}: ${shown(path, was)}`);
    if (is !== undefined) lines.push(`+ ${path}: ${shown(path, is)}`);
  }
  return lines;
}

/** The kinds `apply` prunes. Never PersistentVolumeClaims: they hold the site's data. */
export const PRUNABLE_KINDS: { apiVersion: string; kind: string; namespaced: boolean }[] = [
  { apiVersion: "v1", kind: "ConfigMap", namespaced: true },
  { apiVersion: "v1", kind: "Secret", namespaced: true },
  { apiVersion: "v1", kind: "Service", namespaced: true },
  { apiVersion: "v1", kind: "ServiceAccount", namespaced: true },
  { apiVersion: "apps/v1", kind: "StatefulSet", namespaced: true },
  { apiVersion: "apps/v1", kind: "Deployment", namespaced: true },
  { apiVersion: "batch/v1", kind: "Job", namespaced: true },
  { apiVersion: "batch/v1", kind: "CronJob", namespaced: true },
  { apiVersion: "policy/v1", kind: "PodDisruptionBudget", namespaced: true },
  { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", namespaced: true },
  { apiVersion: "networking.k8s.io/v1", kind: "Ingress", namespaced: true },
  { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", namespaced: true },
  { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", namespaced: true },
  { apiVersion: "storage.k8s.io/v1", kind: "StorageClass", namespaced: false },
];

/** The namespaces a site's objects may live in: its own, and its NFS server's (render/storage.ts). */
export function siteNamespaces(namespace: string): string[] {
  return [namespace, nfsNamespace(namespace)];
}

/** The label selector of this site's objects. */
export function siteSelector(site: string): string {
  return `app.kubernetes.io/instance=${site},app.kubernetes.io/managed-by=hapress`;
}

function key(object: ClusterObject): string {
  return `${object.kind ?? ""}/${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}`;
}

/**
 * Objects of this site in the cluster that the spec no longer renders. Objects another object owns
 * (the Jobs of a CronJob, the Pods of a ReplicaSet) are their owner's business, never pruned here.
 */
export function pruneCandidates(existing: ClusterObject[], rendered: ClusterObject[]): ClusterObject[] {
  const wanted = new Set(rendered.map(key));
  return existing.filter(
    (object) => !wanted.has(key(object)) && (object.metadata?.ownerReferences ?? []).length === 0,
  );
}

/**
 * Keys whose value in the cluster's Secret differs from the rendered one (pure). Applying those would
 * replace passwords the databases still hold (a secrets file missing on this machine makes new ones):
 * every instance, the controller and WordPress would be locked out.
 */
export function secretDrift(
  cluster: { data?: Record<string, string> } | null,
  rendered: { stringData?: Record<string, string> },
): string[] {
  if (!cluster?.data) return [];
  const data = cluster.data;
  return Object.entries(rendered.stringData ?? {})
    .filter(
      ([key, value]) => key in data && Buffer.from(data[key] ?? "", "base64").toString("utf8") !== value,
    )
    .map(([key]) => key);
}
