// Renders the whole site as Kubernetes objects, one pure module per component (render/).
import type { ClusterSecrets } from "./secrets.js";
import type { Spec } from "../../spec/schema.js";
import { controller } from "./render/controller.js";
import { credentialsSecret } from "./render/secret.js";
import { databaseServices, mariadbConfigMap, mariadbStatefulSet, stateConfigMap } from "./render/database.js";
import { wordpressTier } from "./render/wordpress.js";
import { installConfigMap } from "./render/wordpress-jobs.js";
import { networkPolicies } from "./render/network-policy.js";
import { monitoringObjects } from "./render/monitoring.js";
import { nfsServer } from "./render/storage.js";
import { backupObjects } from "./render/backup.js";
import { type Context, type K8sObject, labels, pdb } from "./render/common.js";

import { restrictPods } from "./render/pod-security.js";
import { secretsAsFiles } from "./render/secret-files.js";

export { ROLE_LABEL, SECRET_NAME, type K8sObject } from "./render/common.js";

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
  "PodMonitor",
  "PrometheusRule",
];

/**
 * The site's namespace enforces the restricted Pod Security Standard, always: the optional NFS server
 * (a privileged container) lives in a namespace of its own.
 */
const POD_SECURITY_LABELS = {
  "pod-security.kubernetes.io/enforce": "restricted",
  "pod-security.kubernetes.io/warn": "restricted",
  "pod-security.kubernetes.io/audit": "restricted",
};

/** Every object of the site on Kubernetes: a pure function of the spec and the secrets. */
export function renderManifests(spec: Spec, secrets: ClusterSecrets): K8sObject[] {
  const ctx: Context = { spec, secrets, namespace: spec.kubernetes.namespace };
  const objects: K8sObject[] = [
    {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: ctx.namespace, labels: { ...labels(ctx, "database"), ...POD_SECURITY_LABELS } },
    },
    credentialsSecret(ctx),
    mariadbConfigMap(ctx),
    stateConfigMap(ctx),
    ...databaseServices(ctx),
    mariadbStatefulSet(ctx),
    pdb(ctx, "mysql", "database", 1),
    ...controller(ctx),
    ...backupObjects(ctx),
    ...networkPolicies(ctx),
    ...monitoringObjects(ctx),
    ...(spec.wordpress.replicas > 0 ? [...wordpressTier(ctx), installConfigMap(ctx)] : []),
    ...(spec.kubernetes.storage.nfs.enabled && spec.wordpress.replicas > 0 ? nfsServer(ctx) : []),
  ];
  return restrictPods(secretsAsFiles(objects)).sort(
    (a, b) =>
      KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) ||
      a.metadata.name.localeCompare(b.metadata.name) ||
      (a.metadata.namespace ?? "").localeCompare(b.metadata.namespace ?? ""),
  );
}
